//! tars' own client against the real stack of `scripts/engines/openstack`: the times of a
//! group's create → ACTIVE and delete → gone, and a create over the project's quota (a typed
//! error with Nova's message, no server left). Ignored by default: it needs a running stack.
//!
//! ```sh
//! scripts/engines/openstack/up.sh /tmp/tars-os
//! TARS_OS_CLOUDS=/tmp/tars-os/clouds.yaml \
//!   cargo test -p tars-backend-openstack --test live -- --ignored --nocapture --test-threads 1
//! ```
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use osauth::services::COMPUTE;
use tars_api::group::Container;
use tars_api::{
    ApplyOptions, Backend, ContainerGroup, ContainerGroupSpec, DeleteOptions, Error, GroupPhase,
};
use tars_backend_openstack::{Auth, OpenStackBackend, OpenStackConfig, OpenStackError};

fn config(cloud: &str) -> OpenStackConfig {
    let path = std::env::var("TARS_OS_CLOUDS").expect("TARS_OS_CLOUDS=STATE_DIR/clouds.yaml");
    OpenStackConfig::from_clouds_yaml(path, cloud).unwrap()
}

fn group(name: &str) -> ContainerGroup {
    ContainerGroup::new(
        name,
        ContainerGroupSpec::new(vec![Container::new("main", "busybox", &["sleep", "3600"])]),
    )
}

#[tokio::test]
#[ignore = "needs a running stack: scripts/engines/openstack/up.sh"]
async fn create_active_and_delete_gone_through_tars() {
    let instance = format!("live{:06x}", fastrand::u32(..0xffffff));
    let backend = OpenStackBackend::connect(config("tars").instance(instance))
        .await
        .unwrap();
    let groups = backend.container_groups();
    let t = Instant::now();
    let out = groups
        .apply(&group("live-web"), ApplyOptions::default())
        .await
        .unwrap();
    let created = t.elapsed();
    let status = out.object.status.unwrap();
    assert_eq!(status.phase, GroupPhase::Running, "{status:?}");
    assert!(status.ready);
    let t = Instant::now();
    groups
        .delete("live-web", DeleteOptions::default())
        .await
        .unwrap();
    let deleted = t.elapsed();
    assert!(matches!(
        groups.get("live-web").await,
        Err(Error::NotFound { .. })
    ));
    println!("apply -> ACTIVE in {created:?} (image lookup or register, flavors, create, wait)");
    println!("delete -> gone (404) in {deleted:?}");
}

async fn admin_session() -> osauth::Session {
    let c = config("tars-admin");
    let Auth::Password { password, .. } = c.auth() else {
        panic!("admin uses a password")
    };
    let auth = osauth::identity::Password::new(
        c.auth_url().as_str(),
        "admin",
        password.expose(),
        "Default",
    )
    .unwrap()
    .with_project_scope(
        osauth::common::IdOrName::Name("admin".into()),
        osauth::common::IdOrName::Name("Default".into()),
    );
    osauth::Session::new(auth).await.unwrap()
}

async fn tars_project(admin: &osauth::Session) -> String {
    let projects: serde_json::Value = admin
        .get(
            osauth::services::GenericService::new(
                "identity",
                osauth::services::VersionSelector::Major(3),
            ),
            &["projects"],
        )
        .query(&[("name", "tars")])
        .fetch()
        .await
        .unwrap();
    projects["projects"][0]["id"].as_str().unwrap().to_owned()
}

