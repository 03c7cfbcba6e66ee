//! A Kafka group-membership client for the distributed workers.
//!
//! Kafka Connect's workers coordinate through the broker's group coordinator
//! with their own embedded protocol (protocol type `connect`): the
//! coordinator elects a leader and relays its assignment, the workers decide
//! what the assignment means. librdkafka only speaks the consumer protocol,
//! so this module speaks the five group requests itself (FindCoordinator,
//! JoinGroup, SyncGroup, Heartbeat, LeaveGroup) in their non-flexible
//! versions. Everything that decides membership, liveness and generations
//! stays on the broker; this is a codec and a socket, not a consensus.
//!
//! On a secured cluster the socket speaks TLS and logs in with SASL (PLAIN
//! or SCRAM) before the first group request, from the worker's top-level
//! client settings, as the Java worker's coordinator client does (see
//! [`super::secure`]).

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::secure::{ClusterSecurity, Sasl, Scram};

/// A plain or TLS socket.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Kafka error codes the membership loop acts on.
pub mod code {
    pub const NONE: i16 = 0;
    pub const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
    pub const COORDINATOR_NOT_AVAILABLE: i16 = 15;
    pub const NOT_COORDINATOR: i16 = 16;
    pub const ILLEGAL_GENERATION: i16 = 22;
    pub const INCONSISTENT_GROUP_PROTOCOL: i16 = 23;
    pub const UNKNOWN_MEMBER_ID: i16 = 25;
    pub const REBALANCE_IN_PROGRESS: i16 = 27;
    pub const MEMBER_ID_REQUIRED: i16 = 79;
    pub const FENCED_INSTANCE_ID: i16 = 82;
}

const FIND_COORDINATOR: i16 = 10;
const JOIN_GROUP: i16 = 11;
const HEARTBEAT: i16 = 12;
const LEAVE_GROUP: i16 = 13;
const SYNC_GROUP: i16 = 14;
const SASL_HANDSHAKE: i16 = 17;
const SASL_AUTHENTICATE: i16 = 36;

/// A group request failed: a Kafka error code, or the connection.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GroupError {
    #[error("group coordinator answered error code {0}")]
    Code(i16),
    #[error("group coordinator connection: {0}")]
    Io(String),
    #[error("group coordinator sent a malformed response: {0}")]
    Malformed(String),
    /// TLS or SASL: the worker's settings or credentials are wrong.
    #[error("group coordinator connection: {0}")]
    Auth(String),
}

impl GroupError {
    pub fn code(&self) -> Option<i16> {
        match self {
            GroupError::Code(c) => Some(*c),
            _ => None,
        }
    }
}

/// A member as the leader sees it in the JoinGroup response.
#[derive(Debug, Clone)]
pub struct Member {
    pub member_id: String,
    pub metadata: Vec<u8>,
}

/// JoinGroup's answer.
#[derive(Debug, Clone)]
pub struct Joined {
    pub generation: i32,
    pub protocol: String,
    pub leader: String,
    pub member_id: String,
    /// Filled only for the leader.
    pub members: Vec<Member>,
}

/// One connection to the group coordinator.
pub struct GroupConnection {
    stream: Box<dyn Io>,
    correlation: i32,
    client_id: String,
}

