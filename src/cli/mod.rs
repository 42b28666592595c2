//! The command line: argument definitions and what each command does. `main.rs` only parses
//! and reports errors.

mod progress;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use chrono::Utc;
use clap::{Parser, Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;

use crate::config::{self, Config};
use crate::registry;
use crate::store::{RunStatus, Store};
use crate::sync::{self, RunOptions, RunSummary, Trigger};

/// okno pulls your help desk, CRM, task tracker and ad accounts into one store, so that cost per
/// lead, campaign ROI, budget burn and each specialist's work can finally be read in one place.
///
/// Start with `okno --config config/demo/okno.toml run --once`: it fills a local SQLite file with demo
/// data. Then copy config/okno.example.toml, point it at your tools and run `okno validate`.
#[derive(Debug, Parser)]
#[command(name = "okno", version, about, long_about)]
pub struct Cli {
    /// The main configuration file.
    #[arg(
        long,
        short,
        global = true,
        env = "OKNO_CONFIG",
        default_value = "config/okno.toml"
    )]
    pub config: PathBuf,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: every enabled connector on its cron schedule until SIGINT/SIGTERM.
    ///
    /// Runs missed while okno was down are made up at start. Shutdown waits for the page being
    /// written; a second Ctrl-C exits at once (the committed cursor is still valid).
    Run {
        /// Run every due connector once and exit, for the quick start and for driving okno from
        /// cron or a Kubernetes CronJob.
        #[arg(long)]
        once: bool,
    },
    /// Sync one connector instance now, whatever its schedule says.
    Sync {
        /// The instance id (`[[connector]] id`).
        instance: String,
        /// Only these streams (repeatable); default: the instance's configured streams.
        #[arg(long = "stream", short = 's')]
        streams: Vec<String>,
        /// Forget the stored cursor and pull again from `start_date`. Rows are upserted, so
        /// nothing is doubled.
        #[arg(long)]
        full: bool,
    },
    /// Show, per instance and stream: the last run, its result, records, cursor age and errors.
    Status {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Check the configuration and report every problem at once (exit code 1 if any).
    Validate {
        /// Also call each vendor once to check credentials and reachability.
        #[arg(long)]
        online: bool,
    },
    /// Create or upgrade the store's tables (also done by `run` and `sync` at start).
    Migrate,
    /// List the connector kinds, their streams, settings and request budgets.
    Connectors {
        /// Show only this kind.
        kind: Option<String>,
    },
    /// Webhook deliveries waiting in the inbox.
    #[command(subcommand)]
    Webhooks(WebhooksCommand),
    /// Load what no connector pulls from a CSV file: spend of channels without an API, or
    /// exchange rates. The whole file is checked first; any bad row (reported with its line)
    /// imports nothing. Re-importing a file changes nothing.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Figures from the store.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Write one night of the `[[export]]`s now (the daemon writes every night on schedule and
    /// makes up missed ones): the files of that day, replacing the night's earlier files.
    Export {
        /// The night (the day the files cover), YYYY-MM-DD. Default: yesterday in each
        /// export's time zone.
        #[arg(long)]
        date: Option<String>,
        /// Only this export. Default: all.
        #[arg(long)]
        name: Option<String>,
    },
    /// Authorise an OAuth connector instance once: exchange the vendor's one-time code for a
    /// token pair and store it. Refreshes are automatic afterwards.
    Auth {
        /// The instance's kind (`amocrm`, `zoho_crm`), repeated as a check against typos.
        kind: String,
        /// The instance id (`[[connector]] id`).
        instance: String,
        /// The authorisation code (amoCRM: from the redirect or the integration's card;
        /// Zoho: a self-client grant code). `-` reads it from standard input, keeping it out
        /// of the shell history.
        #[arg(long)]
        code: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Queue a delivery again (a dead one after fixing its cause, or a done one to re-apply it).
    /// `okno status` lists dead deliveries with their numbers.
    Replay {
        /// The delivery's number (`delivery_seq`).
        id: i64,
    },
    /// Register okno's callback URL with the vendor for an instance whose vendor has an API for
    /// it (Trello: one webhook per configured board). Registrations already there are kept.
    Register {
        /// The instance id (`[[connector]] id`).
        instance: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Daily spend per campaign. Columns: date, channel, campaign_id, cost, currency (required);
    /// account, campaign_name, impressions, clicks, conversions, vat_included (optional).
    Spend {
        /// The CSV file (`,` or `;` delimited, header row, UTF-8).
        file: PathBuf,
        /// Name the rows are stored under (their `source`), e.g. one per agency.
        #[arg(long, default_value = "import")]
        source: String,
        /// The IANA time zone the file's dates are in.
        #[arg(long, default_value = "UTC")]
        time_zone: String,
        /// The file is the whole truth for each account and the days it covers: rows stored
        /// earlier for those days and missing from the file are set to zero.
        #[arg(long)]
        replace: bool,
    },
    /// Budget lines, as the `[[line]]`s of budgets.toml. Columns: id, amount, currency
    /// (required); period (YYYY-MM) or from and to; channel or campaign (instance:campaign_id);
    /// funding, target_cpl, planned_discount, kind, note (optional). An id also in
    /// budgets.toml is refused.
    Budget {
        file: PathBuf,
        /// Name the lines are stored under, e.g. one per department or client.
        #[arg(long, default_value = "import")]
        source: String,
        /// The file is the whole truth for its source: its lines stored earlier and missing
        /// from the file are deleted.
        #[arg(long)]
        replace: bool,
    },
    /// Exchange rates. Columns: date, currency, rate (required); base (default RUB). One unit
    /// of `currency` is worth `rate` units of `base`.
    Fx {
        file: PathBuf,
        /// Recorded as the rates' origin.
        #[arg(long, default_value = "import")]
        source: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Spend, leads, won deals, revenue, CPL, CAC, conversion, average deal, ROI, ROMI, ДРР,
    /// the cohort view and fully loaded ROI per campaign, channel, product, segment or region
    /// and day, week, month, quarter or year, in the `[report]` currency and zone.
    Roi {
        /// 2026 (a year), 2026-Q4, 2026-10 (a month), 2026-W44 (an ISO week), 2026-10-05 (a day)
        /// or 2026-10-01..2026-12-31.
        #[arg(long)]
        period: String,
        /// Rows per campaign, channel, product, segment or region (spend is n/a on rows by
        /// product, segment or region; the total has it).
        #[arg(long, value_enum, default_value_t = ReportBy::Campaign)]
        by: ReportBy,
        /// Bucket size: day (2026-10-05), week (2026-W41, ISO), month (2026-10), quarter
        /// (2026-Q4) or year (2026).
        #[arg(long, value_enum, default_value_t = ReportGrain::Month)]
        grain: ReportGrain,
        #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
        format: ReportFormat,
    },
    /// Per person across tools: tickets solved with median first-reply and resolution times,
    /// tasks done with median lead time, work in progress now, and the leads, won and revenue
    /// of the channels they own (`people.toml`).
    People {
        /// 2026-10 (a month), 2026 (a year) or 2026-10-01..2026-12-31.
        #[arg(long)]
        period: String,
        #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
        format: ReportFormat,
    },
    /// Per `[[team]]` of `people.toml`: spend, leads, CPL, won, revenue and ROI of the channels
    /// it owns, and its members' tickets solved, tasks done and work in progress.
    Teams {
        /// 2026-10 (a month), 2026 (a year) or 2026-10-01..2026-12-31.
        #[arg(long)]
        period: String,
        #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
        format: ReportFormat,
    },
    /// Plan against actual per budget line of the period (budgets.toml and imported lines):
    /// variance, utilisation, remaining, pacing forecast, leads and CPL against target, alerts;
    /// subtotals per funding source and kind; then the runway of the plan per ad account.
    /// Alerts are printed, never sent (`okno run` sends them).
    Budget {
        /// 2026-11 (a month), 2026 (a year) or 2026-11-01..2026-11-15.
        #[arg(long)]
        period: String,
        /// The day pacing is measured to (YYYY-MM-DD); default: today in the `[report]` zone.
        #[arg(long)]
        as_of: Option<String>,
        #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
        format: ReportFormat,
    },
    /// Where every lead is counted: per campaign or channel, leads, won and revenue, and the
    /// unattributed bucket. `--unmatched` lists the unattributed leads with the reason, so the
    /// marks or the `[[attribution.rule]]`s can be fixed.
    Attribution {
        #[arg(long)]
        unmatched: bool,
        #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
        format: ReportFormat,
    },
    /// Campaigns whose CPL is far above their channel's median (or that spent like that with no
    /// lead), and segments with many leads and no sale; thresholds in `[anomalies]`.
    Anomalies {
        /// 2026-10 (a month), 2026 (a year) or 2026-10-01..2026-12-31.
        #[arg(long)]
        period: String,
        #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
        format: ReportFormat,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportBy {
    Campaign,
    Channel,
    /// The `[[team]]`s of people.toml, through the channels they own.
    Team,
    Product,
    Segment,
    Region,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportGrain {
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Table,
    Csv,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Connectors { kind } => connectors(kind.as_deref()),
        Command::Validate { online } => validate(&cli.config, online).await,
        Command::Migrate => {
            let config = load(&cli.config)?;
            let store = open_store(&config).await?;
            println!("store {} is up to date", store.url());
            Ok(())
        }
        Command::Status { format } => {
            let config = load(&cli.config)?;
            let store = open_store(&config).await?;
            status(&config, &store, format).await
        }
        Command::Sync {
            instance,
            streams,
            full,
        } => {
            let config = load(&cli.config)?;
            let store = open_store(&config).await?;
            sync_one(&config, &store, &instance, &streams, full).await
        }
        Command::Webhooks(WebhooksCommand::Register { instance }) => {
            let config = load(&cli.config)?;
            let Some(inst) = config.instance(&instance) else {
                bail!(
                    "no connector instance {instance:?} in {}",
                    config.path.display()
                );
            };
            let _store = open_store(&config).await?;
            for line in inst.connector.register_webhooks().await? {
                println!("{instance}: {line}");
            }
            Ok(())
        }
        Command::Report(ReportCommand::Roi {
            period,
            by,
            grain,
            format,
        }) => {
            let config = load(&cli.config)?;
            let store = open_store(&config).await?;
            report_roi(&config, &store, &period, by, grain, format).await
        }
        Command::Report(ReportCommand::Anomalies { period, format }) => {
            let config = load(&cli.config)?;
            let store = open_store(&config).await?;
            let period = crate::figures::roi::Period::parse(&period)
                .map_err(|e| anyhow::anyhow!("--period: {e}"))?;
            let found = crate::figures::anomaly::anomalies(&store, &config, &period).await?;
            print_table(&found.table(), format)
        }
        Command::Report(ReportCommand::People { period, format }) => {
            let config = load(&cli.config)?;
            let store = open_store(&config).await?;
            report_people(&config, &store, &period, false, format).await
        }
        Command::Report(ReportCommand::Teams { period, format }) => {
            let config = load(&cli.config)?;
            let store = open_store(&config).await?;
            report_people(&config, &store, &period, true, format).await
        }
        Command::Report(ReportCommand::Budget {
            period,
            as_of,
            format,
        }) => {
            let config = load(&cli.config)?;
            let store = open_store(&config).await?;
            report_budget(&config, &store, &period, as_of.as_deref(), format).await
        }
        Command::Report(ReportCommand::Attribution { unmatched, format }) => {
            let config = load(&cli.config)?;
            let store = open_store(&config).await?;
            report_attribution(&config, &store, unmatched, format).await
        }
        Command::Export { date, name } => {
            let config = load(&cli.config)?;
            let store = open_store(&config).await?;
            export_now(&config, &store, date.as_deref(), name.as_deref()).await
        }
        Command::Import(cmd) => {
            let config = load(&cli.config)?;
            import(&config, cmd).await
        }
        Command::Webhooks(WebhooksCommand::Replay { id }) => {
            let config = load(&cli.config)?;
            let store = open_store(&config).await?;
            let Some(row) = store.delivery(id).await? else {
                bail!("no webhook delivery {id} in {}", store.url());
            };
            store.requeue_delivery(id).await?;
            println!(
                "delivery {id} ({}, {}) was {}; queued again{}",
                row.source,
                row.delivery_id,
                row.status,
                row.last_error
                    .map(|e| format!(" (last error: {e})"))
                    .unwrap_or_default()
            );
            Ok(())
        }
        Command::Auth {
            kind,
            instance,
            code,
        } => {
            let config = load(&cli.config)?;
            let Some(inst) = config.instance(&instance) else {
                bail!(
                    "no connector instance {instance:?} in {}",
                    config.path.display()
                );
            };
            if inst.kind.kind != kind {
                bail!(
                    "instance {instance} is of kind {}, not {kind}",
                    inst.kind.kind
                );
            }
            let code = if code == "-" {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                line.trim().to_string()
            } else {
                code
            };
            if code.is_empty() {
                bail!("the authorisation code is empty");
            }
            let _store = open_store(&config).await?;
            let what = inst.connector.authorize(&code).await?;
            println!("{instance}: authorised; {what}");
            Ok(())
        }
        Command::Run { once } => {
            let config = load(&cli.config)?;
            let store = open_store(&config).await?;
            if once {
                run_once(&config, &store).await
            } else {
                daemon(config, store).await
            }
        }
    }
}

/// Loads the configuration, prints its warnings and starts logging.
fn load(path: &std::path::Path) -> anyhow::Result<Config> {
    let loaded = config::load(path)?;
    crate::telemetry::init(&loaded.config.log);
    // Installed before anything counts, so no early increment is lost.
    let _ = crate::telemetry::metrics();
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    Ok(loaded.config)
}

/// Opens and migrates the store, and lets OAuth connectors keep their tokens in it.
async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let store = Store::connect(&config.store.url, config.store.max_connections).await?;
    store.migrate().await?;
    store.set_lease_ttl(config.store.lease_ttl);
    store.attach_tokens(&config.tokens);
    store.apply_people(&config.people).await?;
    if !config.fx.is_empty() {
        let rates: Vec<_> = config.fx.iter().flat_map(|f| f.records()).collect();
        store.import_records("config", &rates).await?;
    }
    Ok(store)
}

fn connectors(only: Option<&str>) -> anyhow::Result<()> {
    if let Some(k) = only {
        if registry::find(k).is_none() {
            bail!(
                "unknown kind {k:?}; known kinds: {}",
                registry::names().join(", ")
            );
        }
    }
    for kind in registry::KINDS
        .iter()
        .filter(|k| only.is_none_or(|o| o == k.kind))
    {
        println!("{}: {}", kind.kind, kind.summary);
        println!("  streams:");
        for s in kind.streams {
            println!("    {:<16} {}", s.name, s.doc);
        }
        println!("  settings ([connector.settings]):");
        for s in kind.settings {
            let mut flags = Vec::new();
            if s.required {
                flags.push("required");
            }
            if s.secret {
                flags.push("secret: ${ENV} or <key>_file");
            }
            let flags = if flags.is_empty() {
                String::new()
            } else {
                format!(" [{}]", flags.join(", "))
            };
            println!(
                "    {:<16} {}{flags}; e.g. {} = {}",
                s.name, s.doc, s.name, s.example
            );
        }
        if !kind.rate_buckets.is_empty() {
            println!("  request budgets ([connector.rate_limit], requests per minute):");
            for b in kind.rate_buckets {
                println!("    {:<16} {:>6}/min  {}", b.name, b.per_minute, b.doc);
            }
        }
        println!();
    }
    Ok(())
}

async fn validate(path: &std::path::Path, online: bool) -> anyhow::Result<()> {
    let loaded = match config::load(path) {
        Ok(l) => l,
        Err(e) => {
            eprint!("{e}");
            std::process::exit(1);
        }
    };
    for w in &loaded.warnings {
        println!("warning: {w}");
    }
    let config = loaded.config;
    println!(
        "{}: ok ({} connector instance{}, store {})",
        path.display(),
        config.connectors.len(),
        if config.connectors.len() == 1 {
            ""
        } else {
            "s"
        },
        config.store.shown_url()
    );
    if !online {
        return Ok(());
    }
    // OAuth connectors read their tokens from the store; nothing is written or migrated.
    if let Ok(store) = Store::connect(&config.store.url, config.store.max_connections).await {
        store.attach_tokens(&config.tokens);
    }
    let mut failed = 0;
    for inst in &config.connectors {
        let res = tokio::time::timeout(Duration::from_secs(60), inst.connector.check()).await;
        match res {
            Ok(Ok(what)) => println!("  {} ({}): ok, {what}", inst.id, inst.kind.kind),
            Ok(Err(e)) => {
                failed += 1;
                println!(
                    "  {} ({}): FAILED [{}] {e}",
                    inst.id,
                    inst.kind.kind,
                    e.class()
                );
            }
            Err(_) => {
                failed += 1;
                println!(
                    "  {} ({}): FAILED, no answer within 60 s",
                    inst.id, inst.kind.kind
                );
            }
        }
    }
    if failed > 0 {
        bail!("{failed} connector instance(s) failed the online check");
    }
    Ok(())
}

async fn sync_one(
    config: &Config,
    store: &Store,
    instance: &str,
    streams: &[String],
    full: bool,
) -> anyhow::Result<()> {
    let Some(inst) = config.instance(instance) else {
        let ids: Vec<&str> = config.connectors.iter().map(|c| c.id.as_str()).collect();
        bail!(
            "no connector instance {instance:?} in {}; configured: {}",
            config.path.display(),
            ids.join(", ")
        );
    };
    for s in streams {
        if inst.kind.stream(s).is_none() {
            let names: Vec<&str> = inst.kind.streams.iter().map(|s| s.name).collect();
            bail!(
                "{} ({}) has no stream {s:?}; streams: {}",
                inst.id,
                inst.kind.kind,
                names.join(", ")
            );
        }
    }
    let shutdown = CancellationToken::new();
    spawn_signal_handler(shutdown.clone());
    let progress = progress::for_terminal(std::io::stderr().is_terminal());
    let opts = RunOptions {
        full,
        trigger: Trigger::Manual,
    };
    let runs =
        sync::sync_instance(store, inst, streams, opts, &shutdown, progress.as_ref()).await?;
    print_runs(&inst.id, &runs);
    store.close().await;
    if runs.iter().any(|r| r.status != RunStatus::Succeeded) {
        bail!("some streams failed or were stopped; see above. The next run resumes from the committed cursor.");
    }
    Ok(())
}

/// What `run` does before any sync: the runs a dead process left `running` are marked
/// interrupted (this is the only process on the store), and signals start a graceful stop.
async fn start_scheduling(store: &Store) -> anyhow::Result<CancellationToken> {
    let interrupted = store.mark_interrupted_runs().await?;
    if interrupted > 0 {
        tracing::warn!(
            interrupted,
            "runs left unfinished by a stopped process were marked interrupted"
        );
    }
    let shutdown = CancellationToken::new();
    spawn_signal_handler(shutdown.clone());
    Ok(shutdown)
}

async fn run_once(config: &Config, store: &Store) -> anyhow::Result<()> {
    let shutdown = start_scheduling(store).await?;
    let progress = progress::for_terminal(std::io::stderr().is_terminal());
    let ran = sync::run_due_once(config, store, &shutdown, progress.as_ref()).await?;
    if ran.is_empty() {
        println!("nothing was due (see `okno status`)");
    }
    // What failed, for the closing message: streams and exports fail for different reasons.
    let (mut failed, mut exports_failed) = (false, false);
    for (id, result) in &ran {
        match result {
            Ok(runs) => {
                print_runs(id, runs);
                failed |= runs.iter().any(|r| r.status != RunStatus::Succeeded);
            }
            Err(e @ sync::SyncError::Busy { .. }) => println!("{id}: skipped, {e}"),
            Err(e) => {
                println!("{id}: could not run: {e}");
                failed = true;
            }
        }
    }
    print_where_data_went(store).await?;
    // As the daemon would: deployments driven by cron get their budget alerts too.
    match crate::budget_check::check_now(store, config).await {
        Ok(o) if o.lines > 0 => println!(
            "budget: {} line(s) this month, {} alert(s), {} sent to the webhook now",
            o.lines, o.alerts, o.delivered
        ),
        Ok(_) => {}
        Err(e) => println!("budget: the check failed: {e}"),
    }
    // And their nightly files: every night due and not yet written.
    for export in &config.exports {
        let runs = store.export_runs(Some(&export.name)).await?;
        for night in crate::export::due_nights(export, &runs, Utc::now()) {
            match crate::export::run_leased(store, config, export, night, "once", false, &shutdown)
                .await
            {
                Ok(None) => println!(
                    "export {}: night {night}: written by another process",
                    export.name
                ),
                Ok(Some(w)) => println!(
                    "export {}: night {night}: {} files in {}",
                    export.name,
                    w.manifest.files.len(),
                    w.dir.display()
                ),
                Err(e) => {
                    println!("export {}: night {night}: {e}", export.name);
                    exports_failed = true;
                }
            }
        }
    }
    store.close().await;
    match (failed, exports_failed) {
        (false, false) => Ok(()),
        (true, false) => bail!("some streams failed or were stopped; see above. The next run resumes from the committed cursor."),
        (false, true) => bail!("some export nights failed; see above. The next run writes them again."),
        (true, true) => bail!("some streams and export nights failed; see above. The next run resumes the streams from the committed cursor and writes the nights again."),
    }
}

async fn daemon(config: Config, store: Store) -> anyhow::Result<()> {
    if !config.connectors.iter().any(|c| c.enabled) {
        bail!(
            "{} has no enabled [[connector]]: there is nothing to schedule",
            config.path.display()
        );
    }
    // Held for the daemon's life: the OS drops it with the process, however it ends.
    let _single = match store.sqlite_file() {
        Some(db) => Some(crate::single::DaemonLock::acquire(&db)?),
        None => None,
    };
    let shutdown = start_scheduling(&store).await?;
    tracing::info!(
        connectors = config.connectors.len(),
        store = store.url(),
        "okno started"
    );
    let config = Arc::new(config);
    let scheduler_running = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let mut side_tasks = tokio::task::JoinSet::new();
    if let Some(server) = config.server.clone() {
        let wake = Arc::new(tokio::sync::Notify::new());
        let ingest = crate::webhooks::ingest::Ingest::start(store.clone());
        let state = crate::webhooks::AppState::new(
            config.clone(),
            store.clone(),
            ingest,
            wake.clone(),
            scheduler_running.clone(),
        );
        let listener = tokio::net::TcpListener::bind(server.listen)
            .await
            .map_err(|e| {
                anyhow::anyhow!("cannot listen on {} ([server] listen): {e}", server.listen)
            })?;
        tracing::info!(listen = %server.listen, "serving webhooks and health checks");
        let app = crate::webhooks::router(state);
        let stop = shutdown.clone();
        side_tasks.spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "the HTTP server stopped");
            }
        });
        let options = crate::webhooks::worker::WorkerOptions::from_config(&config);
        side_tasks.spawn(crate::webhooks::worker::run(
            config.clone(),
            store.clone(),
            options,
            wake,
            shutdown.clone(),
        ));
    }
    side_tasks.spawn(crate::budget_check::run(
        config.clone(),
        store.clone(),
        crate::budget_check::WebhookOptions::default(),
        shutdown.clone(),
    ));
    if !config.exports.is_empty() {
        side_tasks.spawn(crate::export::run_exports(
            config.clone(),
            store.clone(),
            shutdown.clone(),
        ));
    }
    let progress: Arc<dyn sync::Progress> = Arc::new(sync::QuietProgress);
    sync::run_scheduler(config, store.clone(), shutdown, progress).await;
    scheduler_running.store(false, std::sync::atomic::Ordering::Relaxed);
    while side_tasks.join_next().await.is_some() {}
    store.close().await;
    tracing::info!("okno stopped");
    Ok(())
}

