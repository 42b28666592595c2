//! The connector contract: one page at a time, plus the descriptor the daemon's registry lists.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::{ConnectorError, SettingsError};
use crate::http::HttpOptions;
use crate::record::Record;

/// Where a stream stopped: opaque to the engine, meaningful only to the connector that wrote it.
/// It is stored in the same transaction as the page it follows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Cursor(pub serde_json::Value);

/// What the engine asks for: the next page of `stream` after `cursor`.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest<'a> {
    pub stream: &'a str,
    /// The committed cursor; `None` on the first run or a `--full` resync.
    pub cursor: Option<&'a Cursor>,
    /// Where a first backfill starts (`start_date` from config).
    pub start: DateTime<Utc>,
}

/// One page of records and the cursor to store with it.
#[derive(Debug)]
pub struct Page {
    pub records: Vec<Record>,
    /// The cursor to commit together with `records`. `None` clears it, so the next run starts
    /// from the beginning again (full-refresh streams do this after their last page).
    pub next: Option<Cursor>,
    /// Whether the engine should ask for another page now.
    pub has_more: bool,
}

/// A vendor connector instance, built from its `[[connector]]` block.
#[async_trait::async_trait]
pub trait Connector: Send + Sync + 'static {
    /// Fetches one page. Must not retry by hand (the [`crate::HttpClient`] does) and must not
    /// keep state between calls that the cursor does not carry: a crash may resume anywhere.
    async fn fetch_page(&self, req: PageRequest<'_>) -> Result<Page, ConnectorError>;

    /// Calls the vendor once to check credentials and reachability (`okno validate --online`).
    /// Returns a one-line description of what was reached, without secrets.
    async fn check(&self) -> Result<String, ConnectorError>;

    /// Fetches these records of `stream` by vendor id, for webhooks that only name what changed.
    /// Ids the vendor no longer has are left out of the page.
    async fn fetch_ids(&self, stream: &str, ids: &[String]) -> Result<Page, ConnectorError> {
        let _ = ids;
        Err(ConnectorError::Invalid(format!(
            "this connector cannot fetch {stream} by id"
        )))
    }

    /// The connector's webhook handler, if its vendor pushes changes.
    fn webhooks(&self) -> Option<&dyn crate::webhook::WebhookHandler> {
        None
    }

    /// Exchanges an OAuth authorisation code for the first token pair and stores it
    /// (`okno auth <kind> <instance> --code CODE`). Returns a one-line description.
    async fn authorize(&self, code: &str) -> Result<String, ConnectorError> {
        let _ = code;
        Err(ConnectorError::Invalid(
            "this connector does not use OAuth authorisation codes".into(),
        ))
    }

    /// Registers okno's callback URL with the vendor for whatever the instance watches
    /// (`okno webhooks register <instance>`), e.g. one Trello webhook per board. Idempotent:
    /// existing registrations are kept. Returns one line per registration.
    async fn register_webhooks(&self) -> Result<Vec<String>, ConnectorError> {
        Err(ConnectorError::Invalid(
            "this connector's webhooks are set up in the vendor's own settings".into(),
        ))
    }

    /// Upkeep the engine runs before each scheduled sync of the instance, such as renewing a
    /// vendor's notification channel before it expires. Returns what it did, if anything.
    async fn maintain(&self) -> Result<Option<String>, ConnectorError> {
        Ok(None)
    }
}

/// A stream a connector offers.
#[derive(Debug, Clone, Copy)]
pub struct StreamSpec {
    pub name: &'static str,
    /// What the stream pulls and how it resumes (cursor field), for `okno connectors`.
    pub doc: &'static str,
    /// Pulled when a `[[connector]]` block does not list its `streams`.
    pub default: bool,
}

/// One key of a connector's `[connector.settings]` table.
#[derive(Debug, Clone, Copy)]
pub struct SettingSpec {
    pub name: &'static str,
    pub doc: &'static str,
    pub required: bool,
    /// Secrets accept `${ENV}` or `<name>_file = "/path"`; a literal value is accepted with a warning.
    pub secret: bool,
    pub example: &'static str,
}

/// A request budget the connector shares across its calls, e.g. Zendesk's incremental exports.
/// Overridable per instance with `[connector.rate_limit] <name> = <requests per minute>`.
#[derive(Debug, Clone, Copy)]
pub struct RateBucket {
    pub name: &'static str,
    pub per_minute: u32,
    pub doc: &'static str,
}

/// Everything a connector needs to build an instance. Building does no I/O.
#[derive(Clone)]
pub struct BuildContext {
    /// The instance id from config (`[[connector]] id`), also the `source` of its rows.
    pub instance: String,
    /// `[connector.settings]`, with `${ENV}` references and `*_file` secrets already resolved.
    pub settings: serde_json::Value,
    /// `base_url` override (custom domains, tests).
    pub base_url: Option<Url>,
    pub http: HttpOptions,
    /// Where OAuth connectors keep their tokens (attached to the store once it is open).
    pub tokens: crate::oauth::TokenVault,
}

/// Builds an instance from its validated block; every settings problem is returned at once.
pub type BuildFn = fn(BuildContext) -> Result<Arc<dyn Connector>, Vec<SettingsError>>;

impl std::fmt::Debug for BuildContext {
    // `settings` holds resolved secrets as plain strings: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuildContext")
            .field("instance", &self.instance)
            .field("base_url", &self.base_url.as_ref().map(|u| u.as_str()))
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

/// The registry entry of one connector kind.
pub struct ConnectorKind {
    pub kind: &'static str,
    pub summary: &'static str,
    pub streams: &'static [StreamSpec],
    pub settings: &'static [SettingSpec],
    pub rate_buckets: &'static [RateBucket],
    pub build: BuildFn,
}

impl ConnectorKind {
    pub fn stream(&self, name: &str) -> Option<&StreamSpec> {
        self.streams.iter().find(|s| s.name == name)
    }
}

impl std::fmt::Debug for ConnectorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectorKind")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}
