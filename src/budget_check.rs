//! The daemon's budget check: on `[budget] check_schedule` (hourly by default), `okno run`
//! (and `okno run --once`, after its syncs) builds the budget report of the current month (src/figures/budget.rs), sets the budget
//! gauges of `/metrics`, logs every alert as a warning and, when `[budget] alert_webhook` is
//! set, POSTs each alert there as JSON.
//!
//! A webhook gets an alert (line, kind) at most once a day of the report zone, however many
//! checks, restarts or replicas there are: the sending is claimed in `budget_alert_sent`
//! before the POST, and given back when every attempt failed so the next check tries again.
//! The POST goes through the connectors' HTTP client, whose retry and backoff are written once
//! for all of okno. A failure is logged (the webhook's host only: its URL may carry a token)
//! and never stops the daemon.
//!
//! Metrics (line ids come from `budgets.toml` and imports, so the label sets stay bounded):
//! - `okno_budget_utilisation{line}`: actual / plan (NaN when the plan is zero).
//! - `okno_budget_forecast_ratio{line}`: pacing forecast / plan (NaN before the line starts).
//! - `okno_budget_alert{line,kind}`: 1 while the alert holds, else 0.
//! - `okno_budget_checks_total{result}` and `okno_budget_webhook_total{result}`
//!   (`delivered`, `failed`).

use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use okno_connector::rust_decimal::prelude::ToPrimitive;
use okno_connector::{HttpClient, HttpOptions, RetryPolicy};
use tokio_util::sync::CancellationToken;

use crate::config::budgets::AlertWebhook;
use crate::config::Config;
use crate::figures::budget::{self, Alert, AlertKind, BudgetError, BudgetReport};
use crate::figures::table::{money, ratio};
use crate::store::{Store, StoreError};

/// How alerts are POSTed.
#[derive(Debug, Clone)]
pub struct WebhookOptions {
    pub timeout: Duration,
    pub retry: RetryPolicy,
}

impl Default for WebhookOptions {
    /// Four tries over about half a minute: enough for a restarting receiver, short enough
    /// that a check never runs into the next one.
    fn default() -> Self {
        WebhookOptions {
            timeout: Duration::from_secs(15),
            retry: RetryPolicy {
                max_attempts: 4,
                initial_backoff: Duration::from_secs(2),
                max_backoff: Duration::from_secs(20),
                max_retry_after: Duration::from_secs(60),
            },
        }
    }
}

/// The alert webhook: its URL and the client that posts to it.
#[derive(Clone)]
pub struct Webhook {
    url: AlertWebhook,
    client: HttpClient,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Webhook {
    pub fn new(url: AlertWebhook, options: &WebhookOptions) -> Result<Webhook, CheckError> {
        let http = HttpOptions {
            timeout: options.timeout,
            retry: options.retry,
            ..HttpOptions::default()
        };
        let client = HttpClient::new("budget_webhook", "budget", &http)
            .map_err(|e| CheckError::Client(e.to_string()))?;
        Ok(Webhook { url, client })
    }

    /// POSTs one alert, retrying what is worth retrying.
    async fn post(&self, body: &serde_json::Value) -> Result<(), okno_connector::ConnectorError> {
        let url = self.url.url().clone();
        self.client
            .send("budget_alert", "webhook", |c| {
                c.post(url.clone()).json(body)
            })
            .await
            .map(|_| ())
    }
}

/// Why a check failed (logged by the daemon; the next check runs anyway).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Budget(#[from] BudgetError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot build the webhook client: {0}")]
    Client(String),
}

/// What one check did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckOutcome {
    pub lines: usize,
    pub alerts: usize,
    /// Alerts the webhook accepted in this check.
    pub delivered: usize,
    /// Alerts the webhook already had today (from an earlier check or another replica).
    pub already_sent: usize,
    /// Alerts every attempt failed to deliver; tried again at the next check.
    pub failed: usize,
}

/// The JSON an alert is POSTed as.
fn payload(report: &BudgetReport, alert: &Alert) -> serde_json::Value {
    let line = report.lines.iter().find(|l| l.id == alert.line);
    let m = |d: Option<okno_connector::rust_decimal::Decimal>| d.map(money);
    serde_json::json!({
        "source": "okno",
        "type": "budget_alert",
        "kind": alert.kind.as_str(),
        "line": alert.line,
        "day": report.today.to_string(),
        "message": alert.message,
        "currency": report.currency.to_string(),
        "plan": m(line.map(|l| l.plan)),
        "actual": m(line.map(|l| l.actual)),
        "forecast": m(line.and_then(|l| l.forecast())),
        "forecast_vs_plan": line.and_then(|l| ratio(l.forecast_vs_plan())),
        "cpl": m(line.and_then(|l| l.cpl())),
        "target_cpl": m(line.and_then(|l| l.target_cpl)),
    })
}