fn print_runs(instance: &str, runs: &[RunSummary]) {
    for r in runs {
        let result = match &r.error {
            Some(e) => format!("{}: {e}", r.status.as_str()),
            None => r.status.as_str().to_string(),
        };
        println!(
            "{instance}/{}: {} records in {} pages ({} rows changed), {result}",
            r.stream, r.records, r.pages, r.written
        );
    }
}

async fn print_where_data_went(store: &Store) -> anyhow::Result<()> {
    let counts = store.table_counts().await?;
    let location = store
        .url()
        .strip_prefix("sqlite://")
        .map(|p| {
            std::path::absolute(p)
                .map(|a| a.display().to_string())
                .unwrap_or_else(|_| p.to_string())
        })
        .unwrap_or_else(|| store.url().to_string());
    println!("data is in {location}:");
    for (table, n) in counts {
        println!("  {table:<16} {n:>9} rows");
    }
    Ok(())
}

async fn status(config: &Config, store: &Store, format: Format) -> anyhow::Result<()> {
    let runs = store.latest_runs(None).await?;
    let states = store.states().await?;
    let now = Utc::now();
    let mut rows = Vec::new();
    for inst in &config.connectors {
        for stream in &inst.streams {
            let run = runs
                .iter()
                .find(|r| r.source == inst.id && &r.stream == stream);
            let state = states
                .iter()
                .find(|s| s.source == inst.id && &s.stream == stream);
            rows.push(serde_json::json!({
                "instance": inst.id,
                "kind": inst.kind.kind,
                "stream": stream,
                "enabled": inst.enabled,
                "schedule": inst.schedule_text,
                "last_run_started_at": run.map(|r| r.started_at),
                "last_run_finished_at": run.and_then(|r| r.finished_at),
                "result": run.map(|r| r.status.clone()),
                "records": run.map(|r| r.records),
                "pages": run.map(|r| r.pages),
                "cursor_age_secs": state.filter(|s| s.has_cursor).map(|s| (now - s.updated_at).num_seconds()),
                "error": run.and_then(|r| r.error.clone()),
                "quota_wait_until": run.and_then(|r| r.resume_at).filter(|t| *t > now),
            }));
        }
    }
    let inbox = store.inbox_counts().await?;
    let dead = store.dead_deliveries(20).await?;
    let tokens = store.token_states().await?;
    let tokens: Vec<serde_json::Value> = tokens
        .iter()
        .filter(|t| config.instance(&t.source).is_some())
        .map(|t| {
            serde_json::json!({
                "instance": t.source,
                "expires_at": t.expires_at,
                "expires_in_secs": t.expires_at.map(|e| (e - now).num_seconds()),
                "refreshable": t.can_refresh,
                "stored_at": t.updated_at,
                "version": t.version,
            })
        })
        .collect();
    // Restatements of the last week: recent figures finance should read as provisional.
    let accounts = store.ad_accounts(now - chrono::Duration::days(7)).await?;
    let accounts: Vec<serde_json::Value> = accounts
        .iter()
        .map(|a| {
            serde_json::json!({
                "instance": a.source,
                "account": a.account_id,
                "name": a.name,
                "currency": a.currency,
                "time_zone": a.time_zone,
                "pulled_through": a.pulled_through,
                "provisional_from": a.provisional_from,
                "pulled_at": a.pulled_at,
                "restated_rows_7d": a.restated_rows,
            })
        })
        .collect();
    // Per export: the last night written, and what went wrong with the latest if it failed.
    let export_runs = store.export_runs(None).await?;
    let exports: Vec<serde_json::Value> = config
        .exports
        .iter()
        .map(|e| {
            let runs: Vec<_> = export_runs.iter().filter(|r| r.name == e.name).collect();
            let done = runs
                .iter()
                .filter(|r| r.status == "done")
                .map(|r| r.night)
                .max();
            let latest = runs.iter().max_by_key(|r| r.started_at);
            let owed = crate::export::due_nights(
                e,
                &runs.iter().map(|r| (*r).clone()).collect::<Vec<_>>(),
                now,
            );
            serde_json::json!({
                "export": e.name,
                "schedule": e.schedule_text,
                "last_done_night": done,
                "latest_night": latest.map(|r| r.night),
                "latest_status": latest.map(|r| r.status.clone()),
                "latest_error": latest.and_then(|r| r.error.clone()),
                "nights_owed": owed,
            })
        })
        .collect();
    if format == Format::Json {
        let inbox: Vec<serde_json::Value> = inbox
            .iter()
            .map(|(source, status, n)| serde_json::json!({"instance": source, "status": status, "deliveries": n}))
            .collect();
        let dead: Vec<serde_json::Value> = dead
            .iter()
            .map(|d| serde_json::json!({"id": d.seq, "instance": d.source, "delivery_id": d.delivery_id, "attempts": d.attempts, "last_error": d.last_error}))
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "streams": rows,
                "webhook_inbox": inbox,
                "dead_deliveries": dead,
                "oauth_tokens": tokens,
                "ad_accounts": accounts,
                "exports": exports,
            }))?
        );
        return Ok(());
    }
    println!(
        "{:<14} {:<16} {:<20} {:<12} {:>9} {:>11}  ERROR",
        "INSTANCE", "STREAM", "LAST RUN (UTC)", "RESULT", "RECORDS", "CURSOR AGE"
    );
    for r in &rows {
        let s = |k: &str| r[k].as_str().unwrap_or("").to_string();
        let started = r["last_run_started_at"]
            .as_str()
            .map(|t| t.get(..19).unwrap_or(t).replace('T', " "))
            .unwrap_or_else(|| "never".into());
        let age = r["cursor_age_secs"]
            .as_i64()
            .map(human_age)
            .unwrap_or_else(|| "-".into());
        let records = r["records"]
            .as_i64()
            .map(|n| n.to_string())
            .unwrap_or_else(|| "-".into());
        let result = if r["enabled"].as_bool() == Some(false) {
            "disabled".to_string()
        } else if r["quota_wait_until"].is_string() {
            "quota-wait".to_string()
        } else {
            s("result")
        };
        println!(
            "{:<14} {:<16} {:<20} {:<12} {:>9} {:>11}  {}",
            s("instance"),
            s("stream"),
            started,
            result,
            records,
            age,
            s("error")
        );
    }
    let waits: Vec<&serde_json::Value> = rows
        .iter()
        .filter(|r| r["quota_wait_until"].is_string())
        .collect();
    if !waits.is_empty() {
        println!();
        println!("VENDOR QUOTAS (spent; nothing of the instance runs before the reset)");
        for r in waits {
            println!(
                "  {:<14} {:<16} until {}",
                r["instance"].as_str().unwrap_or(""),
                r["stream"].as_str().unwrap_or(""),
                r["quota_wait_until"]
                    .as_str()
                    .map(|t| t.get(..19).unwrap_or(t).replace('T', " ") + " UTC")
                    .unwrap_or_default()
            );
        }
    }
    if !accounts.is_empty() {
        println!();
        println!("AD ACCOUNTS (days from PROVISIONAL on may still be restated by the platform)");
        println!(
            "  {:<14} {:<22} {:<4} {:<20} {:<11} {:<11} {:>12}",
            "INSTANCE", "ACCOUNT", "CUR", "TIME ZONE", "PULLED TO", "PROVISIONAL", "RESTATED 7D"
        );
        for a in &accounts {
            let text = |k: &str| a[k].as_str().unwrap_or("-").to_string();
            println!(
                "  {:<14} {:<22} {:<4} {:<20} {:<11} {:<11} {:>12}",
                text("instance"),
                text("account"),
                text("currency"),
                text("time_zone"),
                text("pulled_through"),
                text("provisional_from"),
                a["restated_rows_7d"].as_i64().unwrap_or(0)
            );
        }
    }
    if !exports.is_empty() {
        println!();
        println!("EXPORTS (nights owed are written at start and after each scheduled time)");
        println!(
            "  {:<16} {:<14} {:<12} {:<12} {:<8} {:>5}  ERROR",
            "EXPORT", "SCHEDULE", "LAST DONE", "LATEST", "STATUS", "OWED"
        );
        for e in &exports {
            let text = |k: &str| e[k].as_str().unwrap_or("-").to_string();
            println!(
                "  {:<16} {:<14} {:<12} {:<12} {:<8} {:>5}  {}",
                text("export"),
                text("schedule"),
                text("last_done_night"),
                text("latest_night"),
                text("latest_status"),
                e["nights_owed"].as_array().map_or(0, Vec::len),
                e["latest_error"].as_str().unwrap_or("")
            );
        }
    }
    if !tokens.is_empty() {
        println!();
        println!("OAUTH TOKENS (refreshed automatically; `okno auth` stores a new authorisation)");
        for t in &tokens {
            let left = t["expires_in_secs"].as_i64();
            let state = match (left, t["refreshable"].as_bool()) {
                (Some(s), _) if s > 0 => format!("access token valid for {}", human_age(s)),
                (Some(_), Some(true)) => "access token expired; refreshed on next use".into(),
                (Some(_), _) => "EXPIRED and not refreshable: run okno auth".into(),
                (None, _) => "long-lived".into(),
            };
            println!(
                "  {:<14} {state} (stored {})",
                t["instance"].as_str().unwrap_or(""),
                t["stored_at"]
                    .as_str()
                    .map(|s| s.get(..19).unwrap_or(s).replace('T', " "))
                    .unwrap_or_default()
            );
        }
    }
    if !inbox.is_empty() {
        println!();
        println!("WEBHOOK INBOX (not yet processed)");
        for (source, status, n) in &inbox {
            println!("  {source:<14} {status:<10} {n:>6} deliveries");
        }
    }
    if !dead.is_empty() {
        println!();
        println!("DEAD DELIVERIES (newest first; `okno webhooks replay <id>` queues one again)");
        println!(
            "  {:>8}  {:<14} {:<34} {:>8}  LAST ERROR",
            "ID", "INSTANCE", "DELIVERY", "ATTEMPTS"
        );
        for d in dead {
            println!(
                "  {:>8}  {:<14} {:<34} {:>8}  {}",
                d.seq,
                d.source,
                d.delivery_id,
                d.attempts,
                d.last_error.unwrap_or_default()
            );
        }
    }
    Ok(())
}

