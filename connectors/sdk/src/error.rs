//! Errors a connector reports, classified by what the engine should do next.

use std::fmt;
use std::time::Duration;

/// Why a page could not be fetched. The engine fails the run and keeps the committed cursor in
/// every case; the class decides what the operator is told and whether the next run may succeed
/// on its own.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// Credentials were refused (401/403). Retrying cannot help; fix the secret.
    #[error("{endpoint}: the vendor refused the credentials (HTTP {status}): {message}")]
    Auth {
        endpoint: &'static str,
        status: u16,
        message: String,
    },
    /// The vendor still throttled us after every allowed wait.
    #[error("{endpoint}: rate limited by the vendor{}", retry_after.map(|d| format!(", retry after {}s", d.as_secs())).unwrap_or_default())]
    RateLimited {
        endpoint: &'static str,
        retry_after: Option<Duration>,
    },
    /// A vendor quota is spent until a known time (Google Ads' daily operations, Yandex
    /// Direct's points, Meta's usage windows). Not an error to retry: the engine records it as
    /// the instance's state, shows it in `okno status`, and schedules nothing before `until`.
    #[error("{endpoint}: the vendor's quota is spent until {} ({message})", until.format("%Y-%m-%d %H:%M UTC"))]
    Quota {
        endpoint: &'static str,
        until: chrono::DateTime<chrono::Utc>,
        message: String,
    },
    /// Server errors, timeouts, broken connections: the next run will likely succeed.
    #[error("{endpoint}: temporary failure after {attempts} attempt(s): {message}")]
    Transient {
        endpoint: &'static str,
        attempts: u32,
        message: String,
    },
    /// The vendor rejected the request itself (4xx other than 401/403/408/429).
    #[error("{endpoint}: the vendor rejected the request (HTTP {status}): {message}")]
    Permanent {
        endpoint: &'static str,
        status: u16,
        message: String,
    },
    /// The response did not have the documented shape (truncated or malformed body).
    #[error("{endpoint}: unexpected response body: {message}")]
    Decode {
        endpoint: &'static str,
        message: String,
    },
    /// The connector was asked for something it does not have (unknown stream, bad cursor).
    #[error("{0}")]
    Invalid(String),
}

impl ConnectorError {
    /// A short label for logs, `sync_run.status` details and metrics.
    pub fn class(&self) -> &'static str {
        match self {
            ConnectorError::Auth { .. } => "auth",
            ConnectorError::RateLimited { .. } => "rate_limited",
            ConnectorError::Quota { .. } => "quota",
            ConnectorError::Transient { .. } => "transient",
            ConnectorError::Permanent { .. } => "permanent",
            ConnectorError::Decode { .. } => "decode",
            ConnectorError::Invalid(_) => "invalid",
        }
    }

    /// When the vendor said it will take requests again, for throttling that outlasted the
    /// client's own waits: the engine schedules nothing for the instance before then.
    pub fn resume_at(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<chrono::DateTime<chrono::Utc>> {
        match self {
            ConnectorError::Quota { until, .. } => Some(*until),
            ConnectorError::RateLimited {
                retry_after: Some(d),
                ..
            } => chrono::Duration::from_std(*d).ok().map(|d| now + d),
            _ => None,
        }
    }

    pub fn decode(endpoint: &'static str, err: impl fmt::Display) -> Self {
        ConnectorError::Decode {
            endpoint,
            message: err.to_string(),
        }
    }
}

/// One problem in a connector's `[connector.settings]`. Validation collects all of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError {
    /// Key path below `settings`, e.g. `subdomain` or `auth.email`.
    pub key: String,
    pub message: String,
    pub hint: Option<String>,
}

impl SettingsError {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        SettingsError {
            key: key.into(),
            message: message.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)?;
        if let Some(h) = &self.hint {
            write!(f, " (hint: {h})")?;
        }
        Ok(())
    }
}
