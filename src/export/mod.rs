//! Nightly exports for finance (`[[export]]`): every night on its schedule, the configured
//! reports over the configured periods as CSV files (one per report and period) and workbooks
//! (one per period, a sheet per report), with a `manifest.json` listing each file's SHA-256.
//!
//! What it guarantees:
//! - **Never half-written.** Each file is written under a temporary name in its final directory,
//!   flushed to disk, renamed over its final name, and the directory flushed; the manifest is
//!   written the same way, last. A crash leaves the previous version of every file (or none)
//!   under the final names, never a partial one; readers should take a night's files from its
//!   manifest.
//! - **Same data, same bytes.** Tables are sorted, workbooks carry the night's date rather than
//!   the clock, and the manifest keeps its `generated_at` when no file changed, so re-running
//!   a night over unchanged data rewrites identical files.
//! - **Once per night, missed nights made up.** `export_run` records each night; the daemon
//!   writes every due night not yet done (within `catch_up_days`) at start and after each
//!   scheduled time, under the export's lease, so several replicas write a night once.
//! - **Totals add up.** In files, a total row's money is the sum of the rows as written
//!   ([`Table::exact_totals`]).
//!
//! A night's files live in `directory/<night>/`; folders older than `keep_days` are deleted
//! after a night succeeds. Those folders belong to okno: files in them that the manifest does not
//! list are removed.

pub mod csv;
pub mod xlsx;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::config::export::{Export, FileFormat, RelativePeriod};
use crate::config::Config;
use crate::figures::named::{self, ReportError};
use crate::figures::roi::Period;
use crate::figures::table::Table;
use crate::store::{ExportOutcome, ExportRun, Fence, Store, StoreError};

/// The manifest's file name in each night's folder.
pub const MANIFEST: &str = "manifest.json";
/// How soon a failed night is tried again (it is also retried at the next scheduled time).
const RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Why a night was not written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("report {report} for {period}: {source}")]
    Report {
        report: String,
        period: String,
        #[source]
        source: Box<ReportError>,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("writing CSV: {0}")]
    Csv(#[from] ::csv::Error),
    #[error("writing a workbook: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("export {0:?} is being written by another process ({1})")]
    Busy(String, String),
    #[error("no [[export]] named {0:?}")]
    Unknown(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ExportError + '_ {
    move |source| ExportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The days a relative period covers for `night`.
pub fn period_of(kind: RelativePeriod, night: NaiveDate) -> Period {
    let first_of_month = night.with_day(1).unwrap_or(night);
    let from = match kind {
        RelativePeriod::Day => night,
        RelativePeriod::MonthToDate => first_of_month,
        RelativePeriod::PreviousMonth => {
            let to = first_of_month.pred_opt().unwrap_or(first_of_month);
            return Period {
                from: to.with_day(1).unwrap_or(to),
                to,
            };
        }
        RelativePeriod::QuarterToDate => {
            let month = (night.month0() / 3) * 3 + 1;
            NaiveDate::from_ymd_opt(night.year(), month, 1).unwrap_or(night)
        }
        RelativePeriod::YearToDate => NaiveDate::from_ymd_opt(night.year(), 1, 1).unwrap_or(night),
    };
    Period { from, to: night }
}

/// A file name from a pattern.
fn file_name(pattern: &str, export: &str, report: &str, period: &str, night: NaiveDate) -> String {
    pattern
        .replace("{report}", report)
        .replace("{period}", period)
        .replace("{date}", &night.to_string())
        .replace("{name}", export)
}

/// One file of a night, as the manifest lists it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FileEntry {
    pub file: String,
    pub format: String,
    /// The reports in the file: one for CSV, a sheet each for a workbook.
    pub reports: Vec<String>,
    pub period: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Data rows (header rows not counted).
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    pub export: String,
    pub night: NaiveDate,
    pub okno_version: String,
    /// When these files were first generated with this content.
    pub generated_at: DateTime<Utc>,
    pub timezone: String,
    pub currency: String,
    pub files: Vec<FileEntry>,
}

/// What a night wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub manifest_sha256: String,
}

/// Test hook: the writer of the named export panics, as a crash would, once this many files
/// are in place, leaving half of the next one under its temporary name. Inert unless armed.
/// Keyed by export name, so tests running side by side (one per backend) arm their own.
pub static CRASH_AFTER_FILES: std::sync::Mutex<Vec<(String, usize)>> =
    std::sync::Mutex::new(Vec::new());

/// Writes `bytes` to `dir/name` so the name only ever holds a complete file: a temporary file in
/// the same directory, flushed, renamed over the name. The caller flushes the directory.
fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), ExportError> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(bytes).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    drop(f);
    let target = dir.join(name);
    std::fs::rename(&tmp, &target).map_err(io(&target))
}

