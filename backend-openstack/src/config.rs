//! How to reach the cloud: Keystone v3 credentials (password or application credential), the
//! project, the region, TLS — from `clouds.yaml`, from `OS_*` variables, or in code.
//!
//! Secrets (passwords, application credential secrets) are held in [`Secret`], whose `Debug`
//! prints `<redacted>`: a config can be logged. TLS certificates are verified unless
//! [`OpenStackConfig::insecure_skip_tls_verify_for_test_clouds`] is called; a `clouds.yaml` with
//! `verify: false` or `OS_INSECURE=true` alone is refused, not obeyed silently.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use tars_api::{Error, Result};
use url::Url;

/// The instance id when none is given.
pub const DEFAULT_INSTANCE: &str = "default";

/// A secret string: a password or an application credential secret. `Debug` and `Display` do
/// not show it; [`Secret::expose`] does, for the one place that sends it to Keystone.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Secret(secret.into())
    }

    /// The secret itself. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// An id or a name (with, for users and projects, the name's domain).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdOrName {
    /// By id.
    Id(String),
    /// By name, in a domain (by name or id: [`Domain`]).
    Name(String, Domain),
}

/// A Keystone domain, by id or by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Domain {
    /// By id (`default` is the default domain's id).
    Id(String),
    /// By name (`Default` is the default domain's name).
    Name(String),
}

impl Default for Domain {
    fn default() -> Self {
        Domain::Name("Default".to_owned())
    }
}

/// How tars authenticates to Keystone v3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// User and password, scoped to [`OpenStackConfig::project`].
    Password {
        /// The user.
        user: IdOrName,
        /// The password.
        password: Secret,
    },
    /// An application credential: scoped to the project it was made in (no project may be
    /// given with it).
    ApplicationCredential {
        /// The credential, by id, or by name with its user.
        credential: ApplicationCredentialRef,
        /// The secret.
        secret: Secret,
    },
}

/// An application credential, by id or by name with the user who owns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplicationCredentialRef {
    /// By id (what `openstack application credential create` prints).
    Id(String),
    /// By name, with its user (names are unique per user only).
    Name {
        /// The credential's name.
        name: String,
        /// Its user.
        user: IdOrName,
    },
}

/// Which endpoints of the catalog to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Interface {
    /// `public` (the default, as in the OpenStack clients).
    #[default]
    Public,
    /// `internal`.
    Internal,
    /// `admin`.
    Admin,
}

impl Interface {
    fn parse(s: &str, field: &str) -> Result<Self> {
        match s.trim_end_matches("URL") {
            "public" => Ok(Interface::Public),
            "internal" => Ok(Interface::Internal),
            "admin" => Ok(Interface::Admin),
            other => Err(Error::invalid(
                field,
                format!("{other:?} is not an interface: public, internal or admin"),
            )),
        }
    }

    /// The interface's name in the catalog.
    pub fn as_str(self) -> &'static str {
        match self {
            Interface::Public => "public",
            Interface::Internal => "internal",
            Interface::Admin => "admin",
        }
    }
}

/// Configuration of the OpenStack backend.
///
/// ```
/// use tars_backend_openstack::{OpenStackConfig, Secret};
/// let config = OpenStackConfig::password("https://keystone.example:5000/v3", "tars", Secret::new("s3cret"))?
///     .project_name("tars", "Default")
///     .region("RegionOne");
/// assert!(!format!("{config:?}").contains("s3cret"));
/// # Ok::<(), tars_api::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenStackConfig {
    pub(crate) auth_url: Url,
    pub(crate) auth: Auth,
    pub(crate) project: Option<IdOrName>,
    pub(crate) region: Option<String>,
    pub(crate) interface: Interface,
    pub(crate) cacert: Option<PathBuf>,
    /// `verify: false` / `OS_INSECURE` was read from the source: refused unless
    /// `insecure_skip_tls_verify` is set in code too.
    pub(crate) source_disables_tls_verify: bool,
    pub(crate) insecure_skip_tls_verify: bool,
    pub(crate) instance: Option<String>,
    pub(crate) state_dir: Option<PathBuf>,
    pub(crate) secrets_in_user_data: bool,
    /// Where the settings came from, for error messages (`clouds.yaml: clouds.tars`, `OS_*`).
    pub(crate) source: String,
}

