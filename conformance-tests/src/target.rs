//! What a backend's test binary hands the suite.

use std::sync::Arc;

use async_trait::async_trait;
use tars_api::Backend;
use tars_api::layer::CallCounts;

/// A backend under test, with the engine-specific probes the generic cases need.
#[async_trait]
pub trait Target: Send + Sync {
    /// The matrix column (`local`, `k8s`, `mesos`, `chronos-double`, `openstack`).
    fn column(&self) -> &str;

    /// The backend as a user gets it from `tars::connect`: the validation layer outermost,
    /// then a call-counting layer, then the raw backend.
    fn backend(&self) -> Arc<dyn Backend>;

    /// The counts of the call-counting layer beneath validation.
    fn calls(&self) -> CallCounts;

    /// Anything of group `name` still present on the engine after its deletion (processes,
    /// pods, tasks, servers), described for a failure message. Empty when nothing is left.
    async fn leftovers(&self, name: &str) -> Result<Vec<String>, String>;

    /// Creates, directly on the engine and not through this tars instance, a group named
    /// `name` that belongs to someone else (no tars ownership stamp of this instance).
    async fn plant_foreign_group(&self, name: &str) -> Result<(), String>;

    /// Whether an object of `kind` (a Deployment, a CronJob) that this tars instance did not
    /// create can be planted on the engine ([`Target::plant_foreign_object`]). `Err` says why
    /// not: on backends where tars keeps Deployments and CronJobs in its own store (the engine
    /// sees only their groups, whose ownership `foreign_object_refused_with_conflict` checks)
    /// there is no engine object of that kind to collide with.
    fn foreign_objects(&self, kind: tars_api::Kind) -> Result<(), String> {
        Err(format!(
            "tars keeps each {kind} in its own store on this backend: the engine holds no {kind} \
             object that another could own (its groups' ownership is checked by \
             foreign_object_refused_with_conflict)"
        ))
    }

    /// Creates, directly on the engine and not through this tars instance, an object of `kind`
    /// named `name` that belongs to someone else ([`Target::foreign_objects`]).
    async fn plant_foreign_object(&self, kind: tars_api::Kind, name: &str) -> Result<(), String> {
        let _ = name;
        self.foreign_objects(kind)
            .and(Err(format!("this target plants no foreign {kind}")))
    }

    /// Whether the object [`Target::plant_foreign_object`] planted is still there, unchanged.
    async fn foreign_object_intact(&self, kind: tars_api::Kind, name: &str) -> Result<(), String> {
        let _ = name;
        Err(format!("this target plants no foreign {kind}"))
    }

    /// Whether this column runs the cases about `kind`. `Err` says why not (another column
    /// covers that kind of this backend); those cases are then `not run` with the reason —
    /// never `pass`. All kinds by default.
    fn covers(&self, kind: tars_api::Kind) -> Result<(), String> {
        let _ = kind;
        Ok(())
    }

    /// Whether the endpoints a backend reports can be reached from the test process (false
    /// where the engine only simulates its nodes).
    fn endpoints_reachable(&self) -> Result<(), String> {
        Ok(())
    }

    /// Whether the containers this engine starts really run their programs (write logs, exit,
    /// answer probes). `Err` says why not (an engine whose nodes are simulated); the cases that
    /// need it are then not run.
    fn programs_run(&self) -> Result<(), String> {
        Ok(())
    }

    /// How many hosts the engine can place groups on (distinct values of the `hostname`
    /// attribute): a spread over hosts needs two or more to be seen.
    fn hosts(&self) -> usize {
        1
    }

    /// Whether a cron run's program ends as its command says — `true` and `exit 0` at once,
    /// `sleep N` after N seconds, `exit N`/`false` as a failure — so that runs complete. Holds
    /// where [`Target::programs_run`] does; a target whose engine runs nothing may stand in for
    /// a container runtime (ending runs through the engine's own API) and say so here. The cron
    /// cases that need exit codes, logs or probes still ask [`Target::programs_run`].
    fn runs_end(&self) -> Result<(), String> {
        self.programs_run()
    }

    /// Makes this tars instance stop abruptly, as a crash of the process embedding it would
    /// (no cleanup, workloads left as they are), and starts a new instance on the same state;
    /// [`Target::backend`] returns the new one afterwards. `Err` says why the target cannot.
    async fn restart(&self) -> Result<(), String> {
        Err(format!(
            "the {} target cannot restart its tars instance",
            self.column()
        ))
    }

    /// Like [`Target::restart`], with no tars instance running for `down` in between (so that
    /// workloads can change while nobody watches).
    async fn restart_after(&self, down: std::time::Duration) -> Result<(), String> {
        let _ = down;
        Err(format!(
            "the {} target cannot restart its tars instance",
            self.column()
        ))
    }

    /// Tries to open a second tars instance on this instance's state while it runs: `None`
    /// when the engine has no such notion (state lives in the engine), else the result of the
    /// attempt, which must be an error.
    async fn open_second_instance(&self) -> Option<tars_api::Result<()>> {
        None
    }

    /// Makes secret `name`, key `key` hold `value` where this backend resolves secrets.
    async fn provide_secret(&self, name: &str, key: &str, value: &str) -> Result<(), String> {
        let _ = (name, key, value);
        Err(format!(
            "the {} target cannot provide secrets",
            self.column()
        ))
    }

    /// Places where tars keeps state for this target (files, records) that contain `needle`.
    async fn state_containing(&self, needle: &[u8]) -> Result<Vec<String>, String> {
        let _ = needle;
        Ok(Vec::new())
    }

    /// Releases what the target holds (stops the backend's background tasks).
    async fn close(&self) {
        let _ = self.backend().shutdown().await;
    }

    /// What [`Target::close`] found of this target's tars instance on the engine after the
    /// case's own clean-up, the suite's clean-up (every object tars lists, deleted through
    /// tars) and tars' shutdown: objects tars created but no longer knew of. A case that
    /// passed (or was refused as unsupported) with any left fails. Empty where the engine cannot tell (the default).
    fn orphans(&self) -> Vec<String> {
        Vec::new()
    }
}
