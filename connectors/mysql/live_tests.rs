//! Integration tests against the private MariaDB (scripts/services up mariadb).

use super::binlog::{current_position, BinlogStream, DumpOptions, StartPosition};
use super::event::{types, MariaGtidEvent, Query, RowsEvent};
use super::table_map::TableMap;
use super::testdb::{connect, connect_root, replica_options};

/// Events of interest, owned, for assertions.
#[derive(Debug)]
#[allow(dead_code)] // fields are read through Debug in failure messages
pub(crate) enum Seen {
    Gtid(String),
    Query(String),
    TableMap(TableMap),
    Rows(u8, Vec<u8>),
    Xid,
    Other(u8),
}

/// Dumps from `start` to the current end of the binlog (non-blocking).
pub(crate) async fn read_all(start: StartPosition, server_id: u32) -> (Vec<Seen>, String) {
    read_all_opt(start, server_id, true).await
}

pub(crate) async fn read_all_opt(
    start: StartPosition,
    server_id: u32,
    non_blocking: bool,
) -> (Vec<Seen>, String) {
    let conn = connect(&replica_options()).await;
    let mut s = BinlogStream::start(
        conn,
        &DumpOptions {
            server_id,
            start,
            heartbeat: None,
            non_blocking,
            annotate_rows: false,
        },
    )
    .await
    .expect("binlog dump starts");
    let mut seen = Vec::new();
    let id_len = 6;
    loop {
        let ev = match tokio::time::timeout(std::time::Duration::from_secs(2), s.next_event()).await
        {
            Ok(r) => match r.expect("event") {
                Some(ev) => ev,
                None => break,
            },
            Err(_) => break,
        };
        let t = ev.header.event_type;
        seen.push(match t {
            types::MARIA_GTID => Seen::Gtid(
                MariaGtidEvent::parse(ev.body, ev.header.server_id)
                    .unwrap()
                    .gtid
                    .to_string(),
            ),
            types::QUERY => Seen::Query(
                String::from_utf8_lossy(Query::parse(ev.body).unwrap().sql).into_owned(),
            ),
            types::TABLE_MAP => Seen::TableMap(TableMap::parse(ev.body, id_len).unwrap()),
            types::XID => Seen::Xid,
            _ if RowsEvent::kind_of(t).is_some() => Seen::Rows(t, ev.body.to_vec()),
            _ => Seen::Other(t),
        });
    }
    (seen, s.file().to_string())
}

#[tokio::test]
async fn binlog_dump_yields_gtid_table_map_rows_and_xid() {
    let mut c = connect_root().await;
    c.exec("CREATE DATABASE IF NOT EXISTS sluice_bl")
        .await
        .unwrap();
    c.exec("DROP TABLE IF EXISTS sluice_bl.t1").await.unwrap();
    c.exec("CREATE TABLE sluice_bl.t1 (id INT UNSIGNED PRIMARY KEY, name VARCHAR(20))")
        .await
        .unwrap();
    let (file, pos) = current_position(&mut c).await.unwrap();
    c.exec("INSERT INTO sluice_bl.t1 VALUES (1, 'a'), (2, NULL)")
        .await
        .unwrap();
    let (seen, last_file) = read_all(
        StartPosition::File {
            file: file.clone(),
            pos,
        },
        9101,
    )
    .await;
    assert_eq!(
        last_file, file,
        "the fake ROTATE's name must not carry checksum bytes"
    );
    let kinds: Vec<String> = seen
        .iter()
        .filter(|s| !matches!(s, Seen::Other(_)))
        .map(|s| match s {
            Seen::Gtid(_) => "gtid".to_string(),
            Seen::Query(q) => format!("query:{q}"),
            Seen::TableMap(m) => format!("map:{}.{}", m.schema, m.table),
            Seen::Rows(t, _) => format!("rows:{t}"),
            Seen::Xid => "xid".into(),
            Seen::Other(_) => unreachable!(),
        })
        .collect();
    // Other tests may write to the same server meanwhile: look at our
    // transaction only.
    let at = kinds
        .iter()
        .position(|k| k == "map:sluice_bl.t1")
        .unwrap_or_else(|| panic!("no table map of sluice_bl.t1: {kinds:?}"));
    assert!(at >= 1, "{kinds:?}");
    assert_eq!(
        kinds[at - 1..(at + 3).min(kinds.len())],
        ["gtid", "map:sluice_bl.t1", "rows:23", "xid"],
        "{seen:?}"
    );
    let Seen::TableMap(m) = &seen
        .iter()
        .find(|s| matches!(s, Seen::TableMap(_)))
        .unwrap()
    else {
        unreachable!()
    };
    assert_eq!(m.columns[0].name.as_deref(), Some("id"));
    assert_eq!(m.columns[0].unsigned, Some(true));
    assert_eq!(m.primary_key, vec![0]);
}

#[tokio::test]
async fn binlog_dump_from_a_mariadb_gtid_position() {
    let mut c = connect_root().await;
    c.exec("CREATE DATABASE IF NOT EXISTS sluice_bl")
        .await
        .unwrap();
    c.exec("CREATE TABLE IF NOT EXISTS sluice_bl.t_gtid (id INT AUTO_INCREMENT PRIMARY KEY)")
        .await
        .unwrap();
    let rs = c.query("SELECT @@gtid_binlog_pos").await.unwrap();
    let pos: super::gtid::MariaGtidPosition = rs.text(0, 0).unwrap().parse().unwrap();
    c.exec("INSERT INTO sluice_bl.t_gtid VALUES (NULL)")
        .await
        .unwrap();
    let after = c.query("SELECT @@gtid_binlog_pos").await.unwrap();
    let (seen, _) = read_all_opt(StartPosition::MariaGtid(pos.clone()), 9102, true).await;
    let gtids: Vec<&str> = seen
        .iter()
        .filter_map(|s| match s {
            Seen::Gtid(g) => Some(g.as_str()),
            _ => None,
        })
        .collect();
    // Other tests write concurrently: ours is among them, and none is at
    // or before the start position.
    let start_seq = pos.get(0).map_or(0, |g| g.sequence);
    let ours = after.text(0, 0).unwrap();
    assert!(gtids.contains(&ours), "{ours} not in {seen:?}");
    for g in gtids {
        let g: super::gtid::MariaGtid = g.parse().unwrap();
        assert!(g.sequence > start_seq, "{g} is not after {start_seq}");
    }
}

#[tokio::test]
async fn statement_format_is_refused_with_the_variable_to_set() {
    // A session-level check is not possible (the check reads globals), so
    // this asserts on the message of a server id clash instead.
    let conn = connect(&replica_options()).await;
    let err = match BinlogStream::start(
        conn,
        &DumpOptions {
            server_id: 0,
            start: StartPosition::File {
                file: String::new(),
                pos: 4,
            },
            heartbeat: None,
            non_blocking: true,
            annotate_rows: false,
        },
    )
    .await
    {
        Ok(_) => panic!("server id 0 accepted"),
        Err(e) => e,
    };
    assert!(err.to_string().contains("database.server.id"), "{err}");
}
