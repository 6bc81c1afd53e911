//! The one error type every tars operation returns.

use std::time::Duration;

use crate::capability::Feature;
use crate::meta::Kind;

/// Result alias used across tars.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in a tars operation, by meaning rather than by origin.
///
/// Backends map their own errors onto these variants so that a service can react the same way on
/// every engine: retry what [`Error::is_retryable`] says is temporary, report `Invalid` to the
/// user with its field path, treat `Unsupported` as a configuration problem.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is wrong; `field` is the path of the offending field
    /// (`spec.template.containers[1].ports[0].container_port`). No remote call was made.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// Dotted path of the field, with `[i]` for list items.
        field: String,
        /// What is wrong with it, in words a user can act on.
        reason: String,
    },
    /// No object of that kind and name is managed by this tars instance.
    #[error("{kind} {name:?} not found")]
    NotFound {
        /// The object's kind.
        kind: Kind,
        /// The object's name.
        name: String,
    },
    /// An object of that kind and name exists already (create-only operations).
    #[error("{kind} {name:?} already exists")]
    AlreadyExists {
        /// The object's kind.
        kind: Kind,
        /// The object's name.
        name: String,
    },
    /// The operation conflicts with the object's current state or ownership, for example an
    /// object of that name exists but was not created by this tars instance.
    #[error("conflict on {kind} {name:?}: {reason}")]
    Conflict {
        /// The object's kind.
        kind: Kind,
        /// The object's name.
        name: String,
        /// Why the operation was refused.
        reason: String,
    },
    /// The backend cannot do this. Never a silent no-op.
    #[error("{feature} is not supported by the {backend} backend: {reason}")]
    Unsupported {
        /// The feature or operation asked for.
        feature: Feature,
        /// The backend's name (`local`, `k8s`, ...).
        backend: String,
        /// Why, and what to use instead when there is an alternative.
        reason: String,
    },
    /// The engine could not be reached or is temporarily unable to answer. Retryable.
    #[error("{backend} unavailable: {reason}")]
    Unavailable {
        /// The backend's name.
        backend: String,
        /// What failed.
        reason: String,
    },
    /// The operation did not finish in time. Retryable for idempotent operations.
    #[error("{operation} timed out after {after:?}")]
    Timeout {
        /// What was being waited for.
        operation: String,
        /// How long was waited.
        after: Duration,
    },
    /// Any other failure of the engine, with its own error as the source.
    #[error("{backend} backend error: {source}")]
    Backend {
        /// The backend's name.
        backend: String,
        /// The engine's or client's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

impl Error {
    /// `Invalid` for `field`, with `reason`.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// `Unsupported` for `feature` on `backend`, with `reason`.
    pub fn unsupported(
        feature: Feature,
        backend: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Error::Unsupported {
            feature,
            backend: backend.into(),
            reason: reason.into(),
        }
    }

    /// `Backend` wrapping any error of the engine or its client.
    pub fn backend(
        backend: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        Error::Backend {
            backend: backend.into(),
            source: source.into(),
        }
    }

    /// True when the same call may succeed if tried again later (`Unavailable`, `Timeout`).
    /// Callers should still retry only idempotent operations.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Unavailable { .. } | Error::Timeout { .. })
    }

    /// The field path when this is `Invalid`.
    pub fn field(&self) -> Option<&str> {
        match self {
            Error::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unavailable_and_timeout_are_retryable() {
        assert!(
            Error::Unavailable {
                backend: "k8s".into(),
                reason: "connection refused".into()
            }
            .is_retryable()
        );
        assert!(
            Error::Timeout {
                operation: "apply".into(),
                after: Duration::from_secs(1)
            }
            .is_retryable()
        );
        assert!(!Error::invalid("metadata.name", "empty").is_retryable());
        assert!(
            !Error::NotFound {
                kind: Kind::ContainerGroup,
                name: "x".into()
            }
            .is_retryable()
        );
    }

    #[test]
    fn invalid_names_the_field_in_its_message() {
        let e = Error::invalid("spec.replicas", "must be at most 10000");
        assert_eq!(e.field(), Some("spec.replicas"));
        assert_eq!(
            e.to_string(),
            "invalid spec.replicas: must be at most 10000"
        );
    }
}
