//! The deployment API of the embedded backend: tars' rollout engine (`tars_engine::api`)
//! driving this backend's own container groups, with its state in the backend's engine store.

use std::sync::Arc;

use tars_api::Result;
use tars_engine::api::EngineDeployments;
use tars_engine::driver::ApiDriver;
use tars_engine::rollout::EngineConfig;

use crate::BACKEND;
use crate::groups::LocalGroups;
use crate::shared::Shared;

/// Deployments as replica groups of this backend, rolled out by tars' rollout engine.
pub type LocalDeployments = EngineDeployments;

/// Resumes the deployments stored in `shared.db` and drives them through `groups`.
pub(crate) fn start(shared: &Shared, groups: Arc<LocalGroups>) -> Result<LocalDeployments> {
    let config = EngineConfig::new(BACKEND, shared.config.instance_id())
        .hooks(shared.config.event_hooks().clone());
    EngineDeployments::start(
        Arc::new(ApiDriver::new(groups)),
        shared.db.clone(),
        config,
        Arc::new(crate::groups::check_supported),
    )
}