async fn report_roi(
    config: &Config,
    store: &Store,
    period: &str,
    by: ReportBy,
    grain: ReportGrain,
    format: ReportFormat,
) -> anyhow::Result<()> {
    use crate::figures::roi::{self, Grain, Period, Query};
    let period = Period::parse(period).map_err(|e| anyhow::anyhow!("--period: {e}"))?;
    let teams = by == ReportBy::Team;
    if teams && config.people.teams.is_empty() {
        bail!(
            "--by team needs [[team]] blocks in {} (see config/people.example.toml)",
            config
                .path
                .with_file_name(config::people::FILE_NAME)
                .display()
        );
    }
    let by = match by {
        ReportBy::Campaign => roi::By::Campaign,
        ReportBy::Channel | ReportBy::Team => roi::By::Channel,
        ReportBy::Product => roi::By::Product,
        ReportBy::Segment => roi::By::Segment,
        ReportBy::Region => roi::By::Region,
    };
    let grain = match grain {
        ReportGrain::Day => Grain::Day,
        ReportGrain::Week => Grain::Week,
        ReportGrain::Month => Grain::Month,
        ReportGrain::Quarter => Grain::Quarter,
        ReportGrain::Year => Grain::Year,
    };
    let query = Query { period, grain, by };
    let mut report = roi::roi_query(store, config, &query).await?;
    if teams {
        report = report.by_team(&config::people::channel_teams(&config.people));
    }
    print_table(&report.table(), format)
}

