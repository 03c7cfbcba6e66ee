//! The leader's placement of connectors and tasks on workers: incremental
//! and sticky, in the spirit of KIP-415.
//!
//! - What a live worker already runs stays where it is.
//! - New work, and work of workers that left, goes to the least-loaded
//!   workers at once (or, with `scheduled.rebalance.max.delay.ms` > 0, after
//!   that delay, so a worker that restarts quickly gets its work back).
//! - When loads differ by more than one, the most loaded workers give work
//!   up: it is *revoked* (in nobody's assignment) this round, the worker
//!   stops it and rejoins, and the next round places it. A unit therefore
//!   never runs on two workers at once, and nothing else stops.
//!
//! Connectors and tasks are balanced separately, as Kafka Connect does.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

pub type TaskKey = (String, u32);

/// What a worker runs (its metadata at join time, its share afterwards).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Units {
    pub connectors: Vec<String>,
    pub tasks: Vec<TaskKey>,
}

/// A worker's JoinGroup metadata.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemberMeta {
    pub url: String,
    pub worker_id: String,
    /// Bumped when the worker asks for a rebalance. Nothing else in the
    /// metadata changes while a worker lives: on coordinators that compare
    /// metadata bytes, a change starts a rebalance, so metadata that
    /// tracked what the worker runs would make every join start another.
    #[serde(default)]
    pub nonce: u64,
    /// The generation of the last assignment that made this worker stop
    /// work (-1: none). The leader places work it revoked from a worker
    /// only once this reaches the generation of the revocation, so a unit
    /// never runs on two workers at once. It changes only together with
    /// the nonce, so it starts no extra rebalance.
    #[serde(default = "no_generation")]
    pub stopped_at: i32,
    /// What the worker runs, as the leader reckons it (from what it gave
    /// out, or from the status topic); not sent.
    #[serde(skip)]
    pub held: Units,
}

fn no_generation() -> i32 {
    -1
}

/// What the leader hands each worker in SyncGroup.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Assignment {
    pub version: u32,
    pub generation: i32,
    pub leader: String,
    pub leader_url: String,
    pub config_offset: i64,
    pub units: Units,
    /// This worker must stop what it runs outside `units` and rejoin.
    pub revoked: bool,
    /// Rejoin after this long: work of departed workers is being held back.
    pub rejoin_after_ms: Option<u64>,
}

/// What the leader remembers between rounds. It is kept only while the
/// same worker leads every round: a worker that sees an assignment made by
/// another leader forgets it (and then reads what each worker runs from
/// the status topic when it leads again).
#[derive(Debug, Default, Clone)]
pub struct LeaderMemory {
    previous: BTreeMap<String, String>,
    lost_since: BTreeMap<String, Instant>,
    /// The generation of the last assignment this leader made, and what it
    /// gave each member.
    pub generation: Option<i32>,
    pub given: BTreeMap<String, Units>,
    /// The config topic offset that placement was made from.
    pub config_offset: Option<i64>,
    /// Work revoked from a member, with the generation of the revocation:
    /// it is in nobody's hands until that member rejoins with `stopped_at`
    /// at or past that generation (it does once it stopped the work).
    pub revoked: BTreeMap<String, (Units, i32)>,
}

fn unit_name<U: UnitName>(u: &U) -> String {
    u.name()
}

pub trait UnitName {
    fn name(&self) -> String;
}

impl UnitName for String {
    fn name(&self) -> String {
        format!("connector {self}")
    }
}

impl UnitName for TaskKey {
    fn name(&self) -> String {
        format!("task {}-{}", self.0, self.1)
    }
}

/// The result for one member.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Share {
    pub units: Units,
    pub revoked: bool,
}

