//! A minimal client of Mesos' v1 operator API on the master (`POST /api/v1`, JSON), for the
//! read-only calls tars lists with.

use crate::scheduler::{Error, endpoint, http_client};
use crate::v1::master::{Call, CallType, GetState, Response};
use crate::v1::mesos::VersionInfo;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use reqwest::{StatusCode, Url};
use std::time::Duration;

/// How long one operator call may take (a call to `/api/v1` once hung here).
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The operator endpoint of one master.
#[derive(Clone)]
pub struct OperatorClient {
    http: reqwest::Client,
    endpoint: Url,
}

impl std::fmt::Debug for OperatorClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperatorClient")
            .field(
                "endpoint",
                &tars_api::redact::url_credentials(self.endpoint.as_str()),
            )
            .finish_non_exhaustive()
    }
}

impl OperatorClient {
    /// A client of the master at `master` (`host:port` or `http://host:port`).
    pub fn new(master: &str) -> Result<Self, Error> {
        Self::with_tls(master, &crate::TlsSettings::default())
    }

    /// [`Self::new`], for an `https://` master whose certificate is checked as `tls` says.
    pub fn with_tls(master: &str, tls: &crate::TlsSettings) -> Result<Self, Error> {
        let endpoint = endpoint(master, "/api/v1")?;
        let http = http_client(
            master,
            tls,
            reqwest::Client::builder().timeout(CALL_TIMEOUT),
        )?;
        Ok(Self { http, endpoint })
    }

    /// Sends a call without arguments and decodes the response.
    pub async fn call(&self, kind: CallType) -> Result<Response, Error> {
        tars_engine::metrics::count_request(crate::BACKEND, "POST");
        let response = self
            .http
            .post(self.endpoint.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .body(serde_json::to_vec(&Call::new(kind))?)
            .send()
            .await?;
        let status = response.status();
        let body = response.bytes().await?;
        if status != StatusCode::OK {
            return Err(Error::Status {
                status,
                body: String::from_utf8_lossy(&body).trim().to_owned(),
            });
        }
        Ok(serde_json::from_slice(&body)?)
    }

    /// `GET_VERSION`.
    pub async fn version(&self) -> Result<VersionInfo, Error> {
        let response = self.call(CallType::GetVersion).await?;
        response
            .get_version
            .map(|v| v.version_info)
            .ok_or_else(|| missing("get_version"))
    }

    /// `GET_STATE`.
    pub async fn state(&self) -> Result<GetState, Error> {
        let response = self.call(CallType::GetState).await?;
        response.get_state.ok_or_else(|| missing("get_state"))
    }
}

/// A response without the field its type promises.
fn missing(field: &'static str) -> Error {
    Error::Json(serde::de::Error::missing_field(field))
}