/// `okno report people` (or `teams`).
async fn report_people(
    config: &Config,
    store: &Store,
    period: &str,
    teams: bool,
    format: ReportFormat,
) -> anyhow::Result<()> {
    use crate::figures::{people, roi::Period};
    let period = Period::parse(period).map_err(|e| anyhow::anyhow!("--period: {e}"))?;
    let table = if teams {
        if config.people.teams.is_empty() {
            bail!(
                "no [[team]] in {}: define teams with their members and channels (see config/people.example.toml)",
                config.path.with_file_name(config::people::FILE_NAME).display()
            );
        }
        people::teams(store, config, &period).await?.table()
    } else {
        people::people(store, config, &period).await?.table()
    };
    print_table(&table, format)
}

async fn report_budget(
    config: &Config,
    store: &Store,
    period: &str,
    as_of: Option<&str>,
    format: ReportFormat,
) -> anyhow::Result<()> {
    use crate::figures::roi::Period;
    let period = Period::parse(period).map_err(|e| anyhow::anyhow!("--period: {e}"))?;
    let today = match as_of {
        Some(t) => chrono::NaiveDate::parse_from_str(t.trim(), "%Y-%m-%d")
            .map_err(|_| anyhow::anyhow!("--as-of {t:?} is not a day like 2026-11-10"))?,
        None => crate::budget_check::today(config),
    };
    let report = crate::figures::budget::budget(store, config, &period, today).await?;
    let (lines, runway) = (report.table(), report.runway_table());
    if format == ReportFormat::Json {
        let both = serde_json::json!({ "budget": lines.json(), "runway": runway.json() });
        println!("{}", serde_json::to_string_pretty(&both)?);
        return Ok(());
    }
    print_table(&lines, format)?;
    println!();
    print_table(&runway, format)
}

