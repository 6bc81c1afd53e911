//! The invalid-manifest corpus of tars-api, applied through the stack a user gets (validation
//! outermost, a call counter beneath): every manifest is refused with `Error::Invalid`, and
//! no call reaches the backend.

use std::path::Path;
use std::sync::Arc;

use tars_api::layer::{CountCalls, Layered, Validate};
use tars_api::{ApplyOptions, Backend, Error, Manifest};
use tars_backend_local::{LocalBackend, LocalConfig};

#[tokio::test]
async fn invalid_manifests_never_reach_the_backend() {
    let dir = tempfile::tempdir().expect("tempdir");
    let raw = LocalBackend::open(LocalConfig::new(dir.path()))
        .await
        .expect("open");
    let counter = CountCalls::new();
    let calls = counter.counts();
    let counted: Arc<dyn Backend> = Arc::new(Layered::new(Arc::new(raw), counter));
    let backend = Layered::new(counted, Validate);
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tars-api/tests/corpus/invalid");
    let (mut applied, mut refused_at_parse, mut valid_alone) = (0, 0, 0);
    for entry in std::fs::read_dir(&corpus).expect("corpus") {
        let path = entry.expect("entry").path();
        let bytes = std::fs::read(&path).expect("read");
        let Ok(manifests) = Manifest::from_yaml_bytes(&bytes) else {
            refused_at_parse += 1;
            continue;
        };
        for m in manifests {
            let result = match &m {
                Manifest::ContainerGroup(o) => backend
                    .container_groups()
                    .apply(o, ApplyOptions::default())
                    .await
                    .map(drop),
                Manifest::Deployment(o) => backend
                    .deployments()
                    .apply(o, ApplyOptions::default())
                    .await
                    .map(drop),
                Manifest::CronJob(o) => backend
                    .cron_jobs()
                    .apply(o, ApplyOptions::default())
                    .await
                    .map(drop),
            };
            applied += 1;
            // A stream may hold one valid manifest beside an invalid one: then the valid one
            // passes validation alone and reaches the backend, which is right.
            if m.validate().is_ok() {
                valid_alone += 1;
            } else {
                assert!(
                    matches!(result, Err(Error::Invalid { .. })),
                    "{}: {result:?}",
                    path.display()
                );
            }
        }
    }
    assert!(
        applied > 50 && refused_at_parse > 10,
        "applied {applied}, refused at parse {refused_at_parse}"
    );
    // Only manifests valid on their own (the documents of the streams whose fault is between
    // documents: duplicate names, a parent cycle) may reach the backend.
    assert_eq!(calls.total(), valid_alone, "calls that reached the backend");
    assert!(
        valid_alone <= 4,
        "{valid_alone} manifests of the corpus are valid on their own"
    );
    backend.shutdown().await.expect("shutdown");
}