impl OpenStackConfig {
    /// Password authentication at `auth_url` (Keystone's v3 endpoint, e.g.
    /// `https://keystone.example:5000/v3`) as `username` of the `Default` domain. Set the project
    /// with [`OpenStackConfig::project_name`] or [`OpenStackConfig::project_id`].
    pub fn password(auth_url: &str, username: impl Into<String>, password: Secret) -> Result<Self> {
        Ok(Self::with_auth(
            parse_auth_url(auth_url, "auth_url")?,
            Auth::Password {
                user: IdOrName::Name(username.into(), Domain::default()),
                password,
            },
            "code".to_owned(),
        ))
    }

    /// Application credential authentication at `auth_url` with the credential's id and secret.
    pub fn application_credential(
        auth_url: &str,
        id: impl Into<String>,
        secret: Secret,
    ) -> Result<Self> {
        Ok(Self::with_auth(
            parse_auth_url(auth_url, "auth_url")?,
            Auth::ApplicationCredential {
                credential: ApplicationCredentialRef::Id(id.into()),
                secret,
            },
            "code".to_owned(),
        ))
    }

    fn with_auth(auth_url: Url, auth: Auth, source: String) -> Self {
        OpenStackConfig {
            auth_url,
            auth,
            project: None,
            region: None,
            interface: Interface::default(),
            cacert: None,
            source_disables_tls_verify: false,
            insecure_skip_tls_verify: false,
            instance: None,
            state_dir: None,
            secrets_in_user_data: false,
            source,
        }
    }

