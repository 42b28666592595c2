//! Connector-level tests: the Yandex Direct connector against a wiremock server serving the
//! documented response shapes in `tests/fixtures/`.

use okno_connector::testkit::MockVendor;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use okno_connector::spend::SpendCursor;
use okno_connector::testkit::{
    drain, fetch, fixture as read_fixture, of_kind, real_pause, test_http_options,
};
use okno_connector::{BuildContext, Connector, ConnectorError, PageRequest, Record, TokenVault};
use okno_yandex_direct::mock::{self, ReportsMock};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use url::Url;
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const INSTANCE: &str = "direct";
const TOKEN: &str = "y0_AgAAAAB-direct-test-token";
const LOGIN: &str = "vladivostok-shop";
const CLIENTS: &str = "/json/v5/clients";
const CAMPAIGNS: &str = "/json/v5/campaigns";
const CHANGES: &str = "/json/v5/changes";
const REPORTS: &str = "/json/v5/reports";

// ---------------------------------------------------------------------------------------------
// helpers

fn fixture(name: &str) -> String {
    read_fixture(env!("CARGO_MANIFEST_DIR"), name)
}

fn json_response(status: u16, body: impl Into<String>) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("Units", "10/20828/64000")
        .set_body_raw(body.into(), "application/json; charset=utf-8")
}

fn tsv_response(body: impl Into<String>) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("Units", "0/20818/64000")
        .set_body_raw(body.into(), "text/tab-separated-values")
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// 15:30 UTC on 10 March is 01:30 on 11 March in Vladivostok (UTC+10).
fn near_midnight() -> DateTime<Utc> {
    at("2025-03-10T15:30:00Z")
}

fn agency_settings() -> Value {
    json!({ "token": TOKEN, "include_vat": true, "client_logins": [LOGIN] })
}

fn build_at(server: &MockServer, settings: Value, now: DateTime<Utc>) -> Arc<dyn Connector> {
    let mut http = test_http_options();
    // Paused-time tests move the clock by hand; a long request timeout keeps it out of the way.
    http.timeout = Duration::from_secs(24 * 3600);
    let ctx = BuildContext {
        instance: INSTANCE.into(),
        settings,
        base_url: Some(Url::parse(&server.uri()).unwrap()),
        http,
        tokens: TokenVault::new(),
    };
    match okno_yandex_direct::connector_with_clock(ctx, Arc::new(move || now)) {
        Ok(c) => c,
        Err(errs) => panic!("settings rejected: {errs:?}"),
    }
}

async fn requests_to(server: &MockServer, p: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == p)
        .collect()
}

fn body_json(r: &Request) -> Value {
    serde_json::from_slice(&r.body).unwrap()
}

/// Clients and both campaign pages for [`LOGIN`] (Asia/Vladivostok).
async fn mount_account(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path(CLIENTS))
        .respond_with(json_response(200, fixture("clients_get.json")))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path(CAMPAIGNS))
        .and(body_partial_json(
            json!({"params": {"Page": {"Offset": 0}}}),
        ))
        .respond_with(json_response(200, fixture("campaigns_page1.json")))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path(CAMPAIGNS))
        .and(body_partial_json(
            json!({"params": {"Page": {"Offset": 2}}}),
        ))
        .respond_with(json_response(200, fixture("campaigns_page2.json")))
        .mount(server)
        .await;
}

async fn mount_changes(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path(CHANGES))
        .and(body_partial_json(json!({"method": "checkDictionaries"})))
        .respond_with(json_response(
            200,
            fixture("changes_check_dictionaries.json"),
        ))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path(CHANGES))
        .and(body_partial_json(json!({"method": "check"})))
        .respond_with(json_response(200, fixture("changes_check.json")))
        .mount(server)
        .await;
}

async fn mount_report(server: &MockServer, body: String) {
    Mock::given(method("POST"))
        .and(path(REPORTS))
        .respond_with(tsv_response(body))
        .mount(server)
        .await;
}

const EMPTY_REPORT: &str = "Date\tCampaignId\tCampaignName\tImpressions\tClicks\tCost\n";

