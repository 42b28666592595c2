//! The budget report, budget import and alerts over a hand-built data set, on SQLite and
//! PostgreSQL alike. "Today" is always passed in (2026-11-10 in Moscow unless a test says
//! otherwise), never read from the clock. Every expected figure is worked out in the comments.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use okno::budget_check::{self, Webhook, WebhookOptions};
use okno::config::Config;
use okno::figures::budget::{self as fb, AlertKind, BudgetError, BudgetReport, LineFigures};
use okno::figures::roi::Period;
use okno::store::Store;
use okno_connector::rust_decimal::Decimal;
use okno_connector::{Record, RetryPolicy};

use common::records::{account, at, campaign, day, dec as d, rub_rate};

fn spend(account: &str, campaign: &str, date: NaiveDate, cost: &str, currency: &str) -> Record {
    common::records::spend(account, campaign, &date.to_string(), cost, currency)
}
/// Spend of `cost` a day on each day from `from` through `to`.
fn daily(account: &str, campaign: &str, from: &str, to: &str, cost: &str) -> Vec<Record> {
    day(from)
        .iter_days()
        .take_while(|x| *x <= day(to))
        .map(|x| spend(account, campaign, x, cost, "RUB"))
        .collect()
}
fn lead(id: &str, created: &str, utm: &str) -> Record {
    common::records::lead(id, created, Some(utm), None)
}
fn rate(date: &str, r: &str) -> Record {
    rub_rate(date, "USD", r)
}

const OKNO_TOML: &str = r#"
[report]
currency = "RUB"
timezone = "Europe/Moscow"

[[connector]]
id = "direct"
kind = "demo"
enabled = false

[[connector]]
id = "vk"
kind = "demo"
enabled = false

[[connector]]
id = "google"
kind = "demo"
enabled = false
"#;

/// The configuration with `budgets` as budgets.toml beside it.
fn config_with(budgets: &str) -> Arc<Config> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("okno.toml");
    std::fs::write(&path, OKNO_TOML).unwrap();
    std::fs::write(dir.path().join("budgets.toml"), budgets).unwrap();
    Arc::new(okno::config::load_with_env(&path, &[]).unwrap().config)
}

const BUDGETS: &str = r#"
[budget]
overspend_alert_pct = 10

# A campaign line on plan: 450,000 for November.
[[line]]
id = "direct-brand"
period = "2026-11"
campaign = "direct:701"
amount = "450000"
currency = "RUB"
target_cpl = "60000"

# A channel line running hot, and with a CPL far over its target.
[[line]]
id = "vk-channel"
period = "2026-11"
channel = "vk_ads"
amount = "300000"
currency = "RUB"
funding = "partner"
target_cpl = "10000"

# 1,000 USD, converted at the rate of 1 November (80), not of the days spent (90).
[[line]]
id = "google-usd"
from = "2026-11-01"
to = "2026-11-30"
campaign = "google:901"
amount = "1000"
currency = "USD"
funding = "client"
target_cpl = "25"
planned_discount = "100"

[[line]]
id = "seats"
period = "2026-11"
kind = "overhead"
amount = "30000"
currency = "RUB"

# 30 days, half of them in November.
[[line]]
id = "oct-nov-seo"
from = "2026-10-17"
to = "2026-11-15"
channel = "seo"
amount = "60000"
currency = "RUB"

[[line]]
id = "zero-plan"
period = "2026-11"
channel = "seo"
amount = "0"
currency = "RUB"

[[line]]
id = "december"
period = "2026-12"
channel = "vk_ads"
amount = "1"
currency = "RUB"
"#;

