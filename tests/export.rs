//! Nightly exports over a hand-computed night, on SQLite and PostgreSQL alike: files compared
//! byte for byte, formula injection neutralised, workbooks read back, re-runs identical, a crash
//! mid-night leaving no partial file, missed nights made up exactly, old nights pruned.

mod common;

use std::path::Path;

use calamine::{open_workbook, Data, Reader, Xlsx};
use chrono::{NaiveDate, TimeZone, Utc};
use common::engine::load_config;
use common::records::{account, campaign, lead, spend};
use okno::export::{self, Manifest};
use sha2::{Digest, Sha256};

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// November 2026 (nights run at 03:00 Moscow and export the day before):
/// - Brand (Direct 701, yandex_direct): 1,000.005 on 10 November — shown 1,000.01.
/// - Autumn (Google 901, google_ads): 500.005 on 11 November — shown 500.01.
///   Their exact sum 1,500.010 rounds to 1,500.01, but the file's total is the sum of its
///   rows as written, 1,500.02, so a spreadsheet's SUM agrees with it.
/// - Leads: X (utm Brand, won 6,000 on 20 November), Y (utm Autumn, open), Z (utm "=2+5",
///   a formula if a spreadsheet took it as one; unattributed).
async fn load(store: &okno::store::Store) {
    let direct = [
        account("d", "RUB"),
        campaign("d", "701", "Brand", "yandex_direct"),
        spend("d", "701", "2026-11-10", "1000.005", "RUB"),
    ];
    store
        .commit_page("direct", "spend", &direct, None)
        .await
        .unwrap();
    let google = [
        account("g", "RUB"),
        campaign("g", "901", "Autumn", "google_ads"),
        spend("g", "901", "2026-11-11", "500.005", "RUB"),
    ];
    store
        .commit_page("google", "spend", &google, None)
        .await
        .unwrap();
    let leads = [
        lead(
            "X",
            "2026-11-12T10:00:00Z",
            Some("Brand"),
            Some(("2026-11-20T10:00:00Z", "6000", "0", "RUB")),
        ),
        lead("Y", "2026-11-13T10:00:00Z", Some("Autumn"), None),
        lead("Z", "2026-11-14T10:00:00Z", Some("=2+5"), None),
    ];
    store
        .commit_page("amo", "leads", &leads, None)
        .await
        .unwrap();
}

fn config(dir: &Path, extra: &str) -> std::sync::Arc<okno::config::Config> {
    named_config(dir, "finance", extra)
}

fn named_config(dir: &Path, name: &str, extra: &str) -> std::sync::Arc<okno::config::Config> {
    load_config(
        &format!(
            "[report]\ncurrency = \"RUB\"\ntimezone = \"Europe/Moscow\"\n\n\
             [[export]]\nname = \"{name}\"\nschedule = \"0 3 * * *\"\n\
             reports = [\"roi_by_channel\", \"unattributed\"]\nperiods = [\"month_to_date\"]\n\
             formats = [\"csv\", \"xlsx\"]\ndirectory = \"{}\"\ncsv_delimiter = \";\"\n\
             decimal_separator = \",\"\n{extra}",
            dir.display()
        ),
        &[],
    )
}