/// Runs `fut` under paused time without tokio auto-advancing the clock while a request is on
/// the wire (that would fire timers early): auto-advance is inhibited by a blocking task, and
/// the clock is moved one virtual second at a time with a little real time in between.
/// Returns the output and the virtual time that passed.
async fn drive_paused<F>(fut: F) -> (F::Output, Duration)
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (release, inhibited) = std::sync::mpsc::channel::<()>();
    let inhibitor = tokio::task::spawn_blocking(move || {
        let _ = inhibited.recv();
    });
    let started = tokio::time::Instant::now();
    let task = tokio::spawn(fut);
    for _ in 0..5_000 {
        real_pause(15).await;
        if task.is_finished() {
            break;
        }
        tokio::time::advance(Duration::from_secs(1)).await;
    }
    let elapsed = started.elapsed();
    drop(release);
    inhibitor.await.unwrap();
    (task.await.unwrap(), elapsed)
}

// ---------------------------------------------------------------------------------------------
// campaigns

#[tokio::test]
async fn campaigns_stream_reads_every_page_and_maps_the_account() {
    let server = MockServer::start().await;
    mount_account(&server).await;
    let c = build_at(&server, agency_settings(), near_midnight());

    let (records, cursor) = drain(c.as_ref(), "campaigns", None, at("2025-01-01T00:00:00Z"))
        .await
        .unwrap();
    assert!(cursor.is_none(), "a full-refresh stream clears its cursor");
    let Record::AdAccount(account) = &records[0] else {
        panic!("the page starts with the account: {:?}", records[0]);
    };
    assert_eq!(account.account_id, LOGIN);
    assert_eq!(account.currency.as_str(), "RUB");
    assert_eq!(account.time_zone, "Asia/Vladivostok");
    assert_eq!(account.name.as_deref(), Some("Primorye Trade LLC"));
    let campaigns: Vec<_> = records.iter().filter_map(Record::as_campaign).collect();
    let ids: Vec<&str> = campaigns.iter().map(|c| c.campaign_id.as_str()).collect();
    assert_eq!(ids, ["58310021", "58310022", "58310023"]);
    assert_eq!(campaigns[1].status.as_deref(), Some("SUSPENDED"));
    assert_eq!(campaigns[2].name, "Smart banners | Catalogue");
    assert!(campaigns.iter().all(|c| c.channel == "yandex_direct"));
    assert!(campaigns.iter().all(|c| c.utm_campaign.is_none()));
    let raw: Value = serde_json::from_str(campaigns[0].raw.get()).unwrap();
    assert_eq!(raw["TimeZone"], "Asia/Vladivostok");
    assert_eq!(raw["Status"], "ACCEPTED");

    // Headers: the token, English messages and the agency client.
    let sent = requests_to(&server, CAMPAIGNS).await;
    assert_eq!(sent.len(), 2, "two pages");
    for r in &sent {
        assert_eq!(
            r.headers["authorization"],
            format!("Bearer {TOKEN}").as_str()
        );
        assert_eq!(r.headers["accept-language"], "en");
        assert_eq!(r.headers["client-login"], LOGIN);
    }
    assert_eq!(body_json(&sent[1])["params"]["Page"]["Offset"], 2);
    assert_eq!(body_json(&sent[0])["params"]["Page"]["Limit"], 10_000);
}

// ---------------------------------------------------------------------------------------------
// spend: dates, decimals, VAT

#[tokio::test]
async fn spend_days_are_the_accounts_days_near_midnight_utc() {
    let server = MockServer::start().await;
    mount_account(&server).await;
    mount_changes(&server).await;
    mount_report(&server, EMPTY_REPORT.to_string()).await;
    let c = build_at(&server, agency_settings(), near_midnight());

    // The backfill starts on 9 March (10:00 in Vladivostok).
    let (records, _) = drain(c.as_ref(), "spend", None, at("2025-03-09T00:00:00Z"))
        .await
        .unwrap();
    let sent = requests_to(&server, REPORTS).await;
    assert_eq!(sent.len(), 1);
    let criteria = &body_json(&sent[0])["params"]["SelectionCriteria"];
    // UTC says 10 March; the account's today is already 11 March.
    assert_eq!(criteria["DateFrom"], "2025-03-09");
    assert_eq!(criteria["DateTo"], "2025-03-11");
    let w = of_kind(&records, Record::as_spend_window);
    assert_eq!(w.len(), 1);
    assert_eq!((w[0].from, w[0].to), (day("2025-03-09"), day("2025-03-11")));
    assert_eq!(w[0].provisional_from, day("2025-03-09"));
}

