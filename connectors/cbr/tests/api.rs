//! Connector-level tests: the `cbr` connector, built through its registry entry, against a
//! wiremock server serving the documented answers in `tests/fixtures/` (windows-1251 bytes)
//! or the `mock` feature's generator.

use okno_connector::testkit::MockVendor;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Days, NaiveDate, Utc};
use okno_cbr::mock::{DailyMock, CURRENCIES, DAILY_PATH};
use okno_connector::rust_decimal::Decimal;
use okno_connector::testkit::{drain, test_http_options};
use okno_connector::{
    BuildContext, Connector, ConnectorError, Cursor, Page, PageRequest, Record, TokenVault,
};
use serde_json::{json, Value};
use url::Url;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

// ---------------------------------------------------------------------------------------------
// helpers

fn fixture(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("fixture {} unreadable: {e}", p.display()))
}

/// A fixture as text (decoded from windows-1251), for variants built in the tests.
fn fixture_text(name: &str) -> String {
    let bytes = fixture(name);
    let (text, _, had_errors) = encoding_rs::WINDOWS_1251.decode(&bytes);
    assert!(!had_errors);
    text.into_owned()
}

fn cp1251(text: &str) -> Vec<u8> {
    encoding_rs::WINDOWS_1251.encode(text).0.into_owned()
}

fn xml(body: Vec<u8>) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body, "application/xml")
}

async fn answer(server: &MockServer, date_req: &str, body: Vec<u8>) {
    Mock::given(method("GET"))
        .and(path(DAILY_PATH))
        .and(query_param("date_req", date_req))
        .respond_with(xml(body))
        .mount(server)
        .await;
}

fn build(server: &MockServer, settings: Value) -> Arc<dyn Connector> {
    let ctx = BuildContext {
        instance: "cbr".into(),
        settings,
        base_url: Some(Url::parse(&server.uri()).unwrap()),
        http: test_http_options(),
        tokens: TokenVault::new(),
    };
    match (okno_cbr::KIND.build)(ctx) {
        Ok(c) => c,
        Err(errs) => panic!("settings rejected: {errs:?}"),
    }
}

async fn fetch(
    c: &dyn Connector,
    cursor: Option<&Cursor>,
    start: DateTime<Utc>,
) -> Result<Page, ConnectorError> {
    c.fetch_page(PageRequest {
        stream: "rates",
        cursor,
        start,
    })
    .await
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str_exact(s).unwrap()
}

fn moscow_today() -> NaiveDate {
    Utc::now()
        .with_timezone(&okno_connector::chrono_tz::Europe::Moscow)
        .date_naive()
}

/// (date, currency, rate) of every FxRate, checking the base is RUB.
fn rates(records: &[Record]) -> Vec<(NaiveDate, String, Decimal)> {
    records
        .iter()
        .map(|r| match r {
            Record::FxRate(fx) => {
                assert_eq!(fx.base.as_str(), "RUB");
                (fx.date, fx.currency.to_string(), fx.rate)
            }
            other => panic!("unexpected record {other:?}"),
        })
        .collect()
}

fn rate_of(rates: &[(NaiveDate, String, Decimal)], date: NaiveDate, code: &str) -> Option<Decimal> {
    rates
        .iter()
        .find(|(d, c, _)| *d == date && c == code)
        .map(|(_, _, r)| *r)
}

async fn requested_days(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r: &Request| {
            r.url
                .query_pairs()
                .find(|(k, _)| k == "date_req")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        })
        .collect()
}