/// Every file of a folder, by name.
fn files(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// ROMI needs a margin: none is configured, so it is n/a wherever there is revenue; with none,
/// (0 − spend) / spend = −1 whatever the margin. ДРР = spend / revenue: Brand 1,000.005 / 6,000 =
/// 0.1667, the total 1,500.01 / 6,000 = 0.2500. Cohort: of November's leads X is won (6,000),
/// so 1 of 1 for Brand and 1 of 3 in all. With no overhead, fully loaded ROI is the ROI. Z is
/// on no channel: no spend can be told for it, so its spend, CPL and CAC are empty (n/a), while
/// the total's CPL divides all spend by all three leads.
const ROI_CSV: &str = "\u{feff}key;channel;month;spend;impressions;clicks;leads;won;revenue;cpl;cac;conversion;average_deal;roi;romi;cost_revenue_ratio;won_cohort;revenue_cohort;conversion_cohort;fully_loaded_roi;provisional\r\n\
google_ads;google_ads;2026-11;500,01;100;10;1;0;0,00;500,01;;0,0000;;-1,0000;-1,0000;;0;0,00;0,0000;;false\r\n\
unattributed;;2026-11;;0;0;1;0;0,00;;;0,0000;;;;;0;0,00;0,0000;;false\r\n\
yandex_direct;yandex_direct;2026-11;1000,01;100;10;1;1;6000,00;1000,01;1000,01;1,0000;6000,00;5,0000;;0,1667;1;6000,00;1,0000;;false\r\n\
total;;;1500,02;200;20;3;1;6000,00;500,00;1500,01;0,3333;6000,00;3,0000;;0,2500;1;6000,00;0,3333;3,0000;false\r\n";

store_test!(async fn a_night_is_written_byte_for_byte_and_rewritten_identically(store) {
    load(&store).await;
    let out = tempfile::tempdir().unwrap();
    let config = config(out.path(), "");
    let e = &config.exports[0];
    let night = day("2026-11-22");

    let written = export::run_night(&store, &config, e, night, "manual", None).await.unwrap();
    let dir = out.path().join("2026-11-22");
    assert_eq!(written.dir, dir);
    let first = files(&dir);
    let names: Vec<&str> = first.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "finance_month_to_date_2026-11-22.xlsx",
            "manifest.json",
            "roi_by_channel_month_to_date_2026-11-22.csv",
            "unattributed_month_to_date_2026-11-22.csv",
        ]
    );
    // Worked out above; Russian-locale Excel style: BOM, `;`, decimal commas, CRLF.
    let roi = String::from_utf8(first["roi_by_channel_month_to_date_2026-11-22.csv"].clone()).unwrap();
    assert_eq!(roi, ROI_CSV);
    // The utm mark "=2+5" is text, so it is neutralised: a spreadsheet shows it, never runs it.
    let unattributed =
        String::from_utf8(first["unattributed_month_to_date_2026-11-22.csv"].clone()).unwrap();
    assert_eq!(
        unattributed,
        "\u{feff}instance;entity;lead_id;name;created_at;utm_source;utm_medium;utm_campaign;reason\r\n\
         amo;lead;Z;;2026-11-14T10:00:00Z;;;'=2+5;\"utm_campaign \"\"=2+5\"\" matches no campaign id or name and no rule\"\r\n"
    );

    // The manifest lists each file with its real digest and rows.
    let manifest: Manifest = serde_json::from_slice(&first["manifest.json"]).unwrap();
    assert_eq!((manifest.export.as_str(), manifest.night), ("finance", night));
    assert_eq!((manifest.currency.as_str(), manifest.timezone.as_str()), ("RUB", "Europe/Moscow"));
    assert_eq!(manifest.files.len(), 3);
    for f in &manifest.files {
        assert_eq!(f.sha256, hex::encode(Sha256::digest(&first[&f.file])), "{}", f.file);
        assert_eq!(f.bytes, first[&f.file].len() as u64);
        assert_eq!((f.from, f.to), (day("2026-11-01"), night));
    }
    let rows: Vec<(&str, u64)> = manifest.files.iter().map(|f| (f.file.as_str(), f.rows)).collect();
    assert!(rows.contains(&("roi_by_channel_month_to_date_2026-11-22.csv", 4)), "{rows:?}");
    assert!(rows.contains(&("finance_month_to_date_2026-11-22.xlsx", 5)), "{rows:?}");

    // The workbook read back: a sheet per report, typed numbers equal to the CSV's.
    let mut book: Xlsx<_> =
        open_workbook(dir.join("finance_month_to_date_2026-11-22.xlsx")).unwrap();
    assert_eq!(book.sheet_names(), ["roi_by_channel", "unattributed"]);
    let sheet = book.worksheet_range("roi_by_channel").unwrap();
    let grid: Vec<Vec<Data>> = sheet.rows().map(|r| r.to_vec()).collect();
    assert_eq!(grid[0][0], Data::String("key".into()));
    assert_eq!(grid[1][0], Data::String("google_ads".into()));
    assert_eq!(grid[1][3], Data::Float(500.01));
    assert_eq!(grid[3][8], Data::Float(6000.0));
    // (6,000 − 1,000.005) / 1,000.005 = 4.99997..., shown 5.0000.
    assert_eq!(grid[3][13], Data::Float(5.0));
    assert_eq!(grid[4][3], Data::Float(1500.02));
    assert_eq!(grid[4][6], Data::Float(3.0));
    assert_eq!(grid[1][20], Data::Bool(false));
    assert_eq!(grid[4][15], Data::Float(0.25));
    // n/a is an empty cell.
    assert_eq!(grid[1][10], Data::Empty);
    let sheet = book.worksheet_range("unattributed").unwrap();
    let grid: Vec<Vec<Data>> = sheet.rows().map(|r| r.to_vec()).collect();
    assert_eq!(grid[1][7], Data::String("=2+5".into()), "a string cell, not a formula");
    assert!(matches!(grid[1][4], Data::DateTime(_)), "{:?}", grid[1][4]);

    // The same night again over the same data: the same bytes, manifest included.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    export::run_night(&store, &config, e, night, "manual", None).await.unwrap();
    assert_eq!(files(&dir), first);
    let runs = store.export_runs(Some("finance")).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!((runs[0].status.as_str(), runs[0].files, runs[0].rows), ("done", 3, 10));
});