async fn load(store: &Store) {
    // Direct: 15,000 a day on 1–10 November; October and 11 November lie outside what a
    // report of November as of the 10th measures.
    let mut direct = vec![
        account("brand-acc", "RUB"),
        campaign("brand-acc", "701", "Brand", "yandex_direct"),
        spend("brand-acc", "701", day("2026-10-31"), "7777", "RUB"),
        spend("brand-acc", "701", day("2026-11-11"), "99999", "RUB"),
        // An account no line covers: 700 a day.
        account("rsya-acc", "RUB"),
        campaign("rsya-acc", "703", "Network", "yandex_rsya"),
    ];
    direct.extend(daily(
        "brand-acc",
        "701",
        "2026-11-01",
        "2026-11-10",
        "15000",
    ));
    direct.extend(daily("rsya-acc", "703", "2026-11-01", "2026-11-10", "700"));
    store
        .commit_page("direct", "spend", &direct, None)
        .await
        .unwrap();
    // VK: 13,000 a day on 1–10 November.
    let mut vk = vec![
        account("vk-acc", "RUB"),
        campaign("vk-acc", "801", "VK Autumn", "vk_ads"),
    ];
    vk.extend(daily("vk-acc", "801", "2026-11-01", "2026-11-10", "13000"));
    store.commit_page("vk", "spend", &vk, None).await.unwrap();
    // Google: 50 USD on 5 November, when a dollar is 90 roubles: 4,500.
    let google = vec![
        account("usd-acc", "USD"),
        campaign("usd-acc", "901", "Autumn", "google_ads"),
        spend("usd-acc", "901", day("2026-11-05"), "50", "USD"),
    ];
    store
        .commit_page("google", "spend", &google, None)
        .await
        .unwrap();
    store
        .commit_page(
            "cbr",
            "rates",
            &[rate("2026-11-01", "80"), rate("2026-11-05", "90")],
            None,
        )
        .await
        .unwrap();
    let leads = vec![
        // Three Brand leads by the 10th; the fourth comes after "today".
        lead("L1", "2026-11-02T10:00:00Z", "Brand"),
        lead("L2", "2026-11-04T10:00:00Z", "Brand"),
        lead("L3", "2026-11-06T10:00:00Z", "Brand"),
        lead("L4", "2026-11-12T10:00:00Z", "Brand"),
        // Two VK leads.
        lead("V1", "2026-11-03T10:00:00Z", "VK Autumn"),
        lead("V2", "2026-11-05T10:00:00Z", "VK Autumn"),
    ];
    store
        .commit_page("amo", "leads", &leads, None)
        .await
        .unwrap();
}

fn november() -> Period {
    Period::parse("2026-11").unwrap()
}

fn line<'a>(r: &'a BudgetReport, id: &str) -> &'a LineFigures {
    r.lines
        .iter()
        .find(|l| l.id == id)
        .unwrap_or_else(|| panic!("no line {id}"))
}

/// The table row whose first cell is `label`, as column → cell.
fn row(r: &BudgetReport, label: &str) -> std::collections::BTreeMap<String, Option<String>> {
    let t = r.table();
    let cells = t
        .rows
        .iter()
        .find(|c| c[0].as_deref() == Some(label))
        .unwrap_or_else(|| panic!("no row {label}"));
    t.columns
        .iter()
        .map(|c| c.name.clone())
        .zip(cells.iter().cloned())
        .collect()
}

fn cell(r: &BudgetReport, label: &str, column: &str) -> Option<String> {
    row(r, label)[column].clone()
}