fn date_req(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

fn cursor(v: Value) -> Cursor {
    Cursor(v)
}

// ---------------------------------------------------------------------------------------------
// the recorded answers

#[tokio::test]
async fn reads_the_recorded_answer_into_exact_per_unit_rates_on_the_moscow_day() {
    let server = MockServer::start().await;
    answer(&server, "01/04/2025", fixture("XML_daily_2025-04-01.xml")).await;
    let c = build(&server, json!({}));

    // 21:30 UTC on 31 March is already 00:30 on 1 April in Moscow: the first day asked is 1 April.
    let page = fetch(c.as_ref(), None, utc("2025-03-31T21:30:00Z"))
        .await
        .unwrap();

    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].url.query(), Some("date_req=01/04/2025"));

    let got = rates(&page.records);
    assert_eq!(got.len(), 10);
    let april_1 = day("2025-04-01");
    assert!(got.iter().all(|(d, _, _)| *d == april_1));
    // Hand-checked against the fixture: VunitRate, the bank's per-unit figure.
    assert_eq!(rate_of(&got, april_1, "USD"), Some(dec("85.4963")));
    assert_eq!(rate_of(&got, april_1, "EUR"), Some(dec("92.4276")));
    assert_eq!(rate_of(&got, april_1, "GBP"), Some(dec("110.6408")));
    // Nominal 100: 57,1958 per 100 yen is 0.571958 per yen.
    assert_eq!(rate_of(&got, april_1, "JPY"), Some(dec("0.571958")));
    assert_eq!(rate_of(&got, april_1, "KZT"), Some(dec("0.169831")));
    assert_eq!(rate_of(&got, april_1, "AMD"), Some(dec("0.218342")));
    // Nominal 10000: 34,4230 per 10 000 dong.
    let vnd = rate_of(&got, april_1, "VND").unwrap();
    assert_eq!(vnd, dec("0.0034423"));
    assert_eq!(vnd.to_string(), "0.0034423", "digits kept exactly");
    // VunitRate with its trailing zero dropped is the same number as Value.
    assert_eq!(rate_of(&got, april_1, "QAR"), Some(dec("23.4880")));

    // The pass goes on through tomorrow in Moscow.
    assert!(page.has_more);
    let tomorrow = moscow_today().checked_add_days(Days::new(1)).unwrap();
    assert_eq!(
        page.next.unwrap().0,
        json!({"through": "2025-04-01", "pass": {"next": "2025-04-02", "to": tomorrow.to_string()}})
    );
}

#[tokio::test]
async fn answers_without_vunit_rate_divide_value_by_nominal() {
    let server = MockServer::start().await;
    answer(&server, "24/08/2021", fixture("XML_daily_2021-08-24.xml")).await;
    let c = build(&server, json!({}));
    let resumed = cursor(json!({"pass": {"next": "2021-08-24", "to": "2021-08-24"}}));

    let page = fetch(c.as_ref(), Some(&resumed), utc("2021-01-01T00:00:00Z"))
        .await
        .unwrap();

    let got = rates(&page.records);
    let d = day("2021-08-24");
    assert_eq!(got.len(), 3);
    assert_eq!(rate_of(&got, d, "EUR"), Some(dec("86.7838")));
    // 17,3926 per 100 tenge; 41,9277 per 10 lei.
    assert_eq!(rate_of(&got, d, "KZT"), Some(dec("0.173926")));
    assert_eq!(rate_of(&got, d, "MDL"), Some(dec("4.19277")));
    assert!(!page.has_more);
    assert_eq!(page.next.unwrap().0, json!({"through": "2021-08-24"}));
}

#[tokio::test]
async fn weekend_days_carry_the_set_in_force_under_their_own_dates() {
    let server = MockServer::start().await;
    // Saturday's set answers Saturday, Sunday and Monday; Tuesday has its own.
    let saturday = fixture("XML_daily_2021-08-21.xml");
    for d in ["21/08/2021", "22/08/2021", "23/08/2021"] {
        answer(&server, d, saturday.clone()).await;
    }
    answer(&server, "24/08/2021", fixture("XML_daily_2021-08-24.xml")).await;
    let c = build(&server, json!({}));
    let plan = cursor(
        json!({"through": "2021-08-20", "pass": {"next": "2021-08-21", "to": "2021-08-24"}}),
    );

    let (records, last) = drain(c.as_ref(), "rates", Some(plan), utc("2021-01-01T00:00:00Z"))
        .await
        .unwrap();

    assert_eq!(
        requested_days(&server).await,
        ["21/08/2021", "22/08/2021", "23/08/2021", "24/08/2021"]
    );
    let got = rates(&records);
    assert_eq!(got.len(), 3 * 2 + 3);
    for d in ["2021-08-21", "2021-08-22", "2021-08-23"] {
        assert_eq!(rate_of(&got, day(d), "USD"), Some(dec("74.3640")), "{d}");
        assert_eq!(rate_of(&got, day(d), "CAD"), Some(dec("57.5885")), "{d}");
    }
    assert_eq!(rate_of(&got, day("2021-08-24"), "USD"), None);
    assert_eq!(
        rate_of(&got, day("2021-08-24"), "KZT"),
        Some(dec("0.173926"))
    );
    assert_eq!(last.unwrap().0, json!({"through": "2021-08-24"}));
}

