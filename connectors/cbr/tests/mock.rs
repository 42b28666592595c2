//! The `mock` feature's generator: its settings parse, its bodies are the documented document in
//! windows-1251, and it answers weekends, unpublished days and bad requests like the bank.

use chrono::NaiveDate;
use okno_cbr::daily::{parse, Answer};
use okno_cbr::mock::{self, DailyMock, CURRENCIES, DAILY_PATH};
use okno_connector::rust_decimal::Decimal;
use okno_connector::testkit::MockVendor;
use okno_connector::testkit::{drain, test_http_options};
use okno_connector::{BuildContext, Record, TokenVault};
use url::Url;

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

#[test]
fn the_documented_settings_build_an_instance() {
    let table: toml::Table = toml::from_str(mock::SETTINGS_TOML).expect("SETTINGS_TOML is TOML");
    let settings = serde_json::to_value(table).unwrap();
    let ctx = BuildContext {
        instance: "cbr".into(),
        settings,
        base_url: Some(Url::parse("http://127.0.0.1:9/").unwrap()),
        http: test_http_options(),
        tokens: TokenVault::new(),
    };
    assert!((okno_cbr::KIND.build)(ctx).is_ok());
}

#[test]
fn bodies_are_windows_1251_with_decimal_commas_and_read_back_exactly() {
    let body = DailyMock::body(day("2025-04-01"));
    let head = String::from_utf8_lossy(&body[..60]).into_owned();
    assert!(head.contains("encoding=\"windows-1251\""), "{head}");
    assert!(
        std::str::from_utf8(&body).is_err(),
        "Cyrillic names are not UTF-8"
    );
    let text = encoding_rs::WINDOWS_1251.decode(&body).0;
    assert!(text.contains("<Name>Доллар США</Name>"));
    assert!(text.contains("<Nominal>100</Nominal>"));

    let Ok(Answer::Rates(rates)) = parse(&body) else {
        panic!("the mock's body does not parse");
    };
    assert_eq!(rates.date, day("2025-04-01"));
    assert_eq!(rates.rates.len(), CURRENCIES.len());
    assert!(rates.skipped.is_empty());
    for r in &rates.rates {
        assert_eq!(
            Some(r.rate),
            DailyMock::rate(r.currency.as_str(), day("2025-04-01")),
            "{}",
            r.currency
        );
    }
    // Per-unit rates of nominal-100 currencies are the Value moved two places.
    let jpy = DailyMock::rate("JPY", day("2025-04-01")).unwrap();
    assert!(jpy < Decimal::ONE && jpy > Decimal::ZERO);
}

#[test]
fn weekends_and_unpublished_days_get_the_set_in_force() {
    let m = DailyMock::new();
    // 2025-04-05 is a Saturday.
    assert_eq!(m.set_date(day("2025-04-05")), day("2025-04-05"));
    assert_eq!(m.set_date(day("2025-04-06")), day("2025-04-05"));
    assert_eq!(m.set_date(day("2025-04-07")), day("2025-04-05"));
    assert_eq!(m.set_date(day("2025-04-08")), day("2025-04-08"));
    let m = DailyMock::new().published_through(day("2025-04-03"));
    assert_eq!(m.set_date(day("2025-04-04")), day("2025-04-03"));
}

#[tokio::test]
async fn a_bad_date_req_gets_the_banks_refusal() {
    let server = DailyMock::new().start().await;
    let body = reqwest_get(&format!("{}{DAILY_PATH}?date_req=2025-04-01", server.uri())).await;
    assert!(matches!(parse(&body), Ok(Answer::Refused(t)) if t == "Error in parameters"));
}

#[tokio::test]
async fn a_sync_over_a_week_records_every_currency_every_day() {
    let mock = DailyMock::new();
    let server = mock.start().await;
    let ctx = BuildContext {
        instance: "cbr".into(),
        settings: serde_json::json!({}),
        base_url: Some(Url::parse(&server.uri()).unwrap()),
        http: test_http_options(),
        tokens: TokenVault::new(),
    };
    let c = (okno_cbr::KIND.build)(ctx).unwrap_or_else(|e| panic!("{e:?}"));
    let plan = okno_connector::Cursor(
        serde_json::json!({"pass": {"next": "2025-04-01", "to": "2025-04-07"}}),
    );
    let (records, _) = drain(c.as_ref(), "rates", Some(plan), chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(records.len(), 7 * CURRENCIES.len());
    // Sunday 6 April carries Saturday's USD rate under its own date.
    let usd_sunday = records.iter().find_map(|r| match r {
        Record::FxRate(fx) if fx.date == day("2025-04-06") && fx.currency.as_str() == "USD" => {
            Some(fx.rate)
        }
        _ => None,
    });
    assert_eq!(usd_sunday, DailyMock::rate("USD", day("2025-04-05")));
    assert_eq!(mock.served.load(std::sync::atomic::Ordering::Relaxed), 7);
}

async fn reqwest_get(url: &str) -> Vec<u8> {
    okno_connector::reqwest::get(url)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec()
}