#[tokio::test]
async fn own_account_in_los_angeles_is_a_day_behind_utc() {
    let server = MockServer::start().await;
    mount_account(&server).await;
    mount_changes(&server).await;
    mount_report(&server, EMPTY_REPORT.to_string()).await;
    // No client_logins: the token's own account, no Client-Login header. 05:00 UTC on 11 March
    // is 22:00 on 10 March in Los Angeles (PDT).
    let settings = json!({"token": TOKEN, "include_vat": true, "time_zone": "America/Los_Angeles"});
    let c = build_at(&server, settings, at("2025-03-11T05:00:00Z"));

    let (records, cursor) = drain(c.as_ref(), "spend", None, at("2025-03-09T12:00:00Z"))
        .await
        .unwrap();
    let Record::AdAccount(account) = &records[0] else {
        panic!("a pass starts with the account")
    };
    assert_eq!(account.time_zone, "America/Los_Angeles");
    let sent = requests_to(&server, REPORTS).await;
    let criteria = &body_json(&sent[0])["params"]["SelectionCriteria"];
    assert_eq!(criteria["DateFrom"], "2025-03-09");
    assert_eq!(criteria["DateTo"], "2025-03-10");
    assert!(server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .all(|r| !r.headers.contains_key("client-login")));
    let plan = SpendCursor::from_cursor(cursor.as_ref()).unwrap();
    assert_eq!(plan.done[LOGIN], day("2025-03-10"));
}

#[tokio::test]
async fn report_tsv_becomes_exact_decimals_with_the_vat_choice() {
    let server = MockServer::start().await;
    mount_account(&server).await;
    mount_changes(&server).await;
    mount_report(&server, fixture("report_campaign_performance.tsv")).await;
    let settings = json!({"token": TOKEN, "include_vat": false, "client_logins": [LOGIN]});
    let c = build_at(&server, settings, near_midnight());

    let (records, _) = drain(c.as_ref(), "spend", None, at("2025-03-09T00:00:00Z"))
        .await
        .unwrap();
    let rows = of_kind(&records, Record::as_ad_spend);
    assert_eq!(rows.len(), 4);
    // 1234560000 micros = 1234.56; 5000 micros = 0.005; 987654321 micros = 987.654321.
    let costs: Vec<Decimal> = rows.iter().map(|r| r.cost).collect();
    assert_eq!(
        costs,
        [
            Decimal::new(123_456, 2),
            Decimal::new(5, 3),
            Decimal::new(987_654_321, 6),
            Decimal::ZERO
        ]
    );
    assert_eq!(rows[0].cost.to_string(), "1234.56");
    let total: Decimal = costs.iter().sum();
    assert_eq!(total, "2222.219321".parse::<Decimal>().unwrap());
    assert!(rows.iter().all(|r| r.vat_included == Some(false)));
    assert!(rows.iter().all(|r| r.currency.as_str() == "RUB"));
    assert_eq!(rows[0].date, day("2025-03-09"));
    assert_eq!(rows[0].campaign_id, "58310021");
    assert_eq!(
        (rows[0].impressions, rows[0].clicks),
        (Some(1840), Some(97))
    );
    assert_eq!(
        (rows[1].impressions, rows[1].clicks),
        (Some(20511), None),
        "`--` is no value"
    );
    assert_eq!(
        serde_json::from_str::<Value>(rows[0].raw.get()).unwrap(),
        json!({"Date": "2025-03-09", "CampaignId": "58310021",
               "CampaignName": "Search | Brand | Vladivostok", "Impressions": "1840",
               "Clicks": "97", "Cost": "1234560000"})
    );

    // The request says what was parsed: micros, no VAT, the column header kept.
    let sent = &requests_to(&server, REPORTS).await[0];
    let params = &body_json(sent)["params"];
    assert_eq!(params["IncludeVAT"], "NO");
    assert_eq!(params["IncludeDiscount"], "YES");
    assert_eq!(params["ReportType"], "CAMPAIGN_PERFORMANCE_REPORT");
    assert_eq!(params["DateRangeType"], "CUSTOM_DATE");
    assert_eq!(params["Format"], "TSV");
    assert_eq!(
        params["FieldNames"],
        json!([
            "Date",
            "CampaignId",
            "CampaignName",
            "Impressions",
            "Clicks",
            "Cost"
        ])
    );
    assert_eq!(sent.headers["returnmoneyinmicros"], "true");
    assert_eq!(sent.headers["skipreportheader"], "true");
    assert_eq!(sent.headers["skipreportsummary"], "true");
    assert_eq!(sent.headers["processingmode"], "auto");
    assert!(!sent.headers.contains_key("skipcolumnheader"));
}

