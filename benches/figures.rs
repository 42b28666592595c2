//! Figures benchmark: ROI by campaign × month over a large store.
//!
//! ```text
//! cargo bench --bench figures                                    # 1M leads, 5M spend rows, SQLite
//! OKNO_BENCH_PG_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench figures -- --backend postgres
//! cargo bench --bench figures -- --leads 100000 --spend 500000
//! cargo bench --bench figures -- --no-export --keep    # skip the export; keep the store to study
//! ```
//!
//! The data is written straight through the store (as pages of 10,000 records, like a sync):
//! `--spend` rows over 5,000 campaigns of one RUB account, one row per campaign and day, and
//! `--leads` leads spread over the same days, each naming its campaign in `utm_campaign`, one in
//! six won. Timed apart: the first build of the lead facts (attribution of every lead, with
//! their monthly sums); the first report (which also sums every month of spend the load
//! marked); the report with facts and sums current (ROI for every campaign and month of the
//! whole months covering the data: the issue's target); the report after 1 % of the leads
//! changed (their facts updated incrementally); and after one spend page restated two days
//! (one month summed again). Peak RSS is the process's.
//!
//! Then a nightly export (issue: exports) over the same store runs in a child process of its
//! own, so its peak memory is the export's alone: the night of the last data day, after a day's
//! changes (1,000 leads won, whose facts the export updates first), ROI by campaign and by
//! channel, budget and unattributed leads, month to date and the previous month, as CSV and
//! XLSX. To measure what a night sees (a day's changes, not a load minutes
//! old), the load is left to age two minutes before the facts are built; `--no-export` skips
//! both.

use std::str::FromStr;
use std::time::Instant;

use chrono::{Datelike, Duration, NaiveDate, TimeZone, Utc};
use okno::figures::roi::{roi, By, Period};
use okno::store::Sums;
use okno_connector::rust_decimal::Decimal;
use okno_connector::serde_json::value::RawValue;
use okno_connector::{
    AdAccount, AdSpend, Campaign, Currency, Lead, LeadEntity, Marks, Record, StageCategory,
};

mod common;

const CAMPAIGNS: u64 = 5_000;
const PAGE: u64 = 10_000;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--export-child") {
        okno::alloc::tune();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(export_child(&args[i + 1], &args[i + 2], &args[i + 3]));
        return;
    }
    let leads: u64 = arg(&args, "--leads")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let spend: u64 = arg(&args, "--spend")
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000_000);
    let backend = arg(&args, "--backend").unwrap_or_else(|| "sqlite".into());
    okno::alloc::tune();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run(&backend, leads, spend));
}

fn raw(s: String) -> Box<RawValue> {
    RawValue::from_string(s).expect("json")
}