/// `okno export`: one night of each (or one) export, under its lease.
async fn export_now(
    config: &Config,
    store: &Store,
    date: Option<&str>,
    name: Option<&str>,
) -> anyhow::Result<()> {
    let night = match date {
        Some(d) => Some(
            chrono::NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d")
                .map_err(|_| anyhow::anyhow!("--date {d:?} is not a day like 2026-11-22"))?,
        ),
        None => None,
    };
    let exports: Vec<_> = config
        .exports
        .iter()
        .filter(|e| name.is_none_or(|n| e.name == n))
        .collect();
    if exports.is_empty() {
        match name {
            Some(n) => bail!("no [[export]] named {n:?} in {}", config.path.display()),
            None => bail!(
                "no [[export]] in {}: see config/okno.example.toml",
                config.path.display()
            ),
        }
    }
    let shutdown = CancellationToken::new();
    let mut failed = 0;
    for export in exports {
        let night = night.unwrap_or_else(|| {
            let today = Utc::now().with_timezone(&export.timezone).date_naive();
            today.pred_opt().unwrap_or(today)
        });
        match crate::export::run_leased(store, config, export, night, "manual", true, &shutdown)
            .await
        {
            Ok(None) => {}
            Ok(Some(w)) => {
                println!(
                    "{}: night {night}: {} files in {}",
                    export.name,
                    w.manifest.files.len(),
                    w.dir.display()
                );
                for f in &w.manifest.files {
                    println!("  {:<48} {:>7} rows  sha256 {}", f.file, f.rows, f.sha256);
                }
            }
            Err(e) => {
                failed += 1;
                eprintln!("{}: night {night}: {e}", export.name);
            }
        }
    }
    if failed > 0 {
        bail!("{failed} export(s) failed");
    }
    Ok(())
}

