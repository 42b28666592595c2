//! Connector-level tests: the Google Ads connector, built through its registry entry (with a
//! pinned clock), against a wiremock server serving the documented shapes in `tests/fixtures/`.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use okno_connector::oauth::memory::MemoryTokenStore;
use okno_connector::oauth::{Save, TokenStore};
use okno_connector::spend::SpendCursor;
use okno_connector::testkit::{
    drain, fetch, fixture as read_fixture, real_pause, test_http_options,
};
use okno_connector::{
    BuildContext, Connector, ConnectorError, ExposeSecret, Record, SecretString, TokenSet,
    TokenVault,
};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use url::Url;
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const INSTANCE: &str = "gads";
const CUSTOMER: &str = "1234567890";
const STREAM_PATH: &str = "/v26/customers/1234567890/googleAds:searchStream";
const FRESH_TOKEN: &str = "ya29.a0AfB_byC-fresh-access-token";
const REFRESH_TOKEN: &str = "1//0gRefreshTokenFromConsent";

// ---------------------------------------------------------------------------------------------
// helpers

fn fixture(name: &str) -> String {
    read_fixture(env!("CARGO_MANIFEST_DIR"), name)
}

fn json_body(status: u16, body: impl Into<String>) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.into(), "application/json")
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn settings() -> Value {
    json!({
        "customer_ids": ["123-456-7890"],
        "developer_token": "dev-token-abc",
        "client_id": "1234567890-okno.apps.googleusercontent.com",
        "client_secret": "client-secret-xyz",
        "refresh_token": REFRESH_TOKEN,
        "login_customer_id": "987-654-3210",
    })
}

struct Setup {
    server: MockServer,
    store: Arc<MemoryTokenStore>,
}

impl Setup {
    async fn new() -> Setup {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/token"))
            .respond_with(json_body(200, fixture("token.json")))
            .mount(&server)
            .await;
        Setup {
            server,
            store: Arc::new(MemoryTokenStore::default()),
        }
    }

    fn build_with(&self, settings: Value, now: DateTime<Utc>) -> Arc<dyn Connector> {
        let ctx = BuildContext {
            instance: INSTANCE.into(),
            settings,
            base_url: Some(Url::parse(&self.server.uri()).unwrap()),
            http: test_http_options(),
            tokens: TokenVault::with_store(self.store.clone()),
        };
        okno_google_ads::build_with_clock(ctx, Arc::new(move || now))
            .unwrap_or_else(|e| panic!("settings rejected: {e:?}"))
    }

    fn build(&self, now: DateTime<Utc>) -> Arc<dyn Connector> {
        self.build_with(settings(), now)
    }

    /// Answers the customer query with the fixture's account, in time zone `tz`.
    async fn customer(&self, tz: &str) {
        let body = fixture("customer.json").replace("America/Los_Angeles", tz);
        Mock::given(method("POST"))
            .and(path(STREAM_PATH))
            .and(body_string_contains("FROM customer"))
            .respond_with(json_body(200, body))
            .mount(&self.server)
            .await;
    }

    async fn requests(&self) -> Vec<Request> {
        self.server.received_requests().await.unwrap()
    }

    /// The GAQL queries sent, in order.
    async fn queries(&self) -> Vec<String> {
        self.requests()
            .await
            .iter()
            .filter(|r| r.url.path() == STREAM_PATH)
            .map(|r| {
                let v: Value = serde_json::from_slice(&r.body).unwrap();
                v["query"].as_str().unwrap().to_string()
            })
            .collect()
    }

    async fn token_calls(&self) -> usize {
        self.requests()
            .await
            .iter()
            .filter(|r| r.url.path() == "/token")
            .count()
    }
}