store_test!(
    async fn pacing_plan_actual_subtotals_and_alerts(store) {
        load(&store).await;
        let config = config_with(BUDGETS);
        let r = fb::budget(&store, &config, &november(), day("2026-11-10"))
            .await
            .unwrap();
        let ids: Vec<&str> = r.lines.iter().map(|l| l.id.as_str()).collect();
        // December's line is of another period.
        assert_eq!(
            ids,
            [
                "direct-brand",
                "google-usd",
                "oct-nov-seo",
                "seats",
                "vk-channel",
                "zero-plan"
            ]
        );

        // direct-brand: 10 of 30 days, actual 15,000 × 10 = 150,000 (not October's 7,777 nor
        // the 11th's 99,999); burn 15,000; forecast 150,000 + 15,000 × 20 = 450,000 = plan.
        let b = line(&r, "direct-brand");
        assert_eq!((b.elapsed_days, b.total_days), (10, 30));
        assert_eq!((b.plan, b.actual), (d("450000"), d("150000")));
        assert_eq!(b.burn_per_day(), Some(d("15000")));
        assert_eq!(b.forecast(), Some(d("450000")));
        assert_eq!(b.forecast_vs_plan(), Some(d("1")));
        assert!(b.alerts.is_empty(), "on plan: {:?}", b.alerts);
        // variance 150,000 − 450,000; utilisation 1/3; remaining 300,000.
        assert_eq!(cell(&r, "direct-brand", "variance").unwrap(), "-300000.00");
        assert_eq!(cell(&r, "direct-brand", "utilisation").unwrap(), "0.3333");
        assert_eq!(cell(&r, "direct-brand", "remaining").unwrap(), "300000.00");
        // Leads L1–L3 (L4 is after today): CPL 150,000 / 3 = 50,000, under its 60,000.
        assert_eq!(b.leads, Some(3));
        assert_eq!(cell(&r, "direct-brand", "cpl").unwrap(), "50000.00");

        // vk-channel: 13,000 × 10 = 130,000; forecast 130,000 + 13,000 × 20 = 390,000 =
        // 130 % of 300,000 > 110 %: overspend. CPL 130,000 / 2 = 65,000 > 10,000: cpl.
        let v = line(&r, "vk-channel");
        assert_eq!(v.actual, d("130000"));
        assert_eq!(v.forecast(), Some(d("390000")));
        assert_eq!(cell(&r, "vk-channel", "forecast_vs_plan").unwrap(), "1.3000");
        assert_eq!(v.alerts, [AlertKind::Overspend, AlertKind::Cpl]);
        assert_eq!(cell(&r, "vk-channel", "alerts").unwrap(), "overspend,cpl");
        assert_eq!(cell(&r, "vk-channel", "cpl").unwrap(), "65000.00");

        // google-usd: plan 1,000 USD × 80 (1 November) = 80,000; actual 50 USD × 90 (its own
        // day) = 4,500; burn 450; forecast 4,500 + 450 × 20 = 13,500; 13,500 / 80,000 =
        // 0.16875. Target CPL 25 × 80 = 2,000; discount 100 × 80 = 8,000. No leads: CPL n/a,
        // but 4,500 spent without a lead is past one target CPL: a cpl alert.
        let g = line(&r, "google-usd");
        assert_eq!((g.plan, g.actual), (d("80000"), d("4500")));
        assert_eq!(g.forecast(), Some(d("13500")));
        assert_eq!(cell(&r, "google-usd", "forecast_vs_plan").unwrap(), "0.1688");
        assert_eq!(g.target_cpl, Some(d("2000")));
        assert_eq!(g.planned_discount, Some(d("8000")));
        assert_eq!((g.leads, g.cpl()), (Some(0), None));
        assert_eq!(g.alerts, [AlertKind::Cpl]);

        // seats (overhead): actual = 30,000 × 10 / 30 = 10,000; forecast = plan; no leads.
        let s = line(&r, "seats");
        assert_eq!(s.actual, d("10000"));
        assert_eq!(s.forecast(), Some(d("30000")));
        assert_eq!(s.leads, None);
        assert_eq!(cell(&r, "seats", "leads"), None);

        // oct-nov-seo: 60,000 over 30 days, 15 in November: plan 30,000; days 1–15 November,
        // 10 elapsed, 5 left; nothing spent: utilisation 0, forecast 0, CPL n/a.
        let o = line(&r, "oct-nov-seo");
        assert_eq!((o.from, o.to), (day("2026-11-01"), day("2026-11-15")));
        assert_eq!((o.elapsed_days, o.total_days, o.plan), (10, 15, d("30000")));
        assert_eq!(o.utilisation(), Some(Decimal::ZERO));
        assert_eq!(o.cpl(), None);

        // zero-plan: every ratio over the plan is n/a, nothing panics, no alert.
        let z = line(&r, "zero-plan");
        assert_eq!((z.utilisation(), z.forecast_vs_plan()), (None, None));
        assert_eq!(cell(&r, "zero-plan", "utilisation"), None);
        assert!(z.alerts.is_empty());

        // Funding: internal = direct-brand + seats + oct-nov-seo + zero-plan:
        // plan 450,000 + 30,000 + 30,000 + 0 = 510,000; actual 150,000 + 10,000 = 160,000;
        // forecast 450,000 + 30,000 + 0 + 0 = 480,000.
        assert_eq!(cell(&r, "funding internal", "plan").unwrap(), "510000.00");
        assert_eq!(cell(&r, "funding internal", "actual").unwrap(), "160000.00");
        assert_eq!(
            cell(&r, "funding internal", "forecast").unwrap(),
            "480000.00"
        );
        assert_eq!(cell(&r, "funding partner", "plan").unwrap(), "300000.00");
        assert_eq!(cell(&r, "funding client", "actual").unwrap(), "4500.00");
        // Kinds: overhead is seats alone; media the other five: 890,000 − 30,000 = 860,000.
        assert_eq!(cell(&r, "kind overhead", "plan").unwrap(), "30000.00");
        assert_eq!(cell(&r, "kind media", "plan").unwrap(), "860000.00");
        // Total: plan 890,000; actual 160,000 + 130,000 + 4,500 = 294,500; variance −595,500;
        // forecast 480,000 + 390,000 + 13,500 = 883,500; leads 3 + 2 = 5.
        assert_eq!(cell(&r, "total", "plan").unwrap(), "890000.00");
        assert_eq!(cell(&r, "total", "actual").unwrap(), "294500.00");
        assert_eq!(cell(&r, "total", "variance").unwrap(), "-595500.00");
        assert_eq!(cell(&r, "total", "forecast").unwrap(), "883500.00");
        assert_eq!(cell(&r, "total", "leads").unwrap(), "5");

        // The table lists the alerts under the rows.
        let notes = r.table().notes.join("\n");
        assert!(
            notes.contains("ALERT overspend: budget line vk-channel: forecast 390000.00 RUB is 130.00 % of plan 300000.00 RUB"),
            "{notes}"
        );
        assert!(notes.contains("ALERT cpl: budget line vk-channel: CPL 65000.00 RUB is above its target 10000.00 RUB"), "{notes}");
        assert!(notes.contains("ALERT cpl: budget line google-usd: no lead yet for 4500.00 RUB, more than its target CPL 2000.00 RUB"), "{notes}");
        assert_eq!(r.alerts().len(), 3);
        // direct-brand's 50,000 is under its 60,000 target: no alert there.
        assert!(!notes.contains("direct-brand"), "{notes}");

        // Runway, from the 7 days before the 10th (3–9 November):
        // brand-acc burns 15,000 a day; direct-brand has 300,000 left: 20 days.
        // vk-acc burns 13,000; vk-channel has 170,000 left: 13.08 days.
        // usd-acc spent 4,500 (5 November): 642.857… a day; google-usd has 75,500 left:
        // 117.44 days. rsya-acc burns 700 a day and no line covers it: n/a.
        let rw = r.runway_table();
        let runway: Vec<(String, Option<String>, Option<String>)> = rw
            .rows
            .iter()
            .map(|c| (c[1].clone().unwrap(), c[2].clone(), c[5].clone()))
            .collect();
        assert_eq!(
            runway,
            [
                ("brand-acc".into(), Some("15000.00".into()), Some("20.0".into())),
                ("rsya-acc".into(), Some("700.00".into()), None),
                ("usd-acc".into(), Some("642.86".into()), Some("117.4".into())),
                ("vk-acc".into(), Some("13000.00".into()), Some("13.1".into())),
            ]
        );
    }
);

