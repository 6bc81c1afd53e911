//! TLS to the Mesos master (`https://host:5050`, a Mesos built with SSL): certificates are
//! verified, against the system's roots (webpki) and an extra CA if one is given; the opt-out
//! is [`crate::MesosConfig::insecure_skip_tls_verify_for_test_clusters`], loudly logged.

use std::path::PathBuf;

use tars_api::{Error, Result};

/// How the clients of one backend check the master's certificate.
#[derive(Clone, Debug, Default)]
pub struct TlsSettings {
    /// A PEM file of CA certificates to trust besides the system's.
    pub(crate) ca_file: Option<PathBuf>,
    /// **Insecure**: any certificate is accepted.
    pub(crate) insecure: bool,
}

impl TlsSettings {
    /// Verification on, against the system's roots and the CA certificates in the PEM file
    /// `ca_file` (a private CA's, a self-signed master's).
    pub fn with_ca_file(ca_file: impl Into<PathBuf>) -> Self {
        TlsSettings {
            ca_file: Some(ca_file.into()),
            insecure: false,
        }
    }

    /// **Insecure**: accepts any certificate (test clusters with throw-away certificates).
    pub fn insecure_skip_verify() -> Self {
        TlsSettings {
            ca_file: None,
            insecure: true,
        }
    }

    /// `builder` with these settings: the extra CA added, or verification turned off.
    pub(crate) fn apply(&self, builder: reqwest::ClientBuilder) -> Result<reqwest::ClientBuilder> {
        let mut builder = builder.use_rustls_tls();
        if let Some(path) = &self.ca_file {
            let pem = std::fs::read(path)
                .map_err(|e| Error::invalid("tls.ca_file", format!("{}: {e}", path.display())))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| Error::invalid("tls.ca_file", format!("{}: {e}", path.display())))?;
            if certs.is_empty() {
                return Err(Error::invalid(
                    "tls.ca_file",
                    format!("{}: no PEM certificate in it", path.display()),
                ));
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        if self.insecure {
            builder = builder.danger_accept_invalid_certs(true);
        }
        Ok(builder)
    }

    /// Logs, at WARN, that verification is off for `master`, when it is.
    pub(crate) fn warn_if_insecure(&self, master: &str) {
        if self.insecure {
            tracing::warn!(
                master = %tars_api::redact::url_credentials(master),
                "TLS verification is OFF for the Mesos master \
                 (insecure_skip_tls_verify_for_test_clusters): any certificate is accepted"
            );
        }
    }
}