#[tokio::test]
async fn only_the_configured_currencies_are_kept() {
    let server = MockServer::start().await;
    answer(&server, "01/04/2025", fixture("XML_daily_2025-04-01.xml")).await;
    // XAU is a valid code the bank does not list in this answer: a warning, not an error.
    let c = build(&server, json!({"currencies": ["usd", "JPY", "XAU"]}));
    let resumed = cursor(json!({"pass": {"next": "2025-04-01", "to": "2025-04-01"}}));

    let page = fetch(c.as_ref(), Some(&resumed), utc("2025-01-01T00:00:00Z"))
        .await
        .unwrap();

    let mut codes: Vec<String> = rates(&page.records).into_iter().map(|r| r.1).collect();
    codes.sort();
    assert_eq!(codes, ["JPY", "USD"]);
}

#[tokio::test]
async fn malformed_currencies_are_left_out_and_the_rest_of_the_day_is_kept() {
    let server = MockServer::start().await;
    let text = fixture_text("XML_daily_2025-04-01.xml")
        .replace("<CharCode>AUD</CharCode>", "<CharCode>A1D</CharCode>")
        .replace("<CharCode>GBP</CharCode>", "<CharCode></CharCode>")
        .replace(
            "<Nominal>100</Nominal>\n        <Name>Армянских драмов</Name>",
            "<Nominal>0</Nominal>\n        <Name>Армянских драмов</Name>",
        )
        .replace(
            "<VunitRate>11,7136</VunitRate>",
            "<VunitRate>11,71,36</VunitRate>",
        );
    answer(&server, "01/04/2025", cp1251(&text)).await;
    let c = build(&server, json!({}));
    let resumed = cursor(json!({"pass": {"next": "2025-04-01", "to": "2025-04-01"}}));

    let page = fetch(c.as_ref(), Some(&resumed), utc("2025-01-01T00:00:00Z"))
        .await
        .unwrap();

    let got = rates(&page.records);
    let mut codes: Vec<&str> = got.iter().map(|r| r.1.as_str()).collect();
    codes.sort();
    assert_eq!(codes, ["EUR", "JPY", "KZT", "QAR", "USD", "VND"]);
    assert_eq!(
        rate_of(&got, day("2025-04-01"), "USD"),
        Some(dec("85.4963"))
    );
    assert_eq!(page.next.unwrap().0, json!({"through": "2025-04-01"}));
}

// ---------------------------------------------------------------------------------------------
// vendor errors

#[tokio::test]
async fn bad_xml_is_a_decode_error_and_the_same_day_is_asked_again() {
    let server = MockServer::start().await;
    let full = fixture("XML_daily_2025-04-01.xml");
    Mock::given(method("GET"))
        .and(path(DAILY_PATH))
        .respond_with(xml(full[..600].to_vec()))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let c = build(&server, json!({}));
    let committed = cursor(
        json!({"through": "2025-03-31", "pass": {"next": "2025-04-01", "to": "2025-04-02"}}),
    );

    let err = fetch(c.as_ref(), Some(&committed), utc("2025-01-01T00:00:00Z"))
        .await
        .unwrap_err();
    match &err {
        ConnectorError::Decode { endpoint, message } => {
            assert_eq!(*endpoint, "XML_daily");
            assert!(message.contains("date_req=01/04/2025"), "{message}");
            assert!(message.contains("truncated"), "{message}");
        }
        other => panic!("expected a decode error, got {other:?}"),
    }

    // The engine keeps the committed cursor: the next attempt asks for the same day.
    answer(&server, "01/04/2025", full).await;
    let page = fetch(c.as_ref(), Some(&committed), utc("2025-01-01T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(rates(&page.records).len(), 10);
    assert_eq!(requested_days(&server).await, ["01/04/2025", "01/04/2025"]);
}

#[tokio::test]
async fn an_html_page_with_status_200_is_a_decode_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(DAILY_PATH))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(
                "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Банк России</title></head><body><p>Сервис временно недоступен</body></html>",
                "text/html; charset=utf-8",
            ),
        )
        .mount(&server)
        .await;
    let c = build(&server, json!({}));
    let err = fetch(c.as_ref(), None, utc("2025-04-01T09:00:00Z"))
        .await
        .unwrap_err();
    assert_eq!(err.class(), "decode", "{err}");
}

