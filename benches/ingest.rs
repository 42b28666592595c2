//! Ingest benchmark: a local vendor-shaped mock serves N records at full speed and okno syncs
//! them through the real connector, engine and store, into SQLite and PostgreSQL. Sources:
//! `zendesk` (tickets from the incremental export, 1,000 per page) and `amocrm` (leads from
//! `/api/v4/leads`, 250 per page, with UTM marks and custom fields) and `jira` (issues from
//! `/rest/api/3/search/jql`, 100 per page, with their changelogs), and daily ad spend: `google_ads`
//! (`googleAds:searchStream` JSON, 31 days of every campaign per request, costs in micros) and
//! `yandex_direct` (`CAMPAIGN_PERFORMANCE_REPORT` TSV, 31 days per report). Spend sources serve
//! 2,000 campaigns (fewer below 2,000 rows) over N / 2,000 days, so pages are alike at every N.
//!
//! ```text
//! cargo bench --bench ingest                                   # both sources, 10k, 100k, 1M on SQLite (+ PostgreSQL if OKNO_BENCH_PG_URL)
//! cargo bench --bench ingest -- --source amocrm --records 100000 --backend sqlite
//! OKNO_BENCH_PG_URL=postgres://postgres@127.0.0.1/test cargo bench --bench ingest -- --backend postgres
//! ```
//!
//! Each (source, backend, N) runs in a child process of its own so its peak RSS (VmHWM) is
//! measured alone; the mock serves from a third process, so the figure is okno's own. Throughput is records per second end
//! to end: HTTP, JSON decoding, normalisation and the transactional upsert with cursor.

use okno_connector::testkit::MockVendor;
use std::process::Command;
use std::time::Instant;

use okno::sync::{sync_stream, QuietProgress, RunOptions, Trigger};
use okno_amocrm::mock::LeadsMock;
use okno_jira::mock::IssuesMock;
use okno_zendesk::mock::TicketExport;
use tokio_util::sync::CancellationToken;

mod common;

const PER_PAGE: u64 = 1000;
const SOURCES: &str = "zendesk, amocrm, jira, google_ads or yandex_direct";
/// Campaigns of the ad mocks; N rows are spread over N / SPEND_CAMPAIGNS days (rounded up).
const SPEND_CAMPAIGNS: u64 = 2000;