#[tokio::test]
async fn a_row_outside_the_requested_days_fails_the_page() {
    let server = MockServer::start().await;
    mount_account(&server).await;
    mount_changes(&server).await;
    mount_report(
        &server,
        format!("{EMPTY_REPORT}2025-02-01\t58310021\tSearch\t1\t1\t1000000\n"),
    )
    .await;
    let c = build_at(&server, agency_settings(), near_midnight());
    let err = fetch(c.as_ref(), "spend", None, at("2025-03-09T00:00:00Z"))
        .await
        .unwrap_err();
    assert_eq!(err.class(), "decode", "{err}");
    assert!(err.to_string().contains("outside"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// the offline flow, report names, the queue

/// Answers 201 (retryIn 3), then 202 (retryIn 7), then the report.
struct OfflineThenReady {
    calls: Arc<AtomicUsize>,
}

impl Respond for OfflineThenReady {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        match self.calls.fetch_add(1, Ordering::SeqCst) {
            0 => ResponseTemplate::new(201)
                .insert_header("retryIn", "3")
                .insert_header("reportsInQueue", "1"),
            1 => ResponseTemplate::new(202).insert_header("retryIn", "7"),
            _ => tsv_response(fixture("report_campaign_performance.tsv")),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn offline_report_is_polled_with_the_identical_request_after_retry_in() {
    let server = MockServer::start().await;
    mount_account(&server).await;
    mount_changes(&server).await;
    let calls = Arc::new(AtomicUsize::new(0));
    Mock::given(method("POST"))
        .and(path(REPORTS))
        .respond_with(OfflineThenReady {
            calls: calls.clone(),
        })
        .mount(&server)
        .await;
    let c = build_at(&server, agency_settings(), near_midnight());

    let (page, waited) = drive_paused(async move {
        c.fetch_page(PageRequest {
            stream: "spend",
            cursor: None,
            start: at("2025-03-09T00:00:00Z"),
        })
        .await
    })
    .await;
    let page = page.unwrap();
    assert_eq!(of_kind(&page.records, Record::as_ad_spend).len(), 4);
    assert_eq!(of_kind(&page.records, Record::as_spend_window).len(), 1);

    let sent = requests_to(&server, REPORTS).await;
    assert_eq!(sent.len(), 3, "201, 202, then 200");
    assert_eq!(
        sent[0].body, sent[1].body,
        "the identical request is re-sent"
    );
    assert_eq!(sent[1].body, sent[2].body);
    for h in ["client-login", "processingmode", "returnmoneyinmicros"] {
        assert_eq!(sent[0].headers[h], sent[2].headers[h]);
    }
    let name = body_json(&sent[0])["params"]["ReportName"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        name.starts_with("okno_vladivostok-shop_20250309_20250311_vatY_"),
        "{name}"
    );
    // 3 s after the 201 and 7 s after the 202, and not much more.
    assert!(
        waited >= Duration::from_secs(10) && waited <= Duration::from_secs(14),
        "{waited:?}"
    );
}

#[tokio::test]
async fn report_names_differ_between_two_passes_over_the_same_days() {
    let server = MockServer::start().await;
    mount_account(&server).await;
    mount_changes(&server).await;
    mount_report(&server, EMPTY_REPORT.to_string()).await;
    // The same clock reading for both runs: the names must still differ.
    let c = build_at(&server, agency_settings(), near_midnight());
    let start = at("2025-03-09T00:00:00Z");

    let (_, cursor) = drain(c.as_ref(), "spend", None, start).await.unwrap();
    let (_, cursor) = drain(c.as_ref(), "spend", cursor, start).await.unwrap();
    let sent = requests_to(&server, REPORTS).await;
    assert_eq!(sent.len(), 2);
    let names: Vec<String> = sent
        .iter()
        .map(|r| {
            body_json(r)["params"]["ReportName"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let criteria: Vec<Value> = sent
        .iter()
        .map(|r| body_json(r)["params"]["SelectionCriteria"].clone())
        .collect();
    assert_eq!(criteria[0], criteria[1], "the same days twice");
    assert_ne!(
        names[0], names[1],
        "Direct would serve the first report from its cache"
    );
    assert!(SpendCursor::from_cursor(cursor.as_ref())
        .unwrap()
        .current
        .is_none());
}

#[tokio::test(start_paused = true)]
async fn a_full_report_queue_is_waited_out_and_the_request_repeated() {
    let server = MockServer::start().await;
    mount_account(&server).await;
    mount_changes(&server).await;
    Mock::given(method("POST"))
        .and(path(REPORTS))
        .respond_with(json_response(400, fixture("error_9000.json")))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(REPORTS))
        .respond_with(tsv_response(fixture("report_campaign_performance.tsv")))
        .with_priority(2)
        .mount(&server)
        .await;
    let c = build_at(&server, agency_settings(), near_midnight());

    let (page, waited) = drive_paused(async move {
        c.fetch_page(PageRequest {
            stream: "spend",
            cursor: None,
            start: at("2025-03-09T00:00:00Z"),
        })
        .await
    })
    .await;
    assert_eq!(
        of_kind(&page.unwrap().records, Record::as_ad_spend).len(),
        4
    );
    let sent = requests_to(&server, REPORTS).await;
    assert_eq!(sent.len(), 2, "one refusal, one answer");
    assert_eq!(sent[0].body, sent[1].body);
    assert!(
        waited >= Duration::from_secs(30) && waited <= Duration::from_secs(34),
        "waited {waited:?}, expected the 30 s queue wait"
    );
}

// ---------------------------------------------------------------------------------------------
// passes over several slices, resuming, Changes

#[tokio::test]
async fn a_pass_over_several_slices_resumes_after_an_interrupted_run() {
    // 2 campaigns × 69 days from 1 January; Moscow's today on 10 March 18:30 is 10 March.
    let mock = ReportsMock::new(2, 69);
    let server = mock.start().await;
    let settings: Value = json!({"token": "mock-direct-token", "include_vat": true});
    let now = near_midnight();
    let start = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();

    // The first run stops after its first page (a crash before the second).
    let c = build_at(&server, settings.clone(), now);
    let first = fetch(c.as_ref(), "spend", None, start).await.unwrap();
    assert!(first.has_more);
    assert!(matches!(first.records[0], Record::AdAccount(_)));
    let w = of_kind(&first.records, Record::as_spend_window);
    assert_eq!((w[0].from, w[0].to), (day("2025-01-01"), day("2025-01-31")));
    assert_eq!(of_kind(&first.records, Record::as_ad_spend).len(), 62);

    // A new process resumes at the second slice without looking the account up again.
    let c = build_at(&server, settings, now);
    let (rest, cursor) = drain(c.as_ref(), "spend", first.next, start).await.unwrap();
    assert!(!rest.iter().any(|r| matches!(r, Record::AdAccount(_))));
    let w: Vec<(NaiveDate, NaiveDate, NaiveDate)> = of_kind(&rest, Record::as_spend_window)
        .iter()
        .map(|w| (w.from, w.to, w.provisional_from))
        .collect();
    assert_eq!(
        w,
        [
            (day("2025-02-01"), day("2025-03-03"), day("2025-03-08")),
            (day("2025-03-04"), day("2025-03-10"), day("2025-03-08")),
        ]
    );
    assert_eq!(of_kind(&rest, Record::as_ad_spend).len(), 2 * (31 + 7));
    assert_eq!(
        62 + of_kind(&rest, Record::as_ad_spend).len() as u64,
        mock.rows_between(day("2025-01-01"), day("2025-03-10"))
    );
    assert_eq!(
        requests_to(&server, CLIENTS).await.len(),
        2,
        "own login + account, once"
    );
    let plan = SpendCursor::from_cursor(cursor.as_ref()).unwrap();
    assert_eq!(plan.done[mock::LOGIN], day("2025-03-10"));
    assert!(plan.current.is_none() && plan.queue.is_empty());
    assert_eq!(plan.marks[mock::LOGIN], mock::SERVER_TIME);

    // Each slice has its own report name.
    let names: std::collections::BTreeSet<String> = requests_to(&server, REPORTS)
        .await
        .iter()
        .map(|r| {
            body_json(r)["params"]["ReportName"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(names.len(), 3);
}

#[tokio::test]
async fn corrected_statistics_from_changes_extend_the_window() {
    let server = MockServer::start().await;
    mount_account(&server).await;
    mount_changes(&server).await;
    mount_report(&server, EMPTY_REPORT.to_string()).await;
    let c = build_at(&server, agency_settings(), near_midnight());
    // The last pass ended on 9 March and asked Changes at noon that day.
    let previous = SpendCursor {
        done: BTreeMap::from([(LOGIN.to_string(), day("2025-03-09"))]),
        marks: BTreeMap::from([(LOGIN.to_string(), "2025-03-09T12:00:00Z".to_string())]),
        ..SpendCursor::default()
    };

    let (records, cursor) = drain(
        c.as_ref(),
        "spend",
        Some(previous.to_cursor()),
        at("2025-01-01T00:00:00Z"),
    )
    .await
    .unwrap();
    // Without Changes the pass would start on 9 March (3 days back from 11 March); the earliest
    // BorderDate (20 February) pulls it back.
    let w = of_kind(&records, Record::as_spend_window);
    assert_eq!(w.len(), 1);
    assert_eq!((w[0].from, w[0].to), (day("2025-02-20"), day("2025-03-11")));
    assert_eq!(w[0].provisional_from, day("2025-03-09"));

    let check: Vec<Value> = requests_to(&server, CHANGES)
        .await
        .iter()
        .map(body_json)
        .collect();
    assert_eq!(
        check.len(),
        1,
        "a known mark is checked, not renewed from checkDictionaries"
    );
    assert_eq!(check[0]["method"], "check");
    assert_eq!(check[0]["params"]["Timestamp"], "2025-03-09T12:00:00Z");
    assert_eq!(check[0]["params"]["FieldNames"], json!(["CampaignsStat"]));
    assert_eq!(
        check[0]["params"]["CampaignIds"],
        json!([58310021, 58310022, 58310023])
    );
    let plan = SpendCursor::from_cursor(cursor.as_ref()).unwrap();
    assert_eq!(plan.marks[LOGIN], "2025-03-10T15:29:58Z", "the new mark");
    assert_eq!(plan.done[LOGIN], day("2025-03-11"));
}

#[tokio::test]
async fn the_first_pass_takes_its_changes_mark_from_the_server() {
    let server = MockServer::start().await;
    mount_account(&server).await;
    mount_changes(&server).await;
    mount_report(&server, EMPTY_REPORT.to_string()).await;
    let c = build_at(&server, agency_settings(), near_midnight());
    let (_, cursor) = drain(c.as_ref(), "spend", None, at("2025-03-09T00:00:00Z"))
        .await
        .unwrap();
    let sent = requests_to(&server, CHANGES).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(
        body_json(&sent[0]),
        json!({"method": "checkDictionaries", "params": {}})
    );
    let plan = SpendCursor::from_cursor(cursor.as_ref()).unwrap();
    assert_eq!(plan.marks[LOGIN], "2025-03-10T15:29:58Z");
}

// ---------------------------------------------------------------------------------------------
// quotas, errors, metrics

#[tokio::test]
async fn spent_points_are_a_quota_until_an_hour_later_without_retries() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CLIENTS))
        .respond_with(json_response(200, fixture("clients_get.json")))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(CAMPAIGNS))
        .respond_with(json_response(200, fixture("error_152.json")))
        .expect(1)
        .mount(&server)
        .await;
    let now = near_midnight();
    let c = build_at(&server, agency_settings(), now);
    let err = fetch(c.as_ref(), "campaigns", None, now).await.unwrap_err();
    match &err {
        ConnectorError::Quota { until, message, .. } => {
            assert_eq!(*until, at("2025-03-10T16:30:00Z"));
            assert!(message.contains("error 152 Not enough units"), "{message}");
            assert!(
                message.contains("8695244274068608439"),
                "request id: {message}"
            );
        }
        other => panic!("expected a quota, got {other:?}"),
    }
    assert_eq!(err.resume_at(now), Some(at("2025-03-10T16:30:00Z")));
    // `expect(1)` is verified when the server drops: no retry storm.
    server.verify().await;
}

#[tokio::test]
async fn an_invalid_token_in_a_200_answer_is_an_auth_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CLIENTS))
        .respond_with(json_response(200, fixture("error_53.json")))
        .expect(1)
        .mount(&server)
        .await;
    let c = build_at(&server, agency_settings(), near_midnight());
    let err = c.check().await.unwrap_err();
    assert_eq!(err.class(), "auth", "{err}");
    let text = err.to_string();
    assert!(
        text.contains("error 53 Authorization error: Invalid OAuth token"),
        "{text}"
    );
    assert!(!text.contains(TOKEN), "never print the token");
}

#[tokio::test]
async fn a_rejected_report_request_names_the_vendor_error() {
    let server = MockServer::start().await;
    mount_account(&server).await;
    mount_changes(&server).await;
    Mock::given(method("POST"))
        .and(path(REPORTS))
        .respond_with(json_response(400, fixture("error_8000.json")))
        .expect(1)
        .mount(&server)
        .await;
    let c = build_at(&server, agency_settings(), near_midnight());
    let err = fetch(c.as_ref(), "spend", None, at("2025-03-09T00:00:00Z"))
        .await
        .unwrap_err();
    match &err {
        ConnectorError::Permanent {
            status, message, ..
        } => {
            assert_eq!(*status, 400);
            assert_eq!(
                message,
                "error 8000 Invalid request: DateFrom must not be later than DateTo (request 4630148217655433212)"
            );
        }
        other => panic!("expected a permanent error, got {other:?}"),
    }
}

#[tokio::test]
async fn yandex_units_accounts_are_refused_clearly() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CLIENTS))
        .respond_with(json_response(200, fixture("clients_get_ynd_fixed.json")))
        .mount(&server)
        .await;
    let settings =
        json!({"token": TOKEN, "include_vat": true, "client_logins": ["old-units-shop"]});
    let c = build_at(&server, settings, near_midnight());
    let err = fetch(c.as_ref(), "campaigns", None, near_midnight())
        .await
        .unwrap_err();
    assert_eq!(err.class(), "invalid");
    assert!(err.to_string().contains("YND_FIXED"), "{err}");
    assert!(err.to_string().contains("old-units-shop"), "{err}");
}

