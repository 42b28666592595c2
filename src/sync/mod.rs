//! The sync engine: owns the page loop, the schedule and shutdown.
//!
//! For one stream a run is: load the committed cursor, then repeatedly ask the connector for the
//! next page and commit the page together with its cursor, until the connector says the stream
//! is exhausted, a page fails, or shutdown is requested. Shutdown is honoured only between
//! commits (an in-flight fetch is dropped, which loses nothing), so the committed cursor always
//! matches the committed records. Every run leaves a `sync_run` row.

pub(crate) mod lease;
mod scheduler;

use chrono::{DateTime, Utc};
use okno_connector::{Cursor, PageRequest};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::config::Instance;
use crate::store::{Fence, RunOutcome, RunStatus, Store, StoreError};

pub use lease::{Busy, LEASE_TTL};
pub use scheduler::{is_due, run_due_once, run_scheduler};

/// What started a run, recorded in `sync_run.trigger`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Schedule,
    Once,
    Manual,
}

impl Trigger {
    pub fn as_str(&self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Once => "once",
            Trigger::Manual => "manual",
        }
    }
}

/// Receives progress of a run, page by page (a progress bar, log lines, or nothing).
pub trait Progress: Send + Sync {
    fn started(&self, _instance: &str, _stream: &str) {}
    fn page(&self, instance: &str, stream: &str, pages: u64, records: u64);
    fn finished(&self, _instance: &str, _summary: &RunSummary) {}
}

/// Logs a line per page at debug level and nothing else.
pub struct QuietProgress;

impl Progress for QuietProgress {
    fn page(&self, instance: &str, stream: &str, pages: u64, records: u64) {
        tracing::debug!(instance, stream, pages, records, "page committed");
    }
}

/// The result of one stream's run.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub run_id: i64,
    pub stream: String,
    pub pages: u64,
    /// Records received from the vendor.
    pub records: u64,
    /// Rows inserted or changed in the store.
    pub written: u64,
    pub status: RunStatus,
    pub error: Option<String>,
}

/// Errors that stop the engine itself (the store is unreachable); vendor failures are recorded
/// in the run instead.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{instance} has no stream {stream:?}")]
    UnknownStream { instance: String, stream: String },
    #[error("{instance} is being synced by {} (lease until {}); try again later", busy.holder, busy.until.format("%H:%M:%S UTC"))]
    Busy { instance: String, busy: Busy },
}

/// Options of one run.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// Forget the committed cursor first and start again from `start_date`.
    pub full: bool,
    pub trigger: Trigger,
}

/// Runs the given streams of an instance one after another (all configured streams when
/// `streams` is empty), holding the instance's lease so no other process syncs it meanwhile.
/// A failing stream does not stop the others.
pub async fn sync_instance(
    store: &Store,
    instance: &Instance,
    streams: &[String],
    opts: RunOptions,
    shutdown: &CancellationToken,
    progress: &dyn Progress,
) -> Result<Vec<RunSummary>, SyncError> {
    let lease = match lease::acquire(store, &instance.id, shutdown).await? {
        Ok(lease) => lease,
        Err(busy) => {
            return Err(SyncError::Busy {
                instance: instance.id.clone(),
                busy,
            })
        }
    };
    let fence = lease.fence();
    let result = sync_streams(
        store,
        instance,
        streams,
        opts,
        lease.token(),
        progress,
        &fence,
    )
    .await;
    lease.release().await;
    result
}

async fn sync_streams(
    store: &Store,
    instance: &Instance,
    streams: &[String],
    opts: RunOptions,
    shutdown: &CancellationToken,
    progress: &dyn Progress,
    fence: &Fence,
) -> Result<Vec<RunSummary>, SyncError> {
    let streams = if streams.is_empty() {
        instance.streams.clone()
    } else {
        streams.to_vec()
    };
    // Upkeep such as renewing a notification channel rides on the run that holds the lease,
    // so replicas do it once; a failure is reported and the sync goes on (polling does not need it).
    match instance.connector.maintain().await {
        Ok(Some(what)) => tracing::info!(instance = %instance.id, "{what}"),
        Ok(None) => {}
        Err(e) => tracing::warn!(
            instance = %instance.id,
            class = e.class(),
            "connector upkeep failed: {e}; syncing anyway"
        ),
    }
    let mut out = Vec::new();
    for stream in &streams {
        if shutdown.is_cancelled() {
            break;
        }
        let summary = stream_run(
            store,
            instance,
            stream,
            opts,
            shutdown,
            progress,
            Some(fence),
        )
        .await?;
        out.push(summary);
    }
    Ok(out)
}