store_test!(
    async fn before_a_line_starts_pacing_is_na_and_after_it_ends_the_forecast_is_the_actual(store) {
        load(&store).await;
        let config = config_with(BUDGETS);
        // As of 31 October nothing of November has elapsed: burn and forecast are n/a, and the
        // October part of oct-nov-seo is not in this period.
        let r = fb::budget(&store, &config, &november(), day("2026-10-31"))
            .await
            .unwrap();
        let b = line(&r, "direct-brand");
        assert_eq!((b.elapsed_days, b.actual), (0, Decimal::ZERO));
        assert_eq!((b.burn_per_day(), b.forecast()), (None, None));
        assert_eq!(cell(&r, "total", "forecast"), None);
        // As of 20 December every November line has ended: elapsed = total, forecast = actual.
        // direct-brand then holds 150,000 (1–10) + 99,999 (11th) = 249,999.
        let r = fb::budget(&store, &config, &november(), day("2026-12-20"))
            .await
            .unwrap();
        let b = line(&r, "direct-brand");
        assert_eq!((b.elapsed_days, b.total_days), (30, 30));
        assert_eq!(b.actual, d("249999"));
        assert_eq!(b.forecast(), Some(d("249999")));
        // L4 (12 November) now counts: 249,999 / 4.
        assert_eq!(b.leads, Some(4));
    }
);

store_test!(
    async fn a_missing_rate_for_a_line_fails_the_report_naming_it(store) {
        let config = config_with(
            "[[line]]\nid = \"g\"\nperiod = \"2026-11\"\ncampaign = \"google:1\"\namount = \"10\"\ncurrency = \"EUR\"\n",
        );
        let err = fb::budget(&store, &config, &november(), day("2026-11-10"))
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("no EUR→RUB exchange rate for 2026-11-01"),
            "{err}"
        );
    }
);

fn instances() -> BTreeSet<String> {
    ["direct", "vk", "google"]
        .into_iter()
        .map(String::from)
        .collect()
}

#[test]
fn a_good_budget_file_reads_like_budgets_toml() {
    // `;` with a BOM and decimal commas, as Russian-locale Excel saves it.
    let file =
        "\u{feff}ID;Period;From;To;Channel;Campaign;Amount;Currency;Funding;Target_CPL;Kind;Note\n\
                imp-vk;2026-11;;;vk_ads;;120 000,50;RUB;partner;1 500;;autumn\n\
                imp-brand;;2026-11-01;2026-11-15;;direct:701;1000;usd;;;media;\n\
                imp-agency;2026-11;;;;;50000;RUB;client;;overhead;\n";
    let lines = okno::import::budget(file.as_bytes(), &instances()).unwrap();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0].amount, d("120000.50"));
    assert_eq!(lines[0].target_cpl, Some(d("1500")));
    assert_eq!(lines[0].funding.as_str(), "partner");
    assert_eq!(lines[0].note.as_deref(), Some("autumn"));
    assert_eq!(lines[1].currency.as_str(), "USD");
    assert_eq!(lines[1].to, day("2026-11-15"));
    assert_eq!(
        lines[2].scope,
        okno::config::budgets::Scope::Everything,
        "overhead needs no channel"
    );
}

