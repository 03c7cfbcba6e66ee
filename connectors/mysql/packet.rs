//! MySQL packet framing over any async byte stream.
//!
//! A packet is a 3-byte little-endian length, a sequence id, and the payload.
//! A payload of 16 MB - 1 (0xffffff) bytes or more is split into chunks of
//! exactly 0xffffff bytes followed by a shorter (possibly empty) chunk; the
//! reader keeps appending while a chunk is full, so a 100 MB row event comes
//! back as one payload, and the writer emits the empty trailer when the
//! payload length is a multiple of 0xffffff. The reader fills a caller-owned
//! buffer that is reused across packets: steady-state reading allocates
//! nothing.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, ReadBuf};
use tokio::time::{Instant, Sleep};

/// The largest payload of one physical packet.
pub const MAX_CHUNK: usize = 0xff_ffff;

/// A byte stream that fails with `TimedOut` once a read has waited `limit`
/// without receiving a byte (no limit: never). Only time spent waiting for
/// the peer counts: a reader that pauses between reads (back-pressure)
/// does not time out, and a large value that keeps arriving never does.
pub struct Idle<R> {
    inner: R,
    limit: Option<Duration>,
    timer: Pin<Box<Sleep>>,
    waiting: bool,
}

impl<R> Idle<R> {
    pub fn new(inner: R) -> Self {
        Idle {
            inner,
            limit: None,
            timer: Box::pin(tokio::time::sleep(Duration::ZERO)),
            waiting: false,
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Idle<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                this.waiting = false;
                Poll::Ready(r)
            }
            Poll::Pending => {
                let Some(limit) = this.limit else {
                    return Poll::Pending;
                };
                if !this.waiting {
                    this.waiting = true;
                    this.timer.as_mut().reset(Instant::now() + limit);
                }
                match this.timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("no byte from the server for {} s", limit.as_secs()),
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

/// Buffered reader of logical packets.
pub struct PacketReader<R> {
    inner: BufReader<Idle<R>>,
    /// Sequence id expected next (the last one read + 1).
    pub seq: u8,
}

impl<R: AsyncRead + Unpin> PacketReader<R> {
    /// `capacity` is the read buffer: large (256 KB+) so that a binlog
    /// stream costs few syscalls.
    pub fn new(inner: R, capacity: usize) -> Self {
        PacketReader {
            inner: BufReader::with_capacity(capacity, Idle::new(inner)),
            seq: 0,
        }
    }

    /// From now on a read that waits `limit` for a byte fails (`None`:
    /// reads wait for ever, the default).
    pub fn set_idle_limit(&mut self, limit: Option<Duration>) {
        self.inner.get_mut().limit = limit;
    }

    /// Bytes already read from the socket and not yet returned: when there
    /// are some, the next packet is (at least partly) here already.
    pub fn buffered(&self) -> usize {
        self.inner.buffer().len()
    }

    /// Reads one logical packet into `buf` (cleared first), joining chunks.
    pub async fn read(&mut self, buf: &mut Vec<u8>) -> std::io::Result<()> {
        buf.clear();
        loop {
            let mut header = [0u8; 4];
            self.inner.read_exact(&mut header).await?;
            let len = u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize;
            self.seq = header[3].wrapping_add(1);
            let start = buf.len();
            buf.resize(start + len, 0);
            self.inner.read_exact(&mut buf[start..]).await?;
            if len < MAX_CHUNK {
                return Ok(());
            }
        }
    }
}

/// Writes `payload` as one logical packet starting at sequence id `*seq`,
/// advancing `*seq` past every chunk written.
pub async fn write_packet<W: AsyncWrite + Unpin>(
    w: &mut W,
    seq: &mut u8,
    payload: &[u8],
) -> std::io::Result<()> {
    let mut rest = payload;
    loop {
        let n = rest.len().min(MAX_CHUNK);
        let len = (n as u32).to_le_bytes();
        w.write_all(&[len[0], len[1], len[2], *seq]).await?;
        w.write_all(&rest[..n]).await?;
        *seq = seq.wrapping_add(1);
        rest = &rest[n..];
        if n < MAX_CHUNK {
            break;
        }
    }
    w.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn round_trip(len: usize) {
        let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let mut wire = Vec::new();
        let mut seq = 3;
        write_packet(&mut wire, &mut seq, &payload).await.unwrap();
        let chunks = len / MAX_CHUNK + 1;
        assert_eq!(seq as usize, 3 + chunks);
        assert_eq!(wire.len(), len + 4 * chunks);
        let mut r = PacketReader::new(&wire[..], 1 << 16);
        let mut buf = Vec::new();
        r.read(&mut buf).await.unwrap();
        assert_eq!(buf.len(), payload.len());
        assert!(buf == payload);
        assert_eq!(r.seq as usize, 3 + chunks);
    }

    #[tokio::test]
    async fn small_packet() {
        round_trip(0).await;
        round_trip(10).await;
    }

    #[tokio::test]
    async fn packets_over_16mb_are_joined() {
        round_trip(MAX_CHUNK - 1).await;
        round_trip(MAX_CHUNK).await; // needs the empty trailer
        round_trip(MAX_CHUNK * 2 + 17).await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_read_that_waits_past_the_idle_limit_fails_and_a_slow_one_does_not() {
        let (mut tx, rx) = tokio::io::duplex(64);
        let mut r = PacketReader::new(rx, 64);
        r.set_idle_limit(Some(Duration::from_secs(30)));
        // A 10-byte packet whose bytes come one every 20 s: each wait is
        // under the limit, the whole read is not.
        let writer = tokio::spawn(async move {
            tx.write_all(&[10, 0, 0, 0]).await.unwrap();
            for b in 0..10u8 {
                tokio::time::sleep(Duration::from_secs(20)).await;
                tx.write_all(&[b]).await.unwrap();
            }
            // Then silence, the connection still open.
            tokio::time::sleep(Duration::from_secs(3600)).await;
            drop(tx);
        });
        let mut buf = Vec::new();
        r.read(&mut buf).await.unwrap();
        assert_eq!(buf, (0..10).collect::<Vec<u8>>());
        // Silence after a pause of our own: the limit counts from the read.
        tokio::time::sleep(Duration::from_secs(100)).await;
        let started = Instant::now();
        let err = r.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), Duration::from_secs(30));
        writer.abort();
    }

    #[tokio::test]
    async fn eof_mid_packet_is_an_error() {
        let wire = [5u8, 0, 0, 0, 1, 2];
        let mut r = PacketReader::new(&wire[..], 64);
        let mut buf = Vec::new();
        assert!(r.read(&mut buf).await.is_err());
    }
}
