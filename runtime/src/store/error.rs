//! What a store reports when it cannot read or write (a module of its own,
//! so that the herder can name it without importing the stores).

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("cannot {action} {path}: {reason}; check that the directory exists and the worker may write to it")]
    Io {
        path: String,
        action: String,
        reason: String,
    },
    #[error("state file {path} is not valid JSON ({reason}); restore it from a backup or move it aside to start afresh")]
    Corrupt { path: String, reason: String },
    /// Distributed mode: an internal topic could not be written or read
    /// (broker down, lease lost); a retry may succeed.
    #[error("{0}")]
    Topic(String),
}

impl StoreError {
    /// Whether trying again later may succeed (a broker that comes back),
    /// as opposed to a file the worker cannot write or read until an
    /// operator acts.
    pub fn is_retriable(&self) -> bool {
        matches!(self, StoreError::Topic(_))
    }
}