#[test]
fn a_bad_budget_file_lists_every_bad_line_and_imports_nothing() {
    let file = "id,period,from,to,channel,campaign,amount,currency,funding,kind\n\
                ok,2026-11,,,seo,,100,RUB,,\n\
                ,2026-11,,,seo,,100,RUB,,\n\
                b,November,,,seo,,100,RUB,,\n\
                c,2026-11,,,seo,,\"1,5\",RUB,grant,\n\
                d,,2026-11-10,2026-11-01,,nosuch:1,100,RUB,,\n\
                ok,2026-11,,,seo,,100,RUB,,\n\
                e,2026-11,,,,,100,RUBLES,,capex\n";
    let Err(okno::import::ImportError::Rows(errors)) =
        okno::import::budget(file.as_bytes(), &instances())
    else {
        panic!("expected row errors");
    };
    let lines: Vec<(u64, &str)> = errors
        .iter()
        .map(|e| (e.line, e.message.as_str()))
        .collect();
    assert_eq!(
        lines,
        [
            (3, "id is empty"),
            (4, "period \"November\" is not a month (e.g. period = \"2026-11\", or from and to for other ranges)"),
            (5, "amount \"1,5\" is not a number (a decimal comma needs `;` as the delimiter)"),
            (5, "funding \"grant\" is not a funding source (internal, partner or client)"),
            (6, "to is before `from`"),
            (6, "campaign \"nosuch:1\" is not <instance id>:<campaign id> of a configured instance (e.g. campaign = \"direct:70000012\")"),
            (7, "id \"ok\" is already on line 2"),
            (8, "kind \"capex\" is not a kind of line (media or overhead)"),
            (8, "the line needs exactly one of `channel` or `campaign` (overhead lines may have neither)"),
            (8, "currency \"RUBLES\" is not an ISO 4217 currency code (three letters, such as RUB or USD)"),
        ]
    );
}

fn csv_lines(text: &str) -> Vec<okno::config::budgets::BudgetLine> {
    okno::import::budget(text.as_bytes(), &instances()).unwrap()
}

store_test!(
    async fn imported_lines_join_the_report_idempotently_and_replace_is_the_whole_truth(store) {
        load(&store).await;
        let config = config_with(BUDGETS);
        let file = "id,period,channel,amount,currency\n\
                    imp-rsya,2026-11,yandex_rsya,21000,RUB\n\
                    imp-old,2026-11,seo,5,RUB\n";
        let out = fb::import_lines(&store, &config, "agency", &csv_lines(file), false)
            .await
            .unwrap();
        assert_eq!((out.written, out.unchanged, out.removed), (2, 0, 0));
        // The same file again changes nothing.
        let out = fb::import_lines(&store, &config, "agency", &csv_lines(file), false)
            .await
            .unwrap();
        assert_eq!((out.written, out.unchanged), (0, 2));

        // imp-rsya measures yandex_rsya: 700 × 10 = 7,000 of 21,000; forecast 700 × 30 =
        // 21,000, on plan. Its source is named in the wide column.
        let r = fb::budget(&store, &config, &november(), day("2026-11-10"))
            .await
            .unwrap();
        let i = line(&r, "imp-rsya");
        assert_eq!((i.plan, i.actual), (d("21000"), d("7000")));
        assert_eq!(i.forecast(), Some(d("21000")));
        assert_eq!(cell(&r, "imp-rsya", "source").unwrap(), "import agency");
        assert_eq!(cell(&r, "direct-brand", "source").unwrap(), "budgets.toml");
        assert!(r.lines.iter().any(|l| l.id == "imp-old"));

        // --replace with a file without imp-old deletes it, and changes imp-rsya's amount.
        let replaced = "id,period,channel,amount,currency\nimp-rsya,2026-11,yandex_rsya,14000,RUB\n";
        let out = fb::import_lines(&store, &config, "agency", &csv_lines(replaced), true)
            .await
            .unwrap();
        assert_eq!((out.written, out.unchanged, out.removed), (1, 0, 1));
        let stored: Vec<(String, String, Decimal)> = store
            .budget_lines()
            .await
            .unwrap()
            .into_iter()
            .map(|s| (s.source, s.line.id, s.line.amount))
            .collect();
        assert_eq!(stored, [("agency".into(), "imp-rsya".into(), d("14000"))]);

        // Another source may not take an id that is already imported.
        let err = fb::import_lines(&store, &config, "other", &csv_lines(replaced), false)
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("\"imp-rsya\" (import \"agency\") already imported under another --source"),
            "{err}"
        );
    }
);