async fn run(backend: &str, leads: u64, spend: u64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let bench = common::bench_store(backend, dir.path(), 4).await;
    let store = &bench.store;
    let rub = Currency::from_str("RUB").expect("RUB");
    let days = spend.div_ceil(CAMPAIGNS);
    let first = NaiveDate::from_ymd_opt(2024, 1, 1).expect("day");

    let loading = Instant::now();
    let mut page = vec![Record::AdAccount(AdAccount {
        account_id: "acc".into(),
        name: None,
        currency: rub,
        time_zone: "Europe/Moscow".into(),
        raw: raw("{}".into()),
    })];
    for c in 0..CAMPAIGNS {
        page.push(Record::Campaign(Campaign {
            account_id: "acc".into(),
            campaign_id: c.to_string(),
            name: format!("campaign {c}"),
            status: None,
            channel: ["yandex_direct", "google_ads", "vk_ads"][(c % 3) as usize].into(),
            utm_campaign: None,
            raw: raw("{}".into()),
        }));
    }
    store
        .commit_page("ads", "campaigns", &page, None)
        .await
        .expect("campaigns");
    let mut page = Vec::with_capacity(PAGE as usize);
    for i in 0..spend {
        page.push(spend_row(i, first, rub, 0));
        if page.len() as u64 == PAGE || i + 1 == spend {
            store
                .commit_page("ads", "spend", &page, None)
                .await
                .expect("spend");
            page.clear();
        }
    }
    let base = Utc.from_utc_datetime(&first.and_hms_opt(6, 0, 0).expect("time"));
    for i in 0..leads {
        page.push(lead(i, leads, days, base, rub, false));
        if page.len() as u64 == PAGE || i + 1 == leads {
            store
                .commit_page("crm", "leads", &page, None)
                .await
                .expect("leads");
            page.clear();
        }
    }
    let loaded = loading.elapsed().as_secs_f64();
    // A night's export runs hours after the syncs; the facts re-read leads synced within two
    // minutes before their last build (pages committed late). Let the load age past that, so
    // the export measured below sees a day's changes (the 1 % below), not the whole load.
    if !arg_flag("--no-export") {
        std::thread::sleep(std::time::Duration::from_secs(125));
    }

    let config = {
        let path = dir.path().join("okno.toml");
        std::fs::write(
            &path,
            "[report]\ncurrency = \"RUB\"\ngross_margin = \"0.4\"\n",
        )
        .expect("config");
        okno::config::load_with_env(&path, &[])
            .expect("config")
            .config
    };
    let building = Instant::now();
    let built = okno::figures::facts::refresh(store, &config)
        .await
        .expect("facts");
    let facts = building.elapsed().as_secs_f64();
    assert_eq!(
        built.rebuilt.iter().map(|(_, n)| *n as u64).sum::<u64>(),
        leads
    );

    // Whole months from the first day to the end of the last day's month.
    let last = first + Duration::days(days as i64 - 1);
    let period = Period {
        from: first,
        to: last
            .checked_add_months(chrono::Months::new(1))
            .and_then(|d| d.with_day(1))
            .and_then(|d| d.pred_opt())
            .expect("month end"),
    };
    let report = |label: &'static str| {
        let period = period.clone();
        let config = config.clone();
        async move {
            let started = Instant::now();
            let report = roi(store, &config, &period, By::Campaign)
                .await
                .expect(label);
            assert_eq!(report.total.leads as u64, leads, "every lead counted once");
            (started.elapsed().as_secs_f64(), report.rows.len())
        }
    };
    // The first report also sums every month of spend (all marked by the load).
    let (first_report, _) = report("first roi").await;
    let mut timings = Vec::new();
    let mut rows = 0;
    for _ in 0..3 {
        let (t, n) = report("roi").await;
        timings.push(t);
        rows = n;
    }
    timings.sort_by(f64::total_cmp);
    // Where the report's time goes: the check that the facts are current, and the two sum
    // reads alone (the rest is adding the sums up per row in Rust).
    let started = Instant::now();
    let spend_sums = store
        .spend_sums(period.from, period.to, "RUB", Sums::WholeMonths, false)
        .await
        .expect("spend sums");
    let spend_read = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let lead_sums = store
        .lead_sums(period.from, period.to, "RUB", Sums::WholeMonths)
        .await
        .expect("lead sums");
    let lead_read = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let check = okno::figures::facts::refresh(store, &config)
        .await
        .expect("facts check");
    let check_took = started.elapsed().as_secs_f64();
    assert!(
        check.rebuilt.is_empty() && check.updated.is_empty(),
        "{check:?}"
    );
    let sums_read = format!(
        "facts check {check_took:.3} s, spend sums {spend_read:.3} s ({} rows), lead sums {lead_read:.3} s ({} rows)",
        spend_sums.len(),
        lead_sums.len()
    );
    drop((spend_sums, lead_sums));

    // 1 % of the leads change (every hundredth is won later, for another amount).
    for i in (0..leads).step_by(100) {
        page.push(lead(i, leads, days, base, rub, true));
        if page.len() as u64 == PAGE {
            store
                .commit_page("crm", "leads", &page, None)
                .await
                .expect("changed leads");
            page.clear();
        }
    }
    if !page.is_empty() {
        store
            .commit_page("crm", "leads", &page, None)
            .await
            .expect("changed leads");
        page.clear();
    }
    // The facts are updated from the leads synced since the last build began, less a margin
    // for late pages; the whole load here is minutes old, so without a zero margin most leads
    // would count as changed. The timing includes that update.
    let started = Instant::now();
    let updated = okno::figures::facts::refresh_with_margin(store, &config, Duration::zero())
        .await
        .expect("facts update");
    assert!(updated.rebuilt.is_empty(), "{updated:?}");
    let (report_after, _) = report("roi after leads changed").await;
    let after_leads = started.elapsed().as_secs_f64();
    let _ = report_after;

    // One spend page restates the last two days of every campaign.
    for i in spend.saturating_sub(PAGE)..spend {
        page.push(spend_row(i, first, rub, 100));
    }
    store
        .commit_page("ads", "spend", &page, None)
        .await
        .expect("restated spend");
    page.clear();
    let (after_spend, _) = report("roi after a spend page").await;
    let night = first + Duration::days(days as i64 - 1);
    let export = if arg_flag("--no-export") {
        String::new()
    } else {
        // The day's changes the night's export finds: 1,000 more leads won (its facts are
        // updated from them first).
        for i in (50..leads).step_by(1000) {
            page.push(lead(i, leads, days, base, rub, true));
        }
        store
            .commit_page("crm", "leads", &page, None)
            .await
            .expect("the day's leads");
        page.clear();
        let target = match backend {
            "postgres" => bench.schema_name().expect("schema").to_string(),
            _ => format!("sqlite://{}/bench.db", dir.path().display()),
        };
        let out = std::process::Command::new(std::env::current_exe().expect("exe"))
            .args(["--export-child", backend, &target, &night.to_string()])
            .output()
            .expect("export child");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        format!("; {}", String::from_utf8_lossy(&out.stdout).trim())
    };
    if arg_flag("--keep") {
        println!(
            "kept: {}",
            match bench.schema_name() {
                Some(schema) => format!("schema {schema}"),
                None => format!("{}/bench.db", dir.keep().display()),
            }
        );
    } else {
        bench.finish().await;
    }
    println!(
        "{backend}: {leads} leads, {spend} spend rows ({days} days × {CAMPAIGNS} campaigns) loaded in {loaded:.1} s; \
         first lead fact build {facts:.2} s; first ROI (sums every spend month) {first_report:.2} s; \
         ROI by campaign × month ({rows} rows), facts and sums current: best {:.3} s, median {:.3} s ({sums_read}); \
         after 1 % of leads changed {after_leads:.3} s; after one spend page {after_spend:.3} s; \
         peak RSS {:.1} MiB{export}",
        timings[0],
        timings[1],
        peak_rss_mib()
    );
}