/// (campaigns, days) for N spend rows: N grows the history, not the account, so a page (one
/// 31-day slice of every campaign) is the same size at every N and memory must stay flat.
fn spend_shape(n: u64) -> (u64, u64) {
    let campaigns = SPEND_CAMPAIGNS.min(n.max(1));
    (campaigns, n.div_ceil(campaigns))
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--serve") {
        let n: u64 = arg(&args, "--records")
            .and_then(|v| v.parse().ok())
            .unwrap_or(10_000);
        let source = arg(&args, "--source").unwrap_or_else(|| "zendesk".into());
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(serve(&source, n));
        return;
    }
    if args.iter().any(|a| a == "--child") {
        okno::alloc::tune();
        let n: u64 = arg(&args, "--records")
            .and_then(|v| v.parse().ok())
            .unwrap_or(10_000);
        let backend = arg(&args, "--backend").unwrap_or_else(|| "sqlite".into());
        let source = arg(&args, "--source").unwrap_or_else(|| "zendesk".into());
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(child(&source, n, &backend));
        return;
    }
    let sources: Vec<String> = match arg(&args, "--source") {
        Some(v) => v.split(',').map(str::to_string).collect(),
        None => vec![
            "zendesk".into(),
            "amocrm".into(),
            "jira".into(),
            "google_ads".into(),
            "yandex_direct".into(),
        ],
    };
    let sizes: Vec<u64> = match arg(&args, "--records").or_else(|| arg(&args, "--tickets")) {
        Some(v) => v.split(',').filter_map(|s| s.parse().ok()).collect(),
        None => vec![10_000, 100_000, 1_000_000],
    };
    let pg = std::env::var("OKNO_BENCH_PG_URL").ok();
    let backends: Vec<&str> = match arg(&args, "--backend").as_deref() {
        Some("sqlite") => vec!["sqlite"],
        Some("postgres") => vec!["postgres"],
        _ if pg.is_some() => vec!["sqlite", "postgres"],
        _ => {
            eprintln!("(PostgreSQL skipped: set OKNO_BENCH_PG_URL to include it)");
            vec!["sqlite"]
        }
    };
    let exe = std::env::current_exe().expect("own path");
    println!(
        "{:<8} {:<9} {:>9} {:>9} {:>12} {:>14}",
        "source", "backend", "records", "seconds", "records/s", "peak RSS MiB"
    );
    let mut runs = Vec::new();
    for source in &sources {
        for backend in &backends {
            for n in &sizes {
                runs.push((source, backend, n));
            }
        }
    }
    for (source, backend, n) in runs {
        {
            let out = Command::new(&exe)
                .args([
                    "--child",
                    "--source",
                    source,
                    "--records",
                    &n.to_string(),
                    "--backend",
                    backend,
                ])
                .output()
                .expect("run child");
            let text = String::from_utf8_lossy(&out.stdout);
            if !out.status.success() {
                eprintln!(
                    "{backend} {n}: failed\n{text}\n{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                std::process::exit(1);
            }
            let line = text.lines().last().unwrap_or_default();
            let v: serde_json::Value = serde_json::from_str(line).expect("child result");
            println!(
                "{:<8} {:<9} {:>9} {:>9.2} {:>12.0} {:>14.1}",
                source,
                backend,
                n,
                v["seconds"].as_f64().unwrap_or(0.0),
                v["per_sec"].as_f64().unwrap_or(0.0),
                v["peak_rss_mib"].as_f64().unwrap_or(0.0)
            );
        }
    }
}

/// The vendor stand-in, in a process of its own so that its buffers (hyper keeps growing a
/// connection's read buffer) are not counted as okno's memory. Prints its URL, then serves
/// until its parent closes standard input.
async fn serve(source: &str, n: u64) {
    let server = match source {
        "zendesk" => TicketExport::new(n, PER_PAGE).start_unrecorded().await,
        "amocrm" => LeadsMock::new(n).start_unrecorded().await,
        "jira" => IssuesMock::new(n).start_unrecorded().await,
        "google_ads" => {
            let (campaigns, days) = spend_shape(n);
            okno_google_ads::mock::SpendMock::new(campaigns, days)
                .start_unrecorded()
                .await
        }
        "yandex_direct" => {
            let (campaigns, days) = spend_shape(n);
            okno_yandex_direct::mock::ReportsMock::new(campaigns, days)
                .start_unrecorded()
                .await
        }
        other => panic!("unknown --source {other}: {SOURCES}"),
    };
    println!("{}", server.uri());
    let _ = tokio::task::spawn_blocking(|| {
        let mut sink = String::new();
        while std::io::stdin()
            .read_line(&mut sink)
            .map(|r| r > 0)
            .unwrap_or(false)
        {}
    })
    .await;
}