store_test!(async fn a_crash_mid_night_leaves_no_partial_file_and_the_night_before_intact(store) {
    load(&store).await;
    let out = tempfile::tempdir().unwrap();
    // The crash hook is process-wide: a name of its own keeps it from other tests' exports.
    let name: String = out
        .path()
        .to_string_lossy()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_lowercase();
    let config = named_config(out.path(), &name, "");
    let e = &config.exports[0];
    export::run_night(&store, &config, e, day("2026-11-21"), "manual", None).await.unwrap();
    let before = files(&out.path().join("2026-11-21"));

    // The writer dies with one file of the next night in place and the next half-written.
    export::CRASH_AFTER_FILES.lock().unwrap().push((name.clone(), 1));
    let crashed = export::run_night(&store, &config, e, day("2026-11-22"), "manual", None).await;
    export::CRASH_AFTER_FILES.lock().unwrap().retain(|(armed, _)| *armed != name);
    assert!(crashed.is_err());
    let dir = out.path().join("2026-11-22");
    let left = files(&dir);
    let finals: Vec<&String> = left.keys().filter(|n| !n.starts_with('.')).collect();
    // Only the file completed before the crash carries a final name, and it is whole.
    assert_eq!(finals, ["roi_by_channel_month_to_date_2026-11-22.csv"]);
    assert_eq!(left[finals[0]], ROI_CSV.as_bytes());
    assert!(!dir.join("manifest.json").exists(), "no manifest: the night is not complete");
    assert_eq!(files(&out.path().join("2026-11-21")), before, "the night before is untouched");
    let runs = store.export_runs(Some(&name)).await.unwrap();
    let failed = runs.iter().find(|r| r.night == day("2026-11-22")).unwrap();
    assert_eq!(failed.status, "failed");
    // Nothing with a final name was ever partial; the next run completes the night and clears
    // the temporary file.
    let due = export::due_nights(e, &runs, Utc.with_ymd_and_hms(2026, 11, 23, 1, 0, 0).unwrap());
    assert_eq!(due, [day("2026-11-22")]);
    export::run_night(&store, &config, e, day("2026-11-22"), "catch_up", None).await.unwrap();
    let names: Vec<String> = files(&dir).into_keys().collect();
    assert_eq!(names.len(), 4, "{names:?}");
    assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");
});

