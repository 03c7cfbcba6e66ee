//! Errors of the MySQL/MariaDB client and binlog reader.
//!
//! Each error says what failed, on which server, and what to do. The split
//! the worker acts on is [`MySqlError::is_retriable`]: a lost connection or a
//! transient server state (too many connections, shutdown in progress) is
//! retried; bad credentials, missing privileges, a purged binlog position,
//! wrong server settings and undecodable data are fatal, because a retry
//! would fail the same way.

use sluice_api::TaskError;

use super::wire::Truncated;

#[derive(Debug, thiserror::Error)]
pub enum MySqlError {
    #[error("cannot connect to {addr}: {source}; check database.hostname and database.port, and that the server is running")]
    Connect {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("connection to {addr} lost: {source}")]
    Io {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{addr} returned error {code} ({state}): {message}{}", remedy(*code, message))]
    Server {
        addr: String,
        code: u16,
        state: String,
        message: String,
    },
    #[error("unexpected reply from {addr}: {detail}")]
    Protocol { addr: String, detail: String },
    #[error("cannot authenticate to {addr}: {detail}")]
    Auth { addr: String, detail: String },
    /// The server's settings make change capture impossible.
    #[error("{0}")]
    Config(String),
    /// The schema history store (file or Kafka topic) failed; `retriable`
    /// when a retry may succeed (broker unavailable).
    #[error("schema history: {detail}")]
    History { detail: String, retriable: bool },
    /// A binlog event or row image that cannot be decoded.
    #[error("cannot decode {what}: {detail}")]
    Decode { what: String, detail: String },
}

/// What to do about the server errors users meet most.
fn remedy(code: u16, message: &str) -> &'static str {
    // MariaDB answers a second dump with the same replica id with 4052;
    // MySQL with 1236 and this text.
    if code == 4052 || message.contains("same server_uuid/server_id") {
        return "; another replica or connector reads the binlog with the same database.server.id: give each connector its own id (set database.server.id to an unused number)";
    }
    match code {
        1045 => "; check database.user and database.password",
        1044 | 1142 | 1227 => "; grant the connector user REPLICATION SLAVE, REPLICATION CLIENT (BINLOG MONITOR on MariaDB) and SELECT",
        1236 => "; the saved binlog position is no longer on the server (purged or invalid): restart the connector with snapshot.mode=when_needed to take a new snapshot",
        1040 => "; the server has too many connections: raise max_connections or close idle clients",
        _ => "",
    }
}

impl MySqlError {
    /// Whether a retry (reconnect, back off) may succeed.
    pub fn is_retriable(&self) -> bool {
        match self {
            MySqlError::Connect { .. } | MySqlError::Io { .. } => true,
            MySqlError::History { retriable, .. } => *retriable,
            MySqlError::Server { code, .. } => matches!(
                code,
                // too many connections, lock wait, deadlock, server shutdown,
                // connection killed, read/write timeouts, lost connection
                1040 | 1205 | 1213 | 1053 | 1927 | 1159 | 1161 | 2006 | 2013
            ),
            MySqlError::Protocol { .. }
            | MySqlError::Auth { .. }
            | MySqlError::Config(_)
            | MySqlError::Decode { .. } => false,
        }
    }

    /// Whether the server no longer has the binlog position asked for
    /// (purged or invalid: 1236), which snapshot.mode=when_needed answers
    /// with a new snapshot. MySQL also answers a replica id clash with 1236;
    /// that is not a lost position, and a snapshot would not help.
    pub fn is_position_lost(&self) -> bool {
        matches!(self, MySqlError::Server { code: 1236, message, .. } if !message.contains("same server_uuid/server_id"))
    }

    /// Whether the server does not know the system variable asked for:
    /// 1193 on MySQL and MariaDB; Dolt answers 1105 with that text.
    pub fn is_unknown_variable(&self) -> bool {
        match self {
            MySqlError::Server { code: 1193, .. } => true,
            MySqlError::Server {
                code: 1105,
                message,
                ..
            } => message.starts_with("Unknown system variable"),
            _ => false,
        }
    }