/// Flushes a directory's entries (the renames in it) to disk.
fn sync_dir(dir: &Path) -> Result<(), ExportError> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io(dir))?;
    }
    Ok(())
}

/// The night's files, rendered in memory (they are small: rows are campaigns × months).
struct Rendered {
    name: String,
    format: FileFormat,
    reports: Vec<String>,
    period: RelativePeriod,
    range: Period,
    rows: u64,
    bytes: Vec<u8>,
}

/// Builds every table of the night and renders its files.
async fn render(
    store: &Store,
    config: &Config,
    export: &Export,
    night: NaiveDate,
) -> Result<Vec<Rendered>, ExportError> {
    let mut out = Vec::new();
    for &kind in &export.periods {
        let range = period_of(kind, night);
        let mut tables: Vec<(String, Table)> = Vec::new();
        for report in &export.reports {
            let table = named::table(store, config, report, &range, night)
                .await
                .map_err(|source| ExportError::Report {
                    report: report.clone(),
                    period: kind.name().to_string(),
                    source: Box::new(source),
                })?
                .exact_totals();
            tables.push((report.clone(), table));
        }
        if export.formats.contains(&FileFormat::Csv) {
            for (report, table) in &tables {
                out.push(Rendered {
                    name: file_name(&export.file_name, &export.name, report, kind.name(), night),
                    format: FileFormat::Csv,
                    reports: vec![report.clone()],
                    period: kind,
                    range: range.clone(),
                    rows: table.rows.len() as u64,
                    bytes: csv::render(table, &export.csv)?,
                });
            }
        }
        if export.formats.contains(&FileFormat::Xlsx) {
            let sheets: Vec<(&str, &Table)> = tables.iter().map(|(r, t)| (r.as_str(), t)).collect();
            out.push(Rendered {
                name: file_name(&export.workbook_name, &export.name, "", kind.name(), night),
                format: FileFormat::Xlsx,
                reports: tables.iter().map(|(r, _)| r.clone()).collect(),
                period: kind,
                range: range.clone(),
                rows: tables.iter().map(|(_, t)| t.rows.len() as u64).sum(),
                bytes: xlsx::render(&sheets, night)?,
            });
        }
    }
    Ok(out)
}

/// Writes the files and the manifest into the night's folder (blocking file work).
fn write_files(
    export: &Export,
    config: &Config,
    night: NaiveDate,
    files: Vec<Rendered>,
    now: DateTime<Utc>,
) -> Result<Written, ExportError> {
    let dir = export.directory.join(night.to_string());
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let previous: Option<Manifest> = std::fs::read(dir.join(MANIFEST))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let mut entries = Vec::new();
    let crash_at = CRASH_AFTER_FILES.lock().ok().and_then(|armed| {
        armed
            .iter()
            .find(|(name, _)| *name == export.name)
            .map(|(_, n)| *n)
    });
    for (i, f) in files.iter().enumerate() {
        if crash_at == Some(i) {
            // A test's crash point: files before it are in place, this one never is.
            let tmp = dir.join(format!(".{}.tmp", f.name));
            let _ = std::fs::write(&tmp, &f.bytes[..f.bytes.len() / 2]);
            panic!("export fault point after {i} files");
        }
        write_atomic(&dir, &f.name, &f.bytes)?;
        entries.push(FileEntry {
            file: f.name.clone(),
            format: match f.format {
                FileFormat::Csv => "csv".into(),
                FileFormat::Xlsx => "xlsx".into(),
            },
            reports: f.reports.clone(),
            period: f.period.name().to_string(),
            from: f.range.from,
            to: f.range.to,
            rows: f.rows,
            bytes: f.bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(&f.bytes)),
        });
    }
    sync_dir(&dir)?;
    let generated_at = previous
        .filter(|p| p.files == entries && p.okno_version == env!("CARGO_PKG_VERSION"))
        .map_or(now, |p| p.generated_at);
    let manifest = Manifest {
        export: export.name.clone(),
        night,
        okno_version: env!("CARGO_PKG_VERSION").to_string(),
        generated_at,
        timezone: export.timezone.name().to_string(),
        currency: config.report.currency.to_string(),
        files: entries,
    };
    let mut bytes = serde_json::to_vec_pretty(&manifest).map_err(|e| ExportError::Io {
        path: dir.join(MANIFEST),
        source: e.into(),
    })?;
    bytes.push(b'\n');
    write_atomic(&dir, MANIFEST, &bytes)?;
    sync_dir(&dir)?;
    // The folder is okno's: what the manifest does not list (a report taken out of the
    // configuration, a temporary file of a crashed run) goes.
    let listed: BTreeSet<&str> = manifest.files.iter().map(|f| f.file.as_str()).collect();
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name != MANIFEST && !listed.contains(name.as_str()) && e.path().is_file() {
                if let Err(err) = std::fs::remove_file(e.path()) {
                    tracing::warn!(file = %e.path().display(), error = %err, "could not remove a stale export file");
                }
            }
        }
    }
    Ok(Written {
        dir,
        manifest_sha256: hex::encode(Sha256::digest(&bytes)),
        manifest,
    })
}