/// Prints a report in the format asked for.
fn print_table(table: &crate::figures::table::Table, format: ReportFormat) -> anyhow::Result<()> {
    match format {
        ReportFormat::Table => print!("{}", table.text()),
        ReportFormat::Csv => print!("{}", table.csv()?),
        ReportFormat::Json => println!("{}", serde_json::to_string_pretty(&table.json())?),
    }
    Ok(())
}

async fn report_attribution(
    config: &Config,
    store: &Store,
    unmatched: bool,
    format: ReportFormat,
) -> anyhow::Result<()> {
    let report = crate::figures::attribution_report(store, &config.attribution).await?;
    let buckets = report.table();
    if !unmatched {
        return print_table(&buckets, format);
    }
    let leads = report.unmatched_table();
    match format {
        // One document: the buckets, and the leads under `unmatched`.
        ReportFormat::Json => {
            let mut out = buckets.json();
            out["unmatched"] = leads.json()["rows"].take();
            println!("{}", serde_json::to_string_pretty(&out)?);
            Ok(())
        }
        // CSV is one table per file: the leads, which is what `--unmatched` asks for.
        ReportFormat::Csv => print_table(&leads, format),
        ReportFormat::Table => {
            print_table(&buckets, format)?;
            println!();
            print_table(&leads, format)
        }
    }
}

