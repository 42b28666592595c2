//! The `mock` feature's stand-in, read through the connector: the documented settings work,
//! every generated spend row arrives exactly once with its exact cost, and the window math the
//! benchmark relies on holds.

use okno_connector::testkit::MockVendor;
use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use okno_connector::oauth::memory::MemoryTokenStore;
use okno_connector::testkit::{drain, test_http_options};
use okno_connector::{BuildContext, Connector, Record, TokenVault};
use okno_google_ads::mock::{self, SpendMock, FIRST_CAMPAIGN_ID};
use rust_decimal::Decimal;
use url::Url;

fn settings() -> serde_json::Value {
    let table: toml::Table = toml::from_str(mock::SETTINGS_TOML).expect("SETTINGS_TOML is TOML");
    serde_json::to_value(table).unwrap()
}

fn build(uri: &str, now: DateTime<Utc>) -> Arc<dyn Connector> {
    let ctx = BuildContext {
        instance: "gads-mock".into(),
        settings: settings(),
        base_url: Some(Url::parse(uri).unwrap()),
        http: test_http_options(),
        tokens: TokenVault::with_store(Arc::new(MemoryTokenStore::default())),
    };
    okno_google_ads::build_with_clock(ctx, Arc::new(move || now))
        .unwrap_or_else(|e| panic!("{e:?}"))
}

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

#[test]
fn rows_between_counts_campaigns_times_overlapping_days() {
    let m = SpendMock::new(10, 40).with_first_day(d("2026-10-27"));
    assert_eq!(m.last_day(), d("2026-12-05"));
    assert_eq!(m.rows_between(d("2026-10-01"), d("2026-10-31")), 50);
    assert_eq!(m.rows_between(d("2026-11-01"), d("2026-12-31")), 350);
    assert_eq!(m.rows_between(d("2026-12-06"), d("2026-12-31")), 0);
    assert_eq!(m.backfill_start().to_rfc3339(), "2026-10-26T21:00:00+00:00");
}

#[tokio::test]
async fn a_full_spend_run_reads_every_generated_row_once_with_exact_costs() {
    let m = SpendMock::new(7, 40).with_first_day(d("2026-10-27"));
    let server = m.start().await;
    // 12:00 UTC is 15:00 in Moscow: the account's today is the mock's last day.
    let c = build(&server.uri(), "2026-12-05T12:00:00Z".parse().unwrap());
    let (records, _) = drain(c.as_ref(), "spend", None, m.backfill_start())
        .await
        .unwrap();
    let mut keys = BTreeSet::new();
    let mut total = Decimal::ZERO;
    let mut expected = Decimal::ZERO;
    for r in &records {
        if let Record::AdSpend(s) = r {
            let c = s.campaign_id.parse::<u64>().unwrap() - FIRST_CAMPAIGN_ID;
            let day = (s.date - m.first_day).num_days() as u64;
            assert!(keys.insert((c, day)), "row {c}/{day} twice");
            assert_eq!(s.cost, Decimal::new(SpendMock::cost_micros(c, day), 6));
            assert_eq!(s.clicks, Some(SpendMock::clicks(c, day)));
            assert_eq!(
                s.conversions.unwrap(),
                SpendMock::conversions(c, day).parse::<Decimal>().unwrap()
            );
            total += s.cost;
            expected += Decimal::new(SpendMock::cost_micros(c, day), 6);
        }
    }
    assert_eq!(keys.len() as u64, m.rows_between(m.first_day, m.last_day()));
    assert_eq!(total, expected);
    let windows: Vec<(NaiveDate, NaiveDate)> = records
        .iter()
        .filter_map(Record::as_spend_window)
        .map(|w| (w.from, w.to))
        .collect();
    assert_eq!(
        windows,
        [
            (d("2026-10-27"), d("2026-11-26")),
            (d("2026-11-27"), d("2026-12-05"))
        ]
    );
}

#[tokio::test]
async fn campaigns_and_clicks_come_from_the_mock_too() {
    let m = SpendMock::new(3, 5).with_first_day(d("2026-12-01"));
    let server = m.start().await;
    let now: DateTime<Utc> = "2026-12-05T12:00:00Z".parse().unwrap();
    let c = build(&server.uri(), now);
    let (records, cursor) = drain(c.as_ref(), "campaigns", None, now).await.unwrap();
    assert!(cursor.is_none());
    let campaigns: Vec<_> = records.iter().filter_map(Record::as_campaign).collect();
    assert_eq!(campaigns.len(), 3);
    assert_eq!(
        campaigns[0].utm_campaign.as_deref(),
        Some(FIRST_CAMPAIGN_ID.to_string().as_str())
    );
    let (records, _) = drain(c.as_ref(), "clicks", None, m.backfill_start())
        .await
        .unwrap();
    let clicks = records
        .iter()
        .filter(|r| matches!(r, Record::ClickId(_)))
        .count() as u64;
    assert_eq!(clicks, 5 * 3 * mock::CLICKS_PER_DAY);
}