/// Places `connectors` and `tasks` on `members` (id, metadata). Ties between
/// equally loaded members go to the one listed first.
/// Returns each member's share and, when work is held back, how long until
/// the next round should run.
pub fn assign(
    members: &[(String, MemberMeta)],
    connectors: &BTreeSet<String>,
    tasks: &BTreeSet<TaskKey>,
    delay: Duration,
    now: Instant,
    memory: &mut LeaderMemory,
) -> (BTreeMap<String, Share>, Option<Duration>) {
    let ids: Vec<String> = members.iter().map(|(id, _)| id.clone()).collect();
    let live: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
    let mut next_round: Option<Duration> = None;
    let mut held_back = |name: String, memory: &mut LeaderMemory| -> bool {
        let departed = memory
            .previous
            .get(&name)
            .map(|owner| !live.contains(owner.as_str()))
            .unwrap_or(false);
        if delay.is_zero() || !departed {
            memory.lost_since.remove(&name);
            return false;
        }
        let since = *memory.lost_since.entry(name).or_insert(now);
        let waited = now.saturating_duration_since(since);
        if waited >= delay {
            return false;
        }
        let left = delay - waited;
        next_round = Some(next_round.map_or(left, |d: Duration| d.min(left)));
        true
    };
    let (conn_shares, conn_revoked) = balance(
        &members
            .iter()
            .map(|(_, m)| m.held.connectors.clone())
            .collect::<Vec<_>>(),
        connectors,
        &mut |u: &String, mem: &mut LeaderMemory| held_back(unit_name(u), mem),
        memory,
    );
    let (task_shares, task_revoked) = balance(
        &members
            .iter()
            .map(|(_, m)| m.held.tasks.clone())
            .collect::<Vec<_>>(),
        tasks,
        &mut |u: &TaskKey, mem: &mut LeaderMemory| held_back(unit_name(u), mem),
        memory,
    );
    let mut out = BTreeMap::new();
    memory.previous.clear();
    for (i, id) in ids.iter().enumerate() {
        for c in &conn_shares[i] {
            memory.previous.insert(unit_name(c), id.clone());
        }
        for t in &task_shares[i] {
            memory.previous.insert(unit_name(t), id.clone());
        }
        out.insert(
            id.clone(),
            Share {
                units: Units {
                    connectors: conn_shares[i].clone(),
                    tasks: task_shares[i].clone(),
                },
                revoked: conn_revoked[i] || task_revoked[i],
            },
        );
    }
    // Revoked units still run on their old worker until it rejoins.
    for (i, (_, m)) in members.iter().enumerate() {
        if conn_revoked[i] || task_revoked[i] {
            for c in &m.held.connectors {
                memory
                    .previous
                    .entry(unit_name(c))
                    .or_insert_with(|| ids[i].clone());
            }
            for t in &m.held.tasks {
                memory
                    .previous
                    .entry(unit_name(t))
                    .or_insert_with(|| ids[i].clone());
            }
        }
    }
    memory
        .lost_since
        .retain(|k, _| !memory.previous.contains_key(k));
    memory.given = out
        .iter()
        .map(|(id, sh)| (id.clone(), sh.units.clone()))
        .collect();
    (out, next_round)
}

/// One kind of unit: keeps what is held, places the rest on the least
/// loaded, then revokes from the most loaded until loads differ by at most
/// one. Returns each member's units and whether it had some revoked.
fn balance<U: Ord + Clone>(
    held: &[Vec<U>],
    all: &BTreeSet<U>,
    hold_back: &mut dyn FnMut(&U, &mut LeaderMemory) -> bool,
    memory: &mut LeaderMemory,
) -> (Vec<Vec<U>>, Vec<bool>) {
    let n = held.len();
    let mut shares: Vec<Vec<U>> = vec![Vec::new(); n];
    let mut revoked = vec![false; n];
    if n == 0 {
        return (shares, revoked);
    }
    let mut taken = BTreeSet::new();
    for (i, h) in held.iter().enumerate() {
        for u in h {
            if all.contains(u) && taken.insert(u.clone()) {
                shares[i].push(u.clone());
            }
        }
    }
    let mut loads: Vec<usize> = shares.iter().map(Vec::len).collect();
    for u in all {
        if taken.contains(u) || hold_back(u, memory) {
            continue;
        }
        let i = argmin(&loads);
        shares[i].push(u.clone());
        loads[i] += 1;
    }
    // Level the loads by revoking from the heaviest.
    loop {
        let (hi, lo) = (argmax(&loads), argmin(&loads));
        if loads[hi] <= loads[lo] + 1 {
            break;
        }
        shares[hi].pop();
        revoked[hi] = true;
        loads[hi] -= 1;
        loads[lo] += 1;
    }
    (shares, revoked)
}

fn argmin(v: &[usize]) -> usize {
    (0..v.len()).min_by_key(|&i| (v[i], i)).unwrap_or(0)
}

