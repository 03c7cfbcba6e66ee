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
    GroupConnection::connect(&bootstrap(), group, "group-test", &Default::default())
        .await
        .unwrap_or_else(|e| {
            panic!(
                "no Kafka broker at {} ({e}); start it with scripts/services up",
                bootstrap()
            )
        })
}

/// Heartbeats as a member does until the coordinator answers "rebalance
/// in progress" (within 15 s; `after` says what should have started it).
async fn heartbeat_until_rebalance(
    c: &mut GroupConnection,
    group: &str,
    generation: i32,
    member: &str,
    after: &str,
) {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        match c
            .heartbeat(group, generation, member, Duration::from_secs(5))
            .await
        {
            Err(e) if e.code() == Some(code::REBALANCE_IN_PROGRESS) => return,
            Ok(()) => {}
            Err(e) => panic!("unexpected heartbeat error {e}"),
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no rebalance after {after}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn two_members_join_sync_heartbeat_and_leave() {
    let group = format!("sluice-group-test-{}", std::process::id());
    let mut a = connect(&group).await;
    let mut b = connect(&group).await;
    // a joins alone: the coordinator completes a generation with a as its
    // only member (group.initial.rebalance.delay.ms=0 on the test broker,
    // so it may or may not wait for b) and a syncs it.
    let first = a
        .join(
            &group,
            10000,
            10000,
            "",
            "connect",
            &[("sluice1", b"meta-a")],
        )
        .await
        .unwrap();
    let ida = first.member_id.clone();
    let own: Vec<(String, Vec<u8>)> = vec![(ida.clone(), b"alone".to_vec())];
    a.sync(
        &group,
        first.generation,
        &ida,
        &own,
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    // b's join is held by the coordinator until every known member
    // rejoined: a learns of the rebalance from its heartbeats, as a
    // member does, and rejoins.
    let g = group.clone();
    let jb = tokio::spawn(async move {
        let j = b
            .join(&g, 10000, 10000, "", "connect", &[("sluice1", b"meta-b")])
            .await
            .unwrap();
        (b, j)
    });
    heartbeat_until_rebalance(
        &mut a,
        &group,
        first.generation,
        &ida,
        "a second member joined",
    )
    .await;
    let ja = a
        .join(
            &group,
            10000,
            10000,
            &ida,
            "connect",
            &[("sluice1", b"meta-a")],
        )
        .await
        .unwrap();
    let (mut b, jb) = jb.await.unwrap();
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
    // The leader syncs first; a follower's sync would be held until it did.
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
    heartbeat_until_rebalance(leader, &group, gen, &lid, "a member left").await;
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