/// Runs one stream to its end (or to the first failure, or to shutdown), without a lease:
/// for benchmarks and tools that own the store. [`sync_instance`] is what the daemon and
/// `okno sync` use.
pub async fn sync_stream(
    store: &Store,
    instance: &Instance,
    stream: &str,
    opts: RunOptions,
    shutdown: &CancellationToken,
    progress: &dyn Progress,
) -> Result<RunSummary, SyncError> {
    stream_run(store, instance, stream, opts, shutdown, progress, None).await
}

/// One stream's run; with a fence, every page commits only while the lease is still ours.
async fn stream_run(
    store: &Store,
    instance: &Instance,
    stream: &str,
    opts: RunOptions,
    shutdown: &CancellationToken,
    progress: &dyn Progress,
    fence: Option<&Fence>,
) -> Result<RunSummary, SyncError> {
    if instance.kind.stream(stream).is_none() {
        return Err(SyncError::UnknownStream {
            instance: instance.id.clone(),
            stream: stream.to_string(),
        });
    }
    let source = instance.id.as_str();
    if opts.full {
        store.reset_cursor(source, stream).await?;
    }
    let run_id = store
        .start_run(source, stream, opts.trigger.as_str())
        .await?;
    let span = tracing::info_span!("sync", instance = source, stream, run_id);
    run(store, instance, stream, run_id, shutdown, progress, fence)
        .instrument(span)
        .await
}

/// The body of [`sync_stream`] once its run is recorded, inside the run's tracing span.
async fn run(
    store: &Store,
    instance: &Instance,
    stream: &str,
    run_id: i64,
    shutdown: &CancellationToken,
    progress: &dyn Progress,
    fence: Option<&Fence>,
) -> Result<RunSummary, SyncError> {
    let source = instance.id.as_str();
    progress.started(source, stream);
    let started = tokio::time::Instant::now();

    let mut cursor = store.load_cursor(source, stream).await?;
    let mut outcome = RunOutcome {
        pages: 0,
        records: 0,
        status: RunStatus::Succeeded,
        error: None,
        resume_at: None,
    };
    let mut written = 0u64;
    let result = page_loop(
        store,
        instance,
        stream,
        &mut cursor,
        shutdown,
        progress,
        fence,
        &mut outcome,
        &mut written,
    )
    .await;
    if let Err(e) = result {
        // A store failure mid-run: record it if the store still answers, then report it.
        outcome.status = RunStatus::Failed;
        outcome.error = Some(e.to_string());
        let _ = store.finish_run(run_id, &outcome).await;
        return Err(e.into());
    }
    store.finish_run(run_id, &outcome).await?;
    let elapsed = started.elapsed();
    let elapsed_ms = elapsed.as_millis() as u64;
    let labels = [
        ("instance", source.to_string()),
        ("stream", stream.to_string()),
        ("result", outcome.status.as_str().to_string()),
    ];
    metrics::counter!("okno_sync_runs_total", &labels).increment(1);
    metrics::histogram!("okno_sync_run_duration_seconds", &labels).record(elapsed.as_secs_f64());
    match outcome.status {
        RunStatus::Failed => tracing::warn!(
            pages = outcome.pages,
            records = outcome.records,
            elapsed_ms,
            error = outcome.error.as_deref().unwrap_or(""),
            "sync failed; the committed cursor is kept and the next run resumes from it"
        ),
        _ => tracing::info!(
            pages = outcome.pages,
            records = outcome.records,
            written,
            elapsed_ms,
            status = outcome.status.as_str(),
            "sync finished"
        ),
    }
    let summary = RunSummary {
        run_id,
        stream: stream.to_string(),
        pages: outcome.pages,
        records: outcome.records,
        written,
        status: outcome.status,
        error: outcome.error,
    };
    progress.finished(source, &summary);
    Ok(summary)
}

