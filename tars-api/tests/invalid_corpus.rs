//! Every manifest of `tests/corpus/invalid/` is refused with `Error::Invalid` naming the field
//! its first line announces (`# expect: spec.containers[0].name`), by parsing or by
//! validation — before anything could be sent anywhere.

use std::path::Path;

use tars_api::{Error, Manifest, validate};

/// Parses and validates a manifest file the way a service would.
fn check(bytes: &[u8]) -> Result<(), Error> {
    let manifests = Manifest::from_yaml_bytes(bytes)?;
    validate::manifests(&manifests)
}

#[test]
fn every_invalid_manifest_is_refused_naming_its_field() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/invalid");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    assert!(
        files.len() >= 100,
        "the corpus has only {} manifests",
        files.len()
    );
    let mut wrong = Vec::new();
    for path in &files {
        let bytes = std::fs::read(path).expect("read");
        let first = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
        let expect = String::from_utf8_lossy(first)
            .strip_prefix("# expect: ")
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("{}: no `# expect:` line", path.display()));
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match check(&bytes) {
            Err(Error::Invalid { field, .. }) if field == expect => {}
            Err(Error::Invalid { field, reason }) => wrong.push(format!(
                "{name}: refused at {field} ({reason}), expected {expect}"
            )),
            other => wrong.push(format!(
                "{name}: expected Invalid at {expect}, got {other:?}"
            )),
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} wrong:\n{}",
        wrong.len(),
        files.len(),
        wrong.join("\n")
    );
}

#[test]
fn an_oversized_manifest_is_refused_before_parsing() {
    let text = format!(
        "apiVersion: tars/v1\nkind: ContainerGroup\nmetadata: {{name: big}}\nspec: {{containers: [{{name: a, image: b, command: [\"{}\"]}}]}}\n",
        "x".repeat(tars_api::manifest::MAX_MANIFEST_BYTES)
    );
    match check(text.as_bytes()) {
        Err(Error::Invalid { field, reason }) => {
            assert_eq!(field, "manifest");
            assert!(reason.contains("limit"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}
