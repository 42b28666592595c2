//! Drains the webhook inbox: parse, fetch again by id where the body is only a hint, upsert, and
//! mark done in the same transaction. Failures retry with exponential backoff; after
//! `webhook_max_attempts` the delivery is parked as `dead` for `okno webhooks replay`.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use okno_connector::webhook::WebhookEvent;
use okno_connector::Record;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::store::{InboxRow, Store};

/// How the worker retries.
#[derive(Debug, Clone, Copy)]
pub struct WorkerOptions {
    pub max_attempts: u32,
    pub first_retry: Duration,
    pub max_retry: Duration,
    /// How often the inbox is looked at when nothing wakes the worker.
    pub poll: Duration,
}

impl WorkerOptions {
    pub fn from_config(config: &Config) -> WorkerOptions {
        WorkerOptions {
            max_attempts: config.server.as_ref().map_or(8, |s| s.webhook_max_attempts),
            first_retry: Duration::from_secs(5),
            max_retry: Duration::from_secs(3600),
            poll: Duration::from_secs(2),
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
    loop {
        match drain_once(&config, &store, &options).await {
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

/// Processes the deliveries due now; returns how many were looked at.
pub async fn drain_once(
    config: &Config,
    store: &Store,
    options: &WorkerOptions,
) -> Result<usize, crate::store::StoreError> {
    let due = store.due_deliveries(100).await?;
    for row in &due {
        match process(config, store, row).await {
            Ok(written) => {
                processed(&row.source, "done");
                tracing::debug!(instance = %row.source, delivery = %row.delivery_id, written, "webhook delivery processed")
            }
            Err(error) => {
                let attempts = row.attempts + 1;
                let dead = attempts >= i64::from(options.max_attempts);
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
                    .fail_delivery(row.seq, attempts, next, &error, dead)
                    .await?;
            }
        }
    }
    Ok(due.len())
}

fn processed(instance: &str, result: &'static str) {
    metrics::counter!("okno_webhook_processed_total", "instance" => instance.to_string(), "result" => result)
        .increment(1);
}

async fn process(config: &Config, store: &Store, row: &InboxRow) -> Result<u64, String> {
    let inst = config.instance(&row.source).ok_or_else(|| {
        format!(
            "no connector instance {:?} in the configuration",
            row.source
        )
    })?;
    let handler = inst
        .connector
        .webhooks()
        .ok_or_else(|| format!("{} has no webhooks configured", row.source))?;
    let events = handler
        .parse(&row.body)
        .map_err(|e| format!("[{}] {e}", e.class()))?;
    let mut records: Vec<Record> = Vec::new();
    for event in events {
        match event {
            WebhookEvent::Records(r) => records.extend(r),
            WebhookEvent::Refetch { stream, ids } => {
                let page = inst
                    .connector
                    .fetch_ids(&stream, &ids)
                    .await
                    .map_err(|e| format!("[{}] {e}", e.class()))?;
                records.extend(page.records);
            }
        }
    }
    store
        .complete_delivery(row.seq, &row.source, &records)
        .await
        .map_err(|e| e.to_string())
}