    /// The cloud `cloud` of the first `clouds.yaml` found: `$OS_CLIENT_CONFIG_FILE`,
    /// `./clouds.yaml`, `~/.config/openstack/clouds.yaml`, `/etc/openstack/clouds.yaml` (the
    /// OpenStack clients' order).
    pub fn from_cloud(cloud: &str) -> Result<Self> {
        let mut candidates: Vec<PathBuf> = Vec::new();
        if let Some(p) = std::env::var_os("OS_CLIENT_CONFIG_FILE") {
            candidates.push(p.into());
        }
        candidates.push("clouds.yaml".into());
        if let Some(home) = std::env::var_os("HOME") {
            candidates.push(Path::new(&home).join(".config/openstack/clouds.yaml"));
        }
        candidates.push("/etc/openstack/clouds.yaml".into());
        let path = candidates.iter().find(|p| p.is_file()).ok_or_else(|| {
            Error::invalid(
                "clouds.yaml",
                format!(
                    "no clouds.yaml found (looked at {})",
                    candidates
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?;
        Self::from_clouds_yaml(path, cloud)
    }

    /// The cloud `cloud` of the `clouds.yaml` file at `path`.
    pub fn from_clouds_yaml(path: impl AsRef<Path>, cloud: &str) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::invalid(
                "clouds.yaml",
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        Self::from_clouds_yaml_str(&text, cloud)
    }

    /// The cloud `cloud` of a `clouds.yaml` document.
    pub fn from_clouds_yaml_str(yaml: &str, cloud: &str) -> Result<Self> {
        let file: CloudsFile = serde_yaml_ng::from_str(yaml)
            .map_err(|e| Error::invalid("clouds.yaml", format!("not a clouds.yaml: {e}")))?;
        let path = format!("clouds.yaml: clouds.{cloud}");
        let entry = file.clouds.get(cloud).ok_or_else(|| {
            Error::invalid(
                &path,
                format!(
                    "no such cloud (the file has: {})",
                    file.clouds.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            )
        })?;
        let a = &entry.auth;
        let settings = Settings {
            auth_type: entry.auth_type.clone(),
            auth_url: a.auth_url.clone(),
            username: a.username.clone(),
            user_id: a.user_id.clone(),
            password: a.password.clone(),
            user_domain_name: a.user_domain_name.clone(),
            user_domain_id: a.user_domain_id.clone(),
            project_name: a.project_name.clone(),
            project_id: a.project_id.clone(),
            project_domain_name: a.project_domain_name.clone(),
            project_domain_id: a.project_domain_id.clone(),
            application_credential_id: a.application_credential_id.clone(),
            application_credential_name: a.application_credential_name.clone(),
            application_credential_secret: a.application_credential_secret.clone(),
            region: entry.region_name.clone(),
            interface: entry.interface.clone(),
            cacert: entry.cacert.clone(),
            insecure: entry.verify.map(|v| !v),
        };
        settings.build(&path, &format!("{path}.auth."), &format!("{path}."))
    }

    /// From `OS_*` variables, as the OpenStack clients read them; when `OS_CLOUD` is set, that
    /// cloud of `clouds.yaml` instead ([`OpenStackConfig::from_cloud`]).
    pub fn from_env() -> Result<Self> {
        if let Ok(cloud) = std::env::var("OS_CLOUD")
            && !cloud.is_empty()
        {
            return Self::from_cloud(&cloud);
        }
        Self::from_env_vars(std::env::vars())
    }

    /// From these `OS_*` variables (the others are ignored); [`OpenStackConfig::from_env`]
    /// without `OS_CLOUD`, for a given environment.
    pub fn from_env_vars(vars: impl IntoIterator<Item = (String, String)>) -> Result<Self> {
        let vars: BTreeMap<String, String> = vars
            .into_iter()
            .filter(|(k, v)| k.starts_with("OS_") && !v.is_empty())
            .collect();
        let get = |k: &str| vars.get(k).cloned();
        let insecure = get("OS_INSECURE")
            .map(|v| parse_bool(&v, "OS_INSECURE"))
            .transpose()?;
        let settings = Settings {
            auth_type: get("OS_AUTH_TYPE"),
            auth_url: get("OS_AUTH_URL"),
            username: get("OS_USERNAME"),
            user_id: get("OS_USER_ID"),
            password: get("OS_PASSWORD"),
            user_domain_name: get("OS_USER_DOMAIN_NAME"),
            user_domain_id: get("OS_USER_DOMAIN_ID"),
            project_name: get("OS_PROJECT_NAME").or_else(|| get("OS_TENANT_NAME")),
            project_id: get("OS_PROJECT_ID").or_else(|| get("OS_TENANT_ID")),
            project_domain_name: get("OS_PROJECT_DOMAIN_NAME"),
            project_domain_id: get("OS_PROJECT_DOMAIN_ID"),
            application_credential_id: get("OS_APPLICATION_CREDENTIAL_ID"),
            application_credential_name: get("OS_APPLICATION_CREDENTIAL_NAME"),
            application_credential_secret: get("OS_APPLICATION_CREDENTIAL_SECRET"),
            region: get("OS_REGION_NAME"),
            interface: get("OS_INTERFACE").or_else(|| get("OS_ENDPOINT_TYPE")),
            cacert: get("OS_CACERT"),
            insecure,
        };
        settings.build("OS_*", "OS_", "OS_")
    }

    /// Scopes a password authentication to the project named `name` in the domain named
    /// `domain` (`Default` for the default domain).
    pub fn project_name(mut self, name: impl Into<String>, domain: impl Into<String>) -> Self {
        self.project = Some(IdOrName::Name(name.into(), Domain::Name(domain.into())));
        self
    }

    /// Scopes a password authentication to the project with this id.
    pub fn project_id(mut self, id: impl Into<String>) -> Self {
        self.project = Some(IdOrName::Id(id.into()));
        self
    }

    /// Uses the endpoints of this region (needed when the catalog has several).
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Uses the catalog's endpoints of this interface (default `public`).
    pub fn interface(mut self, interface: Interface) -> Self {
        self.interface = interface;
        self
    }

    /// Trusts the CA certificates (PEM) in this file, besides the system's.
    pub fn cacert(mut self, path: impl Into<PathBuf>) -> Self {
        self.cacert = Some(path.into());
        self
    }

    /// Sets the instance id stamped on every server (default `default`).
    pub fn instance(mut self, instance: impl Into<String>) -> Self {
        self.instance = Some(instance.into());
        self
    }

    /// Where tars keeps the state of its engines (deployments, their revisions and rollout
    /// progress; cron jobs, their last slots and runs): a database file under `dir`, held by one
    /// tars process at a time. A tars process restarted on the same directory resumes rollouts
    /// and never starts a cron slot twice. Without it that state lives in memory and is lost
    /// when the process ends (the servers stay: Nova keeps them).
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_dir = Some(dir.into());
        self
    }

    /// The state directory, if one is set.
    pub fn state_dir_path(&self) -> Option<&Path> {
        self.state_dir.as_deref()
    }

    /// **Insecure**: accepts any server certificate. For throw-away test clouds with
    /// self-signed certificates only. Certificates are verified by default, and a `clouds.yaml`
    /// with `verify: false` (or `OS_INSECURE=true`) is refused unless this is called too.
    pub fn insecure_skip_tls_verify_for_test_clouds(mut self) -> Self {
        self.insecure_skip_tls_verify = true;
        self
    }

    /// Lets environment variables taken from secrets travel in the server's `user_data`, which
    /// anyone allowed to read the server's extended attributes (by default: the cloud's admins)
    /// and any process in the server can read. Off by default: a group with such variables is
    /// then `Unsupported` on this backend.
    pub fn allow_secrets_in_user_data(mut self) -> Self {
        self.secrets_in_user_data = true;
        self
    }

    /// The instance id.
    pub fn instance_id(&self) -> &str {
        self.instance.as_deref().unwrap_or(DEFAULT_INSTANCE)
    }

    /// Keystone's v3 endpoint.
    pub fn auth_url(&self) -> &Url {
        &self.auth_url
    }

    /// The authentication method and its credentials.
    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// The project a password authentication is scoped to.
    pub fn project(&self) -> Option<&IdOrName> {
        self.project.as_ref()
    }

    /// The region, if one is set.
    pub fn region_name(&self) -> Option<&str> {
        self.region.as_deref()
    }

    /// Whether server certificates are verified (true unless opted out in code).
    pub fn verifies_tls(&self) -> bool {
        !self.insecure_skip_tls_verify
    }

    /// Checks what can only be checked once everything is set (called before connecting): a
    /// password needs a project; an application credential takes none; a source that turns TLS
    /// verification off needs the opt-out in code.
    pub fn check(&self) -> Result<()> {
        match (&self.auth, &self.project) {
            (Auth::Password { .. }, None) => {
                return Err(Error::invalid(
                    format!("{}: project", self.source),
                    "password authentication needs a project (name and domain, or id): \
                     servers belong to a project",
                ));
            }
            (Auth::ApplicationCredential { .. }, Some(_)) => {
                return Err(Error::invalid(
                    format!("{}: project", self.source),
                    "an application credential is scoped to the project it was made in; \
                     Keystone refuses another scope: remove the project",
                ));
            }
            _ => {}
        }
        if self.source_disables_tls_verify && !self.insecure_skip_tls_verify {
            return Err(Error::invalid(
                format!("{}: verify", self.source),
                "TLS verification is turned off there (verify: false / OS_INSECURE); tars \
                 verifies certificates unless the code calls \
                 insecure_skip_tls_verify_for_test_clouds() as well",
            ));
        }
        Ok(())
    }
}

/// The settings common to `clouds.yaml` and `OS_*`, before they are checked.
struct Settings {
    auth_type: Option<String>,
    auth_url: Option<String>,
    username: Option<String>,
    user_id: Option<String>,
    password: Option<String>,
    user_domain_name: Option<String>,
    user_domain_id: Option<String>,
    project_name: Option<String>,
    project_id: Option<String>,
    project_domain_name: Option<String>,
    project_domain_id: Option<String>,
    application_credential_id: Option<String>,
    application_credential_name: Option<String>,
    application_credential_secret: Option<String>,
    region: Option<String>,
    interface: Option<String>,
    cacert: Option<String>,
    insecure: Option<bool>,
}

impl Settings {
    /// `source` names the origin in errors; `auth` and `top` prefix the names of the
    /// authentication and the other fields (`clouds.yaml: clouds.x.auth.`, `OS_`).
    fn build(self, source: &str, auth: &str, top: &str) -> Result<OpenStackConfig> {
        let field = |name: &str| {
            if auth == "OS_" {
                format!("OS_{}", name.to_uppercase())
            } else {
                format!("{auth}{name}")
            }
        };
        let auth_url = self
            .auth_url
            .ok_or_else(|| Error::invalid(field("auth_url"), "missing"))?;
        let auth_url = parse_auth_url(&auth_url, &field("auth_url"))?;
        let user_domain = domain(self.user_domain_id, self.user_domain_name);
        let user = match (self.user_id, self.username) {
            (Some(id), _) => Some(IdOrName::Id(id)),
            (None, Some(name)) => Some(IdOrName::Name(name, user_domain)),
            (None, None) => None,
        };
        let kind =
            self.auth_type
                .as_deref()
                .unwrap_or(if self.application_credential_secret.is_some() {
                    "v3applicationcredential"
                } else {
                    "password"
                });
        let auth_value = match kind {
            "password" | "v3password" => Auth::Password {
                user: user
                    .ok_or_else(|| Error::invalid(field("username"), "missing (or a user id)"))?,
                password: Secret(
                    self.password
                        .ok_or_else(|| Error::invalid(field("password"), "missing"))?,
                ),
            },
            "v3applicationcredential" | "application_credential" => {
                let secret = Secret(self.application_credential_secret.ok_or_else(|| {
                    Error::invalid(field("application_credential_secret"), "missing")
                })?);
                let credential = match (
                    self.application_credential_id,
                    self.application_credential_name,
                ) {
                    (Some(id), _) => ApplicationCredentialRef::Id(id),
                    (None, Some(name)) => ApplicationCredentialRef::Name {
                        name,
                        user: user.ok_or_else(|| {
                            Error::invalid(
                                field("username"),
                                "an application credential given by name needs its user",
                            )
                        })?,
                    },
                    (None, None) => {
                        return Err(Error::invalid(
                            field("application_credential_id"),
                            "missing (or a name with its user)",
                        ));
                    }
                };
                Auth::ApplicationCredential { credential, secret }
            }
            other => {
                return Err(Error::invalid(
                    if auth == "OS_" {
                        "OS_AUTH_TYPE".to_owned()
                    } else {
                        format!("{top}auth_type")
                    },
                    format!(
                        "{other:?} is not supported: password (v3password) or \
                         v3applicationcredential"
                    ),
                ));
            }
        };
        let project = match (self.project_id, self.project_name) {
            (Some(id), _) => Some(IdOrName::Id(id)),
            (None, Some(name)) => Some(IdOrName::Name(
                name,
                domain(self.project_domain_id, self.project_domain_name),
            )),
            (None, None) => None,
        };
        let interface_field = if top == "OS_" {
            "OS_INTERFACE".to_owned()
        } else {
            format!("{top}interface")
        };
        let interface = self
            .interface
            .map(|i| Interface::parse(&i, &interface_field))
            .transpose()?
            .unwrap_or_default();
        let mut config = OpenStackConfig::with_auth(auth_url, auth_value, source.to_owned());
        config.project = project;
        config.region = self.region;
        config.interface = interface;
        config.cacert = self.cacert.map(PathBuf::from);
        config.source_disables_tls_verify = self.insecure == Some(true);
        Ok(config)
    }
}

fn domain(id: Option<String>, name: Option<String>) -> Domain {
    match (id, name) {
        (Some(id), _) => Domain::Id(id),
        (None, Some(name)) => Domain::Name(name),
        (None, None) => Domain::default(),
    }
}

fn parse_auth_url(s: &str, field: &str) -> Result<Url> {
    let url = Url::parse(s).map_err(|e| Error::invalid(field, format!("{s:?}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(Error::invalid(
            field,
            format!("{s:?} is not an http(s) URL of Keystone"),
        ));
    }
    Ok(url)
}

fn parse_bool(s: &str, field: &str) -> Result<bool> {
    match s.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(Error::invalid(field, format!("{s:?} is not true or false"))),
    }
}

/// The parts of `clouds.yaml` tars reads (other keys are ignored, as the clients do).
#[derive(Deserialize)]
struct CloudsFile {
    clouds: BTreeMap<String, CloudEntry>,
}

#[derive(Deserialize)]
struct CloudEntry {
    #[serde(default)]
    auth: CloudAuth,
    auth_type: Option<String>,
    region_name: Option<String>,
    interface: Option<String>,
    cacert: Option<String>,
    verify: Option<bool>,
}

#[derive(Deserialize, Default)]
struct CloudAuth {
    auth_url: Option<String>,
    username: Option<String>,
    user_id: Option<String>,
    password: Option<String>,
    user_domain_name: Option<String>,
    user_domain_id: Option<String>,
    project_name: Option<String>,
    project_id: Option<String>,
    project_domain_name: Option<String>,
    project_domain_id: Option<String>,
    application_credential_id: Option<String>,
    application_credential_name: Option<String>,
    application_credential_secret: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `scripts/engines/openstack/up.sh` writes, plus an application credential cloud and
    /// a test cloud with `verify: false`.
    const CLOUDS: &str = r#"
clouds:
  tars:
    auth:
      auth_url: http://127.0.0.1:17000/v3
      username: tars
      password: tars-secret
      project_name: tars
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    identity_api_version: 3
    interface: public
  appcred:
    auth_type: v3applicationcredential
    auth:
      auth_url: https://keystone.example:5000/v3
      application_credential_id: 6cb5fa6a13184e6fab65ba2108adf50c
      application_credential_secret: glance-me-not
    region_name: RegionTwo
  selfsigned:
    auth:
      auth_url: https://10.0.0.1:5000/v3
      username: tars
      password: pw
      project_id: 0123abcd
    verify: false
"#;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn clouds_yaml_password_cloud_reads_user_project_and_region() {
        let c = OpenStackConfig::from_clouds_yaml_str(CLOUDS, "tars").expect("config");
        assert_eq!(c.auth_url().as_str(), "http://127.0.0.1:17000/v3");
        assert_eq!(
            c.auth(),
            &Auth::Password {
                user: IdOrName::Name("tars".into(), Domain::Name("Default".into())),
                password: Secret::new("tars-secret"),
            }
        );
        assert_eq!(
            c.project(),
            Some(&IdOrName::Name(
                "tars".into(),
                Domain::Name("Default".into())
            ))
        );
        assert_eq!(c.region_name(), Some("RegionOne"));
        assert!(c.verifies_tls());
        c.check().expect("complete");
    }

    #[test]
    fn clouds_yaml_application_credential_needs_no_project() {
        let c = OpenStackConfig::from_clouds_yaml_str(CLOUDS, "appcred").expect("config");
        assert_eq!(
            c.auth(),
            &Auth::ApplicationCredential {
                credential: ApplicationCredentialRef::Id("6cb5fa6a13184e6fab65ba2108adf50c".into()),
                secret: Secret::new("glance-me-not"),
            }
        );
        assert_eq!(c.project(), None);
        c.check().expect("complete");
        let with_project = c.project_name("other", "Default");
        let err = with_project.check().expect_err("scope refused");
        assert_eq!(err.field(), Some("clouds.yaml: clouds.appcred: project"));
    }

    #[test]
    fn debug_never_shows_a_secret() {
        for cloud in ["tars", "appcred"] {
            let c = OpenStackConfig::from_clouds_yaml_str(CLOUDS, cloud).expect("config");
            let shown = format!("{c:?} {:?}", c.auth());
            assert!(shown.contains("<redacted>"), "{shown}");
            assert!(!shown.contains("tars-secret"), "{shown}");
            assert!(!shown.contains("glance-me-not"), "{shown}");
        }
        assert_eq!(Secret::new("x").to_string(), "<redacted>");
    }

    #[test]
    fn verify_false_in_clouds_yaml_is_refused_without_the_opt_out_in_code() {
        let c = OpenStackConfig::from_clouds_yaml_str(CLOUDS, "selfsigned").expect("config");
        assert_eq!(c.project(), Some(&IdOrName::Id("0123abcd".into())));
        let err = c.clone().check().expect_err("refused");
        assert_eq!(err.field(), Some("clouds.yaml: clouds.selfsigned: verify"));
        let c = c.insecure_skip_tls_verify_for_test_clouds();
        assert!(!c.verifies_tls());
        c.check().expect("opted out");
    }

    #[test]
    fn unknown_cloud_names_the_ones_there() {
        let err = OpenStackConfig::from_clouds_yaml_str(CLOUDS, "nope").expect_err("no cloud");
        let text = err.to_string();
        assert!(text.contains("appcred, selfsigned, tars"), "{text}");
    }

    #[test]
    fn env_password_with_legacy_tenant_name_and_defaults() {
        let c = OpenStackConfig::from_env_vars(env(&[
            ("OS_AUTH_URL", "http://127.0.0.1:17000/v3"),
            ("OS_USERNAME", "admin"),
            ("OS_PASSWORD", "secret"),
            ("OS_TENANT_NAME", "admin"),
            ("OS_REGION_NAME", "RegionOne"),
            ("OS_INTERFACE", "internalURL"),
            ("HOME", "/root"),
        ]))
        .expect("config");
        assert_eq!(
            c.project(),
            Some(&IdOrName::Name(
                "admin".into(),
                Domain::Name("Default".into())
            ))
        );
        assert_eq!(c.interface, Interface::Internal);
        c.check().expect("complete");
    }

    #[test]
    fn env_application_credential_by_name_needs_its_user() {
        let base = [
            ("OS_AUTH_URL", "https://keystone.example/v3"),
            ("OS_AUTH_TYPE", "v3applicationcredential"),
            ("OS_APPLICATION_CREDENTIAL_NAME", "ci"),
            ("OS_APPLICATION_CREDENTIAL_SECRET", "s"),
        ];
        let err = OpenStackConfig::from_env_vars(env(&base)).expect_err("no user");
        assert_eq!(err.field(), Some("OS_USERNAME"));
        let mut with_user = base.to_vec();
        with_user.push(("OS_USERNAME", "tars"));
        with_user.push(("OS_USER_DOMAIN_ID", "default"));
        let c = OpenStackConfig::from_env_vars(env(&with_user)).expect("config");
        assert_eq!(
            c.auth(),
            &Auth::ApplicationCredential {
                credential: ApplicationCredentialRef::Name {
                    name: "ci".into(),
                    user: IdOrName::Name("tars".into(), Domain::Id("default".into())),
                },
                secret: Secret::new("s"),
            }
        );
    }

    #[test]
    fn env_errors_name_the_variable() {
        let err = OpenStackConfig::from_env_vars(env(&[("OS_USERNAME", "x")])).expect_err("url");
        assert_eq!(err.field(), Some("OS_AUTH_URL"));
        let err = OpenStackConfig::from_env_vars(env(&[
            ("OS_AUTH_URL", "http://k/v3"),
            ("OS_USERNAME", "x"),
        ]))
        .expect_err("password");
        assert_eq!(err.field(), Some("OS_PASSWORD"));
        let err = OpenStackConfig::from_env_vars(env(&[
            ("OS_AUTH_URL", "ftp://k/v3"),
            ("OS_USERNAME", "x"),
            ("OS_PASSWORD", "p"),
        ]))
        .expect_err("scheme");
        assert_eq!(err.field(), Some("OS_AUTH_URL"));
        let err = OpenStackConfig::from_env_vars(env(&[
            ("OS_AUTH_URL", "http://k/v3"),
            ("OS_AUTH_TYPE", "token"),
        ]))
        .expect_err("auth type");
        assert_eq!(err.field(), Some("OS_AUTH_TYPE"));
        let c = OpenStackConfig::from_env_vars(env(&[
            ("OS_AUTH_URL", "http://k/v3"),
            ("OS_USERNAME", "x"),
            ("OS_PASSWORD", "p"),
        ]))
        .expect("config");
        assert_eq!(
            c.check().expect_err("project").field(),
            Some("OS_*: project")
        );
    }

    #[test]
    fn os_insecure_needs_the_opt_out_in_code() {
        let vars = env(&[
            ("OS_AUTH_URL", "https://k/v3"),
            ("OS_USERNAME", "x"),
            ("OS_PASSWORD", "p"),
            ("OS_PROJECT_ID", "abc"),
            ("OS_INSECURE", "true"),
        ]);
        let c = OpenStackConfig::from_env_vars(vars).expect("config");
        assert_eq!(
            c.check().expect_err("refused").field(),
            Some("OS_*: verify")
        );
        c.insecure_skip_tls_verify_for_test_clouds()
            .check()
            .expect("opted out");
    }

    #[test]
    fn clouds_yaml_file_is_read_from_disk() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("clouds.yaml");
        std::fs::write(&path, CLOUDS).expect("write");
        let c = OpenStackConfig::from_clouds_yaml(&path, "tars").expect("config");
        assert_eq!(c.instance_id(), DEFAULT_INSTANCE);
        let err = OpenStackConfig::from_clouds_yaml(dir.path().join("none.yaml"), "tars")
            .expect_err("missing file");
        assert_eq!(err.field(), Some("clouds.yaml"));
    }
}