    /// The server error code, when this is a server error.
    pub fn server_code(&self) -> Option<u16> {
        match self {
            MySqlError::Server { code, .. } => Some(*code),
            _ => None,
        }
    }

    pub fn decode(what: impl Into<String>, detail: impl ToString) -> Self {
        MySqlError::Decode {
            what: what.into(),
            detail: detail.to_string(),
        }
    }

    /// A decode error with where it happened added to what was decoded;
    /// other errors as they are.
    pub fn context(self, at: impl std::fmt::Display) -> Self {
        match self {
            MySqlError::Decode { what, detail } => MySqlError::Decode {
                what: format!("{what} ({at})"),
                detail,
            },
            other => other,
        }
    }

    pub fn protocol(addr: &str, detail: impl ToString) -> Self {
        MySqlError::Protocol {
            addr: addr.to_string(),
            detail: detail.to_string(),
        }
    }
}

impl From<MySqlError> for TaskError {
    fn from(e: MySqlError) -> Self {
        if e.is_retriable() {
            TaskError::Retriable(e.to_string())
        } else {
            TaskError::Fatal(e.to_string())
        }
    }
}

impl From<Truncated> for MySqlError {
    fn from(t: Truncated) -> Self {
        MySqlError::decode(t.what, t)
    }
}

pub type Result<T, E = MySqlError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_variable_as_mysql_mariadb_and_dolt_answer_it() {
        let err = |code, message: &str| MySqlError::Server {
            addr: "127.0.0.1:3306".into(),
            code,
            state: "HY000".into(),
            message: message.into(),
        };
        assert!(
            err(1193, "Unknown system variable 'binlog_row_value_options'").is_unknown_variable()
        );
        // Dolt: ER_UNKNOWN_ERROR with MySQL's text.
        assert!(err(
            1105,
            "Unknown system variable '@@global.binlog_row_value_options'"
        )
        .is_unknown_variable());
        assert!(!err(1105, "syntax error at position 12 near 'BINLOG'").is_unknown_variable());
        assert!(!err(1045, "Access denied").is_unknown_variable());
    }

    #[test]
    fn purged_binlog_is_fatal_and_says_what_to_do() {
        let e = MySqlError::Server {
            addr: "127.0.0.1:3307".into(),
            code: 1236,
            state: "HY000".into(),
            message: "Could not find first log file name in binary log index file".into(),
        };
        assert!(!e.is_retriable());
        assert!(e.is_position_lost());
        let msg = e.to_string();
        assert!(
            msg.contains("127.0.0.1:3307") && msg.contains("snapshot.mode=when_needed"),
            "{msg}"
        );
        assert!(matches!(TaskError::from(e), TaskError::Fatal(_)));
    }

    #[test]
    fn a_clashing_replica_id_names_database_server_id() {
        for (code, message) in [
            (4052, "A slave with the same server_uuid/server_id is already connected"),
            (1236, "A slave with the same server_uuid/server_id as this slave has connected to the master"),
        ] {
            let e = MySqlError::Server {
                addr: "h:1".into(),
                code,
                state: "HY000".into(),
                message: message.into(),
            };
            assert!(!e.is_retriable());
            // Not a lost position: when_needed must not re-snapshot on it.
            assert!(!e.is_position_lost());
            let msg = e.to_string();
            assert!(msg.contains("database.server.id") && !msg.contains("snapshot.mode"), "{msg}");
        }
    }

    #[test]
    fn lost_connection_is_retriable() {
        let e = MySqlError::Io {
            addr: "h:1".into(),
            source: std::io::Error::from(std::io::ErrorKind::UnexpectedEof),
        };
        assert!(matches!(TaskError::from(e), TaskError::Retriable(_)));
    }
}