store_test!(
    async fn a_line_id_in_budgets_toml_and_an_import_is_an_error_naming_both(store) {
        let config = config_with(BUDGETS);
        let file = "id,period,channel,amount,currency\nvk-channel,2026-11,vk_ads,1,RUB\n";
        let err = fb::import_lines(&store, &config, "agency", &csv_lines(file), false)
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, BudgetError::DuplicateLine { .. }), "{text}");
        assert!(text.contains("\"vk-channel\""), "{text}");
        assert!(text.contains("budgets.toml"), "{text}");
        assert!(text.contains("import \"agency\""), "{text}");
        assert!(store.budget_lines().await.unwrap().is_empty());

        // A line imported first and added to budgets.toml afterwards fails the report instead.
        let plain = config_with("");
        fb::import_lines(&store, &plain, "agency", &csv_lines(file), false)
            .await
            .unwrap();
        let err = fb::budget(&store, &config, &november(), day("2026-11-10"))
            .await
            .unwrap_err();
        assert!(matches!(err, BudgetError::DuplicateLine { .. }), "{err}");
    }
);

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

fn fast() -> WebhookOptions {
    WebhookOptions {
        timeout: Duration::from_secs(5),
        retry: RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(20),
            max_retry_after: Duration::from_secs(1),
        },
    }
}

/// The vk line alone: an overspend and a CPL alert as of the 10th (see the first test).
fn hot_budget(url: &str) -> String {
    format!(
        "[budget]\nalert_webhook = \"{url}\"\n\
         [[line]]\nid = \"vk-channel\"\nperiod = \"2026-11\"\nchannel = \"vk_ads\"\namount = \"300000\"\ncurrency = \"RUB\"\ntarget_cpl = \"10000\"\n"
    )
}

store_test!(
    async fn a_webhook_alert_is_retried_and_sent_once_a_day(store) {
        use wiremock::matchers::{method, path};
        use wiremock::{Mock, MockServer, ResponseTemplate};
        load(&store).await;
        let server = MockServer::start().await;
        // The first POST meets a 500; every later one is taken.
        Mock::given(method("POST"))
            .and(path("/hook"))
            .respond_with(ResponseTemplate::new(500))
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/hook"))
            .respond_with(ResponseTemplate::new(200))
            .with_priority(2)
            .mount(&server)
            .await;
        let url = format!("{}/hook?token=s3cret-canary", server.uri());
        let config = config_with(&hot_budget(&url));
        let hook = Webhook::new(config.budgets.alert_webhook.clone().unwrap(), &fast()).unwrap();
        assert!(!format!("{hook:?}").contains("s3cret"), "{hook:?}");
        assert!(!format!("{:?}", config.budgets).contains("s3cret"));

        let today = day("2026-11-10");
        let out = budget_check::check(&store, &config, today, Some(&hook))
            .await
            .unwrap();
        assert_eq!((out.alerts, out.delivered, out.failed), (2, 2, 0));
        // Three requests: the refused one, its retry, and the second alert.
        let received = server.received_requests().await.unwrap();
        assert_eq!(received.len(), 3);
        let kinds: Vec<String> = received
            .iter()
            .map(|r| {
                let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
                assert_eq!(v["line"], "vk-channel");
                assert_eq!(v["day"], "2026-11-10");
                v["kind"].as_str().unwrap().to_string()
            })
            .collect();
        assert_eq!(kinds, ["overspend", "overspend", "cpl"]);
        let body: serde_json::Value = serde_json::from_slice(&received[2].body).unwrap();
        assert_eq!(body["cpl"], "65000.00");
        assert_eq!(body["target_cpl"], "10000.00");

        // A second check the same day (a restart, another replica) sends nothing again.
        let again = budget_check::check(&store, &config, today, Some(&hook))
            .await
            .unwrap();
        assert_eq!((again.delivered, again.already_sent), (0, 2));
        assert_eq!(server.received_requests().await.unwrap().len(), 3);
        assert_eq!(
            store.sent_budget_alerts(today).await.unwrap(),
            [
                ("vk-channel".to_string(), "cpl".to_string()),
                ("vk-channel".to_string(), "overspend".to_string())
            ]
        );
        // The next day, the alerts that still hold are sent again.
        let next = budget_check::check(&store, &config, day("2026-11-11"), Some(&hook))
            .await
            .unwrap();
        assert_eq!(next.delivered, 2);
    }
);

