//! The REST listeners: `listeners` (HTTP or HTTPS, one or more) and
//! `admin.listeners` as Kafka Connect has them, and a shutdown that a slow
//! client cannot hold up.
//!
//! - `listeners=http://127.0.0.1:8083,https://0.0.0.0:8443` serves the API on
//!   each; HTTPS takes its keys from `listeners.https.ssl.*` / `ssl.*` (see
//!   [`super::tls`]).
//! - `admin.listeners` unset: `/admin/loggers` is served with the rest of
//!   the API. Set to listeners: `/admin` is served there only (their HTTPS
//!   keys are `admin.listeners.https.ssl.*`, then the ones above). Set empty:
//!   `/admin` is served nowhere (404).
//! - TLS handshakes run apart from the accept loop, each with a deadline,
//!   so a client that opens a connection and says nothing blocks no one.
//! - On shutdown, requests in flight get [`SHUTDOWN_GRACE`] to finish; a
//!   client still sending its body then is cut off, so a stop never waits
//!   on it. Request bodies also have a deadline of their own (see
//!   `extract`).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::middleware;
use axum::Router;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use super::security::{self, RestSecurity};
use super::{router_scoped, HerderProvider, LogLevels, Scope};
use crate::plugin::Props;

/// How long requests in flight may run on after a shutdown begins.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// One `listeners` / `admin.listeners` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct ListenerSpec {
    pub https: bool,
    /// host:port to bind.
    pub bind: String,
    /// An `admin.listeners` entry: serves `/admin` only.
    pub admin: bool,
}

impl ListenerSpec {
    pub fn url(&self) -> String {
        format!(
            "{}://{}",
            if self.https { "https" } else { "http" },
            self.bind
        )
    }
}

/// A bound listener, ready to serve.
pub struct Bound {
    pub spec: ListenerSpec,
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
}

impl Bound {
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

/// Binds every listener (with its TLS settings read from `props`). The
/// error names the listener and the remedy.
pub async fn bind(specs: &[ListenerSpec], props: &Props) -> Result<Vec<Bound>, String> {
    let mut out = Vec::new();
    for spec in specs {
        let tls = if spec.https {
            let prefixes: &[&str] = if spec.admin {
                &["admin.listeners.https.", "listeners.https."]
            } else {
                &["listeners.https."]
            };
            Some(TlsAcceptor::from(super::tls::server_config(
                props, prefixes,
            )?))
        } else {
            None
        };
        let listener = TcpListener::bind(&spec.bind).await.map_err(|e| {
            format!(
                "cannot listen on {} for the REST API: {e}; set {}={} in the worker config to a free port",
                spec.bind,
                if spec.admin { "admin.listeners" } else { "listeners" },
                spec.url().replace(&spec.bind, "HOST:PORT")
            )
        })?;
        out.push(Bound {
            spec: spec.clone(),
            listener,
            tls,
        });
    }
    Ok(out)
}

/// Serves the API on every listener until `shutdown` completes, then lets
/// requests in flight finish for at most [`SHUTDOWN_GRACE`]. Until the
/// worker hands its herder to `herder`, the API answers as a starting
/// worker's (see [`super::health`]).
pub async fn serve<F>(
    listeners: Vec<Bound>,
    herder: HerderProvider,
    loggers: LogLevels,
    security: Arc<RestSecurity>,
    admin_elsewhere: bool,
    shutdown: F,
) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut servers = tokio::task::JoinSet::new();
    for b in listeners {
        let scope = if b.spec.admin {
            Scope::Admin
        } else if admin_elsewhere {
            Scope::Api
        } else {
            Scope::All
        };
        let router = secure(
            router_scoped(herder.clone(), loggers.clone(), scope),
            &security,
        );
        let mut stop = stop_rx.clone();
        let signal = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        match b.tls {
            None => {
                servers.spawn(async move {
                    axum::serve(b.listener, router)
                        .with_graceful_shutdown(signal)
                        .await
                });
            }
            Some(acceptor) => {
                let listener = TlsListener::start(b.listener, acceptor)?;
                servers.spawn(async move {
                    axum::serve(listener, router)
                        .with_graceful_shutdown(signal)
                        .await
                });
            }
        }
    }
    let all = async {
        while let Some(r) = servers.join_next().await {
            match r {
                Ok(Err(e)) => return Err(e),
                Err(e) if e.is_panic() => {
                    return Err(std::io::Error::other(format!("REST server panicked: {e}")))
                }
                _ => {}
            }
        }
        Ok(())
    };
    tokio::pin!(all);
    tokio::select! {
        r = &mut all => return r,
        _ = shutdown => {}
    }
    let _ = stop_tx.send(true);
    match tokio::time::timeout(SHUTDOWN_GRACE, &mut all).await {
        Ok(r) => r,
        Err(_) => {
            tracing::warn!(
                "REST: requests still open {} s after the shutdown began are cut off",
                SHUTDOWN_GRACE.as_secs()
            );
            Ok(())
        }
    }
}

/// `router` behind CORS (outermost) and authentication.
pub fn secure(router: Router, security: &Arc<RestSecurity>) -> Router {
    if security.is_open() {
        return router;
    }
    router
        .layer(middleware::from_fn_with_state(
            security.clone(),
            security::authenticate,
        ))
        .layer(middleware::from_fn_with_state(
            security.clone(),
            security::cors,
        ))
}

/// TLS connections, handshaken apart from the accept loop.
struct TlsListener {
    rx: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    accept_loop: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    fn start(listener: TcpListener, acceptor: TlsAcceptor) -> std::io::Result<TlsListener> {
        let local = listener.local_addr()?;
        let (tx, rx) = mpsc::channel(64);
        let accept_loop = tokio::spawn(async move {
            loop {
                let (tcp, peer) = match listener.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::debug!("REST: accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                if tx.is_closed() {
                    return;
                }
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => {
                            tracing::debug!("REST: TLS handshake with {peer} failed: {e}")
                        }
                        Err(_) => tracing::debug!("REST: TLS handshake with {peer} timed out"),
                    }
                });
            }
        });
        Ok(TlsListener {
            rx,
            local,
            accept_loop,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accept_loop.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(c) => c,
            // The accept loop is gone only when this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