async fn import(config: &Config, cmd: ImportCommand) -> anyhow::Result<()> {
    let open_file = |file: &PathBuf| {
        std::fs::File::open(file)
            .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", file.display()))
    };
    let (source, records, summary) = match &cmd {
        ImportCommand::Spend {
            file,
            source,
            time_zone,
            replace,
        } => {
            if time_zone.parse::<okno_connector::chrono_tz::Tz>().is_err() {
                bail!("--time-zone {time_zone:?} is not an IANA time zone such as Europe/Moscow or UTC");
            }
            let out = crate::import::spend(open_file(file)?, time_zone, *replace)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let summary = format!(
                "{} spend rows of {} campaign(s) in {} account(s), {} to {}",
                out.rows, out.campaigns, out.accounts, out.first, out.last
            );
            (source, out.records, summary)
        }
        ImportCommand::Budget {
            file,
            source,
            replace,
        } => return import_budget(config, file, source, *replace).await,
        ImportCommand::Fx { file, source } => {
            let records = crate::import::fx(open_file(file)?)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let summary = format!("{} exchange rates", records.len());
            (source, records, summary)
        }
    };
    if config.instance(source).is_some() {
        bail!(
            "--source {source:?} is a connector instance in {}; imports need a name of their own",
            config.path.display()
        );
    }
    let store = open_store(config).await?;
    let written = store.import_records(source, &records).await?;
    println!("{source}: {summary}; {written} row(s) inserted or changed");
    Ok(())
}

