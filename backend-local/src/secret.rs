//! Resolving secret references at container start. Values live only in the starting
//! container's environment: never in the state directory, a log line, or an error.

use std::path::Path;

use tars_api::group::SecretRef;

/// The environment variable that may hold secret `name`, key `key`:
/// `TARS_SECRET_<NAME>_<KEY>`, upper-cased, with every other character as `_`.
pub fn env_name(secret: &SecretRef) -> String {
    let clean = |s: &str| {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect::<String>()
    };
    format!("TARS_SECRET_{}_{}", clean(&secret.name), clean(&secret.key))
}

/// The secret's value, from the tars process's environment or `<dir>/<name>/<key>`.
/// The error names the secret and where it was looked for, never a value.
pub(crate) fn resolve(secret: &SecretRef, dir: Option<&Path>) -> Result<String, String> {
    let var = env_name(secret);
    if let Ok(v) = std::env::var(&var) {
        return Ok(v);
    }
    if let Some(dir) = dir {
        let path = dir.join(&secret.name).join(&secret.key);
        match std::fs::read_to_string(&path) {
            Ok(v) => return Ok(v.strip_suffix('\n').unwrap_or(&v).to_owned()),
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(format!(
                    "secret {}/{}: {}: {e}",
                    secret.name,
                    secret.key,
                    path.display()
                ));
            }
            Err(_) => {}
        }
    }
    Err(format!(
        "secret {}/{} not found: set {var} in tars' environment{}",
        secret.name,
        secret.key,
        dir.map(|d| format!(" or write {}/{}/{}", d.display(), secret.name, secret.key))
            .unwrap_or_default()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_from_a_secrets_directory_and_names_what_is_missing() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("db")).expect("mkdir");
        std::fs::write(dir.path().join("db/password"), "s3cret-sentinel\n").expect("write");
        let r = SecretRef {
            name: "db".into(),
            key: "password".into(),
        };
        assert_eq!(
            resolve(&r, Some(dir.path())).as_deref(),
            Ok("s3cret-sentinel")
        );
        let missing = SecretRef {
            name: "db".into(),
            key: "user-name".into(),
        };
        let e = resolve(&missing, Some(dir.path())).expect_err("missing");
        assert!(e.contains("TARS_SECRET_DB_USER_NAME"), "{e}");
    }
}
