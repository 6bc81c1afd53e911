//! Against a real Mesos master, when `TARS_MESOS_MASTER` (`host:port`) names one: subscribes a
//! throw-away framework, gets `SUBSCRIBED` and `OFFERS`, declines them, tears the framework down,
//! and checks with the operator API that the master saw all of it. Without the variable the test
//! does nothing (and says so).
//!
//! ```sh
//! TARS_MESOS_PORT=5151 scripts/engines/mesos/up.sh /tmp/mesos-found
//! TARS_MESOS_MASTER=127.0.0.1:5151 cargo test -p tars-backend-mesos --test subscribe -- --nocapture
//! scripts/engines/mesos/down.sh /tmp/mesos-found
//! ```
#![allow(missing_docs)]

use std::time::{Duration, Instant};
use tars_backend_mesos::operator::OperatorClient;
use tars_backend_mesos::scheduler::SchedulerClient;
use tars_backend_mesos::v1::master::CallType;
use tars_backend_mesos::v1::mesos::{Filters, FrameworkInfo, Offer, ValueType};
use tars_backend_mesos::v1::scheduler::{Call, EventType};

const WITHIN: Duration = Duration::from_secs(20);

#[tokio::test]
async fn subscribes_and_gets_offers_when_a_master_is_configured() {
    let Ok(master) = std::env::var("TARS_MESOS_MASTER") else {
        println!("TARS_MESOS_MASTER is not set: no Mesos master to test against, nothing done");
        return;
    };
    let operator = OperatorClient::new(&master).expect("master address");
    let version = operator.version().await.expect("GET_VERSION");
    println!("master {master}: Mesos {}", version.version);

    let client = SchedulerClient::new(&master).expect("master address");
    let info = FrameworkInfo {
        user: "nobody".into(),
        name: format!("tars-subscribe-test-{}", std::process::id()),
        failover_timeout: Some(0.0),
        ..FrameworkInfo::default()
    };
    let started = Instant::now();
    let mut subscription = client.subscribe(info.clone()).await.expect("SUBSCRIBE");
    assert!(!subscription.stream_id().is_empty());

    let mut subscribed_after = None;
    let mut offers: Vec<Offer> = Vec::new();
    let mut kinds = Vec::new();
    while offers.is_empty() {
        let left = WITHIN.saturating_sub(started.elapsed());
        let event = tokio::time::timeout(left, subscription.next_event())
            .await
            .unwrap_or_else(|_| panic!("no SUBSCRIBED and OFFERS within {WITHIN:?}: {kinds:?}"))
            .expect("event");
        kinds.push(event.kind);
        match event.kind {
            EventType::Subscribed => subscribed_after = Some(started.elapsed()),
            EventType::Offers => {
                assert!(subscribed_after.is_some(), "OFFERS before SUBSCRIBED");
                offers = event.offers.expect("offers set").offers;
            }
            EventType::Error => panic!("ERROR event: {:?}", event.error),
            _ => {}
        }
    }
    let offers_after = started.elapsed();
    let framework_id = subscription.framework_id().cloned().expect("framework id");
    let heartbeat = subscription
        .heartbeat_interval()
        .expect("heartbeat interval");
    assert_eq!(kinds.first(), Some(&EventType::Subscribed));
    assert!(heartbeat > Duration::ZERO);
    println!(
        "stream {} framework {} heartbeat {heartbeat:?}: SUBSCRIBED after {:?}, {} offer(s) after {offers_after:?}",
        subscription.stream_id(),
        framework_id.value,
        subscribed_after.unwrap_or_default(),
        offers.len(),
    );
    for offer in &offers {
        assert_eq!(offer.framework_id, framework_id);
        let names: Vec<_> = offer.resources.iter().map(|r| r.name.as_str()).collect();
        println!(
            "offer {} on {} ({}): {names:?}",
            offer.id.value, offer.hostname, offer.agent_id.value
        );
        let cpus = offer
            .resources
            .iter()
            .find(|r| r.name == "cpus")
            .expect("cpus offered");
        assert_eq!(cpus.kind, ValueType::Scalar);
        assert!(cpus.scalar.is_some_and(|s| s.value > 0.0));
        if let Some(ports) = offer.resources.iter().find(|r| r.name == "ports") {
            assert_eq!(ports.kind, ValueType::Ranges);
            assert!(ports.ranges.as_ref().is_some_and(|r| !r.range.is_empty()));
        }
    }

    // The master lists the framework, with these offers outstanding.
    let state = operator.state().await.expect("GET_STATE");
    let frameworks = state
        .get_frameworks
        .expect("frameworks in GET_STATE")
        .frameworks;
    let listed = frameworks
        .iter()
        .find(|f| f.framework_info.id.as_ref() == Some(&framework_id))
        .expect("framework listed");
    assert!(listed.active && listed.connected);
    assert_eq!(listed.framework_info.name, info.name);
    assert_eq!(listed.offers.len(), offers.len());
    let agents = state.get_agents.expect("agents in GET_STATE").agents;
    assert!(!agents.is_empty());

    let caller = subscription.caller();
    let ids = offers.iter().map(|o| o.id.clone()).collect();
    let filters = Some(Filters {
        refuse_seconds: Some(60.0),
    });
    caller
        .call(&Call::decline(framework_id.clone(), ids, filters))
        .await
        .expect("DECLINE");
    // Declined offers are no longer outstanding.
    let mut outstanding = usize::MAX;
    for _ in 0..50 {
        let frameworks = operator
            .call(CallType::GetFrameworks)
            .await
            .expect("GET_FRAMEWORKS");
        outstanding = frameworks
            .get_frameworks
            .expect("get_frameworks set")
            .frameworks
            .into_iter()
            .find(|f| f.framework_info.id.as_ref() == Some(&framework_id))
            .map_or(0, |f| f.offers.len());
        if outstanding == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(outstanding, 0, "offers still outstanding after DECLINE");

    caller
        .call(&Call::teardown(framework_id.clone()))
        .await
        .expect("TEARDOWN");
    // The master ends the stream and lists the framework as completed.
    let ended = tokio::time::timeout(WITHIN, async {
        loop {
            match subscription.next_event().await {
                Ok(event) => println!("after TEARDOWN: {:?}", event.kind),
                Err(error) => break error,
            }
        }
    })
    .await
    .expect("stream ends after TEARDOWN");
    println!("stream after TEARDOWN: {ended}");
    let frameworks = operator
        .call(CallType::GetFrameworks)
        .await
        .expect("GET_FRAMEWORKS");
    let frameworks = frameworks.get_frameworks.expect("get_frameworks set");
    assert!(
        frameworks
            .frameworks
            .iter()
            .all(|f| f.framework_info.id.as_ref() != Some(&framework_id))
    );
    assert!(
        frameworks
            .completed_frameworks
            .iter()
            .any(|f| f.framework_info.id.as_ref() == Some(&framework_id)),
        "torn-down framework not among completed frameworks"
    );
    println!("TEARDOWN: framework {} completed", framework_id.value);
}