#[tokio::test]
async fn error_in_parameters_is_a_permanent_error_quoting_the_bank() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(DAILY_PATH))
        .respond_with(xml(fixture("error_in_parameters.xml")))
        .expect(1)
        .mount(&server)
        .await;
    let c = build(&server, json!({}));
    let err = fetch(c.as_ref(), None, utc("2025-04-01T09:00:00Z"))
        .await
        .unwrap_err();
    match &err {
        ConnectorError::Permanent {
            status, message, ..
        } => {
            assert_eq!(*status, 200);
            assert!(message.contains("Error in parameters"), "{message}");
            assert!(message.contains("date_req=01/04/2025"), "{message}");
        }
        other => panic!("expected a permanent error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_403_block_is_a_one_hour_wait_without_retries() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(DAILY_PATH))
        .respond_with(ResponseTemplate::new(403).set_body_raw(
            "<html><head><title>403 Forbidden</title></head><body>Forbidden</body></html>",
            "text/html",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let c = build(&server, json!({}));
    let before = Utc::now();
    let err = fetch(c.as_ref(), None, utc("2025-04-01T09:00:00Z"))
        .await
        .unwrap_err();
    let after = Utc::now();
    match &err {
        ConnectorError::Quota {
            endpoint,
            until,
            message,
        } => {
            assert_eq!(*endpoint, "XML_daily");
            assert!(*until >= before + chrono::Duration::minutes(60), "{until}");
            assert!(*until <= after + chrono::Duration::minutes(60), "{until}");
            assert!(message.contains("403"), "{message}");
            assert!(message.contains("rate_limit"), "{message}");
        }
        other => panic!("expected a quota wait, got {other:?}"),
    }
    assert_eq!(
        err.resume_at(after),
        Some(match &err {
            ConnectorError::Quota { until, .. } => *until,
            _ => unreachable!(),
        })
    );
    // `expect(1)` is verified when the server drops: no retry went out.
}

#[tokio::test]
async fn a_429_is_retried_by_the_client_and_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(DAILY_PATH))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "0"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(DAILY_PATH))
        .respond_with(xml(fixture("XML_daily_2025-04-01.xml")))
        .with_priority(2)
        .mount(&server)
        .await;
    let c = build(&server, json!({}));
    let resumed = cursor(json!({"pass": {"next": "2025-04-01", "to": "2025-04-01"}}));
    let page = fetch(c.as_ref(), Some(&resumed), utc("2025-01-01T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(rates(&page.records).len(), 10);
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn an_unreadable_cursor_and_an_unknown_stream_are_clear_errors() {
    let server = MockServer::start().await;
    let c = build(&server, json!({}));
    let bad = cursor(json!({"through": 20250401}));
    let err = fetch(c.as_ref(), Some(&bad), utc("2025-01-01T00:00:00Z"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("--full"), "{err}");
    let err = c
        .fetch_page(PageRequest {
            stream: "spend",
            cursor: None,
            start: utc("2025-01-01T00:00:00Z"),
        })
        .await
        .unwrap_err();
    assert_eq!(err.class(), "invalid");
    assert!(server.received_requests().await.unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------------
// runs against the generator, near today

/// Every mock rate of `d` as the connector should record it.
fn expected_day(mock: &DailyMock, d: NaiveDate) -> Vec<(NaiveDate, String, Decimal)> {
    let set = mock.set_date(d);
    CURRENCIES
        .iter()
        .map(|c| (d, c.code.to_string(), DailyMock::rate(c.code, set).unwrap()))
        .collect()
}

#[tokio::test]
async fn an_interrupted_run_resumes_at_the_next_day_and_the_next_run_re_pulls_two_days() {
    let today = moscow_today();
    let ago = |n: u64| today.checked_sub_days(Days::new(n)).unwrap();
    let tomorrow = today.checked_add_days(Days::new(1)).unwrap();
    // Tomorrow's set is not published yet.
    let mock = DailyMock::new().published_through(today);
    let server = mock.start().await;
    let start = utc("2020-01-01T00:00:00Z");
    let committed = cursor(json!({"through": ago(3).to_string()}));

    // Two pages, then the process dies; only the second page's cursor was committed.
    let c = build(&server, json!({}));
    let p1 = fetch(c.as_ref(), Some(&committed), start).await.unwrap();
    let p2 = fetch(c.as_ref(), p1.next.as_ref(), start).await.unwrap();
    assert!(p2.has_more);
    drop(c);

    let c = build(&server, json!({}));
    let (rest, last) = drain(c.as_ref(), "rates", p2.next.clone(), start)
        .await
        .unwrap();
    assert_eq!(
        requested_days(&server).await,
        [ago(4), ago(3), ago(2), ago(1), today, tomorrow].map(date_req)
    );

    let mut got = rates(&p1.records);
    got.extend(rates(&p2.records));
    got.extend(rates(&rest));
    let mut want = Vec::new();
    for d in [ago(4), ago(3), ago(2), ago(1), today] {
        want.extend(expected_day(&mock, d));
    }
    got.sort();
    want.sort();
    assert_eq!(got, want, "every day through today, nothing under tomorrow");
    let last = last.unwrap();
    assert_eq!(last.0, json!({"through": today.to_string()}));

    // The next run asks for yesterday and today again, and tomorrow.
    let (again, _) = drain(c.as_ref(), "rates", Some(last), start).await.unwrap();
    let days = requested_days(&server).await;
    assert_eq!(days[6..], [ago(1), today, tomorrow].map(date_req));
    assert_eq!(again.len(), 2 * CURRENCIES.len());
}

#[tokio::test]
async fn a_published_tomorrow_is_stored_under_tomorrow() {
    let today = moscow_today();
    let tomorrow = today.checked_add_days(Days::new(1)).unwrap();
    let mock = DailyMock::new(); // every day published
    let server = mock.start().await;
    let c = build(&server, json!({"currencies": ["USD", "KZT"]}));
    let committed = cursor(json!({"through": today.to_string()}));

    let (records, last) = drain(
        c.as_ref(),
        "rates",
        Some(committed),
        utc("2020-01-01T00:00:00Z"),
    )
    .await
    .unwrap();

    let got = rates(&records);
    // A Sunday or Monday tomorrow is answered with Saturday's set: not tomorrow's own yet.
    let own_set = mock.set_date(tomorrow) == tomorrow;
    let kzt = DailyMock::rate("KZT", mock.set_date(tomorrow)).unwrap();
    assert_eq!(rate_of(&got, tomorrow, "KZT"), own_set.then_some(kzt));
    let through = if own_set { tomorrow } else { today };
    assert_eq!(last.unwrap().0, json!({"through": through.to_string()}));
}

#[tokio::test]
async fn check_names_how_many_rates_today_holds() {
    let server = DailyMock::new().start().await;
    let c = build(&server, json!({"currencies": ["USD", "XAU"]}));
    let line = c.check().await.unwrap();
    assert!(
        line.contains(&format!("{} exchange rates", CURRENCIES.len())),
        "{line}"
    );
    assert!(line.contains("1 of the 2 configured"), "{line}");
    assert!(line.contains("missing: XAU"), "{line}");
    assert_eq!(requested_days(&server).await, [date_req(moscow_today())]);
}

#[test]
fn settings_problems_are_reported_with_keys() {
    let ctx = BuildContext {
        instance: "cbr".into(),
        settings: json!({"currencies": ["USD", "DOLLAR", "RUB"]}),
        base_url: None,
        http: test_http_options(),
        tokens: TokenVault::new(),
    };
    let errs = match (okno_cbr::KIND.build)(ctx) {
        Ok(_) => panic!("accepted bad currencies"),
        Err(errs) => errs,
    };
    let keys: Vec<&str> = errs.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["currencies[1]", "currencies[2]"]);
}