/// Deletes night folders older than `keep_days` before `night`.
fn prune(export: &Export, night: NaiveDate) {
    let oldest = night - Duration::days(i64::from(export.keep_days) - 1);
    let Ok(entries) = std::fs::read_dir(&export.directory) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Ok(day) = NaiveDate::parse_from_str(&name, "%Y-%m-%d") else {
            continue;
        };
        if day < oldest && e.path().is_dir() {
            match std::fs::remove_dir_all(e.path()) {
                Ok(()) => tracing::info!(export = %export.name, night = %day, "old export removed"),
                Err(err) => {
                    tracing::warn!(export = %export.name, night = %day, error = %err, "could not remove an old export")
                }
            }
        }
    }
}

/// Writes one night of `export` and records it; `fence` (the export's lease) guards the record.
pub async fn run_night(
    store: &Store,
    config: &Config,
    export: &Export,
    night: NaiveDate,
    trigger: &str,
    fence: Option<&Fence>,
) -> Result<Written, ExportError> {
    store.start_export(&export.name, night, trigger).await?;
    let started = std::time::Instant::now();
    let result = async {
        let files = render(store, config, export, night).await?;
        let (export_c, config_c) = (export.clone(), config.clone());
        let now = Utc::now();
        tokio::task::spawn_blocking(move || write_files(&export_c, &config_c, night, files, now))
            .await
            .map_err(|e| ExportError::Io {
                path: export.directory.clone(),
                source: std::io::Error::other(e.to_string()),
            })?
    }
    .await;
    let outcome = match &result {
        Ok(w) => ExportOutcome {
            files: w.manifest.files.len() as i64,
            rows: w.manifest.files.iter().map(|f| f.rows as i64).sum(),
            manifest_sha256: Some(w.manifest_sha256.clone()),
            error: None,
        },
        Err(e) => ExportOutcome {
            error: Some(e.to_string()),
            ..ExportOutcome::default()
        },
    };
    if !store
        .finish_export(&export.name, night, &outcome, fence)
        .await?
    {
        tracing::warn!(export = %export.name, night = %night, "the export's lease was taken over; another process records this night");
    }
    match &result {
        Ok(w) => {
            metrics::counter!("okno_export_nights_total", "export" => export.name.clone(), "result" => "done").increment(1);
            tracing::info!(export = %export.name, night = %night, files = w.manifest.files.len(), dir = %w.dir.display(), seconds = started.elapsed().as_secs_f64(), "export written");
            prune(export, night);
        }
        Err(e) => {
            metrics::counter!("okno_export_nights_total", "export" => export.name.clone(), "result" => "failed").increment(1);
            tracing::error!(export = %export.name, night = %night, error = %e, "export failed; it is tried again");
        }
    }
    result
}

/// The nights `export` owes at `now`: the night before each scheduled time within
/// `catch_up_days`, not yet done, and not before the first night it ever wrote. An export with
/// no history owes only its latest night.
pub fn due_nights(export: &Export, runs: &[ExportRun], now: DateTime<Utc>) -> Vec<NaiveDate> {
    let tz = export.timezone;
    let local_now = now.with_timezone(&tz);
    let window_start = local_now - Duration::days(i64::from(export.catch_up_days) + 1);
    let mut nights: Vec<NaiveDate> = export
        .schedule
        .after(&window_start)
        .take_while(|t| *t <= local_now)
        .filter_map(|t| t.date_naive().pred_opt())
        .collect();
    nights.dedup();
    let done: BTreeSet<NaiveDate> = runs
        .iter()
        .filter(|r| r.status == "done")
        .map(|r| r.night)
        .collect();
    match runs.iter().map(|r| r.night).min() {
        None => nights.last().copied().into_iter().collect(),
        Some(first) => nights
            .into_iter()
            .filter(|n| *n >= first && !done.contains(n))
            .collect(),
    }
}

