//! Leadership: the leader reads the configs to their end and places every
//! connector and task on a member ([`super::assign`] decides where),
//! remembering between rounds what it gave and what it revoked, so that a
//! unit never runs on two workers at once.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use super::assign::{Assignment, LeaderMemory, MemberMeta, TaskKey, Units};
use super::DistributedHerder;
use crate::herder::State;
use crate::kafka::group::Joined;

impl DistributedHerder {
    /// The leader's part: place everything, one assignment per member.
    /// Returns the assignments and the leader's memory after them, to keep
    /// once the coordinator took them (the sync succeeded).
    pub(super) async fn lead(&self, j: &Joined) -> (Vec<(String, Vec<u8>)>, LeaderMemory) {
        if let Err(e) = self.configs.read_to_end().await {
            tracing::warn!("leader cannot read the config topic to its end: {e}");
        }
        let mut members: Vec<(String, MemberMeta)> = j
            .members
            .iter()
            .map(|m| {
                let meta = serde_json::from_slice(&m.metadata).unwrap_or(MemberMeta {
                    url: String::new(),
                    worker_id: String::new(),
                    nonce: 0,
                    stopped_at: -1,
                    held: Units::default(),
                });
                (m.member_id.clone(), meta)
            })
            .collect();
        // The leader first: placement breaks ties towards the first member,
        // and the leader starts its share at once, while a follower may wait
        // in its join (some coordinators hold each follower's join for seconds), so work that
        // moves after a failure restarts sooner.
        members.sort_by(|a, b| (a.0 != j.leader, &a.0).cmp(&(b.0 != j.leader, &b.0)));
        tracing::debug!(
            generation = j.generation,
            "leading: members {:?}",
            members
                .iter()
                .map(|(id, m)| format!(
                    "{}={}#{}",
                    m.worker_id,
                    &id[id.len().saturating_sub(6)..],
                    m.nonce
                ))
                .collect::<Vec<_>>()
        );
        let (mut connectors, mut tasks, offset) = {
            let c = self.cfg();
            let connectors: BTreeSet<String> = c.connectors.keys().cloned().collect();
            let tasks: BTreeSet<TaskKey> = c
                .tasks
                .iter()
                .filter(|(name, _)| c.connectors.contains_key(*name))
                .flat_map(|(name, list)| (0..list.len() as u32).map(move |i| (name.clone(), i)))
                .collect();
            (connectors, tasks, c.offset)
        };
        let mut mem = self
            .leader_memory
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let (shares, next) = {
            // What each member runs: what this leader gave it, or for a new
            // leader what the status topic says it runs.
            let st = self.status.lock().unwrap_or_else(|p| p.into_inner());
            let mut limbo: BTreeMap<String, (Units, i32)> = BTreeMap::new();
            for (id, meta) in members.iter_mut() {
                meta.held = if mem.generation.is_some() {
                    mem.given.get(id).cloned().unwrap_or_default()
                } else {
                    Units {
                        connectors: st
                            .connectors
                            .iter()
                            .filter(|(_, r)| {
                                r.worker_id == meta.worker_id && r.state != State::Unassigned
                            })
                            .map(|(n, _)| n.clone())
                            .collect(),
                        tasks: st
                            .tasks
                            .iter()
                            .filter(|(_, r)| {
                                r.worker_id == meta.worker_id && r.state != State::Unassigned
                            })
                            .map(|(t, _)| t.clone())
                            .collect(),
                    }
                };
                // Revoked work stays unplaced until its member confirms it stopped.
                if let Some((units, at_generation)) = mem.revoked.get(id) {
                    if meta.stopped_at < *at_generation {
                        for c in &units.connectors {
                            connectors.remove(c);
                        }
                        for t in &units.tasks {
                            tasks.remove(t);
                        }
                        limbo.insert(id.clone(), (units.clone(), *at_generation));
                    }
                }
            }
            drop(st);
            let before: BTreeMap<String, Units> = members
                .iter()
                .map(|(id, m)| (id.clone(), m.held.clone()))
                .collect();
            let r = super::assign::assign(
                &members,
                &connectors,
                &tasks,
                self.dc.rebalance_delay,
                Instant::now(),
                &mut mem,
            );
            mem.generation = Some(j.generation);
            mem.config_offset = Some(offset);
            mem.revoked = limbo;
            for (id, _) in &members {
                let Some(share) = r.0.get(id) else { continue };
                if !share.revoked {
                    continue;
                }
                let had = &before[id];
                let gone = Units {
                    connectors: had
                        .connectors
                        .iter()
                        .filter(|c| !share.units.connectors.contains(c))
                        .cloned()
                        .collect(),
                    tasks: had
                        .tasks
                        .iter()
                        .filter(|t| !share.units.tasks.contains(t))
                        .cloned()
                        .collect(),
                };
                let entry = mem
                    .revoked
                    .entry(id.clone())
                    .or_insert((Units::default(), j.generation));
                entry.0.connectors.extend(gone.connectors);
                entry.0.tasks.extend(gone.tasks);
                entry.1 = j.generation;
            }
            r
        };
        let assignments = shares
            .into_iter()
            .map(|(id, share)| {
                let a = Assignment {
                    version: 1,
                    generation: j.generation,
                    leader: j.leader.clone(),
                    leader_url: self.dc.url.clone(),
                    config_offset: offset,
                    units: share.units,
                    revoked: share.revoked,
                    rejoin_after_ms: if id == j.leader {
                        next.map(|d| d.as_millis() as u64 + 1)
                    } else {
                        None
                    },
                };
                (id, serde_json::to_vec(&a).expect("assignment serialises"))
            })
            .collect();
        (assignments, mem)
    }

    /// Forgets what this worker remembers of rounds it led: another worker
    /// led since, or this worker left the group.
    pub(super) fn forget_leading(&self) {
        self.set_leader_memory(LeaderMemory::default());
    }

    pub(super) fn set_leader_memory(&self, m: LeaderMemory) {
        *self.leader_memory.lock().unwrap_or_else(|p| p.into_inner()) = m;
    }
}
