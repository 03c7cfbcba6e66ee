//! Global transaction ids: MariaDB's `domain-server-sequence` positions and
//! MySQL's `uuid:interval` sets.
//!
//! A MariaDB GTID position keeps, per replication domain, the last GTID
//! applied; resuming means `SET @slave_connect_state` to that position. A
//! MySQL GTID set is, per source uuid, a sorted list of disjoint, non-adjacent
//! half-open intervals; [`GtidSet::add`] and [`GtidSet::merge`] keep that
//! normal form, so `Display` is canonical and round-trips through `FromStr`.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// One MariaDB GTID: domain-server-sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MariaGtid {
    pub domain: u32,
    pub server: u32,
    pub sequence: u64,
}

impl fmt::Display for MariaGtid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.domain, self.server, self.sequence)
    }
}

impl FromStr for MariaGtid {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("'{s}' is not a MariaDB GTID (domain-server-sequence, e.g. 0-1-42)");
        let mut it = s.trim().splitn(3, '-');
        let mut next = || it.next().ok_or_else(bad);
        Ok(MariaGtid {
            domain: next()?.parse().map_err(|_| bad())?,
            server: next()?.parse().map_err(|_| bad())?,
            sequence: next()?.parse().map_err(|_| bad())?,
        })
    }
}

/// A MariaDB GTID position: the last GTID per domain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MariaGtidPosition(BTreeMap<u32, MariaGtid>);

impl MariaGtidPosition {
    pub fn new() -> Self {
        Self::default()
    }
    /// Records `gtid` as the latest of its domain.
    pub fn update(&mut self, gtid: MariaGtid) {
        self.0.insert(gtid.domain, gtid);
    }
    pub fn get(&self, domain: u32) -> Option<MariaGtid> {
        self.0.get(&domain).copied()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn iter(&self) -> impl Iterator<Item = &MariaGtid> {
        self.0.values()
    }
}

impl fmt::Display for MariaGtidPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, g) in self.0.values().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{g}")?;
        }
        Ok(())
    }
}

impl FromStr for MariaGtidPosition {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut p = MariaGtidPosition::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            p.update(part.parse()?);
        }
        Ok(p)
    }
}

/// A MySQL server uuid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uuid(pub [u8; 16]);

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl FromStr for Uuid {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let hex: Vec<u8> = s.bytes().filter(|&b| b != b'-').collect();
        let bad = || format!("'{s}' is not a server uuid");
        if hex.len() != 32 {
            return Err(bad());
        }
        let mut out = [0u8; 16];
        for (i, pair) in hex.chunks(2).enumerate() {
            let txt = std::str::from_utf8(pair).map_err(|_| bad())?;
            out[i] = u8::from_str_radix(txt, 16).map_err(|_| bad())?;
        }
        Ok(Uuid(out))
    }
}

/// A MySQL GTID set: per uuid, sorted disjoint half-open intervals
/// `[start, end)` of transaction numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GtidSet(BTreeMap<Uuid, Vec<(u64, u64)>>);

impl GtidSet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds one transaction `uuid:gno`.
    pub fn add(&mut self, uuid: Uuid, gno: u64) {
        self.add_interval(uuid, gno, gno.saturating_add(1));
    }

    /// Adds the half-open interval `[start, end)` and renormalises.
    pub fn add_interval(&mut self, uuid: Uuid, start: u64, end: u64) {
        if start >= end {
            return;
        }
        let ivs = self.0.entry(uuid).or_default();
        // First interval whose end reaches start (touching intervals merge).
        let i = ivs.partition_point(|&(_, e)| e < start);
        let mut j = i;
        let (mut s, mut e) = (start, end);
        while j < ivs.len() && ivs[j].0 <= e {
            s = s.min(ivs[j].0);
            e = e.max(ivs[j].1);
            j += 1;
        }
        ivs.splice(i..j, [(s, e)]);
    }

    /// Adds every transaction of `other`.
    pub fn merge(&mut self, other: &GtidSet) {
        for (uuid, ivs) in &other.0 {
            for &(s, e) in ivs {
                self.add_interval(*uuid, s, e);
            }
        }
    }

    pub fn contains(&self, uuid: &Uuid, gno: u64) -> bool {
        self.0
            .get(uuid)
            .is_some_and(|ivs| ivs.iter().any(|&(s, e)| s <= gno && gno < e))
    }

    /// The set as COM_BINLOG_DUMP_GTID encodes it.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.0.len() as u64).to_le_bytes());
        for (uuid, ivs) in &self.0 {
            out.extend_from_slice(&uuid.0);
            out.extend_from_slice(&(ivs.len() as u64).to_le_bytes());
            for &(s, e) in ivs {
                out.extend_from_slice(&s.to_le_bytes());
                out.extend_from_slice(&e.to_le_bytes());
            }
        }
    }

    /// Parses the PREVIOUS_GTIDS event body / the COM_BINLOG_DUMP_GTID form.
    pub fn decode(r: &mut super::wire::Reader<'_>) -> super::wire::WireResult<GtidSet> {
        let mut set = GtidSet::new();
        let n = r.u64("gtid set size")?;
        for _ in 0..n {
            let mut uuid = [0u8; 16];
            uuid.copy_from_slice(r.take(16, "gtid uuid")?);
            let k = r.u64("gtid interval count")?;
            for _ in 0..k {
                let s = r.u64("gtid interval start")?;
                let e = r.u64("gtid interval end")?;
                set.add_interval(Uuid(uuid), s, e);
            }
        }
        Ok(set)
    }
}