/// Writes `night` of `export` under its lease (`okno export` and the daemon). `Busy` when
/// another process holds the export. Unless `again`, a night found done once the lease is held
/// is left alone (`None`): another replica wrote it meanwhile.
pub async fn run_leased(
    store: &Store,
    config: &Config,
    export: &Export,
    night: NaiveDate,
    trigger: &str,
    again: bool,
    shutdown: &CancellationToken,
) -> Result<Option<Written>, ExportError> {
    let key = format!("export:{}", export.name);
    let guard = match crate::sync::lease::acquire(store, &key, shutdown).await? {
        Ok(g) => g,
        Err(busy) => return Err(ExportError::Busy(export.name.clone(), busy.holder)),
    };
    // Checked under the lease: whoever wrote the night before us had released it by now.
    let done = match store.export_runs(Some(&export.name)).await {
        Ok(runs) => runs.iter().any(|r| r.night == night && r.status == "done"),
        Err(e) => {
            guard.release().await;
            return Err(e.into());
        }
    };
    let result = if done && !again {
        Ok(None)
    } else {
        let fence = guard.fence();
        run_night(store, config, export, night, trigger, Some(&fence))
            .await
            .map(Some)
    };
    guard.release().await;
    result
}

/// The daemon's export loop: for each `[[export]]`, the due nights now, then at each scheduled
/// time; returns on shutdown.
pub async fn run_exports(config: Arc<Config>, store: Store, shutdown: CancellationToken) {
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..config.exports.len() {
        let (config, store, shutdown) = (config.clone(), store.clone(), shutdown.clone());
        tasks.spawn(async move {
            let export = &config.exports[index];
            export_loop(&config, export, &store, &shutdown).await
        });
    }
    while tasks.join_next().await.is_some() {}
}

async fn export_loop(
    config: &Config,
    export: &Export,
    store: &Store,
    shutdown: &CancellationToken,
) {
    tracing::info!(export = %export.name, schedule = %export.schedule_text, timezone = %export.timezone.name(), "export scheduled");
    loop {
        let now = Utc::now();
        let mut failed = false;
        match store.export_runs(Some(&export.name)).await {
            Ok(runs) => {
                let due = due_nights(export, &runs, now);
                let latest = due.last().copied();
                for night in due {
                    if shutdown.is_cancelled() {
                        return;
                    }
                    let trigger = if Some(night) == latest {
                        "schedule"
                    } else {
                        "catch_up"
                    };
                    match run_leased(store, config, export, night, trigger, false, shutdown).await {
                        Ok(Some(_)) => {}
                        Ok(None) => {
                            tracing::info!(export = %export.name, night = %night, "already written by another process");
                        }
                        Err(ExportError::Busy(_, holder)) => {
                            tracing::info!(export = %export.name, night = %night, holder = %holder, "another process is writing this export");
                        }
                        Err(_) => failed = true,
                    }
                }
            }
            Err(e) => {
                tracing::warn!(export = %export.name, error = %e, "cannot read the export history; trying again");
                failed = true;
            }
        }
        let next = export
            .schedule
            .after(&Utc::now().with_timezone(&export.timezone))
            .next()
            .map(|t| t.with_timezone(&Utc));
        let mut wait = next
            .and_then(|t| (t - Utc::now()).to_std().ok())
            .unwrap_or(RETRY_AFTER);
        if failed {
            wait = wait.min(RETRY_AFTER);
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn relative_periods_end_on_the_night() {
        let n = day("2026-11-22");
        let p = |k| {
            let p = period_of(k, n);
            (p.from.to_string(), p.to.to_string())
        };
        assert_eq!(
            p(RelativePeriod::Day),
            ("2026-11-22".into(), "2026-11-22".into())
        );
        assert_eq!(
            p(RelativePeriod::MonthToDate),
            ("2026-11-01".into(), "2026-11-22".into())
        );
        assert_eq!(
            p(RelativePeriod::PreviousMonth),
            ("2026-10-01".into(), "2026-10-31".into())
        );
        assert_eq!(
            p(RelativePeriod::QuarterToDate),
            ("2026-10-01".into(), "2026-11-22".into())
        );
        assert_eq!(
            p(RelativePeriod::YearToDate),
            ("2026-01-01".into(), "2026-11-22".into())
        );
        let jan = period_of(RelativePeriod::PreviousMonth, day("2027-01-01"));
        assert_eq!((jan.from, jan.to), (day("2026-12-01"), day("2026-12-31")));
    }

    #[test]
    fn file_names_fill_their_placeholders() {
        assert_eq!(
            file_name(
                "{report}_{period}_{date}.csv",
                "fin",
                "roi_by_campaign",
                "month_to_date",
                day("2026-11-22")
            ),
            "roi_by_campaign_month_to_date_2026-11-22.csv"
        );
    }
}
