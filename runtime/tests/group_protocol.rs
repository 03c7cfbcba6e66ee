//! The group-membership client against the real broker: two members join a
//! `connect`-type group, the elected leader sees both members' metadata and
//! hands out assignments, heartbeats flow, and a leave triggers a rebalance.
//! Needs the broker: `scripts/services up`.

use std::time::Duration;

use sluice_runtime::kafka::group::{code, GroupConnection};

fn bootstrap() -> String {
    std::env::var("SLUICE_KAFKA_BOOTSTRAP").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

async fn connect(group: &str) -> GroupConnection {
    GroupConnection::connect(&bootstrap(), group, "group-test")
        .await
        .unwrap_or_else(|e| {
            panic!(
                "no Kafka broker at {} ({e}); start it with scripts/services up",
                bootstrap()
            )
        })
}

#[tokio::test]
async fn two_members_join_sync_heartbeat_and_leave() {
    let group = format!("sluice-group-test-{}", std::process::id());
    let mut a = connect(&group).await;
    let mut b = connect(&group).await;
    let g = group.clone();
    let ja = tokio::spawn(async move {
        let j = a
            .join(&g, 10000, 10000, "", "connect", &[("sluice1", b"meta-a")])
            .await
            .unwrap();
        (a, j)
    });
    // b joins while a's join is pending, so both land in one generation.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let g = group.clone();
    let jb = tokio::spawn(async move {
        let j = b
            .join(&g, 10000, 10000, "", "connect", &[("sluice1", b"meta-b")])
            .await
            .unwrap();
        (b, j)
    });
    let (mut a, ja) = ja.await.unwrap();
    let (mut b, jb) = jb.await.unwrap();
    // a may have completed a generation alone before b arrived; rejoin until both share one.
    let (mut a, ja, mut b, jb) = if ja.generation == jb.generation {
        (a, ja, b, jb)
    } else {
        let g1 = group.clone();
        let ida = ja.member_id.clone();
        let ra = tokio::spawn(async move {
            let j = a
                .join(
                    &g1,
                    10000,
                    10000,
                    &ida,
                    "connect",
                    &[("sluice1", b"meta-a")],
                )
                .await
                .unwrap();
            (a, j)
        });
        let g2 = group.clone();
        let idb = jb.member_id.clone();
        let rb = tokio::spawn(async move {
            let j = b
                .join(
                    &g2,
                    10000,
                    10000,
                    &idb,
                    "connect",
                    &[("sluice1", b"meta-b")],
                )
                .await
                .unwrap();
            (b, j)
        });
        let (a, ja) = ra.await.unwrap();
        let (b, jb) = rb.await.unwrap();
        (a, ja, b, jb)
    };
    assert_eq!(ja.generation, jb.generation);
    assert_eq!(ja.leader, jb.leader);
    assert_eq!(ja.protocol, "sluice1");
    let (leader, leader_join, follower, follower_join) = if ja.leader == ja.member_id {
        (&mut a, ja, &mut b, jb)
    } else {
        (&mut b, jb, &mut a, ja)
    };
    let mut metas: Vec<Vec<u8>> = leader_join
        .members
        .iter()
        .map(|m| m.metadata.clone())
        .collect();
    metas.sort();
    assert_eq!(metas, vec![b"meta-a".to_vec(), b"meta-b".to_vec()]);
    assert!(follower_join.members.is_empty());
    let assignments: Vec<(String, Vec<u8>)> = leader_join
        .members
        .iter()
        .map(|m| {
            (
                m.member_id.clone(),
                format!("for-{}", m.member_id).into_bytes(),
            )
        })
        .collect();
    let gen = leader_join.generation;
    let (lid, fid) = (
        leader_join.member_id.clone(),
        follower_join.member_id.clone(),
    );
    // The leader syncs first: some coordinators (tansu) answer a follower's
    // early sync with REBALANCE_IN_PROGRESS instead of holding it.
    let ra = leader
        .sync(&group, gen, &lid, &assignments, Duration::from_secs(10))
        .await;
    assert_eq!(ra.unwrap(), format!("for-{lid}").into_bytes());
    let rb = follower
        .sync(&group, gen, &fid, &[], Duration::from_secs(10))
        .await;
    assert_eq!(rb.unwrap(), format!("for-{fid}").into_bytes());
    leader
        .heartbeat(&group, gen, &lid, Duration::from_secs(5))
        .await
        .unwrap();
    follower
        .heartbeat(&group, gen, &fid, Duration::from_secs(5))
        .await
        .unwrap();
    // The follower leaves: the leader's next heartbeats report a rebalance.
    follower.leave(&group, &fid).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        match leader
            .heartbeat(&group, gen, &lid, Duration::from_secs(5))
            .await
        {
            Err(e) if e.code() == Some(code::REBALANCE_IN_PROGRESS) => break,
            Ok(()) => {}
            Err(e) => panic!("unexpected heartbeat error {e}"),
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no rebalance after a member left"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let j = leader
        .join(
            &group,
            10000,
            10000,
            &lid,
            "connect",
            &[("sluice1", b"meta-a2")],
        )
        .await
        .unwrap();
    assert!(j.generation > gen);
    assert_eq!(j.members.len(), 1);
    assert_eq!(j.members[0].metadata, b"meta-a2");
    leader.leave(&group, &lid).await.unwrap();
}