async fn child(source: &str, n: u64, backend: &str) {
    let mut mock = Command::new(std::env::current_exe().expect("own path"))
        .args(["--serve", "--source", source, "--records", &n.to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the mock");
    let uri = {
        use std::io::BufRead;
        let out = mock.stdout.take().expect("mock stdout");
        let mut line = String::new();
        std::io::BufReader::new(out)
            .read_line(&mut line)
            .expect("mock URL");
        line.trim().to_string()
    };
    // (connector block, stream, table the records land in)
    let (block, stream, table) = match source {
        "zendesk" => (
            format!(
                "[[connector]]\nid = \"zd\"\nkind = \"zendesk\"\nbase_url = \"{uri}\"\nstreams = [\"tickets\"]\n\
                 [connector.rate_limit]\nincremental = 0\n[connector.settings]\nemail = \"b@acme.example\"\n\
                 api_token = \"bench\"\nper_page = {PER_PAGE}\n"
            ),
            "tickets",
            "ticket",
        ),
        "amocrm" => (
            format!(
                "[[connector]]\nid = \"amo\"\nkind = \"amocrm\"\nbase_url = \"{uri}\"\nstreams = [\"leads\"]\n\
                 start_date = \"2025-01-01\"\n\
                 [connector.rate_limit]\napi = 0\n[connector.settings]\n{}",
                okno_amocrm::mock::SETTINGS_TOML
            ),
            "leads",
            "lead",
        ),
        "jira" => (
            format!(
                "[[connector]]\nid = \"jira\"\nkind = \"jira\"\nbase_url = \"{uri}\"\nstreams = [\"issues\"]\n\
                 start_date = \"2025-01-01\"\n\
                 [connector.rate_limit]\napi = 0\n[connector.settings]\n{}",
                okno_jira::mock::SETTINGS_TOML
            ),
            "issues",
            "task",
        ),
        "google_ads" => (
            format!(
                "[[connector]]\nid = \"gads\"\nkind = \"google_ads\"\nbase_url = \"{uri}\"\nstreams = [\"spend\"]\n\
                 start_date = \"{}\"\n\
                 [connector.rate_limit]\napi = 0\n[connector.settings]\n{}",
                okno_google_ads::mock::SpendMock::new(1, spend_shape(n).1)
                    .backfill_start()
                    .to_rfc3339(),
                okno_google_ads::mock::SETTINGS_TOML
            ),
            "spend",
            "ad_spend_daily",
        ),
        "yandex_direct" => (
            format!(
                "[[connector]]\nid = \"direct\"\nkind = \"yandex_direct\"\nbase_url = \"{uri}\"\nstreams = [\"spend\"]\n\
                 start_date = \"{}\"\n\
                 [connector.rate_limit]\napi = 0\n[connector.settings]\n{}",
                okno_yandex_direct::mock::FIRST_DAY,
                okno_yandex_direct::mock::SETTINGS_TOML
            ),
            "spend",
            "ad_spend_daily",
        ),
        other => panic!("unknown --source {other}: {SOURCES}"),
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let bench = common::bench_store(backend, dir.path(), 4).await;
    let store = &bench.store;
    let config = dir.path().join("bench.toml");
    std::fs::write(&config, block).expect("config");
    let loaded = okno::config::load_with_env(&config, &[]).expect("config");
    store.attach_tokens(&loaded.config.tokens);
    let inst = &loaded.config.connectors[0];

    let started = Instant::now();
    let opts = RunOptions {
        full: false,
        trigger: Trigger::Manual,
    };
    let summary = sync_stream(
        store,
        inst,
        stream,
        opts,
        &CancellationToken::new(),
        &QuietProgress,
    )
    .await
    .expect("sync");
    let seconds = started.elapsed().as_secs_f64();
    assert!(summary.error.is_none(), "{:?}", summary.error);
    let stored = store
        .table_counts()
        .await
        .expect("count")
        .into_iter()
        .find(|(t, _)| *t == table)
        .map(|(_, c)| c)
        .unwrap_or(0);
    let expected = if table == "ad_spend_daily" {
        let (campaigns, days) = spend_shape(n);
        campaigns * days
    } else {
        n
    };
    assert_eq!(stored as u64, expected, "every record stored once");
    drop(mock.stdin.take());
    let _ = mock.wait();
    bench.finish().await;
    println!(
        "{}",
        serde_json::json!({
            "records": expected,
            "seconds": seconds,
            "per_sec": expected as f64 / seconds,
            "peak_rss_mib": status_kib("VmHWM:") as f64 / 1024.0,
            "anon_mib": status_kib("RssAnon:") as f64 / 1024.0,
            "file_mib": status_kib("RssFile:") as f64 / 1024.0,
        })
    );
}

/// A memory figure from /proc/self/status, in KiB: `VmHWM:` is the peak resident set.
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}
