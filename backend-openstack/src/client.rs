//! The client: an authenticated `osauth` session (the one the `openstack` crate runs on) and the
//! typed Nova and Glance calls the backend needs, sent with this crate's own request types
//! (`convert`) because the `openstack` crate cannot send them (see the crate docs).
//!
//! Credentials go only into the session's identity plugin: [`Client`]'s `Debug` shows none and
//! no error message carries one (Keystone's and Nova's messages never echo a password).

use std::fmt;
use std::time::{Duration, Instant};

use osauth::ErrorKind;
use osauth::services::{COMPUTE, IMAGE};
use serde::Deserialize;
use tars_api::meta::Kind;
use tars_api::{Error, Result};

use crate::config::{ApplicationCredentialRef, Auth, Domain, IdOrName, OpenStackConfig};
use crate::convert::flavor::Flavor;
use crate::convert::image::{PLACEHOLDER_DATA, find_query, image_create};
use crate::convert::server::{COMPUTE_MICROVERSION, ServerCreateRequest, server_group_create};
use crate::convert::status::Server;

/// How often a wait polls Nova or Glance.
pub(crate) const POLL: Duration = Duration::from_millis(500);

/// An OpenStack cloud, as one project sees it.
pub(crate) struct Client {
    session: osauth::Session,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

/// A Nova server group, as `os-server-groups` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct ServerGroup {
    /// Its id.
    pub(crate) id: String,
    /// Its name (not unique in Nova).
    pub(crate) name: String,
    /// The ids of its servers that are not deleted.
    #[serde(default)]
    pub(crate) members: Vec<String>,
}

/// A failure Nova or Glance explains, kept as the source of [`Error::Backend`] so that a caller
/// can tell them apart (`err.source().downcast_ref::<OpenStackError>()`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenStackError {
    /// Nova refused a create over the project's quota (403 "Quota exceeded ...").
    #[error("quota exceeded: {message}")]
    QuotaExceeded {
        /// Nova's message.
        message: String,
    },
    /// The scheduler found no host for the server (it went to ERROR with this fault).
    #[error("no valid host: {message}")]
    NoValidHost {
        /// Nova's fault message.
        message: String,
    },
    /// Nova could not find or use the boot image (400 at create).
    #[error("image: {message}")]
    Image {
        /// Nova's message.
        message: String,
    },
    /// A server went to ERROR for another reason.
    #[error("server failed: {message}")]
    ServerFailed {
        /// Nova's fault message.
        message: String,
    },
}

impl OpenStackError {
    /// As a tars error.
    pub(crate) fn into_error(self) -> Error {
        Error::backend(crate::BACKEND, self)
    }

    /// The typed error for an ERROR server's fault `message`.
    pub(crate) fn from_fault(message: &str) -> Self {
        if message.contains("No valid host") || message.contains("Exhausted all hosts") {
            OpenStackError::NoValidHost {
                message: message.to_owned(),
            }
        } else {
            OpenStackError::ServerFailed {
                message: message.to_owned(),
            }
        }
    }
}

/// Maps an `osauth` error onto tars' errors. `what` names the object for `NotFound`.
pub(crate) fn map_error(e: &osauth::Error, what: Option<(Kind, &str)>) -> Error {
    // osauth's Display is "<kind's description>: <the service's message>": keep the latter.
    let full = e.to_string();
    let message = full
        .strip_prefix(&format!("{}: ", e.kind()))
        .unwrap_or(&full)
        .to_owned();
    match e.kind() {
        ErrorKind::ResourceNotFound => match what {
            Some((kind, name)) => Error::NotFound {
                kind,
                name: name.to_owned(),
            },
            None => Error::backend(crate::BACKEND, message),
        },
        ErrorKind::AccessDenied if message.contains("Quota exceeded") => {
            OpenStackError::QuotaExceeded { message }.into_error()
        }
        ErrorKind::InvalidInput if message.contains("image") || message.contains("Image") => {
            OpenStackError::Image { message }.into_error()
        }
        ErrorKind::InternalServerError
        | ErrorKind::ProtocolError
        | ErrorKind::OperationTimedOut
        | ErrorKind::EndpointNotFound => Error::Unavailable {
            backend: crate::BACKEND.to_owned(),
            reason: message,
        },
        _ => Error::backend(crate::BACKEND, message),
    }
}

