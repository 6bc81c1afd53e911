//! The OpenStack side of the bench: backend-openstack against the cloud `tars` of the
//! `clouds.yaml` that `TARS_OS_CLOUDS` names (`scripts/engines/openstack/up.sh STATE_DIR`
//! writes `STATE_DIR/clouds.yaml`), and the same server created through the `openstack` crate
//! (0.6) for the overhead.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine as _;
use tars::api::{ApplyOptions, DeleteOptions};
use tars::openstack::{Auth, Domain, IdOrName, OpenStackBackend, OpenStackConfig};
use tars::{Backend, ContainerGroup};

use super::{Res, Side, spec};

/// The variable naming the cloud's `clouds.yaml`.
pub(crate) const CLOUDS_ENV: &str = "TARS_OS_CLOUDS";

/// How often both sides look whether a new server is built: backend-openstack's own poll
/// (`client::POLL`). The crate's creation waiter polls every 5 s; the raw side polls with
/// `get_server` at this pace instead, so that the two differ only in what they send.
const POLL: Duration = Duration::from_millis(500);

/// The longest a server may take to be built or deleted.
const WAIT: Duration = Duration::from_secs(120);

/// backend-openstack's configuration for the cloud `tars` of `clouds`, as tars instance
/// `instance`, with its engines' state in `state`.
pub(crate) fn config(clouds: &str, instance: &str, state: &Path) -> Res<OpenStackConfig> {
    Ok(OpenStackConfig::from_clouds_yaml(clouds, "tars")?
        .instance(instance)
        .state_dir(state))
}

/// The same cloud through the `openstack` crate, with the same password and project.
async fn raw_cloud(c: &OpenStackConfig) -> Res<openstack::Cloud> {
    let Auth::Password {
        user: IdOrName::Name(user, Domain::Name(user_domain)),
        password,
    } = c.auth()
    else {
        return Err("the bench needs password auth by user and domain name".into());
    };
    let Some(IdOrName::Name(project, Domain::Name(project_domain))) = c.project() else {
        return Err("the bench needs a project by name".into());
    };
    let auth = openstack::auth::Password::new(
        c.auth_url().as_str(),
        user.as_str(),
        password.expose(),
        user_domain.as_str(),
    )?
    .with_project_scope(
        osauth::common::IdOrName::Name(project.clone()),
        osauth::common::IdOrName::Name(project_domain.clone()),
    );
    let mut cloud = openstack::Cloud::new(auth).await?;
    cloud.endpoint_filters_mut().region = c.region_name().map(str::to_owned);
    Ok(cloud)
}

/// What backend-openstack sent for a group, read back from the server it built: the flavor,
/// the image, the metadata (tars' stamp and the spec), and a user_data of the same group.
struct Template {
    flavor: String,
    image: String,
    metadata: HashMap<String, String>,
    user_data: String,
}

/// Server create → built, backend-openstack against the `openstack` crate, `pairs` rounds in
/// alternating order, each create followed by a delete that is not timed; latencies in ms.
pub(crate) async fn overhead(config: &OpenStackConfig, pairs: usize) -> Res<Vec<(Side, Vec<f64>)>> {
    let tars = OpenStackBackend::connect(config.clone()).await?;
    let cloud = raw_cloud(config).await?;
    let groups = tars.container_groups();

    // The server tars builds, to send the same one raw.
    let template_group = ContainerGroup::new("ov-os-template", spec("v1"));
    groups
        .apply(&template_group, ApplyOptions::default())
        .await?;
    let server = cloud.get_server("ov-os-template").await?;
    let template = Template {
        flavor: server.flavor().await?.original_name,
        image: server
            .image_id()
            .cloned()
            .ok_or("tars' server has no image")?,
        metadata: server.metadata().clone(),
        user_data: base64::engine::general_purpose::STANDARD
            .encode(serde_json::to_vec(&template_group)?),
    };
    groups
        .delete("ov-os-template", DeleteOptions::default())
        .await?;

    let sides = [Side::OsTars, Side::OsRaw];
    let mut out: Vec<(Side, Vec<f64>)> = sides.iter().map(|&s| (s, vec![])).collect();
    // One warm-up of each (tokens, flavor and image caches, connections), not recorded.
    for k in 0..=pairs {
        for j in 0..sides.len() {
            let idx = (k + j) % sides.len();
            let name = format!("ov-os-{}-{k}", sides[idx].key().replace('_', "-"));
            let took = match sides[idx] {
                Side::OsTars => {
                    let group = ContainerGroup::new(&name, spec("v1"));
                    let t0 = Instant::now();
                    groups.apply(&group, ApplyOptions::default()).await?;
                    let took = t0.elapsed();
                    groups.delete(&name, DeleteOptions::default()).await?;
                    took
                }
                _ => {
                    let t0 = Instant::now();
                    let id = raw_create(&cloud, &name, &template).await?;
                    let took = t0.elapsed();
                    raw_delete(&cloud, &id).await?;
                    took
                }
            };
            if k > 0 {
                out[idx].1.push(took.as_secs_f64() * 1000.0);
            }
        }
    }
    let _ = tars.shutdown().await;
    Ok(out)
}

/// Creates the template's server as `name` through the crate and waits until it is built.
async fn raw_create(cloud: &openstack::Cloud, name: &str, t: &Template) -> Res<String> {
    let mut new = cloud
        .new_server(name, t.flavor.as_str())
        .with_image(t.image.as_str())
        .with_user_data(t.user_data.clone());
    for (k, v) in &t.metadata {
        new = new.with_metadata(k.as_str(), v.as_str());
    }
    let waiter = new.create().await?;
    let id = waiter.current_state().id().clone();
    let deadline = Instant::now() + WAIT;
    loop {
        let server = cloud.get_server(&id).await?;
        match server.status() {
            openstack::compute::ServerStatus::Building => {}
            openstack::compute::ServerStatus::Error => {
                return Err(format!("raw server {name} went to ERROR").into());
            }
            _ => return Ok(id),
        }
        if Instant::now() > deadline {
            return Err(format!("raw server {name} not built after {WAIT:?}").into());
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Deletes server `id` through the crate and waits until it is gone.
async fn raw_delete(cloud: &openstack::Cloud, id: &str) -> Res<()> {
    use openstack::waiter::Waiter as _;
    cloud
        .get_server(id)
        .await?
        .delete()
        .await?
        .wait_for(WAIT)
        .await?;
    Ok(())
}