store_test!(
    async fn a_webhook_that_keeps_failing_is_logged_and_tried_at_the_next_check(store) {
        use wiremock::matchers::method;
        use wiremock::{Mock, MockServer, ResponseTemplate};
        load(&store).await;
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(503))
            .mount(&server)
            .await;
        // The URL carries a token: the log names the host only.
        let url = format!("{}/hook?token=s3cret-canary", server.uri());
        let config = config_with(&hot_budget(&url));
        let hook = Webhook::new(config.budgets.alert_webhook.clone().unwrap(), &fast()).unwrap();
        let today = day("2026-11-10");
        let logs = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(logs.clone())
            .with_ansi(false)
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        let out = budget_check::check(&store, &config, today, Some(&hook))
            .await
            .unwrap();
        drop(guard);
        let logged = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
        assert!(logged.contains("webhook_host=127.0.0.1"), "{logged}");
        assert!(logged.contains("budget line vk-channel: forecast"), "{logged}");
        assert!(!logged.contains("s3cret"), "{logged}");
        // Two alerts × three attempts each, none taken; no claim is kept.
        assert_eq!((out.delivered, out.failed), (0, 2));
        assert_eq!(server.received_requests().await.unwrap().len(), 6);
        assert!(store.sent_budget_alerts(today).await.unwrap().is_empty());
        let again = budget_check::check(&store, &config, today, Some(&hook))
            .await
            .unwrap();
        assert_eq!(again.failed, 2, "tried again, not skipped as sent");
    }
);

store_test!(
    async fn without_a_webhook_alerts_only_go_to_the_log_and_metrics(store) {
        // Installed before anything is set, as `okno run` does.
        let metrics = okno::telemetry::metrics();
        load(&store).await;
        let config = config_with(&hot_budget("").replace("alert_webhook = \"\"\n", ""));
        let out = budget_check::check(&store, &config, day("2026-11-10"), None)
            .await
            .unwrap();
        assert_eq!((out.alerts, out.delivered, out.already_sent), (2, 0, 0));
        assert!(store
            .sent_budget_alerts(day("2026-11-10"))
            .await
            .unwrap()
            .is_empty());
        let metrics = metrics.render();
        assert!(
            metrics.contains("okno_budget_alert{line=\"vk-channel\",kind=\"overspend\"} 1"),
            "{metrics}"
        );
        assert!(
            metrics.contains("okno_budget_forecast_ratio{line=\"vk-channel\"} 1.3"),
            "{metrics}"
        );
    }
);

