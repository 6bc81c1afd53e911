//! How a deployment is kept in the engine's store: its object, its revisions and its rollout
//! progress, in three tables keyed by the deployment's name, written together.

use tars_api::{Deployment, Result};

use super::progress::Progress;
use super::revision::Revision;
use crate::store::{Batch, Store, decode};

/// The deployment objects (spec, metadata, last status).
pub const OBJECTS: &str = "rollout/objects";
/// The revisions of each deployment.
pub const REVISIONS: &str = "rollout/revisions";
/// The rollout progress of each deployment.
pub const PROGRESS: &str = "rollout/progress";

/// Everything the engine keeps about one deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The object, with the status last observed.
    pub object: Deployment,
    /// Its revisions, oldest first; the last is the update revision.
    pub revisions: Vec<Revision>,
    /// The rollout's progress.
    pub progress: Progress,
}

impl Record {
    /// The update revision (the newest).
    pub fn update(&self) -> Option<&Revision> {
        self.revisions.last()
    }

    /// The revision with template hash `hash`.
    pub fn revision(&self, hash: &str) -> Option<&Revision> {
        self.revisions.iter().find(|r| r.hash == hash)
    }

    /// Adds the writes of the whole record to `batch`.
    pub fn save(&self, batch: Batch) -> Result<Batch> {
        let name = self.object.name();
        batch
            .put_json(OBJECTS, name, &self.object)?
            .put_json(REVISIONS, name, &self.revisions)?
            .put_json(PROGRESS, name, &self.progress)
    }
}

/// Deletes every record of deployment `name`.
pub(crate) fn remove(store: &dyn Store, name: &str) -> Result<()> {
    store.write(
        Batch::new()
            .delete(OBJECTS, name)
            .delete(REVISIONS, name)
            .delete(PROGRESS, name),
    )
}

/// The stored object of `name`, whoever owns it.
pub(crate) fn load_object(store: &dyn Store, name: &str) -> Result<Option<Deployment>> {
    store
        .get(OBJECTS, name)?
        .map(|b| decode(OBJECTS, name, &b))
        .transpose()
}

/// Every stored deployment.
pub(crate) fn load_all(store: &dyn Store) -> Result<Vec<Record>> {
    let mut out = Vec::new();
    for (name, bytes) in store.scan(OBJECTS, "")? {
        let object: Deployment = decode(OBJECTS, &name, &bytes)?;
        let revisions = match store.get(REVISIONS, &name)? {
            Some(b) => decode(REVISIONS, &name, &b)?,
            None => Vec::new(),
        };
        let progress = match store.get(PROGRESS, &name)? {
            Some(b) => decode(PROGRESS, &name, &b)?,
            None => Progress::default(),
        };
        out.push(Record {
            object,
            revisions,
            progress,
        });
    }
    Ok(out)
}
