//! Which source offsets may be committed.
//!
//! Every record handed to the producer gets a sequence number and joins the
//! queue of its source partition, in poll order. The broker acknowledges
//! records in any order across Kafka partitions, so an ack only marks its
//! record. A partition's committable offset is the offset of the last record
//! of the longest fully acknowledged prefix of its queue: a resume from it
//! skips nothing that was not in Kafka. A record that was never acked (worker
//! killed, delivery failed) keeps every later offset of its partition from
//! being committed, so it is re-read after a restart (at-least-once).

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use crate::data::JsonMap;

struct Pending {
    seq: u64,
    offset: Option<Arc<JsonMap>>,
}

struct PartitionQueue {
    partition: Arc<JsonMap>,
    queue: VecDeque<Pending>,
    /// Latest offset whose prefix is fully acked, not yet taken for commit.
    committable: Option<Arc<JsonMap>>,
}

/// Hashes a sequence number with one multiplication: the set of acked
/// numbers is touched twice per record, and SipHash showed in profiles.
#[derive(Default)]
struct SeqHasher(u64);

impl Hasher for SeqHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// Tracks submitted records and their acks (Kafka Connect's `SubmittedRecords`).
#[derive(Default)]
pub struct SubmittedRecords {
    next_seq: u64,
    partitions: Vec<PartitionQueue>,
    /// Canonical partition JSON → index into `partitions`.
    index: HashMap<String, usize>,
    /// Fast path: the last partition Arc seen and its index.
    last: Option<(Arc<JsonMap>, usize)>,
    acked: HashSet<u64, BuildHasherDefault<SeqHasher>>,
    in_flight: usize,
}

impl SubmittedRecords {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a record about to be sent; returns its sequence number.
    pub fn submit(&mut self, partition: &Arc<JsonMap>, offset: Option<Arc<JsonMap>>) -> u64 {
        let idx = match &self.last {
            Some((p, i)) if Arc::ptr_eq(p, partition) => *i,
            _ => {
                let key = serde_json::to_string(&**partition).unwrap_or_default();
                let i = match self.index.get(&key) {
                    Some(i) => *i,
                    None => {
                        self.partitions.push(PartitionQueue {
                            partition: partition.clone(),
                            queue: VecDeque::new(),
                            committable: None,
                        });
                        let i = self.partitions.len() - 1;
                        self.index.insert(key, i);
                        i
                    }
                };
                self.last = Some((partition.clone(), i));
                i
            }
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        self.partitions[idx]
            .queue
            .push_back(Pending { seq, offset });
        self.in_flight += 1;
        seq
    }

    /// Marks a record as acknowledged by the broker.
    pub fn ack(&mut self, seq: u64) {
        self.acked.insert(seq);
    }

    /// Records sent but not yet moved past by `advance`.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Moves every partition's fully acked prefix into its committable offset.
    pub fn advance(&mut self) {
        for p in &mut self.partitions {
            while let Some(front) = p.queue.front() {
                if !self.acked.remove(&front.seq) {
                    break;
                }
                let done = p.queue.pop_front().expect("front exists");
                self.in_flight -= 1;
                if let Some(off) = done.offset {
                    p.committable = Some(off);
                }
            }
        }
    }

    /// Takes the offsets that may be committed now (each partition once).
    pub fn take_committable(&mut self) -> Vec<(JsonMap, JsonMap)> {
        self.advance();
        self.partitions
            .iter_mut()
            .filter_map(|p| {
                p.committable
                    .take()
                    .map(|o| ((*p.partition).clone(), (*o).clone()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(v: serde_json::Value) -> Arc<JsonMap> {
        Arc::new(v.as_object().unwrap().clone())
    }

    #[test]
    fn commits_only_contiguous_acked_prefix() {
        let mut s = SubmittedRecords::new();
        let pa = m(json!({"p": "a"}));
        let pb = m(json!({"p": "b"}));
        let a1 = s.submit(&pa, Some(m(json!({"o": 1}))));
        let b1 = s.submit(&pb, Some(m(json!({"o": 1}))));
        let a2 = s.submit(&pa, Some(m(json!({"o": 2}))));
        let a3 = s.submit(&pa, Some(m(json!({"o": 3}))));
        s.ack(a2);
        s.ack(b1);
        let c = s.take_committable();
        assert_eq!(c, vec![((*pb).clone(), (*m(json!({"o": 1}))).clone())]);
        s.ack(a3);
        assert!(s.take_committable().is_empty(), "a1 still unacked");
        s.ack(a1);
        let c = s.take_committable();
        assert_eq!(c, vec![((*pa).clone(), (*m(json!({"o": 3}))).clone())]);
        assert_eq!(s.in_flight(), 0);
    }

    #[test]
    fn equal_partitions_in_distinct_arcs_share_a_queue() {
        let mut s = SubmittedRecords::new();
        let x = s.submit(&m(json!({"p": 1})), Some(m(json!({"o": 1}))));
        let y = s.submit(&m(json!({"p": 2})), None);
        let z = s.submit(&m(json!({"p": 1})), Some(m(json!({"o": 2}))));
        s.ack(z);
        s.ack(y);
        assert!(s.take_committable().is_empty());
        s.ack(x);
        assert_eq!(s.take_committable().len(), 1);
    }
}
