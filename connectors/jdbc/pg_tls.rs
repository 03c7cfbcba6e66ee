//! TLS to PostgreSQL with the rustls stack the tree already has (the MySQL
//! connector's certificate checks, `crate::mysql::tls::client_config`),
//! plugged into tokio-postgres's `TlsConnect`: no OpenSSL, no second TLS
//! crate. SCRAM runs without channel binding.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_postgres::tls::{ChannelBinding, TlsConnect, TlsStream};

use crate::mysql::tls::{client_config, TlsOptions};

/// Connects TLS over a TCP stream for tokio-postgres.
pub struct RustlsConnect {
    config: Arc<rustls::ClientConfig>,
    name: ServerName<'static>,
}

impl RustlsConnect {
    /// `host` is checked against the certificate with verify-full only.
    pub fn new(opts: &TlsOptions, host: &str) -> Result<RustlsConnect, String> {
        let config = client_config(opts)
            .map_err(|e| e.replace("database.ssl.ca", "sslrootcert in connection.url"))?;
        let name = ServerName::try_from(host.to_string())
            .map_err(|e| format!("connection.url: {host} is not a valid TLS server name: {e}"))?;
        Ok(RustlsConnect {
            config: Arc::new(config),
            name,
        })
    }
}

impl TlsConnect<TcpStream> for RustlsConnect {
    type Stream = RustlsStream;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<RustlsStream>> + Send>>;

    fn connect(self, stream: TcpStream) -> Self::Future {
        Box::pin(async move {
            let s = tokio_rustls::TlsConnector::from(self.config)
                .connect(self.name, stream)
                .await?;
            Ok(RustlsStream(s))
        })
    }
}

pub struct RustlsStream(tokio_rustls::client::TlsStream<TcpStream>);

impl AsyncRead for RustlsStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl AsyncWrite for RustlsStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

impl TlsStream for RustlsStream {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}