impl fmt::Display for GtidSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (uuid, ivs)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{uuid}")?;
            for &(s, e) in ivs {
                if e == s + 1 {
                    write!(f, ":{s}")?;
                } else {
                    write!(f, ":{s}-{}", e - 1)?;
                }
            }
        }
        Ok(())
    }
}

impl FromStr for GtidSet {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut set = GtidSet::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let mut it = part.split(':');
            let uuid: Uuid = it.next().unwrap_or("").trim().parse()?;
            for iv in it {
                let bad = || format!("'{iv}' in '{part}' is not an interval (N or N-M)");
                let (a, b) = match iv.split_once('-') {
                    Some((a, b)) => (a, b),
                    None => (iv, iv),
                };
                let a: u64 = a.trim().parse().map_err(|_| bad())?;
                let b: u64 = b.trim().parse().map_err(|_| bad())?;
                if a == 0 || b < a {
                    return Err(bad());
                }
                set.add_interval(uuid, a, b + 1);
            }
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const U1: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
    const U2: &str = "4e11fa47-71ca-11e1-9e33-c80aa9429562";

    #[test]
    fn mariadb_position_round_trip() {
        let p: MariaGtidPosition = "0-1-11, 2-5-7".parse().unwrap();
        assert_eq!(p.to_string(), "0-1-11,2-5-7");
        let mut q = p.clone();
        q.update(MariaGtid {
            domain: 0,
            server: 2,
            sequence: 12,
        });
        assert_eq!(q.to_string(), "0-2-12,2-5-7");
        assert!("0-1".parse::<MariaGtid>().is_err());
        assert!("a-b-c".parse::<MariaGtidPosition>().is_err());
    }

    #[test]
    fn mysql_set_parse_format_normalises() {
        let s: GtidSet = format!("{U2}:5, {U1}:1-3:4:7-9:8").parse().unwrap();
        assert_eq!(s.to_string(), format!("{U1}:1-4:7-9,{U2}:5"));
        let back: GtidSet = s.to_string().parse().unwrap();
        assert_eq!(back, s);
        assert!(format!("{U1}:0").parse::<GtidSet>().is_err());
        assert!(format!("{U1}:5-3").parse::<GtidSet>().is_err());
        assert!("nope:1".parse::<GtidSet>().is_err());
    }

    #[test]
    fn mysql_set_add_fills_gaps_and_merges() {
        let u: Uuid = U1.parse().unwrap();
        let mut s = GtidSet::new();
        for g in [1, 2, 5, 3, 7] {
            s.add(u, g);
        }
        assert_eq!(s.to_string(), format!("{U1}:1-3:5:7"));
        s.add(u, 6);
        assert_eq!(s.to_string(), format!("{U1}:1-3:5-7"));
        s.add(u, 4);
        assert_eq!(s.to_string(), format!("{U1}:1-7"));
        assert!(s.contains(&u, 7) && !s.contains(&u, 8));
        let other: GtidSet = format!("{U1}:9-10,{U2}:1").parse().unwrap();
        s.merge(&other);
        assert_eq!(s.to_string(), format!("{U1}:1-7:9-10,{U2}:1"));
    }

    #[test]
    fn mysql_set_binary_round_trip() {
        let s: GtidSet = format!("{U1}:1-4:7,{U2}:3").parse().unwrap();
        let mut b = Vec::new();
        s.encode(&mut b);
        let back = GtidSet::decode(&mut crate::mysql::wire::Reader::new(&b)).unwrap();
        assert_eq!(back, s);
        assert!(GtidSet::decode(&mut crate::mysql::wire::Reader::new(&b[..20])).is_err());
    }
}
