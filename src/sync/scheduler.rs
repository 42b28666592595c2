//! Cron scheduling: one task per enabled instance; the instance lease keeps runs of one instance
//! from overlapping, in this process or across processes.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::{
    last_started, quota_wait, sync_instance, Progress, RunOptions, RunSummary, SyncError, Trigger,
};
use crate::config::{Config, Instance};
use crate::store::Store;

/// Whether an instance is due: never run, or a scheduled time passed since its last run began.
pub fn is_due(schedule: &cron::Schedule, last: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    match last {
        None => true,
        Some(last) => schedule.after(&last).next().is_some_and(|t| t <= now),
    }
}

/// What one instance's `--once` run came to; an instance another process is syncing is
/// `Err(SyncError::Busy)`.
pub type InstanceResult = (String, Result<Vec<RunSummary>, SyncError>);

/// Runs every due instance once, instances in parallel, and returns what ran (`okno run --once`).
pub async fn run_due_once(
    config: &Config,
    store: &Store,
    shutdown: &CancellationToken,
    progress: &dyn Progress,
) -> Result<Vec<InstanceResult>, SyncError> {
    let now = Utc::now();
    let mut due = Vec::new();
    for inst in config.connectors.iter().filter(|c| c.enabled) {
        if let Some(until) = quota_wait(store, inst, now).await? {
            tracing::info!(instance = %inst.id, until = %until, "waiting for the vendor's quota; skipped");
        } else if is_due(&inst.schedule, last_started(store, inst).await?, now) {
            due.push(inst);
        } else {
            tracing::info!(instance = %inst.id, "not due yet; skipped");
        }
    }
    let runs = due.iter().map(|inst| async {
        let opts = RunOptions {
            full: false,
            trigger: Trigger::Once,
        };
        let res = sync_instance(store, inst, &[], opts, shutdown, progress).await;
        (inst.id.clone(), res)
    });
    Ok(futures::future::join_all(runs).await)
}

/// The daemon's loop: one task per enabled instance, sleeping until its next cron time. A run
/// missed while okno was down is made up at start. Returns when `shutdown` fires and every task
/// has stopped between pages.
pub async fn run_scheduler(
    config: Arc<Config>,
    store: Store,
    shutdown: CancellationToken,
    progress: Arc<dyn Progress>,
) {
    let mut tasks = tokio::task::JoinSet::new();
    for (index, inst) in config.connectors.iter().enumerate() {
        if !inst.enabled {
            tracing::info!(instance = %inst.id, "disabled; not scheduled");
            continue;
        }
        let config = config.clone();
        let store = store.clone();
        let shutdown = shutdown.clone();
        let progress = progress.clone();
        tasks.spawn(async move {
            let inst = &config.connectors[index];
            instance_loop(inst, &store, &shutdown, progress.as_ref()).await;
        });
    }
    while tasks.join_next().await.is_some() {}
}

async fn instance_loop(
    inst: &Instance,
    store: &Store,
    shutdown: &CancellationToken,
    progress: &dyn Progress,
) {
    let mut catch_up = true;
    loop {
        if catch_up {
            catch_up = false;
            let due = match last_started(store, inst).await {
                Ok(last) => is_due(&inst.schedule, last, Utc::now()),
                Err(e) => {
                    tracing::error!(instance = %inst.id, error = %e, "cannot read run history");
                    false
                }
            };
            if !due {
                continue;
            }
        } else {
            let Some(next) = inst.schedule.upcoming(Utc).next() else {
                tracing::warn!(instance = %inst.id, "schedule has no future times; instance idle");
                return;
            };
            let wait = (next - Utc::now()).to_std().unwrap_or_default();
            tracing::debug!(instance = %inst.id, next = %next, "sleeping until the next run");
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
        if shutdown.is_cancelled() {
            return;
        }
        // A spent quota is a state, not a failure to retry: nothing runs before it resets.
        match quota_wait(store, inst, Utc::now()).await {
            Ok(Some(until)) => {
                tracing::info!(instance = %inst.id, until = %until, "waiting for the vendor's quota; run skipped");
                continue;
            }
            Ok(None) => {}
            Err(e) => tracing::error!(instance = %inst.id, error = %e, "cannot read run history"),
        }
        let opts = RunOptions {
            full: false,
            trigger: Trigger::Schedule,
        };
        match sync_instance(store, inst, &[], opts, shutdown, progress).await {
            Ok(_) => {}
            Err(e @ SyncError::Busy { .. }) => tracing::info!(instance = %inst.id, "skipped: {e}"),
            Err(e) => tracing::error!(instance = %inst.id, error = %e, "sync could not run"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, TimeZone};

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, h, m, 0).unwrap()
    }

    #[test]
    fn an_instance_never_run_is_due() {
        let every_15 = crate::config::parse_schedule("*/15 * * * *").unwrap();
        assert!(is_due(&every_15, None, at(10, 1)));
    }

    #[test]
    fn due_once_a_scheduled_time_passed_since_the_last_start() {
        let every_15 = crate::config::parse_schedule("*/15 * * * *").unwrap();
        // Last run 10:01; next slot 10:15.
        assert!(!is_due(&every_15, Some(at(10, 1)), at(10, 14)));
        assert!(is_due(&every_15, Some(at(10, 1)), at(10, 15)));
        // Down for a day: due (one catch-up run, not one per missed slot).
        assert!(is_due(&every_15, Some(at(10, 1)), at(23, 59)));
    }

    #[test]
    fn five_field_crontab_lines_get_a_seconds_field() {
        let s = crate::config::parse_schedule("30 2 * * 1").unwrap();
        let next = s.after(&at(0, 0)).next().unwrap();
        // 2026-11-23 is a Monday.
        assert_eq!(next, at(2, 30));
        assert!(crate::config::parse_schedule("every hour").is_err());
        // Sunday is 0 or 7 in crontab; weekday ranges keep their crontab meaning.
        let sunday = Utc.with_ymd_and_hms(2026, 11, 29, 2, 30, 0).unwrap();
        for line in ["30 2 * * 0", "30 2 * * 7", "30 2 * * SUN"] {
            let s = crate::config::parse_schedule(line).unwrap();
            assert_eq!(s.after(&at(0, 0)).next().unwrap(), sunday, "{line}");
        }
        let weekend = crate::config::parse_schedule("30 2 * * 6-7").unwrap();
        let days: Vec<u32> = weekend.after(&at(0, 0)).take(2).map(|t| t.day()).collect();
        assert_eq!(days, [28, 29], "Saturday and Sunday");
        let weekdays = crate::config::parse_schedule("0 9 * * 1-5").unwrap();
        let days: Vec<u32> = weekdays
            .after(&at(10, 0))
            .take(5)
            .map(|t| t.day())
            .collect();
        assert_eq!(days, [24, 25, 26, 27, 30], "Tuesday to Friday, then Monday");
    }
}