fn windows(records: &[Record]) -> Vec<(String, String, String, String)> {
    records
        .iter()
        .filter_map(Record::as_spend_window)
        .map(|w| {
            (
                w.account_id.clone(),
                w.from.to_string(),
                w.to.to_string(),
                w.provisional_from.to_string(),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// campaigns

#[tokio::test]
async fn campaigns_page_per_account_with_the_account_and_a_cleared_cursor_at_the_end() {
    let s = Setup::new().await;
    s.customer("America/Los_Angeles").await;
    Mock::given(method("POST"))
        .and(path("/v26/customers/2345678901/googleAds:searchStream"))
        .and(body_string_contains("FROM customer"))
        .respond_with(json_body(
            200,
            fixture("customer.json").replace("1234567890", "2345678901"),
        ))
        .mount(&s.server)
        .await;
    for p in [
        STREAM_PATH,
        "/v26/customers/2345678901/googleAds:searchStream",
    ] {
        Mock::given(method("POST"))
            .and(path(p))
            .and(body_string_contains("campaign.status"))
            .respond_with(json_body(200, fixture("campaigns.json")))
            .mount(&s.server)
            .await;
    }
    let mut settings = settings();
    settings["customer_ids"] = json!(["123-456-7890", "2345678901"]);
    settings["channel"] = json!("google_search");
    let c = s.build_with(settings, at("2026-12-06T03:30:00Z"));

    let first = fetch(c.as_ref(), "campaigns", None, at("2026-01-01T00:00:00Z"))
        .await
        .unwrap();
    assert!(first.has_more);
    assert_eq!(first.next.as_ref().unwrap().0, json!({"next": 1}));
    let Record::AdAccount(a) = &first.records[0] else {
        panic!("the page starts with the account")
    };
    assert_eq!(a.account_id, CUSTOMER);
    assert_eq!(a.name.as_deref(), Some("Sunset Surf School"));
    assert_eq!(a.currency.as_str(), "USD");
    assert_eq!(a.time_zone, "America/Los_Angeles");
    let campaigns: Vec<_> = first
        .records
        .iter()
        .filter_map(Record::as_campaign)
        .collect();
    assert_eq!(campaigns.len(), 3);
    assert_eq!(campaigns[0].campaign_id, "11111111111");
    assert_eq!(campaigns[0].status.as_deref(), Some("ENABLED"));
    assert_eq!(campaigns[0].channel, "google_search");
    // `{campaignid}` resolves to the id; a literal is taken; a custom parameter is unknown.
    assert_eq!(campaigns[0].utm_campaign.as_deref(), Some("11111111111"));
    assert_eq!(
        campaigns[1].utm_campaign.as_deref(),
        Some("wetsuit_rental_2026")
    );
    assert_eq!(campaigns[2].status.as_deref(), Some("REMOVED"));
    assert_eq!(campaigns[2].utm_campaign, None);
    assert!(campaigns[1].raw.get().contains("PMax | Wetsuit rental"));

    let last = fetch(
        c.as_ref(),
        "campaigns",
        first.next.as_ref(),
        at("2026-01-01T00:00:00Z"),
    )
    .await
    .unwrap();
    assert!(!last.has_more);
    assert!(last.next.is_none(), "a full refresh clears its cursor");
    let Record::AdAccount(b) = &last.records[0] else {
        panic!("the page starts with the account")
    };
    assert_eq!(b.account_id, "2345678901");
}

// ---------------------------------------------------------------------------------------------
// spend

#[tokio::test]
async fn spend_reads_every_batch_and_converts_micros_and_conversions_exactly() {
    let s = Setup::new().await;
    s.customer("America/Los_Angeles").await;
    Mock::given(method("POST"))
        .and(path(STREAM_PATH))
        .and(body_string_contains("BETWEEN"))
        .respond_with(json_body(200, fixture("spend_stream.json")))
        .expect(1)
        .mount(&s.server)
        .await;
    let c = s.build(at("2026-12-06T03:30:00Z"));
    let page = fetch(c.as_ref(), "spend", None, at("2026-12-04T12:00:00Z"))
        .await
        .unwrap();

    let rows: Vec<_> = page
        .records
        .iter()
        .filter_map(Record::as_ad_spend)
        .collect();
    assert_eq!(rows.len(), 4, "rows of both streamed batches");
    assert_eq!(rows[0].campaign_id, "11111111111");
    assert_eq!(rows[0].date, day("2026-12-04"));
    assert_eq!(rows[0].cost, Decimal::new(1_234_567, 6)); // 1.234567
    assert_eq!(rows[0].cost.to_string(), "1.234567");
    assert_eq!(rows[0].impressions, Some(1520));
    assert_eq!(rows[0].clicks, Some(87));
    assert_eq!(rows[0].conversions, Some(Decimal::new(25, 1)));
    assert_eq!(rows[0].currency.as_str(), "USD");
    assert_eq!(rows[0].vat_included, None);
    assert_eq!(rows[1].cost.to_string(), "0.99");
    // The double's text, digit for digit: no f64 rounding.
    assert_eq!(
        rows[1].conversions.unwrap().to_string(),
        "0.3333333333333333"
    );
    assert_eq!(rows[2].date, day("2026-12-05"));
    assert_eq!(rows[2].cost, Decimal::new(15_000, 0));
    assert_eq!(rows[2].conversions, Some(Decimal::new(12, 0)));
    // Metrics Google leaves out are zero.
    assert_eq!(rows[3].cost, Decimal::ZERO);
    assert_eq!(rows[3].clicks, Some(0));
    assert_eq!(rows[3].impressions, Some(12));
    let total: Decimal = rows.iter().map(|r| r.cost).sum();
    assert_eq!(total.to_string(), "15002.224567");
    assert!(rows[0].raw.get().contains("\"costMicros\": \"1234567\""));

    // The page ends with the window, after the rows.
    assert!(matches!(page.records.last(), Some(Record::SpendWindow(_))));
    assert_eq!(
        windows(&page.records),
        [(
            CUSTOMER.to_string(),
            "2026-12-04".to_string(),
            "2026-12-05".to_string(),
            "2026-11-06".to_string()
        )]
    );
    assert!(!page.has_more);
    // Headers: bearer token from the refresh, developer token, manager id as digits.
    let req = s
        .requests()
        .await
        .into_iter()
        .find(|r| r.url.path() == STREAM_PATH)
        .unwrap();
    assert_eq!(
        req.headers.get("authorization").unwrap(),
        &format!("Bearer {FRESH_TOKEN}")
    );
    assert_eq!(req.headers.get("developer-token").unwrap(), "dev-token-abc");
    assert_eq!(req.headers.get("login-customer-id").unwrap(), "9876543210");
}

#[tokio::test]
async fn today_is_the_accounts_day_on_both_sides_of_midnight_utc() {
    // 03:30 UTC on the 6th is still the 5th in Los Angeles (UTC-8).
    let s = Setup::new().await;
    s.customer("America/Los_Angeles").await;
    Mock::given(method("POST"))
        .and(path(STREAM_PATH))
        .and(body_string_contains("BETWEEN"))
        .respond_with(json_body(200, fixture("spend_empty.json")))
        .mount(&s.server)
        .await;
    let c = s.build(at("2026-12-06T03:30:00Z"));
    let page = fetch(c.as_ref(), "spend", None, at("2026-12-04T12:00:00Z"))
        .await
        .unwrap();
    assert_eq!(windows(&page.records)[0].2, "2026-12-05");
    assert!(s
        .queries()
        .await
        .iter()
        .any(|q| q.ends_with("WHERE segments.date BETWEEN '2026-12-04' AND '2026-12-05'")));

    // 15:30 UTC on the 5th is already the 6th in Vladivostok (UTC+10).
    let s = Setup::new().await;
    s.customer("Asia/Vladivostok").await;
    Mock::given(method("POST"))
        .and(path(STREAM_PATH))
        .and(body_string_contains("BETWEEN"))
        .respond_with(json_body(200, fixture("spend_empty.json")))
        .mount(&s.server)
        .await;
    let c = s.build(at("2026-12-05T15:30:00Z"));
    let page = fetch(c.as_ref(), "spend", None, at("2026-12-04T12:00:00Z"))
        .await
        .unwrap();
    let Record::AdAccount(a) = &page.records[0] else {
        panic!("a pass starts with the account")
    };
    assert_eq!(a.time_zone, "Asia/Vladivostok");
    // The backfill start (12:00 UTC on the 4th) is 22:00 on the 4th in Vladivostok.
    assert_eq!(
        windows(&page.records),
        [(
            CUSTOMER.to_string(),
            "2026-12-04".to_string(),
            "2026-12-06".to_string(),
            "2026-11-07".to_string()
        )]
    );
}

#[tokio::test]
async fn a_pass_of_several_slices_resumes_after_an_interrupted_run() {
    let s = Setup::new().await;
    s.customer("America/Los_Angeles").await;
    Mock::given(method("POST"))
        .and(path(STREAM_PATH))
        .and(body_string_contains("BETWEEN"))
        .respond_with(json_body(200, fixture("spend_empty.json")))
        .mount(&s.server)
        .await;
    let now = at("2026-12-06T03:30:00Z");
    let start = at("2026-10-01T12:00:00Z");

    let first = fetch(s.build(now).as_ref(), "spend", None, start)
        .await
        .unwrap();
    assert!(first.has_more);
    assert!(matches!(first.records[0], Record::AdAccount(_)));
    assert_eq!(
        windows(&first.records),
        [(
            CUSTOMER.into(),
            "2026-10-01".into(),
            "2026-10-31".into(),
            "2026-11-06".into()
        )]
    );
    // The process dies here; a new one resumes from the committed cursor.
    let cursor = first.next.unwrap();
    let resumed = s.build(now);
    let (records, end) = drain(resumed.as_ref(), "spend", Some(cursor), start)
        .await
        .unwrap();
    assert!(
        !records.iter().any(|r| matches!(r, Record::AdAccount(_))),
        "the pass planned before the crash is finished, not planned again"
    );
    assert_eq!(
        windows(&records),
        [
            (
                CUSTOMER.into(),
                "2026-11-01".into(),
                "2026-12-01".into(),
                "2026-11-06".into()
            ),
            (
                CUSTOMER.into(),
                "2026-12-02".into(),
                "2026-12-05".into(),
                "2026-11-06".into()
            ),
        ]
    );
    let plan = SpendCursor::from_cursor(end.as_ref()).unwrap();
    assert_eq!(plan.done[CUSTOMER], day("2026-12-05"));
    assert!(plan.current.is_none() && plan.queue.is_empty());
    let queries = s.queries().await;
    assert_eq!(
        queries
            .iter()
            .filter(|q| q.contains("FROM customer"))
            .count(),
        1
    );
    assert_eq!(
        queries
            .iter()
            .filter(|q| q.contains("BETWEEN"))
            .cloned()
            .collect::<Vec<_>>(),
        [
            "SELECT campaign.id, campaign.name, segments.date, metrics.cost_micros, metrics.impressions, metrics.clicks, metrics.conversions FROM campaign WHERE segments.date BETWEEN '2026-10-01' AND '2026-10-31'",
            "SELECT campaign.id, campaign.name, segments.date, metrics.cost_micros, metrics.impressions, metrics.clicks, metrics.conversions FROM campaign WHERE segments.date BETWEEN '2026-11-01' AND '2026-12-01'",
            "SELECT campaign.id, campaign.name, segments.date, metrics.cost_micros, metrics.impressions, metrics.clicks, metrics.conversions FROM campaign WHERE segments.date BETWEEN '2026-12-02' AND '2026-12-05'",
        ]
    );

    // The next run, a day later, re-pulls the 30-day look-back window only.
    let next_day = s.build(at("2026-12-07T03:30:00Z"));
    let (records, _) = drain(next_day.as_ref(), "spend", end, start).await.unwrap();
    assert_eq!(
        windows(&records),
        [(
            CUSTOMER.into(),
            "2026-11-07".into(),
            "2026-12-06".into(),
            "2026-11-07".into()
        ),]
    );
}

// ---------------------------------------------------------------------------------------------
// quotas and errors

async fn spend_error(s: &Setup, status: u16, body: String, times: u64) {
    Mock::given(method("POST"))
        .and(path(STREAM_PATH))
        .and(body_string_contains("BETWEEN"))
        .respond_with(json_body(status, body))
        .expect(times)
        .mount(&s.server)
        .await;
}

#[tokio::test]
async fn an_exhausted_daily_quota_is_a_quota_state_until_retry_delay_without_retries() {
    let s = Setup::new().await;
    s.customer("America/Los_Angeles").await;
    spend_error(&s, 429, fixture("error_quota_daily.json"), 1).await;
    let now = at("2026-12-06T03:30:00Z");
    let err = fetch(s.build(now).as_ref(), "spend", None, now)
        .await
        .unwrap_err();
    let ConnectorError::Quota { until, message, .. } = &err else {
        panic!("expected a quota, got {err:?}")
    };
    assert_eq!(*until, now + chrono::Duration::seconds(40591));
    assert!(
        message.contains("quotaError.RESOURCE_EXHAUSTED"),
        "{message}"
    );
    assert!(message.contains("Number of operations for basic access"));
    assert!(message.contains("xN_KaZRHZuU6Rlgt3cM2uQ"), "{message}");
    assert_eq!(err.resume_at(now), Some(*until));
}

#[tokio::test]
async fn a_quota_without_retry_delay_waits_for_midnight_pacific_time() {
    let s = Setup::new().await;
    s.customer("Asia/Vladivostok").await;
    let body: Value = serde_json::from_str(&fixture("error_quota_daily.json")).unwrap();
    let mut body = body;
    body["error"]["details"][0]["errors"][0]
        .as_object_mut()
        .unwrap()
        .remove("details");
    spend_error(&s, 429, body.to_string(), 1).await;
    // 03:30 UTC on 6 December is 19:30 PST on the 5th: the reset is 08:00 UTC on the 6th.
    let now = at("2026-12-06T03:30:00Z");
    let err = fetch(s.build(now).as_ref(), "spend", None, now)
        .await
        .unwrap_err();
    let ConnectorError::Quota { until, .. } = err else {
        panic!("expected a quota, got {err:?}")
    };
    assert_eq!(until, at("2026-12-06T08:00:00Z"));
}

/// Paused time and real sockets: while a `spawn_blocking` task runs, tokio does not
/// auto-advance the paused clock (which would fire reqwest's timeout), so virtual time is moved
/// by hand while the client waits out `retryDelay`.
#[tokio::test(start_paused = true)]
async fn a_temporarily_exhausted_quota_is_retried_after_its_retry_delay() {
    let s = Setup::new().await;
    s.customer("America/Los_Angeles").await;
    Mock::given(method("POST"))
        .and(path(STREAM_PATH))
        .and(body_string_contains("BETWEEN"))
        .respond_with(json_body(429, fixture("error_quota_temporary.json")))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&s.server)
        .await;
    Mock::given(method("POST"))
        .and(path(STREAM_PATH))
        .and(body_string_contains("BETWEEN"))
        .respond_with(json_body(200, fixture("spend_stream.json")))
        .with_priority(2)
        .mount(&s.server)
        .await;
    let now = at("2026-12-06T03:30:00Z");
    let c = s.build(now);
    let (release, inhibited) = std::sync::mpsc::channel::<()>();
    let inhibitor = tokio::task::spawn_blocking(move || {
        let _ = inhibited.recv();
    });
    let task =
        tokio::spawn(
            async move { fetch(c.as_ref(), "spend", None, at("2026-12-04T12:00:00Z")).await },
        );
    let spend_requests = |reqs: Vec<Request>| {
        reqs.iter()
            .filter(|r| String::from_utf8_lossy(&r.body).contains("BETWEEN"))
            .count()
    };
    for _ in 0..500 {
        if spend_requests(s.requests().await) == 1 {
            break;
        }
        real_pause(5).await;
    }
    real_pause(50).await;
    assert_eq!(spend_requests(s.requests().await), 1);
    // Two virtual seconds: still waiting out the 3 s retryDelay.
    for _ in 0..2 {
        tokio::time::advance(Duration::from_secs(1)).await;
        real_pause(10).await;
    }
    assert_eq!(spend_requests(s.requests().await), 1, "retried too early");
    tokio::time::advance(Duration::from_secs(2)).await;
    for _ in 0..1000 {
        if task.is_finished() {
            break;
        }
        real_pause(5).await;
    }
    let page = task.await.unwrap().unwrap();
    assert_eq!(spend_requests(s.requests().await), 2);
    assert_eq!(
        page.records
            .iter()
            .filter(|r| matches!(r, Record::AdSpend(_)))
            .count(),
        4
    );
    release.send(()).unwrap();
    inhibitor.await.unwrap();
}

#[tokio::test]
async fn permission_errors_name_the_fix() {
    let s = Setup::new().await;
    Mock::given(method("POST"))
        .and(path(STREAM_PATH))
        .respond_with(json_body(403, fixture("error_user_permission_denied.json")))
        .expect(1)
        .mount(&s.server)
        .await;
    let mut no_manager = settings();
    no_manager
        .as_object_mut()
        .unwrap()
        .remove("login_customer_id");
    let c = s.build_with(no_manager, at("2026-12-06T03:30:00Z"));
    let err = fetch(c.as_ref(), "campaigns", None, at("2026-12-01T00:00:00Z"))
        .await
        .unwrap_err();
    let ConnectorError::Auth {
        status, message, ..
    } = &err
    else {
        panic!("expected an auth error, got {err:?}")
    };
    assert_eq!(*status, 403);
    assert!(
        message.contains("authorizationError.USER_PERMISSION_DENIED"),
        "{message}"
    );
    assert!(message.contains("set `login_customer_id`"), "{message}");
    assert!(message.contains("pL7rW2xYc0dV9bN3mQ5sZg"), "{message}");

    let s = Setup::new().await;
    Mock::given(method("POST"))
        .and(path(STREAM_PATH))
        .respond_with(json_body(
            403,
            fixture("error_developer_token_not_approved.json"),
        ))
        .mount(&s.server)
        .await;
    let c = s.build(at("2026-12-06T03:30:00Z"));
    let err = c.check().await.unwrap_err();
    assert_eq!(err.class(), "auth");
    assert!(
        err.to_string()
            .contains("apply for Basic or Standard access"),
        "{err}"
    );
}

#[tokio::test]
async fn a_rejected_query_is_a_permanent_error_with_googles_words() {
    let s = Setup::new().await;
    Mock::given(method("POST"))
        .and(path(STREAM_PATH))
        .respond_with(json_body(400, fixture("error_query.json")))
        .expect(1)
        .mount(&s.server)
        .await;
    let err = s
        .build(at("2026-12-06T03:30:00Z"))
        .check()
        .await
        .unwrap_err();
    let ConnectorError::Permanent {
        status, message, ..
    } = &err
    else {
        panic!("expected a permanent error, got {err:?}")
    };
    assert_eq!(*status, 400);
    assert!(
        message.contains("queryError.UNRECOGNIZED_FIELD: Unrecognized field"),
        "{message}"
    );
    assert!(message.contains("FAk-3h1TY-uJkxzKVt6jJg"), "{message}");
}

#[tokio::test]
async fn an_error_inside_a_streamed_answer_is_not_taken_for_data() {
    let s = Setup::new().await;
    s.customer("America/Los_Angeles").await;
    let quota: Value = serde_json::from_str(&fixture("error_quota_daily.json")).unwrap();
    let stream: Value = serde_json::from_str(&fixture("spend_stream.json")).unwrap();
    let broken = json!([stream[0], quota]);
    spend_error(&s, 200, broken.to_string(), 1).await;
    let now = at("2026-12-06T03:30:00Z");
    let err = fetch(s.build(now).as_ref(), "spend", None, now)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Quota { until, .. } if until == now + chrono::Duration::seconds(40591)),
        "{err:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// OAuth

#[tokio::test]
async fn first_use_stores_the_configured_refresh_token_and_refreshes_once() {
    let s = Setup::new().await;
    s.customer("America/Los_Angeles").await;
    let c = s.build(Utc::now());
    let first = c.check().await.unwrap();
    assert_eq!(
        first,
        "Google Ads customer 1234567890 (Sunset Surf School, USD, America/Los_Angeles)"
    );
    c.check().await.unwrap();
    assert_eq!(s.token_calls().await, 1, "the access token is reused");
    let token_req = s
        .requests()
        .await
        .into_iter()
        .find(|r| r.url.path() == "/token")
        .unwrap();
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(&token_req.body)
            .into_owned()
            .collect();
    assert_eq!(form["grant_type"], "refresh_token");
    assert_eq!(form["refresh_token"], REFRESH_TOKEN);
    assert_eq!(
        form["client_id"],
        "1234567890-okno.apps.googleusercontent.com"
    );
    assert_eq!(form["client_secret"], "client-secret-xyz");
    let stored = s.store.load(INSTANCE).await.unwrap().unwrap();
    assert_eq!(stored.tokens.access_token.expose_secret(), FRESH_TOKEN);
    assert_eq!(
        stored.tokens.refresh_token.unwrap().expose_secret(),
        REFRESH_TOKEN
    );
}

#[tokio::test]
async fn a_refused_access_token_is_refreshed_once_and_the_request_retried() {
    let s = Setup::new().await;
    // Another process stored a token that Google no longer accepts.
    s.store
        .save(
            INSTANCE,
            Save::Authorize,
            &TokenSet {
                access_token: SecretString::from("ya29.revoked-early".to_string()),
                refresh_token: Some(SecretString::from(REFRESH_TOKEN.to_string())),
                expires_at: Some(Utc::now() + chrono::Duration::minutes(50)),
                api_domain: None,
            },
        )
        .await
        .unwrap();
    Mock::given(method("POST"))
        .and(path(STREAM_PATH))
        .and(header("authorization", "Bearer ya29.revoked-early"))
        .respond_with(json_body(401, fixture("error_unauthenticated.json")))
        .expect(1)
        .mount(&s.server)
        .await;
    Mock::given(method("POST"))
        .and(path(STREAM_PATH))
        .and(header(
            "authorization",
            format!("Bearer {FRESH_TOKEN}").as_str(),
        ))
        .respond_with(json_body(200, fixture("customer.json")))
        .expect(1)
        .mount(&s.server)
        .await;
    let c = s.build(Utc::now());
    c.check().await.unwrap();
    assert_eq!(s.token_calls().await, 1);
}

#[tokio::test]
async fn a_revoked_refresh_token_asks_for_a_new_one() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(json_body(400, fixture("token_invalid_grant.json")))
        .expect(1)
        .mount(&server)
        .await;
    let s = Setup {
        server,
        store: Arc::new(MemoryTokenStore::default()),
    };
    let err = s.build(Utc::now()).check().await.unwrap_err();
    assert_eq!(err.class(), "auth");
    let text = err.to_string();
    assert!(text.contains("invalid_grant"), "{text}");
    assert!(
        text.contains("Token has been expired or revoked."),
        "{text}"
    );
    assert!(text.contains("`refresh_token`"), "{text}");
    assert!(s.queries().await.is_empty(), "no API call without a token");
}

// ---------------------------------------------------------------------------------------------
// clicks

#[tokio::test]
async fn clicks_read_one_day_per_page_within_90_days_and_no_windows() {
    let s = Setup::new().await;
    s.customer("America/Los_Angeles").await;
    Mock::given(method("POST"))
        .and(path(STREAM_PATH))
        .and(body_string_contains("segments.date = '2026-12-04'"))
        .respond_with(json_body(200, fixture("click_view.json")))
        .mount(&s.server)
        .await;
    Mock::given(method("POST"))
        .and(path(STREAM_PATH))
        .and(body_string_contains("FROM click_view"))
        .respond_with(json_body(
            200,
            "[{\"fieldMask\":\"clickView.gclid,campaign.id,segments.date\",\"requestId\":\"e\"}]",
        ))
        .mount(&s.server)
        .await;
    let now = at("2026-12-06T03:30:00Z");
    // A backfill from a year ago starts 88 days before the account's today (5 December).
    let (records, end) = drain(
        s.build(now).as_ref(),
        "clicks",
        None,
        at("2025-12-01T00:00:00Z"),
    )
    .await
    .unwrap();
    let days: Vec<String> = s
        .queries()
        .await
        .iter()
        .filter(|q| q.contains("FROM click_view"))
        .map(|q| q.rsplit('\'').nth(1).unwrap().to_string())
        .collect();
    assert_eq!(days.first().map(String::as_str), Some("2026-09-08"));
    assert_eq!(days.last().map(String::as_str), Some("2026-12-05"));
    assert_eq!(days.len(), 89);
    assert!(
        windows(&records).is_empty(),
        "clicks carry no spend windows"
    );
    let clicks: Vec<_> = records.iter().filter_map(Record::as_click_id).collect();
    assert_eq!(clicks.len(), 2, "the row without a gclid is skipped");
    assert_eq!(
        clicks[0].click_id,
        "Cj0KCQiAx9q6BhCDARIsACwUxu4aMtV1nB2c_BwE"
    );
    assert_eq!(clicks[0].kind, okno_connector::ClickKind::Gclid);
    assert_eq!(clicks[0].campaign_id, "11111111111");
    assert_eq!(clicks[0].account_id, CUSTOMER);
    assert_eq!(clicks[0].date, day("2026-12-04"));

    // The next run re-reads the 3-day look-back window, one day per page.
    let before = days.len();
    let (_, _) = drain(
        s.build(at("2026-12-07T03:30:00Z")).as_ref(),
        "clicks",
        end,
        now,
    )
    .await
    .unwrap();
    let later: Vec<String> = s
        .queries()
        .await
        .iter()
        .filter(|q| q.contains("FROM click_view"))
        .skip(before)
        .map(|q| q.rsplit('\'').nth(1).unwrap().to_string())
        .collect();
    assert_eq!(later, ["2026-12-04", "2026-12-05", "2026-12-06"]);
}

// ---------------------------------------------------------------------------------------------
// settings

#[test]
fn every_settings_problem_is_reported_at_once() {
    let ctx = BuildContext {
        instance: INSTANCE.into(),
        settings: json!({
            "customer_ids": ["123-456-789", "1234567890", "123-456-7890"],
            "developer_token": "",
            "client_secret": "s",
            "refresh_token": "r",
            "login_customer_id": "mcc",
            "lookback_days": 0,
            "click_lookback_days": 120,
            "api_version": "26",
            "chanel": "x",
        }),
        base_url: None,
        http: test_http_options(),
        tokens: TokenVault::new(),
    };
    let errs = match (okno_google_ads::KIND.build)(ctx) {
        Ok(_) => panic!("bad settings accepted"),
        Err(e) => e,
    };
    let mut keys: Vec<&str> = errs.iter().map(|e| e.key.as_str()).collect();
    keys.sort();
    assert_eq!(
        keys,
        ["chanel"],
        "unknown keys are reported first: {errs:?}"
    );
    assert_eq!(errs[0].hint.as_deref(), Some("did you mean `channel`?"));

    let ctx = BuildContext {
        instance: INSTANCE.into(),
        settings: json!({
            "customer_ids": ["123-456-789", "1234567890", "123-456-7890"],
            "developer_token": "",
            "client_secret": "s",
            "refresh_token": "r",
            "login_customer_id": "mcc",
            "lookback_days": 0,
            "click_lookback_days": 120,
            "api_version": "26",
        }),
        base_url: None,
        http: test_http_options(),
        tokens: TokenVault::new(),
    };
    let errs = match (okno_google_ads::KIND.build)(ctx) {
        Ok(_) => panic!("bad settings accepted"),
        Err(e) => e,
    };
    let mut keys: Vec<&str> = errs.iter().map(|e| e.key.as_str()).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "api_version",
            "click_lookback_days",
            "client_id",
            "customer_ids[0]",
            "customer_ids[2]",
            "developer_token",
            "login_customer_id",
            "lookback_days",
        ],
        "{errs:?}"
    );
    assert!(errs.iter().all(|e| e.hint.is_some()), "{errs:?}");
}
