//! The Meta Ads connector against wiremock: fixtures shaped like the Graph API's documented
//! answers (see tests/fixtures/README.md) and the crate's own stand-in (`mock` feature).

use okno_connector::testkit::MockVendor;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Days, NaiveDate, Utc};
use hmac::{Hmac, Mac};
use okno_connector::rust_decimal::Decimal;
use okno_connector::spend::SpendCursor;
use okno_connector::testkit::{
    fetch, fixture as read_fixture, of_kind, real_pause, test_http_options,
};
use okno_connector::{
    BuildContext, Connector, ConnectorError, HttpOptions, Page, Record, TokenVault,
};
use serde_json::{json, Value};
use url::Url;
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const TOKEN: &str = "EAAGm0PX4ZCpsBAtestSystemUserToken";
const APP_SECRET: &str = "3f5a0c9e1b7d42aa8c6e0d1f2b3c4d5e";
const ACCOUNT: &str = "/v26.0/act_1234567890";
const INSIGHTS: &str = "/v26.0/act_1234567890/insights";
const CAMPAIGNS: &str = "/v26.0/act_1234567890/campaigns";
const RUN: &str = "/v26.0/6200000000001";
const RUN_INSIGHTS: &str = "/v26.0/6200000000001/insights";
const BUC: &str = "x-business-use-case-usage";

// ---------------------------------------------------------------------------------------------
// helpers

fn fixture(name: &str) -> String {
    read_fixture(env!("CARGO_MANIFEST_DIR"), name)
}

fn graph(status: u16, body: impl Into<String>) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.into(), "application/json; charset=UTF-8")
}

fn settings(extra: Value) -> Value {
    let mut s = json!({ "access_token": TOKEN, "ad_account_ids": ["act_1234567890"] });
    if let (Some(s), Value::Object(extra)) = (s.as_object_mut(), extra) {
        s.extend(extra);
    }
    s
}

/// Test options with a request timeout far beyond any paused-time step.
fn options() -> HttpOptions {
    let mut o = test_http_options();
    o.timeout = Duration::from_secs(3600);
    o
}

fn build(server: &MockServer, settings: Value) -> Arc<dyn Connector> {
    let ctx = BuildContext {
        instance: "meta".into(),
        settings,
        base_url: Some(Url::parse(&server.uri()).unwrap()),
        http: options(),
        tokens: TokenVault::new(),
    };
    match (okno_meta_ads::KIND.build)(ctx) {
        Ok(c) => c,
        Err(errs) => panic!("settings rejected: {errs:?}"),
    }
}