fn os_id_or_name(v: &IdOrName) -> (osauth::common::IdOrName, Option<osauth::common::IdOrName>) {
    match v {
        IdOrName::Id(id) => (osauth::common::IdOrName::Id(id.clone()), None),
        IdOrName::Name(name, domain) => (
            osauth::common::IdOrName::Name(name.clone()),
            Some(match domain {
                Domain::Id(id) => osauth::common::IdOrName::Id(id.clone()),
                Domain::Name(n) => osauth::common::IdOrName::Name(n.clone()),
            }),
        ),
    }
}

fn unsupported_auth(what: &str) -> Error {
    Error::unsupported(
        tars_api::Feature::ContainerGroups,
        crate::BACKEND,
        format!("{what}: not supported by the Keystone client (osauth 0.5) yet"),
    )
}

fn auth_error(e: &osauth::Error) -> Error {
    match e.kind() {
        ErrorKind::AuthenticationFailed | ErrorKind::AccessDenied => Error::backend(
            crate::BACKEND,
            format!("Keystone refused the credentials: {e}"),
        ),
        _ => map_error(e, None),
    }
}

impl Client {
    /// The session, with the request about to be sent on it counted
    /// (`tars_engine::metrics::BACKEND_REQUESTS_TOTAL`).
    fn counted(&self, method: &str) -> &osauth::Session {
        tars_engine::metrics::count_request(crate::BACKEND, method);
        &self.session
    }