impl GroupConnection {
    /// Finds the coordinator of `group` through any of `bootstrap` and
    /// connects to it.
    pub async fn connect(
        bootstrap: &str,
        group: &str,
        client_id: &str,
        security: &ClusterSecurity,
    ) -> Result<Self, GroupError> {
        let mut last = GroupError::Io(format!("no bootstrap server in {bootstrap:?}"));
        for server in bootstrap
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            match Self::open(server, client_id, security).await {
                Ok(mut c) => match c.find_coordinator(group).await {
                    Ok((host, port)) => {
                        let addr = format!("{host}:{port}");
                        if addr == server {
                            return Ok(c);
                        }
                        return Self::open(&addr, client_id, security).await;
                    }
                    Err(e) => last = e,
                },
                Err(e @ GroupError::Auth(_)) => return Err(e),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    async fn open(
        addr: &str,
        client_id: &str,
        security: &ClusterSecurity,
    ) -> Result<Self, GroupError> {
        let tcp = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(addr))
            .await
            .map_err(|_| GroupError::Io(format!("connecting to {addr} timed out")))?
            .map_err(|e| GroupError::Io(format!("cannot connect to {addr}: {e}")))?;
        let _ = tcp.set_nodelay(true);
        let stream: Box<dyn Io> = match &security.tls {
            None => Box::new(tcp),
            Some(config) => {
                let host = addr
                    .rsplit_once(':')
                    .map(|(h, _)| h)
                    .unwrap_or(addr)
                    .trim_matches(|c| c == '[' || c == ']');
                let name =
                    rustls::pki_types::ServerName::try_from(host.to_string()).map_err(|e| {
                        GroupError::Auth(format!("{host} is not a TLS server name: {e}"))
                    })?;
                let tls = tokio_rustls::TlsConnector::from(config.clone());
                let s = tokio::time::timeout(Duration::from_secs(10), tls.connect(name, tcp))
                    .await
                    .map_err(|_| GroupError::Io(format!("TLS handshake with {addr} timed out")))?
                    .map_err(|e| {
                        GroupError::Auth(format!(
                            "TLS handshake with {addr} failed: {e}; check security.protocol and the ssl.truststore.* settings of the worker config"
                        ))
                    })?;
                Box::new(s)
            }
        };
        let mut c = GroupConnection {
            stream,
            correlation: 0,
            client_id: client_id.to_string(),
        };
        if let Some(sasl) = &security.sasl {
            c.authenticate(sasl).await?;
        }
        Ok(c)
    }

    /// SaslHandshake v1, then SaslAuthenticate v1 rounds of the mechanism.
    async fn authenticate(&mut self, sasl: &Sasl) -> Result<(), GroupError> {
        let mut w = Writer::default();
        w.string(Some(&sasl.mechanism));
        let mut r = self
            .call(SASL_HANDSHAKE, 1, &w.buf, Duration::from_secs(10))
            .await?;
        let err = r.i16()?;
        if err != code::NONE {
            let n = r.i32()?.max(0);
            let mut offered = Vec::new();
            for _ in 0..n {
                offered.push(r.string()?);
            }
            return Err(GroupError::Auth(format!(
                "the broker does not take SASL mechanism {} (it takes {}); set sasl.mechanism in the worker config",
                sasl.mechanism,
                offered.join(", ")
            )));
        }
        if sasl.mechanism == "PLAIN" {
            let token = format!("\0{}\0{}", sasl.username, sasl.password);
            self.sasl_round(token.as_bytes(), &sasl.username).await?;
            return Ok(());
        }
        let mut scram = Scram::new(&sasl.mechanism, &sasl.username, &sasl.password, None);
        let server_first = self
            .sasl_round(&scram.client_first(), &sasl.username)
            .await?;
        let client_final = scram
            .client_final(&server_first)
            .map_err(GroupError::Auth)?;
        let server_final = self.sasl_round(&client_final, &sasl.username).await?;
        scram
            .check_server_final(&server_final)
            .map_err(GroupError::Auth)
    }

    async fn sasl_round(&mut self, token: &[u8], user: &str) -> Result<Vec<u8>, GroupError> {
        let mut w = Writer::default();
        w.bytes(token);
        let mut r = self
            .call(SASL_AUTHENTICATE, 1, &w.buf, Duration::from_secs(10))
            .await?;
        let err = r.i16()?;
        let message = r.nullable_string()?;
        let bytes = r.bytes()?;
        if err != code::NONE {
            return Err(GroupError::Auth(format!(
                "SASL login of {user} failed (error code {err}): {}; check sasl.jaas.config in the worker config",
                message.unwrap_or_default()
            )));
        }
        Ok(bytes)
    }

    async fn call(
        &mut self,
        api_key: i16,
        version: i16,
        body: &[u8],
        timeout: Duration,
    ) -> Result<Reader, GroupError> {
        self.correlation = self.correlation.wrapping_add(1);
        let mut w = Writer::default();
        w.i16(api_key);
        w.i16(version);
        w.i32(self.correlation);
        w.string(Some(&self.client_id));
        w.buf.extend_from_slice(body);
        let mut frame = Vec::with_capacity(w.buf.len() + 4);
        frame.extend_from_slice(&(w.buf.len() as i32).to_be_bytes());
        frame.extend_from_slice(&w.buf);
        let io = async {
            self.stream.write_all(&frame).await?;
            let mut len = [0u8; 4];
            self.stream.read_exact(&mut len).await?;
            let len = i32::from_be_bytes(len);
            if !(4..=64 << 20).contains(&len) {
                return Err(std::io::Error::other(format!("bad frame length {len}")));
            }
            let mut buf = vec![0u8; len as usize];
            self.stream.read_exact(&mut buf).await?;
            Ok(buf)
        };
        let buf = tokio::time::timeout(timeout, io)
            .await
            .map_err(|_| GroupError::Io(format!("no answer within {} ms", timeout.as_millis())))?
            .map_err(|e| GroupError::Io(e.to_string()))?;
        let mut r = Reader { buf, pos: 0 };
        let corr = r.i32()?;
        if corr != self.correlation {
            return Err(GroupError::Malformed(format!(
                "correlation id {corr}, expected {}",
                self.correlation
            )));
        }
        Ok(r)
    }

    async fn find_coordinator(&mut self, group: &str) -> Result<(String, i32), GroupError> {
        let mut w = Writer::default();
        w.string(Some(group));
        w.i8(0);
        let mut r = self
            .call(FIND_COORDINATOR, 1, &w.buf, Duration::from_secs(10))
            .await?;
        let _throttle = r.i32()?;
        let err = r.i16()?;
        let _msg = r.nullable_string()?;
        let _node = r.i32()?;
        let host = r.string()?;
        let port = r.i32()?;
        if err != code::NONE {
            return Err(GroupError::Code(err));
        }
        Ok((host, port))
    }

    /// JoinGroup v5. `member_id` is empty on the first join; the broker may
    /// answer MEMBER_ID_REQUIRED with an id to rejoin with, which this does.
    #[allow(clippy::too_many_arguments)]
    pub async fn join(
        &mut self,
        group: &str,
        session_timeout_ms: i32,
        rebalance_timeout_ms: i32,
        member_id: &str,
        protocol_type: &str,
        protocols: &[(&str, &[u8])],
    ) -> Result<Joined, GroupError> {
        let mut member_id = member_id.to_string();
        for _ in 0..3 {
            let mut w = Writer::default();
            w.string(Some(group));
            w.i32(session_timeout_ms);
            w.i32(rebalance_timeout_ms);
            w.string(Some(&member_id));
            w.string(None);
            w.string(Some(protocol_type));
            w.i32(protocols.len() as i32);
            for (name, meta) in protocols {
                w.string(Some(name));
                w.bytes(meta);
            }
            // The coordinator holds a join until every member rejoined, up
            // to the rebalance timeout.
            let wait = Duration::from_millis(rebalance_timeout_ms.max(session_timeout_ms) as u64)
                + Duration::from_secs(10);
            let mut r = self.call(JOIN_GROUP, 5, &w.buf, wait).await?;
            let _throttle = r.i32()?;
            let err = r.i16()?;
            let generation = r.i32()?;
            let protocol = r.nullable_string()?.unwrap_or_default();
            let leader = r.string()?;
            let assigned_id = r.string()?;
            let n = r.i32()?.max(0);
            let mut members = Vec::with_capacity(n as usize);
            for _ in 0..n {
                let id = r.string()?;
                let _instance = r.nullable_string()?;
                let metadata = r.bytes()?;
                members.push(Member {
                    member_id: id,
                    metadata,
                });
            }
            match err {
                code::NONE => {
                    return Ok(Joined {
                        generation,
                        protocol,
                        leader,
                        member_id: assigned_id,
                        members,
                    })
                }
                code::MEMBER_ID_REQUIRED if !assigned_id.is_empty() => member_id = assigned_id,
                e => return Err(GroupError::Code(e)),
            }
        }
        Err(GroupError::Code(code::MEMBER_ID_REQUIRED))
    }

    /// SyncGroup v3: the leader sends every member's assignment; everyone
    /// gets their own back.
    pub async fn sync(
        &mut self,
        group: &str,
        generation: i32,
        member_id: &str,
        assignments: &[(String, Vec<u8>)],
        timeout: Duration,
    ) -> Result<Vec<u8>, GroupError> {
        let mut w = Writer::default();
        w.string(Some(group));
        w.i32(generation);
        w.string(Some(member_id));
        w.string(None);
        w.i32(assignments.len() as i32);
        for (id, a) in assignments {
            w.string(Some(id));
            w.bytes(a);
        }
        let mut r = self.call(SYNC_GROUP, 3, &w.buf, timeout).await?;
        let _throttle = r.i32()?;
        let err = r.i16()?;
        let assignment = r.bytes()?;
        if err != code::NONE {
            return Err(GroupError::Code(err));
        }
        Ok(assignment)
    }

    /// Heartbeat v3.
    pub async fn heartbeat(
        &mut self,
        group: &str,
        generation: i32,
        member_id: &str,
        timeout: Duration,
    ) -> Result<(), GroupError> {
        let mut w = Writer::default();
        w.string(Some(group));
        w.i32(generation);
        w.string(Some(member_id));
        w.string(None);
        let mut r = self.call(HEARTBEAT, 3, &w.buf, timeout).await?;
        let _throttle = r.i32()?;
        match r.i16()? {
            code::NONE => Ok(()),
            e => Err(GroupError::Code(e)),
        }
    }

    /// LeaveGroup v3: a clean stop hands this member's work over at once
    /// instead of after the session timeout.
    pub async fn leave(&mut self, group: &str, member_id: &str) -> Result<(), GroupError> {
        let mut w = Writer::default();
        w.string(Some(group));
        w.i32(1);
        w.string(Some(member_id));
        w.string(None);
        let mut r = self
            .call(LEAVE_GROUP, 3, &w.buf, Duration::from_secs(5))
            .await?;
        let _throttle = r.i32()?;
        match r.i16()? {
            code::NONE => Ok(()),
            e => Err(GroupError::Code(e)),
        }
    }
}

#[derive(Default)]
struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    fn i8(&mut self, v: i8) {
        self.buf.push(v as u8);
    }
    fn i16(&mut self, v: i16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    fn i32(&mut self, v: i32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    fn string(&mut self, s: Option<&str>) {
        match s {
            Some(s) => {
                self.i16(s.len() as i16);
                self.buf.extend_from_slice(s.as_bytes());
            }
            None => self.i16(-1),
        }
    }
    fn bytes(&mut self, b: &[u8]) {
        self.i32(b.len() as i32);
        self.buf.extend_from_slice(b);
    }
}

struct Reader {
    buf: Vec<u8>,
    pos: usize,
}

impl Reader {
    fn take(&mut self, n: usize) -> Result<&[u8], GroupError> {
        if self.pos + n > self.buf.len() {
            return Err(GroupError::Malformed(format!(
                "{} bytes wanted at offset {} of {}",
                n,
                self.pos,
                self.buf.len()
            )));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn i16(&mut self) -> Result<i16, GroupError> {
        let b = self.take(2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }
    fn i32(&mut self) -> Result<i32, GroupError> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn nullable_string(&mut self) -> Result<Option<String>, GroupError> {
        let n = self.i16()?;
        if n < 0 {
            return Ok(None);
        }
        let b = self.take(n as usize)?;
        String::from_utf8(b.to_vec())
            .map(Some)
            .map_err(|_| GroupError::Malformed("string is not UTF-8".into()))
    }
    fn string(&mut self) -> Result<String, GroupError> {
        Ok(self.nullable_string()?.unwrap_or_default())
    }
    fn bytes(&mut self) -> Result<Vec<u8>, GroupError> {
        let n = self.i32()?;
        if n < 0 {
            return Ok(Vec::new());
        }
        Ok(self.take(n as usize)?.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_and_reader_agree() {
        let mut w = Writer::default();
        w.i16(-2);
        w.i32(70000);
        w.string(Some("grp"));
        w.string(None);
        w.bytes(b"\x00\x01");
        let mut r = Reader { buf: w.buf, pos: 0 };
        assert_eq!(r.i16().unwrap(), -2);
        assert_eq!(r.i32().unwrap(), 70000);
        assert_eq!(r.string().unwrap(), "grp");
        assert_eq!(r.nullable_string().unwrap(), None);
        assert_eq!(r.bytes().unwrap(), vec![0, 1]);
        assert!(
            r.i16().is_err(),
            "reading past the end is an error, not a panic"
        );
    }
}