fn argmax(v: &[usize]) -> usize {
    (0..v.len())
        .max_by_key(|&i| (v[i], std::cmp::Reverse(i)))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(conns: &[&str], tasks: &[(&str, u32)]) -> MemberMeta {
        MemberMeta {
            url: String::new(),
            worker_id: String::new(),
            nonce: 0,
            stopped_at: -1,
            held: Units {
                connectors: conns.iter().map(|s| s.to_string()).collect(),
                tasks: tasks.iter().map(|(c, t)| (c.to_string(), *t)).collect(),
            },
        }
    }

    fn tasks(spec: &[(&str, u32)]) -> BTreeSet<TaskKey> {
        spec.iter()
            .flat_map(|(c, n)| (0..*n).map(move |i| (c.to_string(), i)))
            .collect()
    }

    #[test]
    fn new_work_goes_to_the_least_loaded_and_nothing_moves() {
        let members = vec![
            ("a".to_string(), meta(&["x"], &[("x", 0), ("x", 1)])),
            ("b".to_string(), meta(&[], &[("x", 2)])),
        ];
        let conns = BTreeSet::from(["x".to_string(), "y".to_string()]);
        let all = tasks(&[("x", 3), ("y", 1)]);
        let mut mem = LeaderMemory::default();
        let (s, next) = assign(
            &members,
            &conns,
            &all,
            Duration::ZERO,
            Instant::now(),
            &mut mem,
        );
        assert_eq!(next, None);
        assert_eq!(s["a"].units.connectors, vec!["x"]);
        assert_eq!(s["b"].units.connectors, vec!["y"]);
        assert_eq!(s["a"].units.tasks.len(), 2);
        assert_eq!(s["b"].units.tasks, vec![("x".into(), 2), ("y".into(), 0)]);
        assert!(!s["a"].revoked && !s["b"].revoked);
    }

    #[test]
    fn a_new_worker_gets_work_by_revocation_then_placement() {
        let conns = BTreeSet::from(["x".to_string()]);
        let all = tasks(&[("x", 4)]);
        let full = meta(&["x"], &[("x", 0), ("x", 1), ("x", 2), ("x", 3)]);
        let mut mem = LeaderMemory::default();
        let now = Instant::now();
        let round1 = vec![
            ("a".to_string(), full.clone()),
            ("b".to_string(), meta(&[], &[])),
        ];
        let (s, _) = assign(&round1, &conns, &all, Duration::ZERO, now, &mut mem);
        // a gives up two tasks, which nobody runs in this round.
        assert!(s["a"].revoked);
        assert_eq!(s["a"].units.tasks.len(), 2);
        assert!(s["b"].units.tasks.is_empty());
        // a stopped them and rejoined: b gets them.
        let round2 = vec![
            ("a".to_string(), meta(&["x"], &[("x", 0), ("x", 1)])),
            ("b".to_string(), meta(&[], &[])),
        ];
        let (s, _) = assign(&round2, &conns, &all, Duration::ZERO, now, &mut mem);
        assert!(!s["a"].revoked);
        assert_eq!(s["b"].units.tasks, vec![("x".into(), 2), ("x".into(), 3)]);
    }

    #[test]
    fn departed_work_waits_for_the_delay() {
        let conns = BTreeSet::new();
        let all = tasks(&[("x", 2)]);
        let mut mem = LeaderMemory::default();
        let t0 = Instant::now();
        let both = vec![
            ("a".to_string(), meta(&[], &[("x", 0)])),
            ("b".to_string(), meta(&[], &[("x", 1)])),
        ];
        assign(&both, &conns, &all, Duration::from_secs(10), t0, &mut mem);
        let alone = vec![("a".to_string(), meta(&[], &[("x", 0)]))];
        let (s, next) = assign(&alone, &conns, &all, Duration::from_secs(10), t0, &mut mem);
        assert_eq!(s["a"].units.tasks, vec![("x".into(), 0)]);
        assert_eq!(next, Some(Duration::from_secs(10)));
        let (s, next) = assign(
            &alone,
            &conns,
            &all,
            Duration::from_secs(10),
            t0 + Duration::from_secs(11),
            &mut mem,
        );
        assert_eq!(next, None);
        assert_eq!(s["a"].units.tasks.len(), 2);
        // With no delay, departed work moves at once.
        let mut mem = LeaderMemory::default();
        assign(&both, &conns, &all, Duration::ZERO, t0, &mut mem);
        let (s, _) = assign(&alone, &conns, &all, Duration::ZERO, t0, &mut mem);
        assert_eq!(s["a"].units.tasks.len(), 2);
    }

    #[test]
    fn deleted_and_doubly_held_units_are_dropped() {
        let members = vec![
            ("a".to_string(), meta(&["gone"], &[("x", 0)])),
            ("b".to_string(), meta(&[], &[("x", 0)])),
        ];
        let (s, _) = assign(
            &members,
            &BTreeSet::new(),
            &tasks(&[("x", 1)]),
            Duration::ZERO,
            Instant::now(),
            &mut LeaderMemory::default(),
        );
        assert!(s["a"].units.connectors.is_empty());
        assert_eq!(s["a"].units.tasks, vec![("x".into(), 0)]);
        assert!(s["b"].units.tasks.is_empty());
    }
}