fn arg_flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

/// The child process: one nightly export of `night` over the prepared store, timed, with this
/// process's peak memory.
async fn export_child(backend: &str, target: &str, night: &str) {
    let store = if backend == "postgres" {
        let url = std::env::var("OKNO_BENCH_PG_URL").expect("OKNO_BENCH_PG_URL");
        let opts = sqlx::postgres::PgConnectOptions::from_str(&url)
            .expect("url")
            .options([("search_path", target)]);
        okno::store::Store::connect_postgres(opts, 4)
            .await
            .expect("postgres")
    } else {
        okno::store::Store::connect(target, 4)
            .await
            .expect("sqlite")
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("okno.toml");
    std::fs::write(
        &file,
        format!(
            "[report]\ncurrency = \"RUB\"\ntimezone = \"Europe/Moscow\"\n\n[[export]]\nname = \"bench\"\n\
             reports = [\"roi_by_campaign\", \"roi_by_channel\", \"budget\", \"unattributed\"]\n\
             periods = [\"month_to_date\", \"previous_month\"]\nformats = [\"csv\", \"xlsx\"]\n\
             directory = \"{}\"\n",
            dir.path().join("exports").display()
        ),
    )
    .expect("config");
    let config = okno::config::load_with_env(&file, &[])
        .expect("config")
        .config;
    let night = NaiveDate::from_str(night).expect("night");
    let started = Instant::now();
    let written =
        okno::export::run_night(&store, &config, &config.exports[0], night, "bench", None)
            .await
            .expect("export");
    let took = started.elapsed().as_secs_f64();
    let rows: u64 = written.manifest.files.iter().map(|f| f.rows).sum();
    let bytes: u64 = written.manifest.files.iter().map(|f| f.bytes).sum();
    store.close().await;
    println!(
        "nightly export of {night}: {} files, {rows} rows, {:.1} MiB in {took:.2} s, export process peak RSS {:.1} MiB",
        written.manifest.files.len(),
        bytes as f64 / 1_048_576.0,
        peak_rss_mib()
    );
}

/// Spend row `i`: campaign i % 5,000 on day i / 5,000; `extra` cents more when restated.
fn spend_row(i: u64, first: NaiveDate, rub: Currency, extra: i64) -> Record {
    let (d, c) = (i / CAMPAIGNS, i % CAMPAIGNS);
    Record::AdSpend(AdSpend {
        account_id: "acc".into(),
        campaign_id: c.to_string(),
        date: first + Duration::days(d as i64),
        cost: Decimal::new(((i * 7919) % 500_000 + 1_000) as i64 + extra, 2),
        currency: rub,
        vat_included: None,
        impressions: Some(1000),
        clicks: Some(40),
        conversions: None,
        raw: raw("{}".into()),
    })
}

/// Lead `i` of `leads` spread over `days`, naming campaign (i × 31) % 5,000; one in six won
/// three days after creation. `changed`: won ten days after creation for another amount.
fn lead(
    i: u64,
    leads: u64,
    days: u64,
    base: chrono::DateTime<Utc>,
    rub: Currency,
    changed: bool,
) -> Record {
    let created = base + Duration::seconds((i * days * 86_400 / leads.max(1)) as i64);
    let won = i % 6 == 0 || changed;
    let closed = created + Duration::days(if changed { 10 } else { 3 });
    Record::Lead(Box::new(Lead {
        lead_id: i.to_string(),
        entity: LeadEntity::Lead,
        name: None,
        created_at: created,
        updated_at: if changed { closed } else { created },
        pipeline_id: None,
        stage_id: None,
        stage_name: None,
        stage_category: if won {
            StageCategory::Won
        } else {
            StageCategory::Open
        },
        amount: won.then(|| {
            Decimal::new(
                ((i * 104_729) % 9_000_000 + 100_000) as i64 + if changed { 5_000 } else { 0 },
                2,
            )
        }),
        discount: None,
        currency: Some(rub),
        exchange_rate: None,
        closed_at: won.then_some(closed),
        owner_id: None,
        lead_source: None,
        marks: Marks {
            utm_campaign: Some(format!("campaign {}", (i * 31) % CAMPAIGNS)),
            ..Marks::default()
        },
        product: None,
        segment: None,
        region: None,
        converted_deal_id: None,
        deleted_at: None,
        raw: raw("{}".into()),
    }))
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .unwrap_or(0.0)
        / 1024.0
}