    /// Authenticates against Keystone with `config` and finds the endpoints in the catalog.
    pub(crate) async fn connect(config: &OpenStackConfig) -> Result<Client> {
        config.check()?;
        let mut http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120));
        if let Some(path) = &config.cacert {
            let pem = tokio::fs::read(path)
                .await
                .map_err(|e| Error::invalid("cacert", format!("{}: {e}", path.display())))?;
            let cert = reqwest::Certificate::from_pem(&pem)
                .map_err(|e| Error::invalid("cacert", format!("{}: {e}", path.display())))?;
            http = http.add_root_certificate(cert);
        }
        if config.insecure_skip_tls_verify {
            http = http.danger_accept_invalid_certs(true);
        }
        let http = http
            .build()
            .map_err(|e| Error::backend(crate::BACKEND, e))?;
        let auth_url = config.auth_url.as_str();
        let session = match &config.auth {
            Auth::Password { user, password } => {
                let IdOrName::Name(user, domain) = user else {
                    return Err(unsupported_auth("a user given by id"));
                };
                let Domain::Name(user_domain) = domain else {
                    return Err(unsupported_auth("a user domain given by id"));
                };
                let mut auth =
                    osauth::identity::Password::new(auth_url, user, password.expose(), user_domain)
                        .map_err(|e| auth_error(&e))?;
                if let Some(project) = &config.project {
                    let (p, d) = os_id_or_name(project);
                    auth.set_project_scope(p, d);
                }
                osauth::Session::new_with_client(http, auth).await
            }
            Auth::ApplicationCredential { credential, secret } => {
                let ApplicationCredentialRef::Id(id) = credential else {
                    return Err(unsupported_auth("an application credential given by name"));
                };
                let auth = osauth::identity::ApplicationCredential::new(
                    auth_url,
                    id.clone(),
                    secret.expose(),
                )
                .map_err(|e| auth_error(&e))?;
                osauth::Session::new_with_client(http, auth).await
            }
        }
        .map_err(|e| auth_error(&e))?;
        let mut session = session;
        if let Some(region) = &config.region {
            session.set_region(region.clone());
        }
        session.set_endpoint_interface(match config.interface.as_str() {
            "internal" => osauth::InterfaceType::Internal,
            "admin" => osauth::InterfaceType::Admin,
            _ => osauth::InterfaceType::Public,
        });
        Ok(Client { session })
    }

    /// Creates a server; returns its id. Nova answers 202 before scheduling: the server may
    /// still go to ERROR (see [`Client::wait_built`]).
    pub(crate) async fn create_server(&self, request: &ServerCreateRequest) -> Result<String> {
        #[derive(Deserialize)]
        struct Created {
            server: CreatedServer,
        }
        #[derive(Deserialize)]
        struct CreatedServer {
            id: String,
        }
        let created: Created = self
            .counted("POST")
            .post(COMPUTE, &["servers"])
            .api_version(microversion())
            .json(request)
            .fetch()
            .await
            .map_err(|e| map_error(&e, None))?;
        Ok(created.server.id)
    }

    /// The server `id`, `None` when it is gone.
    pub(crate) async fn server(&self, id: &str) -> Result<Option<Server>> {
        #[derive(Deserialize)]
        struct One {
            server: Server,
        }
        match self
            .counted("GET")
            .get(COMPUTE, &["servers", id])
            .api_version(microversion())
            .fetch::<One>()
            .await
        {
            Ok(one) => Ok(Some(one.server)),
            Err(e) if e.kind() == ErrorKind::ResourceNotFound => Ok(None),
            Err(e) => Err(map_error(&e, None)),
        }
    }

    /// Every server of the project with `tag` (with details), following Nova's pages.
    pub(crate) async fn servers_tagged(&self, tag: &str) -> Result<Vec<Server>> {
        self.servers(&[("tags", tag.to_owned())]).await
    }

    /// Every server of the project named exactly `name`, whoever made it.
    pub(crate) async fn servers_named(&self, name: &str) -> Result<Vec<Server>> {
        let all = self
            .servers(&[("name", format!("^{}$", regex_escape(name)))])
            .await?;
        Ok(all.into_iter().filter(|s| s.name == name).collect())
    }

    async fn servers(&self, query: &[(&str, String)]) -> Result<Vec<Server>> {
        #[derive(Deserialize)]
        struct Page {
            servers: Vec<Server>,
        }
        let mut out: Vec<Server> = Vec::new();
        loop {
            let mut q: Vec<(&str, String)> = query.to_vec();
            q.push(("limit", "1000".to_owned()));
            if let Some(last) = out.last() {
                q.push(("marker", last.id.clone()));
            }
            let page: Page = self
                .counted("GET")
                .get(COMPUTE, &["servers", "detail"])
                .api_version(microversion())
                .query(&q)
                .fetch()
                .await
                .map_err(|e| map_error(&e, None))?;
            let n = page.servers.len();
            out.extend(page.servers);
            if n < 1000 {
                return Ok(out);
            }
        }
    }

    /// Deletes server `id` (gone already is fine) and waits until Nova answers 404.
    pub(crate) async fn delete_server(&self, id: &str, timeout: Duration) -> Result<()> {
        match self
            .counted("DELETE")
            .delete(COMPUTE, &["servers", id])
            .api_version(microversion())
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::ResourceNotFound => return Ok(()),
            Err(e) => return Err(map_error(&e, None)),
        }
        let start = Instant::now();
        while let Some(server) = self.server(id).await? {
            if start.elapsed() > timeout {
                // Nova ignores a DELETE of a server it is deleting already while the server's
                // compute host is up: a delete that stalled is not sent again by anyone.
                let stalled = if crate::convert::status::is_going(&server, jiff::Timestamp::now())
                    || server.task_state.as_deref() != Some("deleting")
                {
                    String::new()
                } else {
                    format!(
                        " (Nova has had it `deleting` since {} and ignores another DELETE while \
                         its compute host is up: restarting nova-compute on its host finishes \
                         the delete, or an admin can reset its state)",
                        server.updated.as_deref().unwrap_or("?")
                    )
                };
                return Err(Error::Timeout {
                    operation: format!("deleting server {id}{stalled}"),
                    after: timeout,
                });
            }
            tokio::time::sleep(POLL).await;
        }
        Ok(())
    }

    /// Waits until server `id` has left BUILD: the server, or the typed error of its fault
    /// when it went to ERROR.
    pub(crate) async fn wait_built(&self, id: &str, timeout: Duration) -> Result<Server> {
        let start = Instant::now();
        loop {
            let Some(server) = self.server(id).await? else {
                return Err(Error::backend(
                    crate::BACKEND,
                    format!("server {id} disappeared while it was built"),
                ));
            };
            match server.status.as_str() {
                "BUILD" => {}
                "ERROR" => {
                    let message = server.fault.as_ref().map_or_else(
                        || "server went to ERROR (Nova gave no fault)".to_owned(),
                        |f| f.message.clone(),
                    );
                    return Err(OpenStackError::from_fault(&message).into_error());
                }
                _ => return Ok(server),
            }
            if start.elapsed() > timeout {
                return Err(Error::Timeout {
                    operation: format!("building server {id}"),
                    after: timeout,
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The project's server groups (`os-server-groups`: this project's only, for any user),
    /// with their members that are not deleted.
    pub(crate) async fn server_groups(&self) -> Result<Vec<ServerGroup>> {
        #[derive(Deserialize)]
        struct Groups {
            server_groups: Vec<ServerGroup>,
        }
        let mut out: Vec<ServerGroup> = Vec::new();
        loop {
            let offset = out.len().to_string();
            let page: Groups = self
                .counted("GET")
                .get(COMPUTE, &["os-server-groups"])
                .api_version(microversion())
                .query(&[("limit", "1000"), ("offset", offset.as_str())])
                .fetch()
                .await
                .map_err(|e| map_error(&e, None))?;
            let n = page.server_groups.len();
            out.extend(page.server_groups);
            if n < 1000 {
                return Ok(out);
            }
        }
    }

    /// Creates an anti-affinity server group named `name`; returns its id.
    pub(crate) async fn create_server_group(&self, name: &str) -> Result<String> {
        #[derive(Deserialize)]
        struct Created {
            server_group: ServerGroup,
        }
        let created: Created = self
            .counted("POST")
            .post(COMPUTE, &["os-server-groups"])
            .api_version(microversion())
            .json(&server_group_create(name))
            .fetch()
            .await
            .map_err(|e| map_error(&e, None))?;
        Ok(created.server_group.id)
    }

    /// Deletes server group `id` (gone already is fine).
    pub(crate) async fn delete_server_group(&self, id: &str) -> Result<()> {
        match self
            .counted("DELETE")
            .delete(COMPUTE, &["os-server-groups", id])
            .api_version(microversion())
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == ErrorKind::ResourceNotFound => Ok(()),
            Err(e) => Err(map_error(&e, None)),
        }
    }

    /// The project's flavors, with their sizes.
    pub(crate) async fn flavors(&self) -> Result<Vec<Flavor>> {
        #[derive(Deserialize)]
        struct Flavors {
            flavors: Vec<Flavor>,
        }
        let f: Flavors = self
            .counted("GET")
            .get(COMPUTE, &["flavors", "detail"])
            .api_version(microversion())
            .fetch()
            .await
            .map_err(|e| map_error(&e, None))?;
        Ok(f.flavors)
    }

    /// The id of the active Glance image named `name` (nova-docker's convention), if any.
    pub(crate) async fn find_image(&self, name: &str) -> Result<Option<String>> {
        #[derive(Deserialize)]
        struct Images {
            images: Vec<Image>,
        }
        #[derive(Deserialize)]
        struct Image {
            id: String,
            status: String,
        }
        let images: Images = self
            .counted("GET")
            .get(IMAGE, &["images"])
            .query(&find_query(name))
            .fetch()
            .await
            .map_err(|e| map_error(&e, None))?;
        Ok(images
            .images
            .into_iter()
            .find(|i| i.status == "active")
            .map(|i| i.id))
    }

    /// Registers a Glance record for container image `reference` and uploads placeholder
    /// bytes so that it becomes active (a `queued` record does not boot). Returns its id.
    pub(crate) async fn register_image(&self, reference: &str, path: &str) -> Result<String> {
        #[derive(Deserialize)]
        struct Created {
            id: String,
        }
        let body = image_create(reference, path)?;
        let created: Created = self
            .counted("POST")
            .post(IMAGE, &["images"])
            .json(&body)
            .fetch()
            .await
            .map_err(|e| map_error(&e, None))?;
        let upload = self
            .counted("PUT")
            .put(IMAGE, &["images", &created.id, "file"])
            .header("Content-Type", "application/octet-stream")
            .body(PLACEHOLDER_DATA.to_vec())
            .send()
            .await;
        if let Err(e) = upload {
            let _ = self
                .counted("DELETE")
                .delete(IMAGE, &["images", &created.id])
                .send()
                .await;
            return Err(map_error(&e, None));
        }
        Ok(created.id)
    }

    /// The image id for `reference`: found, else registered.
    pub(crate) async fn image_for(&self, reference: &str, path: &str) -> Result<String> {
        let name = crate::convert::image::image_name(reference, path)?;
        match self.find_image(&name).await? {
            Some(id) => Ok(id),
            None => self.register_image(reference, path).await,
        }
    }
}

fn microversion() -> osauth::ApiVersion {
    let (major, minor) = COMPUTE_MICROVERSION
        .split_once('.')
        .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
        .unwrap_or((2, 52));
    osauth::ApiVersion(major, minor)
}

/// `s` with the characters of a (Python) regular expression escaped, for Nova's `name` filter.
pub(crate) fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if !c.is_ascii_alphanumeric() && c != '_' && c != '-' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_and_image_errors_are_typed_with_novas_message() {
        let quota = osauth::Error::new(
            ErrorKind::AccessDenied,
            "Quota exceeded for instances: Requested 1, but already used 3 of 3 instances",
        );
        let err = map_error(&quota, None);
        let source = std::error::Error::source(&err).expect("source");
        assert!(matches!(
            source.downcast_ref::<OpenStackError>(),
            Some(OpenStackError::QuotaExceeded { message })
                if message.starts_with("Quota exceeded") && message.contains("3 of 3")
        ));
        let image = osauth::Error::new(ErrorKind::InvalidInput, "Can not find requested image");
        let err = map_error(&image, None);
        let source = std::error::Error::source(&err).expect("source");
        assert!(matches!(
            source.downcast_ref::<OpenStackError>(),
            Some(OpenStackError::Image { .. })
        ));
        let policy = osauth::Error::new(ErrorKind::AccessDenied, "Policy doesn't allow");
        assert!(!map_error(&policy, None).is_retryable());
    }

    #[test]
    fn server_errors_are_retryable_and_404_is_not_found() {
        let e = osauth::Error::new(ErrorKind::InternalServerError, "boom");
        assert!(map_error(&e, None).is_retryable());
        let e = osauth::Error::new(ErrorKind::ResourceNotFound, "gone");
        assert!(matches!(
            map_error(&e, Some((Kind::ContainerGroup, "web"))),
            Error::NotFound { name, .. } if name == "web"
        ));
    }

    #[test]
    fn faults_tell_no_valid_host_apart() {
        assert!(matches!(
            OpenStackError::from_fault("No valid host was found. There are not enough hosts"),
            OpenStackError::NoValidHost { .. }
        ));
        assert!(matches!(
            OpenStackError::from_fault(
                "Exceeded maximum number of retries. Exhausted all hosts available"
            ),
            OpenStackError::NoValidHost { .. }
        ));
        assert!(matches!(
            OpenStackError::from_fault("disk full"),
            OpenStackError::ServerFailed { .. }
        ));
    }

    #[test]
    fn names_are_escaped_for_novas_regex_filter() {
        assert_eq!(regex_escape("web-1"), "web-1");
        assert_eq!(regex_escape("a.b"), "a\\.b");
    }
}
