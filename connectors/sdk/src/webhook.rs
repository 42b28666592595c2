//! The webhook half of the contract: how a connector checks that a delivery really comes from
//! its vendor, and what a delivery means.
//!
//! The daemon owns the HTTP endpoint, durable storage before acknowledgement, deduplication and
//! retries; a connector only verifies raw bytes and parses them. Parsing may yield records to
//! upsert directly, or ids to refetch through the normal polling path when the vendor sends only
//! a hint (amoCRM, Zoho).

use crate::error::ConnectorError;
use crate::record::Record;

/// One delivery as received: the raw body, exactly as sent (signatures cover these bytes), and
/// the headers with lower-case names.
#[derive(Clone)]
pub struct WebhookRequest<'a> {
    /// When okno received it; timestamp checks compare against this.
    pub received_at: chrono::DateTime<chrono::Utc>,
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
    /// The path segment after `/hooks/{instance}/`, for vendors that sign nothing and are
    /// authenticated by a secret token in the URL.
    pub path_token: Option<&'a str>,
}

impl std::fmt::Debug for WebhookRequest<'_> {
    // The path token is a secret and the body may be personal data: neither is printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("WebhookRequest")
            .field("received_at", &self.received_at)
            .field("header_names", &names)
            .field("body_bytes", &self.body.len())
            .field("path_token", &self.path_token.map(|_| "***"))
            .finish()
    }
}

impl WebhookRequest<'_> {
    /// The first header with this (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a delivery was refused. The reason is logged; the sender only sees 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    #[error("signature does not match")]
    BadSignature,
    #[error("timestamp outside the accepted window")]
    Stale,
    #[error("malformed header {0}")]
    Malformed(&'static str),
}

/// What a verified delivery asks the engine to do.
#[derive(Debug)]
pub enum WebhookEvent {
    /// Upsert these records through the same path as polling.
    Records(Vec<Record>),
    /// Fetch these ids of `stream` from the vendor, because the payload is only a hint.
    Refetch { stream: String, ids: Vec<String> },
}

/// Implemented by connectors whose vendor can push changes.
pub trait WebhookHandler: Send + Sync {
    /// Checks the delivery's authenticity over the raw bytes, in constant time.
    fn verify(&self, request: &WebhookRequest<'_>) -> Result<(), VerifyError>;

    /// The vendor's delivery id for deduplication, if it sends one.
    fn delivery_id(&self, request: &WebhookRequest<'_>) -> Option<String>;

    /// Turns a verified body into what the engine should do.
    fn parse(&self, body: &[u8]) -> Result<Vec<WebhookEvent>, ConnectorError>;
}