store_test!(async fn three_missed_nights_are_made_up_exactly_and_old_ones_pruned(store) {
    load(&store).await;
    let out = tempfile::tempdir().unwrap();
    let config = config(out.path(), "keep_days = 3\n");
    let e = &config.exports[0];
    // The last night written before okno went down.
    export::run_night(&store, &config, e, day("2026-11-18"), "schedule", None).await.unwrap();
    // Back at 10:00 Moscow on 22 November: the 03:00 runs of the 19th, 20th, 21st and 22nd
    // were missed; they owe the nights of the 18th (done), 19th, 20th and 21st.
    let now = Utc.with_ymd_and_hms(2026, 11, 22, 7, 0, 0).unwrap();
    let runs = store.export_runs(Some("finance")).await.unwrap();
    let due = export::due_nights(e, &runs, now);
    assert_eq!(due, [day("2026-11-19"), day("2026-11-20"), day("2026-11-21")]);
    for night in due {
        export::run_night(&store, &config, e, night, "catch_up", None).await.unwrap();
    }
    let runs = store.export_runs(Some("finance")).await.unwrap();
    let nights: Vec<String> = runs.iter().map(|r| format!("{} {}", r.night, r.status)).collect();
    assert_eq!(
        nights,
        ["2026-11-18 done", "2026-11-19 done", "2026-11-20 done", "2026-11-21 done"]
    );
    assert!(export::due_nights(e, &runs, now).is_empty(), "nothing owed twice");
    // keep_days = 3: after the 21st, the folders of the 19th to the 21st remain.
    let mut left: Vec<String> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["2026-11-19", "2026-11-20", "2026-11-21"]);
});

#[test]
fn a_new_export_owes_only_its_latest_night_and_gives_up_beyond_catch_up_days() {
    let out = tempfile::tempdir().unwrap();
    let config = config(out.path(), "catch_up_days = 2\n");
    let e = &config.exports[0];
    // 02:59 Moscow on 22 November (23:59 UTC on the 21st): today's 03:00 has not come yet.
    let now = Utc.with_ymd_and_hms(2026, 11, 21, 23, 59, 0).unwrap();
    assert_eq!(export::due_nights(e, &[], now), [day("2026-11-20")]);
    // Down since the 10th: only the nights within two days are made up.
    let old = okno::store::ExportRun {
        name: "finance".into(),
        night: day("2026-11-10"),
        status: "done".into(),
        trigger: "schedule".into(),
        started_at: now,
        finished_at: Some(now),
        files: 1,
        rows: 1,
        error: None,
    };
    let due = export::due_nights(
        e,
        &[old],
        Utc.with_ymd_and_hms(2026, 11, 22, 7, 0, 0).unwrap(),
    );
    assert_eq!(
        due,
        [day("2026-11-19"), day("2026-11-20"), day("2026-11-21")]
    );
}

#[test]
fn bad_export_blocks_name_the_key_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("okno.toml");
    std::fs::write(
        &file,
        "[[export]]\nname = \"Finance!\"\nschedule = \"nightly\"\nreports = [\"roi\", \"people\"]\n\
         periods = [\"last_week\"]\nformats = [\"pdf\"]\ndirectory = \"x\"\nfile_name = \"../{date}.csv\"\n\
         csv_delimiter = \"|\"\nkeep_days = 0\n\n\
         [[export]]\nname = \"b\"\nreports = [\"people\"]\ndirectory = \"y\"\ndecimal_separator = \",\"\n",
    )
    .unwrap();
    let err = okno::config::load_with_env(&file, &[])
        .unwrap_err()
        .to_string();
    for needle in [
        "export[0].name",
        "export[0].schedule",
        "export[0].reports[0]: \"roi\" is not a report",
        "export[0].periods[0]",
        "export[0].formats[0]",
        "export[0].file_name",
        "export[0].csv_delimiter",
        "export[0].keep_days",
        "export[1].decimal_separator",
        "hint:",
    ] {
        assert!(err.contains(needle), "{needle} missing from:\n{err}");
    }
}

store_test!(async fn racing_writers_write_a_night_once(store) {
    load(&store).await;
    let out = tempfile::tempdir().unwrap();
    let config = config(out.path(), "");
    let e = &config.exports[0];
    let night = day("2026-11-22");
    let shutdown = tokio_util::sync::CancellationToken::new();
    // Four writers at once, as four replicas waking at 03:00: the lease lets one write; the
    // others find it busy, or find the night done once they hold the lease.
    let runs = (0..4).map(|_| export::run_leased(&store, &config, e, night, "schedule", false, &shutdown));
    let results = futures::future::join_all(runs).await;
    let written = results.iter().filter(|r| matches!(r, Ok(Some(_)))).count();
    let others = results
        .iter()
        .filter(|r| matches!(r, Ok(None) | Err(export::ExportError::Busy(..))))
        .count();
    assert_eq!((written, others), (1, 3), "{results:?}");
    let runs = store.export_runs(Some("finance")).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, "done");
});
