//! Helpers for connector tests: options that do not wait on real budgets, and fixture loading.

use std::path::Path;
use std::time::Duration;

use serde_json::value::RawValue;

use crate::connector::{Connector, Cursor, Page, PageRequest};
use crate::error::ConnectorError;
use crate::http::{HttpOptions, RetryPolicy};
use crate::record::Record;

pub use wiremock;

/// A vendor stand-in (a connector's `mock` feature): it mounts its endpoints on a wiremock
/// server, and gets `start` and `start_unrecorded` for that.
#[async_trait::async_trait]
pub trait MockVendor: Sync {
    /// Mounts the vendor's endpoints on `server` and returns it.
    async fn mount(&self, server: wiremock::MockServer) -> wiremock::MockServer;

    /// A new server with every endpoint mounted; its `uri()` is the base URL.
    async fn start(&self) -> wiremock::MockServer {
        self.mount(wiremock::MockServer::start().await).await
    }

    /// As [`MockVendor::start`], without keeping every request (memory stays flat in
    /// benchmarks that serve thousands of pages).
    async fn start_unrecorded(&self) -> wiremock::MockServer {
        self.mount(
            wiremock::MockServer::builder()
                .disable_request_recording()
                .start()
                .await,
        )
        .await
    }
}

/// HTTP options for tests: no rate budgets, short backoffs (tests pause time anyway), 3 tries.
pub fn test_http_options() -> HttpOptions {
    HttpOptions {
        timeout: Duration::from_secs(10),
        retry: RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            max_retry_after: Duration::from_secs(3600),
        },
        ..HttpOptions::default()
    }
}

/// Reads `tests/fixtures/<name>` of the calling crate.
pub fn fixture(manifest_dir: &str, name: &str) -> String {
    let path = Path::new(manifest_dir).join("tests/fixtures").join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("fixture {} unreadable: {e}", path.display()))
}

/// The records of one kind, in page order, picked by a `Record::as_*` accessor:
/// `of_kind(&page.records, Record::as_ad_spend)`.
pub fn of_kind<'a, T: ?Sized + 'a>(
    records: &'a [Record],
    pick: impl Fn(&'a Record) -> Option<&'a T>,
) -> Vec<&'a T> {
    records.iter().filter_map(pick).collect()
}

/// Builds a vendor JSON value from its text, for unit tests of mapping code; panics on bad JSON.
pub fn raw_json(s: &str) -> Box<RawValue> {
    RawValue::from_string(s.to_string()).expect("test JSON parses")
}

/// Asks `connector` for one page of `stream`: a [`PageRequest`] spelled as arguments.
pub async fn fetch(
    connector: &dyn Connector,
    stream: &str,
    cursor: Option<&Cursor>,
    start: chrono::DateTime<chrono::Utc>,
) -> Result<Page, ConnectorError> {
    connector
        .fetch_page(PageRequest {
            stream,
            cursor,
            start,
        })
        .await
}

/// Lets the runtime run for `ms` of real time: socket I/O progresses while paused time does not.
/// Tests under `start_paused` use it between manual clock moves.
pub async fn real_pause(ms: u64) {
    tokio::task::spawn_blocking(move || std::thread::sleep(Duration::from_millis(ms)))
        .await
        .unwrap();
}

/// Drives a connector's page loop the way the engine does, without a store: returns every record
/// and the final cursor. For connector unit tests; the engine's own loop is tested in `okno`.
pub async fn drain(
    connector: &dyn Connector,
    stream: &str,
    mut cursor: Option<Cursor>,
    start: chrono::DateTime<chrono::Utc>,
) -> Result<(Vec<Record>, Option<Cursor>), ConnectorError> {
    let mut all = Vec::new();
    for _ in 0..10_000 {
        let page = connector
            .fetch_page(PageRequest {
                stream,
                cursor: cursor.as_ref(),
                start,
            })
            .await?;
        all.extend(page.records);
        cursor = page.next;
        if !page.has_more {
            return Ok((all, cursor));
        }
    }
    Err(ConnectorError::Invalid(
        "connector never reported the end of the stream".into(),
    ))
}
