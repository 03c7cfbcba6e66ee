//! Group membership: join, sync, heartbeat, rejoin; a heartbeat beside a
//! pending join; and recovery from a leader that died without the
//! coordinator noticing. What the worker runs follows from the assignment
//! it receives ([`super::apply`]); what others run from the leader's
//! placement ([`super::leader`]).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::assign::{Assignment, MemberMeta, Units};
use super::DistributedHerder;
use crate::kafka::group::{code, GroupConnection, GroupError, Joined};

/// The group protocol name in JoinGroup (protocol type `connect`).
const PROTOCOL: &str = "sluice1";

impl DistributedHerder {
    pub(super) fn metadata(&self, nonce: u64) -> Vec<u8> {
        let meta = MemberMeta {
            url: self.dc.url.clone(),
            worker_id: self.dc.worker_id.clone(),
            nonce,
            stopped_at: self.stopped_at.load(Ordering::SeqCst),
            held: Units::default(),
        };
        serde_json::to_vec(&meta).expect("metadata serialises")
    }

    /// The membership loop: join, sync, apply, heartbeat; rejoin when the
    /// coordinator or this worker asks for it.
    ///
    /// Written defensively, for coordinators that differ from Apache
    /// Kafka's (the stand-in broker tests ran on until 2026-12-07, measured): a join with unchanged metadata may not start a rebalance,
    /// and a departed member may be noticed by one heartbeat only. So a
    /// worker that wants a rebalance and gets its current generation back
    /// bumps a nonce in its metadata and joins again; a follower whose sync
    /// comes before the leader's keeps heartbeating and retries the sync;
    /// and every heartbeat is followed by a sync of the current generation,
    /// which returns the stored assignment, so an assignment replaced within
    /// a generation is noticed too.
    pub(super) async fn membership(self: Arc<Self>) {
        let group = self.dc.group_id.clone();
        let session_ms = self.dc.session_timeout.as_millis() as i32;
        let rebalance_ms = self.dc.rebalance_timeout.as_millis() as i32;
        let hb = self.dc.heartbeat_interval;
        let io_timeout = self.dc.session_timeout;
        let mut member_id = String::new();
        let mut conn: Option<GroupConnection> = None;
        let mut attempt = 0u32;
        let mut applied_generation = -1i32;
        let mut applied_bytes: Vec<u8>;
        let mut nonce = 0u64;
        'outer: loop {
            if self.leaving.load(Ordering::SeqCst) {
                break;
            }
            if conn.is_none() {
                match GroupConnection::connect(
                    &self.bootstrap,
                    &group,
                    &self.dc.worker_id,
                    &self.security,
                )
                .await
                {
                    Ok(c) => conn = Some(c),
                    Err(e) => {
                        tracing::warn!("cannot reach the group coordinator: {e}; retrying");
                        tokio::time::sleep(crate::worker::backoff(attempt)).await;
                        attempt += 1;
                        continue;
                    }
                }
            }
            let c = conn.as_mut().expect("connected above");
            let meta = self.metadata(nonce);
            // A pending join keeps the membership for up to the rebalance
            // timeout, once the coordinator has it: a join that never reached
            // it (the connection broken) takes the extension back.
            self.rebalances
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .joining();
            let lease_before = self.lease.end();
            // A lapsed lease is not revived by a join (its work may still
            // be stopping); the round's sync renews it.
            if self.lease.valid() {
                self.lease
                    .extend(self.dc.rebalance_timeout.max(self.dc.lease_span()));
            }
            // Joins do not count as liveness on every coordinator, and
            // a follower's join may be held for seconds: heartbeat beside it.
            *self
                .side_heartbeat
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = (!member_id.is_empty())
                .then(|| (member_id.clone(), self.generation.load(Ordering::SeqCst)));
            let joined = c
                .join(
                    &group,
                    session_ms,
                    rebalance_ms,
                    &member_id,
                    "connect",
                    &[(PROTOCOL, &meta)],
                )
                .await;
            let j = match joined {
                Ok(j) => j,
                Err(e) => {
                    if matches!(e, GroupError::Io(_)) {
                        self.lease.restore(lease_before);
                    }
                    self.on_group_error(&e, &mut member_id, &mut conn).await;
                    tokio::time::sleep(crate::worker::backoff(attempt.min(4))).await;
                    attempt += 1;
                    continue;
                }
            };
            member_id = j.member_id.clone();
            *self
                .side_heartbeat
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = Some((member_id.clone(), j.generation));
            self.is_leader
                .store(j.leader == j.member_id, Ordering::SeqCst);
            if j.generation == applied_generation {
                // No rebalance started: ask for one with changed metadata.
                nonce += 1;
                continue;
            }
            let (assignments, mut memory) = if j.leader == j.member_id {
                let (a, m) = self.lead(&j).await;
                (a, Some(m))
            } else {
                (Vec::new(), None)
            };
            // Sync; a follower early for the leader keeps its session alive and retries.
            let sync_deadline = tokio::time::Instant::now() + self.dc.rebalance_timeout;
            let sync_started = tokio::time::Instant::now();
            let bytes = loop {
                let c = conn.as_mut().expect("connected above");
                match c
                    .sync(&group, j.generation, &member_id, &assignments, io_timeout)
                    .await
                {
                    Ok(b) => {
                        // The placement stands: remember it for the next round.
                        if let Some(m) = memory.take() {
                            self.set_leader_memory(m);
                        }
                        break b;
                    }
                    Err(e) if e.code() == Some(code::REBALANCE_IN_PROGRESS) => {
                        if tokio::time::Instant::now() > sync_deadline {
                            continue 'outer;
                        }
                        match c
                            .heartbeat(&group, j.generation, &member_id, io_timeout)
                            .await
                        {
                            Ok(()) => tokio::time::sleep(Duration::from_millis(300)).await,
                            Err(_) => continue 'outer,
                        }
                        if sync_started.elapsed() > 2 * hb + Duration::from_secs(3)
                            && j.leader != member_id
                            && self.leader_is_dead(&j.leader).await
                        {
                            self.depose_dead_leader(&j.leader).await;
                            continue 'outer;
                        }
                    }
                    Err(e) => {
                        self.on_group_error(&e, &mut member_id, &mut conn).await;
                        attempt += 1;
                        continue 'outer;
                    }
                }
            };
            attempt = 0;
            *self
                .side_heartbeat
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = None;
            self.lease.extend(self.dc.lease_span());
            self.generation.store(j.generation, Ordering::SeqCst);
            let (mut rejoin, mut rejoin_at, revoked) = match conn.as_mut() {
                Some(c) => self.apply_bytes(c, &group, &j, &member_id, &bytes).await,
                None => (true, None, false),
            };
            if revoked {
                // Tell the leader the revoked work has stopped.
                nonce += 1;
            }
            applied_generation = j.generation;
            applied_bytes = bytes;
            self.rebalances
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .completed(j.generation);
            // Steady state: heartbeat, then look at the stored assignment.
            while !rejoin {
                let far = tokio::time::Instant::now() + Duration::from_secs(86400);
                tokio::select! {
                    _ = tokio::time::sleep(hb) => {}
                    _ = self.rejoin.notified() => {
                        // Several config records in a row (a connector, then
                        // its tasks) ask once each; a round that already saw
                        // them all need not be followed by another.
                        let placed = self
                            .leader_memory
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .config_offset;
                        if self.force_rejoin.swap(false, Ordering::SeqCst)
                            || placed.is_none_or(|p| p < self.cfg().offset)
                        {
                            nonce += 1;
                            break;
                        }
                    }
                    _ = tokio::time::sleep_until(rejoin_at.unwrap_or(far)) => {
                        nonce += 1;
                        break;
                    }
                    _ = self.leave_now.notified() => break 'outer,
                }
                if self.leaving.load(Ordering::SeqCst) {
                    break 'outer;
                }
                let Some(c) = conn.as_mut() else { break };
                let sent = Instant::now();
                let hb_result = c
                    .heartbeat(&group, j.generation, &member_id, io_timeout)
                    .await;
                if sent.elapsed() > hb {
                    tracing::warn!("heartbeat took {} ms (heartbeat.interval.ms={}); a busy broker or host risks this worker's session", sent.elapsed().as_millis(), hb.as_millis());
                }
                match hb_result {
                    Ok(()) => self.lease.extend(self.dc.lease_span()),
                    Err(e) if e.code() == Some(code::REBALANCE_IN_PROGRESS) => {
                        // A new generation, or only a member found expired?
                        // some coordinators answer the latter this way too but keep the
                        // generation, and a join with unchanged metadata then
                        // starts no round: ask with a new nonce at once
                        // rather than after one wasted join.
                        if let Err(e) = c
                            .heartbeat(&group, j.generation + 1, &member_id, io_timeout)
                            .await
                        {
                            if e.code() == Some(code::ILLEGAL_GENERATION) {
                                nonce += 1;
                            }
                        }
                        break;
                    }
                    Err(e) => {
                        self.on_group_error(&e, &mut member_id, &mut conn).await;
                        break;
                    }
                }
                match c
                    .sync(&group, j.generation, &member_id, &[], io_timeout)
                    .await
                {
                    Ok(b) if b != applied_bytes && !b.is_empty() => {
                        tracing::info!(
                            generation = j.generation,
                            "assignment replaced within the generation; applying it"
                        );
                        let (r, at, revoked) =
                            self.apply_bytes(c, &group, &j, &member_id, &b).await;
                        rejoin = r;
                        rejoin_at = at;
                        if revoked {
                            nonce += 1;
                        }
                        applied_bytes = b;
                    }
                    Ok(_) => {}
                    Err(e) if e.code() == Some(code::REBALANCE_IN_PROGRESS) => break,
                    Err(e) => {
                        self.on_group_error(&e, &mut member_id, &mut conn).await;
                        break;
                    }
                }
            }
        }
        if let Some(c) = conn.as_mut() {
            if !member_id.is_empty() {
                let _ = c.leave(&group, &member_id).await;
            }
        }
        self.left.notify_waiters();
    }

    /// Applies an assignment while heartbeating. Returns whether to rejoin
    /// at once (revocations, a rebalance seen meanwhile) and when to rejoin
    /// for held-back work.
    pub(super) async fn apply_bytes(
        &self,
        c: &mut GroupConnection,
        group: &str,
        j: &Joined,
        member_id: &str,
        bytes: &[u8],
    ) -> (bool, Option<tokio::time::Instant>, bool) {
        let assignment: Assignment = match serde_json::from_slice(bytes) {
            Ok(a) => a,
            Err(_) => {
                tracing::warn!(
                    generation = j.generation,
                    "no assignment for this worker in this generation; rejoining"
                );
                tokio::time::sleep(Duration::from_millis(500)).await;
                return (true, None, false);
            }
        };
        tracing::info!(
            generation = j.generation,
            leader = j.leader == j.member_id,
            "joined the cluster: {} connector(s), {} task(s) assigned{}",
            assignment.units.connectors.len(),
            assignment.units.tasks.len(),
            if assignment.revoked {
                ", some revoked"
            } else {
                ""
            }
        );
        self.leader_urls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(assignment.leader.clone(), assignment.leader_url.clone());
        if assignment.leader != member_id {
            self.forget_leading();
        }
        let mut revoked = assignment.revoked;
        let rejoin_at = assignment
            .rejoin_after_ms
            .map(|ms| tokio::time::Instant::now() + Duration::from_millis(ms));
        let mut rejoin = false;
        let apply = self.apply(assignment);
        tokio::pin!(apply);
        loop {
            tokio::select! {
                stopped = &mut apply => {
                    revoked |= stopped;
                    break;
                }
                _ = tokio::time::sleep(self.dc.heartbeat_interval) => {
                    match c.heartbeat(group, j.generation, member_id, self.dc.session_timeout).await {
                        Ok(()) => self.lease.extend(self.dc.lease_span()),
                        Err(_) => rejoin = true,
                    }
                }
            }
        }
        if revoked {
            // This worker now runs exactly this generation's share: tell the
            // leader (metadata) so that it may place what was taken away.
            self.stopped_at.store(j.generation, Ordering::SeqCst);
        }
        (rejoin || revoked, rejoin_at, revoked)
    }

    /// Whether the worker that led under `leader` (member id) is gone or
    /// frozen: its REST API does not answer within 3 s. Leaders this worker
    /// never heard of are not judged.
    pub(super) async fn leader_is_dead(&self, leader: &str) -> bool {
        let url = self
            .leader_urls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(leader)
            .cloned();
        let Some(url) = url else {
            return false;
        };
        if url == self.dc.url {
            return false;
        }
        let addr = url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        // A frozen process still accepts TCP connections (the kernel does),
        // so ask for an answer, not a connection.
        let probe = async {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut s = tokio::net::TcpStream::connect(&addr).await?;
            s.write_all(b"GET / HTTP/1.0\r\n\r\n").await?;
            let mut buf = [0u8; 12];
            let n = s.read(&mut buf).await?;
            Ok::<bool, std::io::Error>(n > 0)
        };
        !matches!(
            tokio::time::timeout(Duration::from_secs(3), probe).await,
            Ok(Ok(true))
        )
    }

    /// Recovers a group whose leader died without the coordinator clearing
    /// its leadership (seen on a stand-in broker: a leader expired by a
    /// heartbeat stayed leader, so no sync ever completed). This worker joins under the dead leader's
    /// member id, which makes it the leader's voice for one generation: it
    /// places the work of the live members, then leaves under that id, which
    /// clears the leadership; the next worker to join leads.
    pub(super) async fn depose_dead_leader(&self, leader: &str) {
        tracing::warn!("the group's leader (member {leader}) is gone but still named leader by the coordinator; taking its place for one round to hand leadership on");
        let group = self.dc.group_id.clone();
        let Ok(mut c) =
            GroupConnection::connect(&self.bootstrap, &group, &self.dc.worker_id, &self.security)
                .await
        else {
            return;
        };
        let meta = serde_json::to_vec(&MemberMeta {
            url: String::new(),
            worker_id: String::new(),
            nonce: u64::MAX,
            stopped_at: -1,
            held: Units::default(),
        })
        .expect("metadata serialises");
        let session_ms = self.dc.session_timeout.as_millis() as i32;
        let rebalance_ms = self.dc.rebalance_timeout.as_millis() as i32;
        let Ok(mut j) = c
            .join(
                &group,
                session_ms,
                rebalance_ms,
                leader,
                "connect",
                &[(PROTOCOL, &meta)],
            )
            .await
        else {
            return;
        };
        if j.leader == j.member_id {
            j.members.retain(|m| m.member_id != leader);
            // Placed as if by a new leader: this worker's memory is of rounds
            // another worker led.
            self.forget_leading();
            let (assignments, _) = self.lead(&j).await;
            let _ = c
                .sync(
                    &group,
                    j.generation,
                    leader,
                    &assignments,
                    self.dc.session_timeout,
                )
                .await;
        }
        let _ = c.leave(&group, leader).await;
    }

    /// Heartbeats on a second connection while a join or sync is pending.
    pub(super) async fn side_heartbeats(self: Arc<Self>) {
        let group = self.dc.group_id.clone();
        let mut conn: Option<GroupConnection> = None;
        loop {
            tokio::time::sleep(self.dc.heartbeat_interval).await;
            if self.leaving.load(Ordering::SeqCst) {
                return;
            }
            let Some((member, generation)) = self
                .side_heartbeat
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
            else {
                continue;
            };
            if conn.is_none() {
                conn = GroupConnection::connect(
                    &self.bootstrap,
                    &group,
                    &self.dc.worker_id,
                    &self.security,
                )
                .await
                .ok();
            }
            let Some(c) = conn.as_mut() else { continue };
            // Only a heartbeat at the group's current generation keeps a
            // session alive on every coordinator (on some, in a formed group, a
            // heartbeat of an older generation is answered "rebalance in
            // progress" without counting, and joins and syncs never count).
            // While this worker waits in a join it does not know that
            // generation yet, so look for it upwards: an older one answers
            // "rebalance in progress", the current one "ok" (counted), a
            // newer one "illegal generation" (harmless).
            let mut g = generation;
            for _ in 0..8 {
                match c
                    .heartbeat(&group, g, &member, self.dc.session_timeout)
                    .await
                {
                    Err(GroupError::Io(_)) => {
                        conn = None;
                        break;
                    }
                    Err(e) if e.code() == Some(code::REBALANCE_IN_PROGRESS) => g += 1,
                    _ => break,
                }
            }
        }
    }

    /// Reacts to a failed group request.
    pub(super) async fn on_group_error(
        &self,
        e: &GroupError,
        member_id: &mut String,
        conn: &mut Option<GroupConnection>,
    ) {
        match e.code() {
            Some(code::UNKNOWN_MEMBER_ID)
            | Some(code::ILLEGAL_GENERATION)
            | Some(code::FENCED_INSTANCE_ID) => {
                // The group moved on without this worker: its work may
                // already run elsewhere, so stop it before rejoining.
                tracing::warn!("the group coordinator no longer counts this worker in the current generation ({e}); stopping local work and rejoining");
                self.release_all(false).await;
                self.forget_leading();
                if e.code() != Some(code::ILLEGAL_GENERATION) {
                    member_id.clear();
                }
            }
            Some(code::REBALANCE_IN_PROGRESS) => {}
            Some(code::INCONSISTENT_GROUP_PROTOCOL) => {
                tracing::error!("group {} is used by clients of another kind (not Sluice workers); give this cluster its own group.id", self.dc.group_id);
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
            Some(code::NOT_COORDINATOR)
            | Some(code::COORDINATOR_NOT_AVAILABLE)
            | Some(code::COORDINATOR_LOAD_IN_PROGRESS)
            | None => {
                tracing::warn!("group coordinator: {e}; reconnecting");
                *conn = None;
            }
            Some(_) => tracing::warn!("group request failed: {e}; rejoining"),
        }
    }
}