/// What fetching one page came to.
enum Fetched {
    Page(okno_connector::Page),
    Failed(okno_connector::ConnectorError),
    Cancelled,
}

async fn fetch(
    instance: &Instance,
    stream: &str,
    cursor: Option<&Cursor>,
    shutdown: &CancellationToken,
) -> Fetched {
    if shutdown.is_cancelled() {
        return Fetched::Cancelled;
    }
    let request = PageRequest {
        stream,
        cursor,
        start: instance.start,
    };
    tokio::select! {
        biased;
        _ = shutdown.cancelled() => Fetched::Cancelled,
        page = instance.connector.fetch_page(request) => match page {
            Ok(p) => Fetched::Page(p),
            Err(e) => Fetched::Failed(e),
        },
    }
}

/// Fetches and commits pages until the stream ends. The next page is fetched while the current
/// one commits (the vendor and the database work at the same time); a prefetched page is only
/// ever committed after the page before it, so a failure or shutdown at any point leaves the
/// committed cursor matching the committed records.
#[allow(clippy::too_many_arguments)]
async fn page_loop(
    store: &Store,
    instance: &Instance,
    stream: &str,
    cursor: &mut Option<Cursor>,
    shutdown: &CancellationToken,
    progress: &dyn Progress,
    fence: Option<&Fence>,
    outcome: &mut RunOutcome,
    written: &mut u64,
) -> Result<(), StoreError> {
    let source = instance.id.as_str();
    let mut fetched = fetch(instance, stream, cursor.as_ref(), shutdown).await;
    loop {
        let page = match fetched {
            Fetched::Page(p) => p,
            Fetched::Failed(e) => {
                outcome.status = RunStatus::Failed;
                outcome.error = Some(format!("[{}] {e}", e.class()));
                outcome.resume_at = e.resume_at(Utc::now());
                return Ok(());
            }
            Fetched::Cancelled => {
                outcome.status = RunStatus::Cancelled;
                return Ok(());
            }
        };
        let stalled = page.has_more && page.records.is_empty() && page.next == *cursor;
        let commit =
            store.commit_page_fenced(source, stream, &page.records, page.next.as_ref(), fence);
        let (committed, next) = if page.has_more && !stalled {
            let prefetch = fetch(instance, stream, page.next.as_ref(), shutdown);
            let (committed, next) = tokio::join!(commit, prefetch);
            (committed, Some(next))
        } else {
            (commit.await, None)
        };
        // A failed commit discards the prefetched page: it is fetched again next run.
        let changed = committed?;
        *written += changed;
        let labels = [
            ("instance", source.to_string()),
            ("stream", stream.to_string()),
        ];
        metrics::counter!("okno_records_received_total", &labels)
            .increment(page.records.len() as u64);
        metrics::counter!("okno_rows_written_total", &labels).increment(changed);
        outcome.pages += 1;
        outcome.records += page.records.len() as u64;
        progress.page(source, stream, outcome.pages, outcome.records);
        *cursor = page.next;
        if stalled {
            outcome.status = RunStatus::Failed;
            outcome.error = Some(
                "the connector returned an empty page with an unchanged cursor and more to come; stopping to avoid a loop".into(),
            );
            return Ok(());
        }
        match next {
            Some(n) => fetched = n,
            None => return Ok(()),
        }
    }
}

/// Until when the instance waits for a vendor quota its last run exhausted, if it still does.
pub async fn quota_wait(
    store: &Store,
    instance: &Instance,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let runs = store.latest_runs(Some(&instance.id)).await?;
    Ok(runs
        .iter()
        .filter_map(|r| r.resume_at)
        .filter(|t| *t > now)
        .max())
}

/// When a run of this instance last started, per stream; `None` for a stream never run.
pub async fn last_started(
    store: &Store,
    instance: &Instance,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let runs = store.latest_runs(Some(&instance.id)).await?;
    let mut oldest: Option<DateTime<Utc>> = None;
    for stream in &instance.streams {
        match runs.iter().find(|r| &r.stream == stream) {
            None => return Ok(None),
            Some(r) => oldest = Some(oldest.map_or(r.started_at, |o| o.min(r.started_at))),
        }
    }
    Ok(oldest)
}