async fn import_budget(
    config: &Config,
    file: &std::path::Path,
    source: &str,
    replace: bool,
) -> anyhow::Result<()> {
    let instances: std::collections::BTreeSet<String> =
        config.connectors.iter().map(|c| c.id.clone()).collect();
    let input = std::fs::File::open(file)
        .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", file.display()))?;
    let lines = crate::import::budget(input, &instances)
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    if config.instance(source).is_some() {
        bail!(
            "--source {source:?} is a connector instance in {}; imports need a name of their own",
            config.path.display()
        );
    }
    let store = open_store(config).await?;
    let out = crate::figures::budget::import_lines(&store, config, source, &lines, replace)
        .await
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    println!(
        "{source}: {} budget line(s); {} inserted or changed, {} unchanged{}",
        lines.len(),
        out.written,
        out.unchanged,
        if replace {
            format!(", {} removed", out.removed)
        } else {
            String::new()
        }
    );
    Ok(())
}

fn human_age(secs: i64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// First SIGINT/SIGTERM: stop between pages. Second: exit now (the committed cursor is valid).
fn spawn_signal_handler(shutdown: CancellationToken) {
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("stopping after the page being written; signal again to exit now");
        shutdown.cancel();
        wait_for_signal().await;
        tracing::warn!("exiting now");
        std::process::exit(130);
    });
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
