//! Checks what the `openstack` crate (0.6, on `osauth` 0.5) can do against the real engine of
//! `scripts/engines/openstack` (Keystone 30, Nova 34, Glance 33), before the backend's client is
//! built on it. Ignored by default: it needs a running stack.
//!
//! ```sh
//! scripts/engines/openstack/up.sh /tmp/tars-os
//! . /tmp/tars-os/tarsrc && openstack application credential create probe -f shell -c id -c secret
//! TARS_OS_CLOUDS=/tmp/tars-os/clouds.yaml TARS_OS_APP_CRED_ID=... TARS_OS_APP_CRED_SECRET=... \
//!   cargo test -p tars-backend-openstack --test openstack_crate -- --ignored --nocapture
//! ```
#![allow(missing_docs, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use openstack::waiter::Waiter as _;
use tars_backend_openstack::{Auth, Domain, IdOrName, OpenStackConfig};

fn config() -> OpenStackConfig {
    let path = std::env::var("TARS_OS_CLOUDS").expect("TARS_OS_CLOUDS=STATE_DIR/clouds.yaml");
    let c = OpenStackConfig::from_clouds_yaml(path, "tars").unwrap();
    c.check().unwrap();
    c
}

/// Password auth from our config, through the crate's re-exported osauth types.
async fn password_cloud(c: &OpenStackConfig) -> openstack::Cloud {
    let Auth::Password {
        user: IdOrName::Name(user, Domain::Name(user_domain)),
        password,
    } = c.auth()
    else {
        panic!("the tars cloud uses a password")
    };
    let Some(IdOrName::Name(project, Domain::Name(project_domain))) = c.project() else {
        panic!("project by name")
    };
    let auth = openstack::auth::Password::new(
        c.auth_url().as_str(),
        user.as_str(),
        password.expose(),
        user_domain.as_str(),
    )
    .unwrap()
    .with_project_scope(
        osauth::common::IdOrName::Name(project.clone()),
        osauth::common::IdOrName::Name(project_domain.clone()),
    );
    let mut cloud = openstack::Cloud::new(auth).await.unwrap();
    cloud.endpoint_filters_mut().region = c.region_name().map(str::to_owned);
    cloud
}

#[tokio::test]
#[ignore = "needs a running stack: scripts/engines/openstack/up.sh"]
async fn password_auth_flavors_images_and_a_server_lifecycle() {
    let c = config();
    let cloud = password_cloud(&c).await;

    let flavors = cloud.list_flavors().await.unwrap();
    println!(
        "flavors: {:?}",
        flavors.iter().map(|f| f.name()).collect::<Vec<_>>()
    );
    let nano = cloud.get_flavor("m1.nano").await.unwrap();
    println!(
        "m1.nano: {} vCPU, {} MiB",
        nano.vcpu_count(),
        nano.ram_size()
    );

    // Glance: the crate lists and gets images but cannot create one (no image create, no upload):
    // register the record through the raw osauth session of its own.
    let session = osauth::Session::new(
        osauth::identity::Password::new(
            c.auth_url().as_str(),
            "tars",
            match c.auth() {
                Auth::Password { password, .. } => password.expose(),
                Auth::ApplicationCredential { .. } => unreachable!(),
            },
            "Default",
        )
        .unwrap()
        .with_project_scope(
            osauth::common::IdOrName::Name("tars".into()),
            osauth::common::IdOrName::Name("Default".into()),
        ),
    )
    .await
    .unwrap();
    let image: serde_json::Value = session
        .post(osauth::services::IMAGE, &["images"])
        .json(&serde_json::json!({"name": "probe:1", "container_format": "docker", "disk_format": "raw"}))
        .fetch()
        .await
        .unwrap();
    let image_id = image["id"].as_str().unwrap().to_owned();
    session
        .put(osauth::services::IMAGE, &["images", &image_id, "file"])
        .header("Content-Type", "application/octet-stream")
        .body(vec![0u8; 1024])
        .send()
        .await
        .unwrap();
    let img = cloud.get_image(&image_id).await.unwrap();
    println!(
        "image {} container_format {:?} status {:?}",
        img.name(),
        img.container_format(),
        img.status()
    );

    // A server through the crate: it sends "networks": [] at the base microversion (it cannot
    // send "none", which needs 2.37), with metadata and user_data.
    let t = Instant::now();
    let waiter = cloud
        .new_server("probe-crate", "m1.nano")
        .with_image(image_id.as_str())
        .with_metadata("label:tars.dev:instance", "default")
        .with_user_data("eyJraW5kIjoiQ29udGFpbmVyR3JvdXAifQ==")
        .create()
        .await
        .unwrap();
    let server = waiter.wait_for(Duration::from_secs(120)).await.unwrap();
    println!(
        "server {} {:?} in {:?}; metadata {:?}",
        server.name(),
        server.status(),
        t.elapsed(),
        server.metadata()
    );
    let t = Instant::now();
    server
        .delete()
        .await
        .unwrap()
        .wait_for(Duration::from_secs(120))
        .await
        .unwrap();
    println!("deleted in {:?}", t.elapsed());
    session
        .delete(osauth::services::IMAGE, &["images", &image_id])
        .send()
        .await
        .unwrap();
}

#[tokio::test]
#[ignore = "needs a running stack and an application credential (TARS_OS_APP_CRED_ID/SECRET)"]
async fn application_credential_auth() {
    let c = config();
    let auth = osauth::identity::ApplicationCredential::new(
        c.auth_url().as_str(),
        std::env::var("TARS_OS_APP_CRED_ID").unwrap(),
        std::env::var("TARS_OS_APP_CRED_SECRET").unwrap(),
    )
    .unwrap();
    let mut cloud = openstack::Cloud::new(auth).await.unwrap();
    cloud.refresh().await.unwrap();
    let servers = cloud.list_servers().await.unwrap();
    let flavors = cloud.list_flavors().await.unwrap();
    println!(
        "application credential: {} servers, {} flavors",
        servers.len(),
        flavors.len()
    );
    assert!(!flavors.is_empty());
}