async fn received(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap()
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// Midnight UTC of `s`: a backfill start whose account-zone day is `s` or the day before.
fn start(s: &str) -> DateTime<Utc> {
    day(s).and_hms_opt(12, 0, 0).unwrap().and_utc()
}

fn plan(page: &Page) -> SpendCursor {
    SpendCursor::from_cursor(page.next.as_ref()).unwrap()
}

fn today_in(zone: &str) -> NaiveDate {
    let tz: okno_connector::chrono_tz::Tz = zone.parse().unwrap();
    Utc::now().with_timezone(&tz).date_naive()
}

async fn mount_account(server: &MockServer, body: String) {
    Mock::given(method("GET"))
        .and(path(ACCOUNT))
        .and(query_param("fields", "name,currency,timezone_name"))
        .respond_with(graph(200, body))
        .mount(server)
        .await;
}

fn time_range(from: &str, to: &str) -> String {
    format!(r#"{{"since":"{from}","until":"{to}"}}"#)
}

/// Runs `fut` under paused time, moving the clock by hand. Paused time and real sockets do
/// not mix on their own: while a request waits for the mock server the runtime is idle and
/// tokio would jump the clock to the next timer (reqwest's timeout). A blocking task inhibits
/// that auto-advance; the clock then moves 250 ms at a time with a little real time between
/// steps for socket I/O. Returns the output and the virtual time it took.
async fn drive<T: Send + 'static>(fut: impl Future<Output = T> + Send + 'static) -> (T, Duration) {
    let (release, inhibited) = std::sync::mpsc::channel::<()>();
    let inhibitor = tokio::task::spawn_blocking(move || {
        let _ = inhibited.recv();
    });
    let started = tokio::time::Instant::now();
    let task = tokio::spawn(fut);
    for _ in 0..40_000 {
        real_pause(2).await;
        if task.is_finished() {
            break;
        }
        tokio::time::advance(Duration::from_millis(250)).await;
    }
    let elapsed = started.elapsed();
    let _ = release.send(());
    inhibitor.await.unwrap();
    assert!(task.is_finished(), "the page never finished");
    (task.await.unwrap(), elapsed)
}

// ---------------------------------------------------------------------------------------------
// campaigns

#[tokio::test]
async fn campaigns_page_through_every_cursor_with_the_account_first() {
    let server = MockServer::start().await;
    mount_account(&server, fixture("account.json")).await;
    Mock::given(method("GET"))
        .and(path(CAMPAIGNS))
        .and(query_param("fields", "id,name,status,effective_status"))
        .and(query_param("limit", "500"))
        .and(query_param_is_missing("after"))
        .respond_with(graph(200, fixture("campaigns_page1.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(CAMPAIGNS))
        .and(query_param("after", "QVFIUmJ0aFNsZAXdVMTAy"))
        .respond_with(graph(200, fixture("campaigns_page2.json")))
        .expect(1)
        .mount(&server)
        .await;
    let c = build(&server, settings(json!({ "channel": "facebook" })));
    let page = fetch(c.as_ref(), "campaigns", None, start("2026-11-01"))
        .await
        .unwrap();
    // One account configured: the only page ends the stream and clears the cursor.
    assert!(!page.has_more);
    assert!(page.next.is_none());
    assert!(matches!(page.records[0], Record::AdAccount(_)));
    let a = of_kind(&page.records, Record::as_ad_account)[0];
    assert_eq!(a.account_id, "act_1234567890");
    assert_eq!(a.currency.as_str(), "USD");
    assert_eq!(a.time_zone, "America/Los_Angeles");
    assert_eq!(a.name.as_deref(), Some("Okhvat School — US"));
    let cs = of_kind(&page.records, Record::as_campaign);
    let ids: Vec<&str> = cs.iter().map(|c| c.campaign_id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "120210000000000101",
            "120210000000000102",
            "120210000000000103"
        ]
    );
    assert_eq!(
        cs[1].status.as_deref(),
        Some("WITH_ISSUES"),
        "effective_status wins"
    );
    assert_eq!(cs[2].status.as_deref(), Some("PAUSED"));
    assert!(cs
        .iter()
        .all(|c| c.channel == "facebook" && c.utm_campaign.is_none()));
    assert!(cs.iter().all(|c| c.account_id == "act_1234567890"));
    assert!(cs[0].raw.get().contains("lookalike 1%"));
}

#[tokio::test]
async fn campaigns_take_one_page_per_account_and_clear_the_cursor_after_the_last() {
    let mock = okno_meta_ads::mock::MetaMock::new(30);
    let server = mock.start().await;
    let c = build(
        &server,
        json!({ "access_token": TOKEN, "ad_account_ids": ["act_1000000001", "1000000002"] }),
    );
    let first = fetch(c.as_ref(), "campaigns", None, start("2026-11-01"))
        .await
        .unwrap();
    assert!(first.has_more);
    assert_eq!(first.next.as_ref().unwrap().0, json!({ "account": 1 }));
    assert_eq!(
        of_kind(&first.records, Record::as_campaign).len(),
        30,
        "25 + 5 over two Graph pages"
    );
    assert_eq!(
        of_kind(&first.records, Record::as_ad_account)[0].account_id,
        "act_1000000001"
    );
    assert_eq!(
        of_kind(&first.records, Record::as_campaign)[0].channel,
        "meta_ads"
    );
    let second = fetch(
        c.as_ref(),
        "campaigns",
        first.next.as_ref(),
        start("2026-11-01"),
    )
    .await
    .unwrap();
    assert!(!second.has_more);
    assert!(second.next.is_none());
    assert_eq!(
        of_kind(&second.records, Record::as_ad_account)[0]
            .currency
            .as_str(),
        "EUR"
    );
    assert_eq!(
        of_kind(&second.records, Record::as_campaign)[29].campaign_id,
        okno_meta_ads::mock::campaign_id(1, 29)
    );
}

// ---------------------------------------------------------------------------------------------
// spend: direct queries, numbers, conversions, time zones

#[tokio::test]
async fn spend_pages_insights_to_the_end_with_exact_decimals_and_configured_conversions() {
    let server = MockServer::start().await;
    mount_account(&server, fixture("account.json")).await;
    let range = time_range("2026-11-01", "2026-11-28");
    Mock::given(method("GET"))
        .and(path(INSIGHTS))
        .and(query_param("level", "campaign"))
        .and(query_param("time_increment", "1"))
        .and(query_param("time_range", range.as_str()))
        .and(query_param(
            "fields",
            "campaign_id,campaign_name,spend,impressions,clicks,actions,date_start,date_stop",
        ))
        .and(query_param("limit", "500"))
        .and(query_param_is_missing("after"))
        .respond_with(graph(200, fixture("insights_page1.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(INSIGHTS))
        .and(query_param("time_range", range.as_str()))
        .and(query_param("after", "MQZDZD"))
        .respond_with(graph(200, fixture("insights_page2.json")))
        .expect(1)
        .mount(&server)
        .await;
    // Slices of 28 days stay direct queries with async_after_days = 28.
    let c = build(&server, settings(json!({ "async_after_days": 28 })));
    let page = fetch(c.as_ref(), "spend", None, start("2026-11-01"))
        .await
        .unwrap();

    assert_eq!(
        of_kind(&page.records, Record::as_ad_account)[0].time_zone,
        "America/Los_Angeles"
    );
    let rows = of_kind(&page.records, Record::as_ad_spend);
    assert_eq!(rows.len(), 3, "both Graph pages are in the one page");
    // "1234.56" exactly, not 1234.5599999...
    assert_eq!(rows[0].cost, Decimal::new(123_456, 2));
    assert_eq!(rows[0].cost.to_string(), "1234.56");
    assert_eq!(rows[0].date, day("2026-11-01"));
    assert_eq!(rows[0].impressions, Some(98_765));
    assert_eq!(rows[0].clicks, Some(1_234));
    // lead 7 + purchase 2; the pixel lead, grouped on-Facebook lead and omni_purchase are
    // sub-types or supersets and are not counted again.
    assert_eq!(rows[0].conversions, Some(Decimal::new(9, 0)));
    assert_eq!(rows[0].currency.as_str(), "USD");
    assert_eq!(rows[0].vat_included, None);
    assert_eq!(rows[1].cost, Decimal::new(1, 2));
    assert_eq!(rows[1].conversions, Some(Decimal::ZERO), "no actions: none");
    assert_eq!(rows[2].cost, Decimal::new(98_760, 2));
    assert_eq!(rows[2].conversions, Some(Decimal::new(3, 0)));
    assert_eq!(rows[2].date, day("2026-11-02"));
    assert!(rows.iter().all(|r| r.account_id == "act_1234567890"));
    let raw: Value = serde_json::from_str(rows[0].raw.get()).unwrap();
    assert_eq!(raw["spend"], "1234.56");
    assert_eq!(raw["campaign_name"], "Spring enrolment — lookalike 1%");

    // The page ends with the window that makes it authoritative.
    assert!(matches!(page.records.last(), Some(Record::SpendWindow(_))));
    let w = of_kind(&page.records, Record::as_spend_window)[0];
    assert_eq!((w.from, w.to), (day("2026-11-01"), day("2026-11-28")));
    assert_eq!(w.account_id, "act_1234567890");
    // The pass runs to today in Los Angeles, from the account's timezone_name.
    let p = plan(&page);
    let pass = p.current.as_ref().unwrap();
    assert_eq!(pass.to, today_in("America/Los_Angeles"));
    assert_eq!(pass.next, day("2026-11-29"));
    assert!(page.has_more);
}

#[tokio::test]
async fn conversions_follow_the_configured_action_types() {
    let server = MockServer::start().await;
    mount_account(&server, fixture("account.json")).await;
    Mock::given(method("GET"))
        .and(path(INSIGHTS))
        .and(query_param_is_missing("after"))
        .respond_with(graph(200, fixture("insights_page1.json")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(INSIGHTS))
        .and(query_param("after", "MQZDZD"))
        .respond_with(graph(200, fixture("insights_page2.json")))
        .mount(&server)
        .await;
    let c = build(
        &server,
        settings(json!({
            "async_after_days": 28,
            "conversion_actions": ["offsite_conversion.fb_pixel_lead", "omni_purchase"],
        })),
    );
    let page = fetch(c.as_ref(), "spend", None, start("2026-11-01"))
        .await
        .unwrap();
    let rows = of_kind(&page.records, Record::as_ad_spend);
    assert_eq!(rows[0].conversions, Some(Decimal::new(7, 0)), "5 + 2");
    assert_eq!(rows[2].conversions, Some(Decimal::new(1, 0)));
}

#[tokio::test]
async fn the_pass_ends_on_today_in_the_account_zone_not_in_utc() {
    // A zone whose date differs from UTC's right now, so a UTC "today" fails this test:
    // Kiritimati (UTC+14) is a day ahead from 10:00 UTC, Pago Pago (UTC-11) a day behind
    // before 11:00 UTC.
    let zone = if Utc::now().format("%H").to_string().parse::<u32>().unwrap() >= 10 {
        "Pacific/Kiritimati"
    } else {
        "Pacific/Pago_Pago"
    };
    let today = today_in(zone);
    assert_ne!(
        today,
        Utc::now().date_naive(),
        "the zone must differ from UTC"
    );
    let server = MockServer::start().await;
    mount_account(
        &server,
        json!({ "name": "Okhvat Pacific", "currency": "USD", "timezone_name": zone, "id": "act_1234567890" })
            .to_string(),
    )
    .await;
    Mock::given(method("GET"))
        .and(path(INSIGHTS))
        .respond_with(graph(200, r#"{"data":[],"paging":{"cursors":{}}}"#))
        .mount(&server)
        .await;
    let c = build(&server, settings(json!({ "lookback_days": 3 })));
    // A start three days back: one slice of three account days ending today.
    let from = today.checked_sub_days(Days::new(2)).unwrap();
    let begin = Utc::now() - chrono::Duration::days(2);
    let page = fetch(c.as_ref(), "spend", None, begin).await.unwrap();
    let w = of_kind(&page.records, Record::as_spend_window)[0];
    assert_eq!(w.to, today);
    assert_eq!(w.from, from);
    assert_eq!(w.provisional_from, from);
    assert_eq!(
        of_kind(&page.records, Record::as_ad_account)[0].time_zone,
        zone
    );
    let requested = received(&server).await;
    let q: Vec<(String, String)> = requested
        .last()
        .unwrap()
        .url
        .query_pairs()
        .into_owned()
        .collect();
    let range = time_range(&from.to_string(), &today.to_string());
    assert!(q.contains(&("time_range".into(), range)), "{q:?}");
    assert!(!page.has_more);
}

// ---------------------------------------------------------------------------------------------
// spend: report runs

async fn mount_run_results(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path(RUN_INSIGHTS))
        .and(query_param("limit", "500"))
        .and(query_param_is_missing("after"))
        .respond_with(graph(200, fixture("insights_page1.json")))
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(RUN_INSIGHTS))
        .and(query_param("after", "MQZDZD"))
        .respond_with(graph(200, fixture("insights_page2.json")))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test(start_paused = true)]
async fn a_long_slice_runs_a_report_polls_with_growing_waits_and_pages_its_results() {
    let server = MockServer::start().await;
    mount_account(&server, fixture("account.json")).await;
    Mock::given(method("POST"))
        .and(path(INSIGHTS))
        .respond_with(graph(200, fixture("report_run_created.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(RUN))
        .and(query_param(
            "fields",
            "id,async_status,async_percent_completion",
        ))
        .respond_with(graph(200, fixture("report_run_running.json")))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(RUN))
        .respond_with(graph(200, fixture("report_run_completed.json")))
        .with_priority(2)
        .mount(&server)
        .await;
    mount_run_results(&server).await;
    // 28-day slices are longer than the default 7 days: a report run.
    let c = build(&server, settings(json!({})));
    let (page, elapsed) =
        drive(async move { fetch(c.as_ref(), "spend", None, start("2026-11-01")).await }).await;
    let page = page.unwrap();

    let requests = received(&server).await;
    let polls = requests.iter().filter(|r| r.url.path() == RUN).count();
    assert_eq!(polls, 3, "running, running, completed");
    // Waits of 2, 4 and 8 s before the three polls.
    assert!(
        elapsed >= Duration::from_secs(14) && elapsed < Duration::from_secs(15),
        "{elapsed:?}"
    );
    // The job was created with the slice's parameters, in the form body.
    let post = requests
        .iter()
        .find(|r| r.method.as_str() == "POST")
        .unwrap();
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&post.body)
        .into_owned()
        .collect();
    assert!(form.contains(&("level".into(), "campaign".into())));
    assert!(form.contains(&("time_increment".into(), "1".into())));
    assert!(form.contains(&("time_range".into(), time_range("2026-11-01", "2026-11-28"))));
    let rows = of_kind(&page.records, Record::as_ad_spend);
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].cost, Decimal::new(123_456, 2));
    assert_eq!(
        of_kind(&page.records, Record::as_spend_window)[0].to,
        day("2026-11-28")
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_report_run_is_a_clear_error() {
    let server = MockServer::start().await;
    mount_account(&server, fixture("account.json")).await;
    Mock::given(method("POST"))
        .and(path(INSIGHTS))
        .respond_with(graph(200, fixture("report_run_created.json")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(RUN))
        .respond_with(graph(200, fixture("report_run_failed.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(RUN_INSIGHTS))
        .respond_with(graph(200, fixture("insights_page1.json")))
        .expect(0)
        .mount(&server)
        .await;
    let c = build(&server, settings(json!({})));
    let (result, _) =
        drive(async move { fetch(c.as_ref(), "spend", None, start("2026-11-01")).await }).await;
    let err = result.unwrap_err();
    assert_eq!(err.class(), "transient");
    let msg = err.to_string();
    assert!(
        msg.contains("6200000000001") && msg.contains("Job Failed"),
        "{msg}"
    );
    assert!(
        msg.contains("act_1234567890") && msg.contains("2026-11-01..2026-11-28"),
        "{msg}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_direct_query_that_times_out_at_meta_is_asked_again_as_a_report_run() {
    let server = MockServer::start().await;
    mount_account(&server, fixture("account.json")).await;
    Mock::given(method("GET"))
        .and(path(INSIGHTS))
        .respond_with(graph(400, fixture("error_100_timeout.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(INSIGHTS))
        .respond_with(graph(200, fixture("report_run_created.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(RUN))
        .respond_with(graph(200, fixture("report_run_completed.json")))
        .expect(1)
        .mount(&server)
        .await;
    mount_run_results(&server).await;
    let c = build(&server, settings(json!({ "async_after_days": 28 })));
    let (page, _) =
        drive(async move { fetch(c.as_ref(), "spend", None, start("2026-11-01")).await }).await;
    assert_eq!(
        of_kind(&page.unwrap().records, Record::as_ad_spend).len(),
        3
    );
}

// ---------------------------------------------------------------------------------------------
// spend: passes, slices, resumption, restatement (the crate's stand-in)

fn mock_settings(extra: Value) -> Value {
    let mut s = json!({ "access_token": TOKEN, "ad_account_ids": ["act_1000000001"] });
    if let (Some(s), Value::Object(extra)) = (s.as_object_mut(), extra) {
        s.extend(extra);
    }
    s
}

#[tokio::test(start_paused = true)]
async fn a_pass_over_several_slices_resumes_after_an_interrupted_run() {
    let mock = okno_meta_ads::mock::MetaMock::new(4);
    let server = mock.start().await;
    let la: okno_connector::chrono_tz::Tz = "America/Los_Angeles".parse().unwrap();
    let begin = Utc::now() - chrono::Duration::days(59);
    let first_day = begin.with_timezone(&la).date_naive();
    let today = today_in("America/Los_Angeles");
    let c = build(&server, mock_settings(json!({})));

    // The first page: the account, the first 28 days, a window for them.
    let c1 = c.clone();
    let (first, _) = drive(async move { fetch(c1.as_ref(), "spend", None, begin).await }).await;
    let first = first.unwrap();
    assert_eq!(of_kind(&first.records, Record::as_ad_account).len(), 1);
    let w1 = of_kind(&first.records, Record::as_spend_window)[0].clone();
    assert_eq!(w1.from, first_day);
    assert_eq!(w1.to, first_day.checked_add_days(Days::new(27)).unwrap());
    assert_eq!(
        w1.provisional_from,
        today.checked_sub_days(Days::new(27)).unwrap()
    );
    assert!(first.has_more);

    // The run dies here; a new process resumes from the committed cursor, without looking the
    // account up again, at the next slice.
    let cursor = first.next.clone().unwrap();
    let c2 = build(&server, mock_settings(json!({})));
    let (second, _) =
        drive(async move { fetch(c2.as_ref(), "spend", Some(&cursor), begin).await }).await;
    let second = second.unwrap();
    assert!(
        of_kind(&second.records, Record::as_ad_account).is_empty(),
        "no new pass"
    );
    let w2 = of_kind(&second.records, Record::as_spend_window)[0].clone();
    assert_eq!(w2.from, w1.to.succ_opt().unwrap());
    assert_eq!(w2.to, w2.from.checked_add_days(Days::new(27)).unwrap());
    assert!(second.has_more);
    let rows = of_kind(&second.records, Record::as_ad_spend);
    assert!(rows.iter().all(|r| r.date >= w2.from && r.date <= w2.to));
    // Every campaign-day the stand-in has is there, with its exact figure.
    let expected: usize = w2
        .from
        .iter_days()
        .take_while(|d| *d <= w2.to)
        .map(|d| {
            (0..4)
                .filter(|c| okno_meta_ads::mock::spend_cents(0, *c, d, 0).is_some())
                .count()
        })
        .sum();
    assert_eq!(rows.len(), expected);
    let r = rows[0];
    let c_index = (0..4)
        .find(|c| okno_meta_ads::mock::campaign_id(0, *c) == r.campaign_id)
        .unwrap();
    let cents = okno_meta_ads::mock::spend_cents(0, c_index, r.date, 0).unwrap();
    assert_eq!(r.cost, Decimal::new(cents as i64, 2));

    // The last slice ends the pass on today and the run.
    let cursor = second.next.clone().unwrap();
    let (third, _) =
        drive(async move { fetch(c.as_ref(), "spend", Some(&cursor), begin).await }).await;
    let third = third.unwrap();
    let w3 = of_kind(&third.records, Record::as_spend_window)[0];
    assert_eq!((w3.from, w3.to), (w2.to.succ_opt().unwrap(), today));
    assert!(!third.has_more);
    let done = plan(&third);
    assert_eq!(done.done["act_1000000001"], today);
    assert!(done.current.is_none() && done.queue.is_empty());
    // Two 28-day slices were report runs, the 4-day one a direct query.
    assert_eq!(mock.runs_created(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_restated_day_is_pulled_again_with_its_new_numbers_and_a_window() {
    let mock = okno_meta_ads::mock::MetaMock::new(3);
    let server = mock.start().await;
    let c = build(&server, mock_settings(json!({ "lookback_days": 3 })));
    let begin = Utc::now() - chrono::Duration::days(2);
    let c1 = c.clone();
    let (first, _) = drive(async move { fetch(c1.as_ref(), "spend", None, begin).await }).await;
    let first = first.unwrap();
    assert!(!first.has_more);
    let before: Vec<(String, NaiveDate, Decimal)> = of_kind(&first.records, Record::as_ad_spend)
        .iter()
        .map(|s| (s.campaign_id.clone(), s.date, s.cost))
        .collect();
    assert!(!before.is_empty());

    // Meta restates: same campaign-days, new figures.
    mock.revision.store(1, std::sync::atomic::Ordering::SeqCst);
    let cursor = first.next.clone().unwrap();
    let (second, _) =
        drive(async move { fetch(c.as_ref(), "spend", Some(&cursor), begin).await }).await;
    let second = second.unwrap();
    let after: Vec<(String, NaiveDate, Decimal)> = of_kind(&second.records, Record::as_ad_spend)
        .iter()
        .map(|s| (s.campaign_id.clone(), s.date, s.cost))
        .collect();
    assert_eq!(after.len(), before.len(), "the same rows again");
    for ((id_a, d_a, old), (id_b, d_b, new)) in before.iter().zip(&after) {
        assert_eq!((id_a, d_a), (id_b, d_b));
        assert_ne!(old, new, "{id_a} on {d_a} carries the restated figure");
        let c_index = (0..3)
            .find(|c| okno_meta_ads::mock::campaign_id(0, *c) == *id_b)
            .unwrap();
        let cents = okno_meta_ads::mock::spend_cents(0, c_index, *d_b, 1).unwrap();
        assert_eq!(*new, Decimal::new(cents as i64, 2));
    }
    // The window covers the restated days, all provisional.
    let w = of_kind(&second.records, Record::as_spend_window)[0];
    let today = today_in("America/Los_Angeles");
    assert_eq!(w.to, today);
    assert!(after.iter().all(|(_, d, _)| *d >= w.from && *d <= w.to));
    assert_eq!(
        w.provisional_from,
        today.checked_sub_days(Days::new(2)).unwrap()
    );
}

// ---------------------------------------------------------------------------------------------
// throttling

fn buc(call_count: u32, regain_minutes: u32) -> String {
    format!(
        r#"{{"1234567890123":[{{"type":"ads_insights","call_count":{call_count},"total_cputime":11,"total_time":9,"estimated_time_to_regain_access":{regain_minutes},"ads_api_access_tier":"standard_access"}}]}}"#
    )
}

#[tokio::test]
async fn code_17_with_a_long_block_is_a_quota_until_meta_says_and_is_sent_once() {
    let server = MockServer::start().await;
    mount_account(&server, fixture("account.json")).await;
    Mock::given(method("GET"))
        .and(path(INSIGHTS))
        .respond_with(graph(400, fixture("error_17.json")).insert_header(BUC, buc(100, 25)))
        .expect(1)
        .mount(&server)
        .await;
    let c = build(&server, settings(json!({ "async_after_days": 28 })));
    let before = Utc::now();
    let err = fetch(c.as_ref(), "spend", None, start("2026-11-01"))
        .await
        .unwrap_err();
    let after = Utc::now();
    match &err {
        ConnectorError::Quota { until, message, .. } => {
            assert!(*until >= before + chrono::Duration::minutes(25), "{until}");
            assert!(*until <= after + chrono::Duration::minutes(25), "{until}");
            assert!(message.contains("User request limit reached"), "{message}");
            assert!(
                message.contains("A9f1kE2sLQm"),
                "the fbtrace_id is kept: {message}"
            );
        }
        other => panic!("expected a quota, got {other:?}"),
    }
    // No retry storm: one insights request, nothing more.
    let insights = received(&server)
        .await
        .iter()
        .filter(|r| r.url.path() == INSIGHTS)
        .count();
    assert_eq!(insights, 1);
}

#[tokio::test]
async fn code_80004_on_campaigns_is_a_quota_from_the_business_use_case_header() {
    let server = MockServer::start().await;
    mount_account(&server, fixture("account.json")).await;
    let usage = r#"{"1234567890123":[{"type":"ads_management","call_count":100,"total_cputime":3,"total_time":3,"estimated_time_to_regain_access":7}]}"#;
    Mock::given(method("GET"))
        .and(path(CAMPAIGNS))
        .respond_with(graph(400, fixture("error_80004.json")).insert_header(BUC, usage))
        .expect(1)
        .mount(&server)
        .await;
    let c = build(&server, settings(json!({})));
    let before = Utc::now();
    let err = fetch(c.as_ref(), "campaigns", None, start("2026-11-01"))
        .await
        .unwrap_err();
    match err {
        ConnectorError::Quota {
            until, endpoint, ..
        } => {
            assert_eq!(endpoint, "campaigns");
            let wait = until - before;
            assert!(
                wait >= chrono::Duration::minutes(7)
                    && wait < chrono::Duration::minutes(7) + chrono::Duration::seconds(5),
                "{wait}"
            );
        }
        other => panic!("expected a quota, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn code_613_with_a_short_reset_waits_exactly_that_long_then_continues() {
    let server = MockServer::start().await;
    mount_account(&server, fixture("account.json")).await;
    Mock::given(method("GET"))
        .and(path(CAMPAIGNS))
        .respond_with(graph(400, fixture("error_613.json")).insert_header(
            "x-ad-account-usage",
            r#"{"acc_id_util_pct":100,"reset_time_duration":30,"ads_api_access_tier":"standard_access"}"#,
        ))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(CAMPAIGNS))
        .respond_with(graph(200, fixture("campaigns_page2.json")))
        .with_priority(2)
        .expect(1)
        .mount(&server)
        .await;
    let c = build(&server, settings(json!({})));
    let (page, elapsed) =
        drive(async move { fetch(c.as_ref(), "campaigns", None, start("2026-11-01")).await }).await;
    assert_eq!(
        of_kind(&page.unwrap().records, Record::as_campaign).len(),
        1
    );
    assert!(
        elapsed >= Duration::from_secs(30) && elapsed < Duration::from_secs(32),
        "{elapsed:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn code_80000_without_timing_is_retried_a_minute_apart_then_reported_rate_limited() {
    let server = MockServer::start().await;
    mount_account(&server, fixture("account.json")).await;
    Mock::given(method("GET"))
        .and(path(INSIGHTS))
        .respond_with(graph(400, fixture("error_80000.json")))
        .expect(3)
        .mount(&server)
        .await;
    let c = build(&server, settings(json!({ "async_after_days": 28 })));
    let (result, elapsed) =
        drive(async move { fetch(c.as_ref(), "spend", None, start("2026-11-01")).await }).await;
    match result.unwrap_err() {
        ConnectorError::RateLimited { retry_after, .. } => {
            assert_eq!(retry_after, Some(Duration::from_secs(60)));
        }
        other => panic!("expected rate limited, got {other:?}"),
    }
    // Three attempts (the test policy), 60 s apart: no storm.
    assert!(
        elapsed >= Duration::from_secs(120) && elapsed < Duration::from_secs(122),
        "{elapsed:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn high_usage_in_the_headers_slows_the_next_request_down() {
    let server = MockServer::start().await;
    mount_account(&server, fixture("account.json")).await;
    // The first page reports 95 % of the hourly budget used: 80 % of the way from 75 to 100,
    // so the next request waits 48 s.
    Mock::given(method("GET"))
        .and(path(CAMPAIGNS))
        .and(query_param_is_missing("after"))
        .respond_with(graph(200, fixture("campaigns_page1.json")).insert_header(BUC, buc(95, 0)))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(CAMPAIGNS))
        .and(query_param("after", "QVFIUmJ0aFNsZAXdVMTAy"))
        .respond_with(graph(200, fixture("campaigns_page2.json")).insert_header(
            "x-fb-ads-insights-throttle",
            r#"{"app_id_util_pct":10,"acc_id_util_pct":20,"ads_api_access_tier":"standard_access"}"#,
        ))
        .expect(1)
        .mount(&server)
        .await;
    let c = build(&server, settings(json!({})));
    let c1 = c.clone();
    let (page, elapsed) =
        drive(async move { fetch(c1.as_ref(), "campaigns", None, start("2026-11-01")).await })
            .await;
    assert_eq!(
        of_kind(&page.unwrap().records, Record::as_campaign).len(),
        3
    );
    assert!(
        elapsed >= Duration::from_secs(48) && elapsed < Duration::from_secs(50),
        "{elapsed:?}"
    );
    // Usage fell back to 20 %: the next request (the next run's account lookup) goes at once.
    let (line, elapsed) = drive(async move { c.check().await }).await;
    assert!(line.is_ok());
    assert!(elapsed < Duration::from_secs(1), "{elapsed:?}");
}

#[tokio::test]
async fn a_success_that_says_access_is_blocked_stops_before_the_next_request() {
    let server = MockServer::start().await;
    mount_account(&server, fixture("account.json")).await;
    Mock::given(method("GET"))
        .and(path(CAMPAIGNS))
        .and(query_param_is_missing("after"))
        .respond_with(graph(200, fixture("campaigns_page1.json")).insert_header(BUC, buc(100, 12)))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(CAMPAIGNS))
        .and(query_param("after", "QVFIUmJ0aFNsZAXdVMTAy"))
        .respond_with(graph(200, fixture("campaigns_page2.json")))
        .expect(0)
        .mount(&server)
        .await;
    let c = build(&server, settings(json!({})));
    let before = Utc::now();
    let err = fetch(c.as_ref(), "campaigns", None, start("2026-11-01"))
        .await
        .unwrap_err();
    match err {
        ConnectorError::Quota { until, .. } => {
            let wait = until - before;
            assert!(
                wait > chrono::Duration::minutes(11)
                    && wait <= chrono::Duration::minutes(12) + chrono::Duration::seconds(5),
                "{wait}"
            );
        }
        other => panic!("expected a quota, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// credentials and errors

#[tokio::test]
async fn code_190_is_an_auth_error_saying_how_to_fix_it() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(ACCOUNT))
        .respond_with(graph(400, fixture("error_190.json")))
        .expect(1)
        .mount(&server)
        .await;
    let c = build(&server, settings(json!({})));
    let err = c.check().await.unwrap_err();
    match &err {
        ConnectorError::Auth {
            status, message, ..
        } => {
            assert_eq!(*status, 400);
            assert!(
                message.contains("Error validating access token"),
                "{message}"
            );
            assert!(message.contains("code 190") && message.contains("subcode 460"));
            assert!(message.contains("System users") && message.contains("access_token"));
            assert!(!message.contains(TOKEN));
        }
        other => panic!("expected auth, got {other:?}"),
    }
}

#[tokio::test]
async fn other_graph_errors_are_permanent_with_metas_message() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(ACCOUNT))
        .respond_with(graph(400, fixture("error_100_unknown_account.json")))
        .expect(1)
        .mount(&server)
        .await;
    let c = build(&server, settings(json!({})));
    let err = fetch(c.as_ref(), "spend", None, start("2026-11-01"))
        .await
        .unwrap_err();
    match err {
        ConnectorError::Permanent {
            status, message, ..
        } => {
            assert_eq!(status, 400);
            assert!(message.starts_with("Unsupported get request."), "{message}");
            assert!(message
                .contains("GraphMethodException, code 100, subcode 33, fbtrace_id E8rTz1mVv3a"));
        }
        other => panic!("expected permanent, got {other:?}"),
    }
}

#[tokio::test]
async fn the_token_goes_in_a_bearer_header_with_an_app_secret_proof_never_in_the_url() {
    let server = MockServer::start().await;
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(APP_SECRET.as_bytes()).unwrap();
    mac.update(TOKEN.as_bytes());
    let proof = hex::encode(mac.finalize().into_bytes());
    Mock::given(method("GET"))
        .and(path(ACCOUNT))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(query_param("appsecret_proof", proof.as_str()))
        .respond_with(graph(200, fixture("account.json")))
        .expect(1)
        .mount(&server)
        .await;
    let c = build(&server, settings(json!({ "app_secret": APP_SECRET })));
    let line = c.check().await.unwrap();
    assert_eq!(
        line,
        "Meta ad account act_1234567890 \"Okhvat School — US\" (USD, America/Los_Angeles) via Graph API v26.0; 1 account(s) configured"
    );
    for r in received(&server).await {
        assert!(!r.url.as_str().contains(TOKEN));
        assert!(!r.url.as_str().contains(APP_SECRET));
    }
}

#[tokio::test]
async fn an_unknown_stream_is_refused() {
    let server = MockServer::start().await;
    let c = build(&server, settings(json!({})));
    let err = fetch(c.as_ref(), "ads", None, start("2026-11-01"))
        .await
        .unwrap_err();
    assert_eq!(err.class(), "invalid");
}

#[test]
fn settings_problems_are_all_reported_by_build() {
    let ctx = BuildContext {
        instance: "meta".into(),
        settings: json!({ "ad_account_ids": ["not-an-id"], "async_after_days": -1 }),
        base_url: None,
        http: HttpOptions::default(),
        tokens: TokenVault::new(),
    };
    let errs = match (okno_meta_ads::KIND.build)(ctx) {
        Ok(_) => panic!("accepted"),
        Err(e) => e,
    };
    // A type error stops typed parsing at its key; it is reported with that key.
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].key, "async_after_days");
    let ctx = BuildContext {
        instance: "meta".into(),
        settings: json!({ "ad_account_ids": ["not-an-id", "act_1"] }),
        base_url: None,
        http: HttpOptions::default(),
        tokens: TokenVault::new(),
    };
    let errs = (okno_meta_ads::KIND.build)(ctx).err().unwrap();
    let keys: Vec<&str> = errs.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["access_token", "ad_account_ids[0]"]);
}
