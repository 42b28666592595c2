//! Drains the webhook inbox: claim a due delivery, parse it, fetch again by id where the body is
//! only a hint, upsert, and mark it done in the same transaction. Failures retry with
//! exponential backoff (capped at an hour). A delivery that keeps failing for its own reasons
//! (a body okno cannot read, refused credentials) is parked as `dead` after
//! `webhook_max_attempts` for `okno webhooks replay`; one that fails because the vendor or the
//! store is unavailable keeps retrying, so an outage never parks a backlog.
//!
//! A claim lasts [`CLAIM`]: two workers (two processes on one PostgreSQL) never process the same
//! delivery at once, and a worker that dies mid-delivery leaves it to be claimed again.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use okno_connector::webhook::WebhookEvent;
use okno_connector::Record;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::store::{InboxRow, Store};

/// How long a worker may hold a delivery before another may take it over.
pub const CLAIM: Duration = Duration::from_secs(300);

/// How the worker retries.
#[derive(Debug, Clone, Copy)]
pub struct WorkerOptions {
    pub max_attempts: u32,
    pub first_retry: Duration,
    pub max_retry: Duration,
    /// How often the inbox is looked at when nothing wakes the worker.
    pub poll: Duration,
    /// Processed deliveries are forgotten after this long.
    pub retention: Duration,
}

impl WorkerOptions {
    pub fn from_config(config: &Config) -> WorkerOptions {
        WorkerOptions {
            max_attempts: config.server.as_ref().map_or(8, |s| s.webhook_max_attempts),
            first_retry: Duration::from_secs(5),
            max_retry: Duration::from_secs(3600),
            poll: Duration::from_secs(2),
            retention: Duration::from_secs(
                86_400
                    * u64::from(
                        config
                            .server
                            .as_ref()
                            .map_or(30, |s| s.webhook_retention_days),
                    ),
            ),
        }
    }
}

/// Runs until `shutdown`; `wake` is notified when a delivery is stored.
pub async fn run(
    config: Arc<Config>,
    store: Store,
    options: WorkerOptions,
    wake: Arc<tokio::sync::Notify>,
    shutdown: CancellationToken,
) {
    let mut last_prune: Option<tokio::time::Instant> = None;
    loop {
        if last_prune.is_none_or(|t| t.elapsed() > Duration::from_secs(3600)) {
            last_prune = Some(tokio::time::Instant::now());
            let before =
                Utc::now() - chrono::Duration::from_std(options.retention).unwrap_or_default();
            match store.prune_deliveries(before).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    deliveries = n,
                    "forgot processed webhook deliveries past retention"
                ),
                Err(e) => tracing::warn!(error = %e, "could not prune the webhook inbox"),
            }
        }
        match drain_once(&config, &store, &options, &shutdown).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "cannot read the webhook inbox"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(options.poll) => {}
        }
    }
}

/// Processes the deliveries due now, stopping early on `stop`; returns how many were looked at.
pub async fn drain_once(
    config: &Config,
    store: &Store,
    options: &WorkerOptions,
    stop: &CancellationToken,
) -> Result<usize, crate::store::StoreError> {
    let holder = worker_id();
    let due = store.due_deliveries(20).await?;
    let mut looked_at = 0;
    for row in &due {
        if stop.is_cancelled() {
            break;
        }
        let dead_holder = row
            .claimed_by
            .as_deref()
            .filter(|h| row.status == "processing" && crate::sync::lease::holder_is_dead(h));
        if !store
            .claim_delivery(row.seq, holder, dead_holder, CLAIM)
            .await?
        {
            continue;
        }
        looked_at += 1;
        match process(config, store, row, holder).await {
            Ok(None) => {
                tracing::warn!(instance = %row.source, delivery = %row.delivery_id, "another worker took this delivery over while it was being processed; its result was discarded");
            }
            Ok(Some(written)) => {
                processed(&row.source, "done");
                tracing::debug!(instance = %row.source, delivery = %row.delivery_id, written, "webhook delivery processed")
            }
            Err(Failure { error, transient }) => {
                let attempts = row.attempts + 1;
                let dead = !transient && attempts >= i64::from(options.max_attempts);
                let wait = options
                    .first_retry
                    .saturating_mul(1u32 << (attempts - 1).clamp(0, 20) as u32)
                    .min(options.max_retry);
                let next = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
                processed(&row.source, if dead { "dead" } else { "retry" });
                if dead {
                    tracing::error!(instance = %row.source, delivery = %row.delivery_id, seq = row.seq, attempts, %error, "webhook delivery parked as dead; replay it with `okno webhooks replay`");
                } else {
                    tracing::warn!(instance = %row.source, delivery = %row.delivery_id, attempts, %error, "webhook delivery failed; will retry");
                }
                store
                    .fail_delivery(row.seq, holder, attempts, next, &error, dead)
                    .await?;
            }
        }
    }
    Ok(looked_at)
}

/// This process's worker identity, the same for every claim it makes.
fn worker_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(crate::sync::lease::new_holder)
}

fn processed(instance: &str, result: &'static str) {
    metrics::counter!("okno_webhook_processed_total", "instance" => instance.to_string(), "result" => result)
        .increment(1);
}

/// Why processing failed, and whether waiting can fix it (vendor or store unavailable).
struct Failure {
    error: String,
    transient: bool,
}

impl Failure {
    fn lasting(error: String) -> Failure {
        Failure {
            error,
            transient: false,
        }
    }

    fn vendor(e: okno_connector::ConnectorError) -> Failure {
        Failure {
            transient: matches!(e.class(), "transient" | "rate_limited"),
            error: format!("[{}] {e}", e.class()),
        }
    }
}

async fn process(
    config: &Config,
    store: &Store,
    row: &InboxRow,
    holder: &str,
) -> Result<Option<u64>, Failure> {
    let inst = config.instance(&row.source).ok_or_else(|| {
        Failure::lasting(format!(
            "no connector instance {:?} in the configuration",
            row.source
        ))
    })?;
    let handler = inst
        .connector
        .webhooks()
        .ok_or_else(|| Failure::lasting(format!("{} has no webhooks configured", row.source)))?;
    let events = handler.parse(&row.body).map_err(Failure::vendor)?;
    let mut records: Vec<Record> = Vec::new();
    for event in events {
        match event {
            WebhookEvent::Records(r) => records.extend(r),
            WebhookEvent::Refetch { stream, ids } => {
                let page = inst
                    .connector
                    .fetch_ids(&stream, &ids)
                    .await
                    .map_err(Failure::vendor)?;
                records.extend(page.records);
            }
        }
    }
    store
        .complete_delivery(row.seq, holder, &row.source, &records)
        .await
        .map_err(|e| Failure {
            error: e.to_string(),
            transient: true,
        })
}