#[tokio::test]
async fn check_describes_the_account_in_one_line() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CLIENTS))
        .and(header("client-login", LOGIN))
        .respond_with(json_response(200, fixture("clients_get.json")))
        .expect(1)
        .mount(&server)
        .await;
    let c = build_at(&server, agency_settings(), near_midnight());
    let line = c.check().await.unwrap();
    assert_eq!(line, "Yandex Direct account vladivostok-shop (RUB)");
}

/// Records gauges as `name{label=value,...}` → value.
#[derive(Default, Clone)]
struct Gauges(Arc<Mutex<BTreeMap<String, f64>>>);

struct GaugeCell {
    key: String,
    store: Arc<Mutex<BTreeMap<String, f64>>>,
}

impl metrics::GaugeFn for GaugeCell {
    fn increment(&self, _: f64) {}
    fn decrement(&self, _: f64) {}
    fn set(&self, value: f64) {
        self.store.lock().unwrap().insert(self.key.clone(), value);
    }
}

impl metrics::Recorder for Gauges {
    fn describe_counter(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_gauge(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_histogram(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn register_counter(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Counter {
        metrics::Counter::noop()
    }
    fn register_gauge(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
        let mut labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        labels.sort();
        metrics::Gauge::from_arc(Arc::new(GaugeCell {
            key: format!("{}{{{}}}", key.name(), labels.join(",")),
            store: self.0.clone(),
        }))
    }
    fn register_histogram(
        &self,
        _: &metrics::Key,
        _: &metrics::Metadata<'_>,
    ) -> metrics::Histogram {
        metrics::Histogram::noop()
    }
}

#[tokio::test]
async fn the_units_header_is_reported_as_gauges() {
    let gauges = Gauges::default();
    let _guard = metrics::set_default_local_recorder(&gauges);
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CLIENTS))
        .respond_with(
            json_response(200, fixture("clients_get.json"))
                .insert_header("Units", "12/20816/64000"),
        )
        .mount(&server)
        .await;
    let c = build_at(&server, agency_settings(), near_midnight());
    c.check().await.unwrap();
    let seen = gauges.0.lock().unwrap().clone();
    let g = |kind: &str| {
        seen.get(&format!(
            "okno_vendor_units{{instance=direct,kind={kind},vendor=yandex_direct}}"
        ))
        .copied()
    };
    assert_eq!(g("spent"), Some(12.0), "{seen:?}");
    assert_eq!(g("remaining"), Some(20816.0));
    assert_eq!(g("limit"), Some(64000.0));
    assert_eq!(
        okno_yandex_direct::parse_units("10/20828/64000"),
        Some(okno_yandex_direct::Units {
            spent: 10,
            remaining: 20828,
            limit: 64000
        })
    );
    assert_eq!(okno_yandex_direct::parse_units("10/20828"), None);
}

// ---------------------------------------------------------------------------------------------
// registry entry and the mock

#[test]
fn the_kind_describes_streams_settings_and_buckets() {
    let k = &okno_yandex_direct::KIND;
    assert_eq!(k.kind, "yandex_direct");
    assert!(k.stream("campaigns").is_some_and(|s| s.default));
    assert!(k.stream("spend").is_some_and(|s| s.default));
    let token = k.settings.iter().find(|s| s.name == "token").unwrap();
    assert!(token.secret && token.required);
    assert_eq!(k.rate_buckets[0].name, "api");
}

#[tokio::test(start_paused = true)]
async fn the_mock_serves_offline_reports_honouring_the_dates() {
    let mock = ReportsMock::new(3, 10).with_offline_polls(2);
    let server = mock.start().await;
    let settings: Value = json!({"token": "mock-direct-token", "include_vat": true});
    // 5 January 12:00 Moscow: the pass covers 1..5 January.
    let c = build_at(&server, settings, at("2025-01-05T09:00:00Z"));
    let start = at("2024-12-31T21:00:00Z");
    // The mock answers 201 and 202 with `retryIn: 1` before each report.
    let ((records, _), waited) =
        drive_paused(async move { drain(c.as_ref(), "spend", None, start).await.unwrap() }).await;
    assert!(waited >= Duration::from_secs(2), "{waited:?}");
    let rows = of_kind(&records, Record::as_ad_spend);
    assert_eq!(rows.len(), 15);
    assert_eq!(mock.rows_between(day("2025-01-01"), day("2025-01-05")), 15);
    assert_eq!(mock.served_rows.load(Ordering::Relaxed), 15);
    assert_eq!(mock.report_requests.load(Ordering::Relaxed), 3);
    let first = rows
        .iter()
        .find(|r| r.campaign_id == "70000001" && r.date == day("2025-01-03"))
        .unwrap();
    assert_eq!(
        first.cost,
        Decimal::new(ReportsMock::cost_micros(1, 2) as i64, 6)
    );
    assert_eq!(
        first.impressions,
        Some(ReportsMock::impressions(1, 2) as i64)
    );
    let toml_keys: Vec<&str> = mock::SETTINGS_TOML
        .lines()
        .filter_map(|l| l.split('=').next())
        .map(str::trim)
        .collect();
    assert_eq!(toml_keys, ["token", "include_vat"]);
}