fn gauge_value(d: Option<okno_connector::rust_decimal::Decimal>) -> f64 {
    d.and_then(|d| d.to_f64()).unwrap_or(f64::NAN)
}

/// One check as of `today` (a day of the report zone): the current month's report, gauges,
/// log lines and, with a webhook, each alert not yet sent today.
pub async fn check(
    store: &Store,
    config: &Config,
    today: NaiveDate,
    webhook: Option<&Webhook>,
) -> Result<CheckOutcome, CheckError> {
    // Nothing planned, nothing to check (and no runway to fail on a missing rate).
    if config.budgets.lines.is_empty() && store.budget_lines().await?.is_empty() {
        return Ok(CheckOutcome::default());
    }
    let report = budget::budget(store, config, &budget::month_of(today), today).await?;
    let alerts = report.alerts();
    for l in &report.lines {
        metrics::gauge!("okno_budget_utilisation", "line" => l.id.clone())
            .set(gauge_value(l.utilisation()));
        metrics::gauge!("okno_budget_forecast_ratio", "line" => l.id.clone())
            .set(gauge_value(l.forecast_vs_plan()));
        for kind in [AlertKind::Overspend, AlertKind::Cpl] {
            let on = l.alerts.contains(&kind);
            metrics::gauge!("okno_budget_alert", "line" => l.id.clone(), "kind" => kind.as_str())
                .set(if on { 1.0 } else { 0.0 });
        }
    }
    let mut out = CheckOutcome {
        lines: report.lines.len(),
        alerts: alerts.len(),
        ..CheckOutcome::default()
    };
    for a in &alerts {
        tracing::warn!(line = %a.line, kind = a.kind.as_str(), "{}", a.message);
        let Some(hook) = webhook else { continue };
        if !store
            .claim_budget_alert(&a.line, a.kind.as_str(), today)
            .await?
        {
            out.already_sent += 1;
            continue;
        }
        match hook.post(&payload(&report, a)).await {
            Ok(()) => {
                out.delivered += 1;
                metrics::counter!("okno_budget_webhook_total", "result" => "delivered")
                    .increment(1);
            }
            Err(e) => {
                out.failed += 1;
                metrics::counter!("okno_budget_webhook_total", "result" => "failed").increment(1);
                tracing::error!(
                    line = %a.line,
                    kind = a.kind.as_str(),
                    webhook_host = %hook.url.host(),
                    error = %e,
                    "the budget alert webhook did not take the alert; the next check tries again"
                );
                store
                    .release_budget_alert(&a.line, a.kind.as_str(), today)
                    .await?;
            }
        }
    }
    Ok(out)
}

/// Today in the report zone.
pub fn today(config: &Config) -> NaiveDate {
    Utc::now()
        .with_timezone(&config.report.timezone)
        .date_naive()
}

/// The configured webhook, if any; a client that cannot be built is logged and left out.
fn configured_webhook(config: &Config, options: &WebhookOptions) -> Option<Webhook> {
    let url = config.budgets.alert_webhook.clone()?;
    match Webhook::new(url, options) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::error!(error = %e, "budget alerts go to the log and /metrics only");
            None
        }
    }
}

/// One check now, as of today, with the configured webhook (`okno run --once`).
pub async fn check_now(store: &Store, config: &Config) -> Result<CheckOutcome, CheckError> {
    let webhook = configured_webhook(config, &WebhookOptions::default());
    check(store, config, today(config), webhook.as_ref()).await
}

/// The daemon's task: a check at every time of `[budget] check_schedule` (and one at start),
/// until `shutdown`. A failed check is logged and the schedule goes on.
pub async fn run(
    config: Arc<Config>,
    store: Store,
    options: WebhookOptions,
    shutdown: CancellationToken,
) {
    let webhook = configured_webhook(&config, &options);
    let schedule = config.budgets.check_schedule();
    loop {
        if shutdown.is_cancelled() {
            return;
        }
        let result = check(&store, &config, today(&config), webhook.as_ref()).await;
        let label = match &result {
            Ok(o) if o.lines == 0 => {
                tracing::debug!("budget checked: no line of this month");
                "ok"
            }
            Ok(o) => {
                tracing::info!(
                    lines = o.lines,
                    alerts = o.alerts,
                    delivered = o.delivered,
                    failed = o.failed,
                    "budget checked"
                );
                "ok"
            }
            Err(e) => {
                tracing::error!(error = %e, "the budget check failed; the next one runs on schedule");
                "failed"
            }
        };
        metrics::counter!("okno_budget_checks_total", "result" => label).increment(1);
        let Some(next) = schedule.upcoming(Utc).next() else {
            tracing::warn!("[budget] check_schedule has no future times; budget checks stop");
            return;
        };
        let wait = (next - Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}