/// The servers of `project`, as `name (status, id)`.
async fn servers_of(admin: &osauth::Session, project: &str) -> Vec<String> {
    let servers: serde_json::Value = admin
        .get(COMPUTE, &["servers", "detail"])
        .query(&[("all_tenants", "1"), ("project_id", project)])
        .fetch()
        .await
        .unwrap();
    servers["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| format!("{} ({}, {})", s["name"], s["status"], s["id"]))
        .collect()
}

async fn set_instance_quota(admin: &osauth::Session, project: &str, n: i64) {
    admin
        .put(COMPUTE, &["os-quota-sets", project])
        .json(&serde_json::json!({"quota_set": {"instances": n}}))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
#[ignore = "needs a running stack: scripts/engines/openstack/up.sh (changes the tars project's quota)"]
async fn quota_exceeded_is_typed_and_leaves_no_server() {
    let admin = admin_session().await;
    let project = tars_project(&admin).await;
    // A quota below what is in use is refused, and every test before this one (the suite's
    // too, when scripts/test runs it) removed what it created.
    let present = servers_of(&admin, &project).await;
    assert!(
        present.is_empty(),
        "the tars project holds {} servers that no test removed: {present:?}",
        present.len()
    );
    set_instance_quota(&admin, &project, 0).await;
    let backend = OpenStackBackend::connect(config("tars").instance("livequota"))
        .await
        .unwrap();
    let result = backend
        .container_groups()
        .apply(&group("over-quota"), ApplyOptions::default())
        .await;
    set_instance_quota(&admin, &project, 500).await;
    let err = result.expect_err("over quota");
    let source = std::error::Error::source(&err).expect("typed source");
    let Some(OpenStackError::QuotaExceeded { message }) = source.downcast_ref() else {
        panic!("{err}")
    };
    println!("quota: {message}");
    assert!(message.contains("Quota exceeded"), "{message}");
    assert!(matches!(
        backend.container_groups().get("over-quota").await,
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test]
#[ignore = "needs a running stack: scripts/engines/openstack/up.sh"]
async fn credentials_stay_out_of_errors_and_debug() {
    let good = config("tars");
    let wrong = "wrong-Secret-4711";
    let bad = OpenStackConfig::password(
        good.auth_url().as_str(),
        "tars",
        tars_backend_openstack::Secret::new(wrong),
    )
    .unwrap()
    .project_name("tars", "Default");
    let err = OpenStackBackend::connect(bad)
        .await
        .expect_err("wrong password");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(wrong), "{shown}");
    assert!(!err.is_retryable(), "{err}");
    println!("wrong password: {err}");
    let backend = OpenStackBackend::connect(good.clone()).await.unwrap();
    let Auth::Password { password, .. } = good.auth() else {
        panic!("password")
    };
    let debug = format!("{backend:?} {good:?}");
    assert!(!debug.contains(password.expose()), "{debug}");
}

#[tokio::test]
#[ignore = "needs a running stack: scripts/engines/openstack/up.sh (adds a flavor, lifts the cores quota)"]
async fn no_valid_host_is_typed_and_leaves_no_server() {
    let admin = admin_session().await;
    let project = tars_project(&admin).await;
    // A flavor larger than the fake host's 1000 vCPUs, and no cores quota in the way.
    let flavor: serde_json::Value = admin
        .post(COMPUTE, &["flavors"])
        .json(&serde_json::json!({"flavor": {
            "name": "live.huge", "vcpus": 1500, "ram": 256, "disk": 1,
        }}))
        .fetch()
        .await
        .unwrap();
    let flavor_id = flavor["flavor"]["id"].as_str().unwrap().to_owned();
    admin
        .put(COMPUTE, &["os-quota-sets", &project])
        .json(&serde_json::json!({"quota_set": {"cores": -1}}))
        .send()
        .await
        .unwrap();
    let backend = OpenStackBackend::connect(config("tars").instance("livehost"))
        .await
        .unwrap();
    let mut g = group("no-host");
    g.spec.containers[0].resources.cpu = Some(tars_api::Cpu::millis(1_500_000));
    let t = Instant::now();
    let result = backend
        .container_groups()
        .apply(&g, ApplyOptions::default())
        .await;
    let took = t.elapsed();
    let left = backend.container_groups().get("no-host").await;
    admin
        .put(COMPUTE, &["os-quota-sets", &project])
        .json(&serde_json::json!({"quota_set": {"cores": 1000}}))
        .send()
        .await
        .unwrap();
    admin
        .delete(COMPUTE, &["flavors", &flavor_id])
        .send()
        .await
        .unwrap();
    let err = result.expect_err("no host has 1500 vCPUs");
    let source = std::error::Error::source(&err).expect("typed source");
    let Some(OpenStackError::NoValidHost { message }) = source.downcast_ref() else {
        panic!("{err}")
    };
    println!("no valid host after {took:?}: {message}");
    assert!(matches!(left, Err(Error::NotFound { .. })), "{left:?}");
}

/// A replica of deployment `deployment` as the rollout engine labels it, asking for a spread.
fn spread_replica(deployment: &str, ordinal: u32) -> ContainerGroup {
    let mut g = group(&format!("{deployment}-5f6d7c1a-{ordinal}"));
    g.metadata
        .labels
        .insert(tars_api::meta::OWNER_LABEL.into(), deployment.into());
    g.metadata
        .labels
        .insert("tars.dev/template-hash".into(), "5f6d7c1a".into());
    g.spec.placement.spread = Some("hostname".into());
    g
}

async fn server_groups_named(session: &osauth::Session, name: &str) -> Vec<serde_json::Value> {
    let all: serde_json::Value = session
        .get(COMPUTE, &["os-server-groups"])
        .api_version(osauth::ApiVersion(2, 52))
        .fetch()
        .await
        .unwrap();
    all["server_groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["name"] == name)
        .cloned()
        .collect()
}

async fn member_session() -> osauth::Session {
    let c = config("tars");
    let Auth::Password { password, .. } = c.auth() else {
        panic!("tars uses a password")
    };
    let auth = osauth::identity::Password::new(
        c.auth_url().as_str(),
        "tars",
        password.expose(),
        "Default",
    )
    .unwrap()
    .with_project_scope(
        osauth::common::IdOrName::Name("tars".into()),
        osauth::common::IdOrName::Name("Default".into()),
    );
    osauth::Session::new(auth).await.unwrap()
}

#[tokio::test]
#[ignore = "needs a running stack with 2 compute hosts: TARS_OS_COMPUTE_HOSTS=2 up.sh"]
async fn spread_replicas_take_distinct_hosts_and_one_too_many_finds_no_host() {
    let instance = format!("livesg{:06x}", fastrand::u32(..0xffffff));
    let backend = OpenStackBackend::connect(config("tars").instance(instance.as_str()))
        .await
        .unwrap();
    let groups = backend.container_groups();
    let session = member_session().await;
    let sg_name = format!("tars:{instance}:web");
    let mut hosts = Vec::new();
    for i in 0..2 {
        let out = groups
            .apply(&spread_replica("web", i), ApplyOptions::default())
            .await
            .unwrap();
        hosts.push(out.object.status.unwrap().host.unwrap());
    }
    assert_ne!(hosts[0], hosts[1], "anti-affinity: two hosts");
    let sg = server_groups_named(&session, &sg_name).await;
    assert_eq!(sg.len(), 1, "one server group per deployment: {sg:?}");
    assert_eq!(sg[0]["policies"], serde_json::json!(["anti-affinity"]));
    assert_eq!(sg[0]["members"].as_array().unwrap().len(), 2);

    let t = Instant::now();
    let err = groups
        .apply(&spread_replica("web", 2), ApplyOptions::default())
        .await
        .expect_err("a third replica on two hosts");
    let source = std::error::Error::source(&err).expect("typed source");
    let Some(OpenStackError::NoValidHost { message }) = source.downcast_ref() else {
        panic!("{err}")
    };
    println!(
        "third replica: no valid host after {:?}: {message}",
        t.elapsed()
    );
    assert!(matches!(
        groups.get("web-5f6d7c1a-2").await,
        Err(Error::NotFound { .. })
    ));
    let sg = server_groups_named(&session, &sg_name).await;
    assert_eq!(sg[0]["members"].as_array().unwrap().len(), 2, "{sg:?}");

    for i in 0..2 {
        groups
            .delete(&format!("web-5f6d7c1a-{i}"), DeleteOptions::default())
            .await
            .unwrap();
    }
    assert!(
        server_groups_named(&session, &sg_name).await.is_empty(),
        "the server group goes with the last replica"
    );

    // A lone group cannot spread: refused before any call, naming the field.
    let mut lone = group("lone");
    lone.spec.placement.spread = Some("hostname".into());
    let err = groups
        .apply(&lone, ApplyOptions::default())
        .await
        .expect_err("lone spread");
    assert!(err.to_string().contains("spec.placement.spread"), "{err}");
}