#[test]
fn the_check_schedule_is_a_validated_cron_key() {
    let config = config_with("[budget]\ncheck_schedule = \"*/15 * * * *\"\n");
    let s = config.budgets.check_schedule();
    let after = at("2026-11-10T10:01:00Z");
    assert_eq!(s.after(&after).next().unwrap(), at("2026-11-10T10:15:00Z"));
    // The default is hourly.
    let default = config_with("");
    assert_eq!(
        default
            .budgets
            .check_schedule()
            .after(&after)
            .next()
            .unwrap(),
        at("2026-11-10T11:00:00Z")
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("okno.toml");
    std::fs::write(&path, OKNO_TOML).unwrap();
    std::fs::write(
        dir.path().join("budgets.toml"),
        "[budget]\ncheck_schedule = \"every hour\"\n",
    )
    .unwrap();
    let err = okno::config::load_with_env(&path, &[]).unwrap_err();
    assert_eq!(err.issues.len(), 1, "{err}");
    assert_eq!(err.issues[0].key, "budget.check_schedule");
}

fn okno(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_okno"))
        .arg("--config")
        .arg(dir.join("okno.toml"))
        .args(args)
        .env_remove("OKNO_LOG")
        .output()
        .unwrap()
}

fn output(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_imports_and_reports_the_budget_and_never_posts_from_a_report() {
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(
        p.join("okno.toml"),
        format!(
            "[store]\nurl = \"sqlite://{}/okno.db\"\n\n[report]\ncurrency = \"RUB\"\ntimezone = \"Europe/Moscow\"\n",
            p.display()
        ),
    )
    .unwrap();
    std::fs::write(
        p.join("budgets.toml"),
        format!(
            "[budget]\nalert_webhook = \"{}/hook\"\n[[line]]\nid = \"seats\"\nperiod = \"2026-11\"\nkind = \"overhead\"\namount = \"30000\"\ncurrency = \"RUB\"\n",
            server.uri()
        ),
    )
    .unwrap();
    // Influencers: 13,000 a day on 1–10 November.
    let mut spend = String::from("date,channel,campaign_id,cost,currency\n");
    for n in 1..=10 {
        spend.push_str(&format!("2026-11-{n:02},influencers,anna,13000,RUB\n"));
    }
    std::fs::write(p.join("spend.csv"), spend).unwrap();
    let out = okno(
        p,
        &["import", "spend", p.join("spend.csv").to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", output(&out));
    // The line plans 300,000: 130,000 by the 10th forecasts 390,000, 130 %.
    std::fs::write(
        p.join("budget.csv"),
        "id;period;channel;amount;currency;funding\nblogs;2026-11;influencers;300 000,00;RUB;partner\n",
    )
    .unwrap();
    let file = p.join("budget.csv");
    let out = okno(
        p,
        &[
            "import",
            "budget",
            file.to_str().unwrap(),
            "--source",
            "smm",
        ],
    );
    assert!(out.status.success(), "{}", output(&out));
    assert!(
        output(&out).contains("smm: 1 budget line(s); 1 inserted or changed, 0 unchanged"),
        "{}",
        output(&out)
    );
    let out = okno(
        p,
        &[
            "report",
            "budget",
            "--period",
            "2026-11",
            "--as-of",
            "2026-11-10",
        ],
    );
    let text = output(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("ALERT overspend: budget line blogs: forecast 390000.00 RUB is 130.00 % of plan 300000.00 RUB"), "{text}");
    assert!(text.contains("Runway of the plan"), "{text}");
    let out = okno(
        p,
        &[
            "report",
            "budget",
            "--period",
            "2026-11",
            "--as-of",
            "2026-11-10",
            "--format",
            "json",
        ],
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = json["budget"]["rows"].as_array().unwrap();
    assert_eq!(rows[0]["line"], "blogs");
    assert_eq!(rows[0]["source"], "import smm");
    assert_eq!(rows[0]["forecast_vs_plan"], "1.3000");
    assert_eq!(rows[0]["alerts"], "overspend");
    // seats: 30,000 × 10 / 30 = 10,000.
    assert_eq!(rows[1]["actual"], "10000.00");
    assert_eq!(json["runway"]["rows"][0]["account"], "influencers");
    assert_eq!(json["runway"]["rows"][0]["remaining_plan"], "170000.00");

    // An id that budgets.toml has is refused, naming both.
    std::fs::write(
        &file,
        "id,period,amount,currency,kind\nseats,2026-11,1,RUB,overhead\n",
    )
    .unwrap();
    let out = okno(p, &["import", "budget", file.to_str().unwrap()]);
    assert!(!out.status.success());
    let text = output(&out);
    assert!(text.contains("budget line \"seats\" is both in"), "{text}");
    assert!(
        text.contains("budgets.toml and in the import \"import\""),
        "{text}"
    );
    // The report printed alerts without posting them (expect(0) is checked on drop).
    server.verify().await;
}

store_test!(
    async fn the_daemon_task_checks_at_start_and_stops_on_shutdown(store) {
        use tokio_util::sync::CancellationToken;
        // The task measures the real current month (it is the daemon's clock); the line just
        // has to be in it for the gauge to appear.
        let metrics = okno::telemetry::metrics();
        let now = Utc::now().with_timezone(&okno_connector::chrono_tz::Europe::Moscow);
        let config = config_with(&format!(
            "[[line]]\nid = \"daemon-line\"\nperiod = \"{}\"\nchannel = \"nowhere\"\namount = \"100\"\ncurrency = \"RUB\"\n",
            now.format("%Y-%m")
        ));
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(budget_check::run(
            config.clone(),
            store.clone(),
            fast(),
            shutdown.clone(),
        ));
        let mut seen = false;
        for _ in 0..100 {
            if metrics
                .render()
                .contains("okno_budget_utilisation{line=\"daemon-line\"} 0")
            {
                seen = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(seen, "{}", metrics.render());
        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("the task stops on shutdown")
            .unwrap();
    }
);

#[test]
fn run_once_checks_the_budget_after_its_syncs() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(
        p.join("okno.toml"),
        format!(
            "[store]\nurl = \"sqlite://{}/okno.db\"\n\n[report]\ntimezone = \"Europe/Moscow\"\n",
            p.display()
        ),
    )
    .unwrap();
    // The binary reads the real clock, so the line is put in the current month.
    let month = Utc::now()
        .with_timezone(&okno_connector::chrono_tz::Europe::Moscow)
        .format("%Y-%m");
    std::fs::write(
        p.join("budgets.toml"),
        format!("[[line]]\nid = \"now\"\nperiod = \"{month}\"\nchannel = \"seo\"\namount = \"100\"\ncurrency = \"RUB\"\n"),
    )
    .unwrap();
    let out = okno(p, &["run", "--once"]);
    let text = output(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("budget: 1 line(s) this month, 0 alert(s), 0 sent to the webhook now"),
        "{text}"
    );
}
