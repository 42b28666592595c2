//! Connector-level tests: the Zendesk connector, built through its registry entry, against a
//! wiremock server serving the documented response shapes in `tests/fixtures/`.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use chrono::{DateTime, Duration as ChronoDuration, TimeZone, Utc};
use okno_connector::testkit::{drain, fixture as read_fixture, test_http_options};
use okno_connector::{
    BuildContext, Connector, ConnectorError, Cursor, Page, PageRequest, Record, Ticket,
};
use serde_json::{json, Value};
use url::Url;
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const EMAIL: &str = "ops@acme.example";
const TOKEN: &str = "s3cr3t-zd-token";
const TICKETS_PATH: &str = "/api/v2/incremental/tickets/cursor.json";
const USERS_PATH: &str = "/api/v2/incremental/users/cursor.json";

// ---------------------------------------------------------------------------------------------
// helpers

fn fixture(name: &str) -> String {
    read_fixture(env!("CARGO_MANIFEST_DIR"), name)
}

fn fixture_json(name: &str) -> Value {
    serde_json::from_str(&fixture(name)).unwrap()
}

/// One entry of `errors.json`, body serialised as Zendesk sends it.
fn error_body(name: &str) -> String {
    let errors = fixture_json("errors.json");
    let entry = errors
        .get(name)
        .unwrap_or_else(|| panic!("no {name} in errors.json"));
    serde_json::to_string(&entry["body"]).unwrap()
}

fn json_response(status: u16, body: impl Into<String>) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.into(), "application/json")
}

fn api_token_settings() -> Value {
    json!({ "email": EMAIL, "api_token": TOKEN, "per_page": 250 })
}

fn build(server: &MockServer, settings: Value) -> Arc<dyn Connector> {
    let ctx = BuildContext {
        instance: "zd".into(),
        settings,
        base_url: Some(Url::parse(&server.uri()).unwrap()),
        http: test_http_options(),
        tokens: Default::default(),
    };
    match (okno_zendesk::KIND.build)(ctx) {
        Ok(c) => c,
        Err(errs) => panic!("settings rejected: {errs:?}"),
    }
}

/// A start date well in the past: 2024-06-01T00:00:00Z.
fn june_first() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap()
}

async fn fetch(
    c: &dyn Connector,
    stream: &str,
    cursor: Option<&Cursor>,
    start: DateTime<Utc>,
) -> Result<Page, ConnectorError> {
    c.fetch_page(PageRequest {
        stream,
        cursor,
        start,
    })
    .await
}

async fn received(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap()
}

fn query(req: &Request) -> HashMap<String, String> {
    req.url.query_pairs().into_owned().collect()
}

fn header(req: &Request, name: &str) -> Option<String> {
    req.headers
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
}

fn tickets(records: &[Record]) -> Vec<&Ticket> {
    records
        .iter()
        .filter_map(|r| match r {
            Record::Ticket(t) => Some(t),
            _ => None,
        })
        .collect()
}

fn after_cursor_of(name: &str) -> String {
    fixture_json(name)["after_cursor"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A request matcher: the query carries `key`, whatever its value.
fn has_query_param(key: &'static str) -> impl Fn(&Request) -> bool + Send + Sync {
    move |req: &Request| req.url.query_pairs().any(|(k, _)| k == key)
}

// ---------------------------------------------------------------------------------------------
// tickets: the incremental cursor export

#[tokio::test]
async fn tickets_export_pages_until_end_of_stream() {
    let server = MockServer::start().await;
    let page1_cursor = after_cursor_of("tickets_page1.json");
    let page2_cursor = after_cursor_of("tickets_page2.json");
    Mock::given(method("GET"))
        .and(path(TICKETS_PATH))
        .and(has_query_param("start_time"))
        .and(query_param_is_missing("cursor"))
        .respond_with(json_response(200, fixture("tickets_page1.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(TICKETS_PATH))
        .and(query_param("cursor", page1_cursor.as_str()))
        .respond_with(json_response(200, fixture("tickets_page2.json")))
        .expect(1)
        .mount(&server)
        .await;

    let c = build(&server, api_token_settings());
    let (records, cursor) = drain(c.as_ref(), "tickets", None, june_first())
        .await
        .unwrap();

    let ids: Vec<&str> = tickets(&records)
        .iter()
        .map(|t| t.ticket_id.as_str())
        .collect();
    // Page 1 then page 2; 104101 comes back reopened and is upserted by the store.
    assert_eq!(ids, ["104101", "104102", "104103", "104104", "104101"]);
    assert_eq!(records.len(), 5, "no sideloaded metrics in these pages");
    assert_eq!(
        cursor,
        Some(Cursor(json!({ "after_cursor": page2_cursor })))
    );

    let expected_auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{EMAIL}/token:{TOKEN}"))
    );
    let reqs = received(&server).await;
    assert_eq!(reqs.len(), 2);
    for req in &reqs {
        let q = query(req);
        assert_eq!(q.get("per_page").map(String::as_str), Some("250"), "{q:?}");
        assert_eq!(
            q.get("include").map(String::as_str),
            Some("metric_sets"),
            "{q:?}"
        );
        assert_eq!(
            header(req, "authorization").as_deref(),
            Some(expected_auth.as_str())
        );
    }
    assert_eq!(
        query(&reqs[0]).get("start_time").map(String::as_str),
        Some("1717200000")
    );
    assert!(!query(&reqs[1]).contains_key("start_time"));
}

#[tokio::test]
async fn resumes_from_a_stored_cursor() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(TICKETS_PATH))
        .and(query_param("cursor", "abc"))
        .respond_with(json_response(200, fixture("tickets_page2.json")))
        .expect(1)
        .mount(&server)
        .await;

    let c = build(&server, api_token_settings());
    let stored = Cursor(json!({ "after_cursor": "abc" }));
    let page = fetch(c.as_ref(), "tickets", Some(&stored), june_first())
        .await
        .unwrap();

    assert!(!page.has_more);
    assert_eq!(
        page.next,
        Some(Cursor(
            json!({ "after_cursor": after_cursor_of("tickets_page2.json") })
        ))
    );
    let ids: Vec<&str> = tickets(&page.records)
        .iter()
        .map(|t| t.ticket_id.as_str())
        .collect();
    assert_eq!(ids, ["104104", "104101"]);

    let reqs = received(&server).await;
    assert_eq!(reqs.len(), 1);
    let q = query(&reqs[0]);
    assert_eq!(q.get("cursor").map(String::as_str), Some("abc"));
    assert!(!q.contains_key("start_time"), "{q:?}");
}

#[tokio::test]
async fn a_stored_cursor_without_after_cursor_is_invalid_and_sends_nothing() {
    let server = MockServer::start().await;
    let c = build(&server, api_token_settings());
    let stored = Cursor(json!({ "page_after": "abc" }));
    let err = fetch(c.as_ref(), "tickets", Some(&stored), june_first())
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Invalid(_)), "{err:?}");
    assert!(received(&server).await.is_empty());
}

#[tokio::test]
async fn start_time_is_the_start_date_in_unix_seconds() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(TICKETS_PATH))
        .respond_with(json_response(200, fixture("tickets_page2.json")))
        .mount(&server)
        .await;
    let c = build(&server, api_token_settings());

    // A start date in the past is sent as is.
    fetch(c.as_ref(), "tickets", None, june_first())
        .await
        .unwrap();
    // A start date now or in the future is clamped to at least 61 s in the past, since Zendesk
    // refuses a start_time less than a minute old.
    let mut bounds = Vec::new();
    for start in [Utc::now(), Utc::now() + ChronoDuration::hours(2)] {
        let before = Utc::now();
        fetch(c.as_ref(), "tickets", None, start).await.unwrap();
        let after = Utc::now();
        bounds.push((before, after));
    }

    let reqs = received(&server).await;
    assert_eq!(reqs.len(), 3);
    let start_time = |req: &Request| -> i64 { query(req)["start_time"].parse().unwrap() };
    assert_eq!(start_time(&reqs[0]), 1_717_200_000);
    assert_eq!(start_time(&reqs[0]), june_first().timestamp());
    for (req, (before, after)) in reqs[1..].iter().zip(bounds) {
        let sent = start_time(req);
        let lowest = (before - ChronoDuration::seconds(61)).timestamp();
        let highest = (after - ChronoDuration::seconds(61)).timestamp();
        assert!(
            (lowest..=highest).contains(&sent),
            "start_time {sent} not within [{lowest}, {highest}]"
        );
    }
}

#[tokio::test]
async fn sideloaded_metric_sets_become_ticket_metrics() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(TICKETS_PATH))
        .and(query_param("include", "metric_sets"))
        .respond_with(json_response(200, fixture("tickets_with_metric_sets.json")))
        .expect(1)
        .mount(&server)
        .await;
    let c = build(&server, api_token_settings());
    let (records, _) = drain(c.as_ref(), "tickets", None, june_first())
        .await
        .unwrap();

    let kinds: Vec<&str> = records.iter().map(Record::kind).collect();
    assert_eq!(
        kinds,
        ["ticket", "ticket", "ticket_metric", "ticket_metric"]
    );
    let metrics: Vec<_> = records
        .iter()
        .filter_map(|r| match r {
            Record::TicketMetrics(m) => Some(m),
            _ => None,
        })
        .collect();
    assert_eq!(metrics[0].ticket_id, "104101");
    assert_eq!(metrics[0].reply_minutes_calendar, Some(38));
    assert_eq!(metrics[0].resolution_minutes_business, Some(2346));
    assert_eq!(metrics[1].ticket_id, "104102");
    assert_eq!(metrics[1].solved_at, None);
    assert_eq!(metrics[1].resolution_minutes_calendar, None);
}

#[tokio::test]
async fn deleted_ticket_is_marked_deleted() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(TICKETS_PATH))
        .respond_with(json_response(200, fixture("tickets_page1.json")))
        .mount(&server)
        .await;
    let c = build(&server, api_token_settings());
    let page = fetch(c.as_ref(), "tickets", None, june_first())
        .await
        .unwrap();

    assert!(page.has_more, "page 1 has end_of_stream false");
    assert_eq!(
        page.next,
        Some(Cursor(
            json!({ "after_cursor": after_cursor_of("tickets_page1.json") })
        ))
    );
    let all = tickets(&page.records);
    let deleted = all.iter().find(|t| t.ticket_id == "104103").unwrap();
    assert_eq!(deleted.status, "deleted");
    let when = Utc.with_ymd_and_hms(2024, 6, 1, 12, 0, 0).unwrap();
    assert_eq!(deleted.updated_at, when);
    assert_eq!(deleted.deleted_at, Some(when));
    assert!(deleted.raw.get().contains("\"deleted\""));
    for t in all.iter().filter(|t| t.ticket_id != "104103") {
        assert_eq!(t.deleted_at, None, "ticket {} is not deleted", t.ticket_id);
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP behaviour through the connector

/// Lets the runtime run for `ms` of real time (socket I/O progresses; paused time does not).
async fn real_pause(ms: u64) {
    tokio::task::spawn_blocking(move || std::thread::sleep(std::time::Duration::from_millis(ms)))
        .await
        .unwrap();
}

/// Paused time and a real socket do not mix on their own: while the client awaits the mock
/// server's answer the runtime is idle, so tokio auto-advances the paused clock to the next timer,
/// which is reqwest's request timeout, and the request "times out" at once (observed: Transient
/// "request failed: timed out" after 3 attempts). So auto-advance is inhibited for the whole test
/// (tokio does that while a `spawn_blocking` task runs) and virtual time is moved by hand, one
/// second at a time with a little real time in between for the I/O, only ever while the client
/// has nothing but its `Retry-After` sleep left to wait on.
#[tokio::test(start_paused = true)]
async fn honours_retry_after_on_429_without_sleeping() {
    use std::time::Duration;

    let server = MockServer::start().await;
    let limited = ResponseTemplate::new(429)
        .insert_header("Retry-After", "30")
        .set_body_raw(error_body("rate_limited_429"), "application/json");
    Mock::given(method("GET"))
        .and(path(TICKETS_PATH))
        .respond_with(limited)
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(TICKETS_PATH))
        .respond_with(json_response(200, fixture("tickets_page2.json")))
        .with_priority(2)
        .mount(&server)
        .await;
    let c = build(&server, api_token_settings());

    let (release, inhibited) = std::sync::mpsc::channel::<()>();
    let inhibitor = tokio::task::spawn_blocking(move || {
        let _ = inhibited.recv();
    });

    let started = tokio::time::Instant::now();
    let wall = std::time::Instant::now();
    let task = tokio::spawn(async move { fetch(c.as_ref(), "tickets", None, june_first()).await });

    // The 429 goes out and comes back without virtual time moving.
    for _ in 0..500 {
        if !received(&server).await.is_empty() {
            break;
        }
        real_pause(5).await;
    }
    assert_eq!(
        received(&server).await.len(),
        1,
        "the first request never arrived"
    );
    real_pause(50).await;

    // 29 virtual seconds: still waiting, no second attempt (a plain backoff is at most 100 ms).
    for _ in 0..29 {
        tokio::time::advance(Duration::from_secs(1)).await;
        real_pause(10).await;
    }
    assert_eq!(
        received(&server).await.len(),
        1,
        "retried before Retry-After elapsed"
    );
    assert!(!task.is_finished(), "finished before Retry-After elapsed");

    // Past 30 s the retry goes out and succeeds.
    tokio::time::advance(Duration::from_secs(2)).await;
    for _ in 0..1000 {
        if task.is_finished() {
            break;
        }
        real_pause(5).await;
    }
    assert!(task.is_finished(), "no retry after Retry-After elapsed");
    let waited = started.elapsed();
    let page = task.await.unwrap().unwrap();
    drop(release);
    inhibitor.await.unwrap();

    assert_eq!(tickets(&page.records).len(), 2);
    assert_eq!(received(&server).await.len(), 2);
    assert!(
        waited >= Duration::from_secs(30),
        "waited only {waited:?} of virtual time"
    );
    assert!(
        wall.elapsed() < Duration::from_secs(10),
        "the wait must be virtual, not real: {:?}",
        wall.elapsed()
    );
}

#[tokio::test]
async fn gives_up_after_max_attempts_on_5xx() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(json_response(503, r#"{"error":"ServiceUnavailable"}"#))
        .mount(&server)
        .await;
    let c = build(&server, api_token_settings());
    let err = fetch(c.as_ref(), "tickets", None, june_first())
        .await
        .unwrap_err();

    match &err {
        ConnectorError::Transient {
            endpoint,
            attempts,
            message,
        } => {
            assert_eq!(*attempts, test_http_options().retry.max_attempts);
            assert_eq!(*attempts, 3);
            assert_eq!(*endpoint, "incremental/tickets");
            assert!(message.contains("503"), "{message}");
        }
        other => panic!("expected Transient, got {other:?}"),
    }
    assert_eq!(received(&server).await.len(), 3);
}

#[tokio::test]
async fn truncated_json_page_is_a_decode_error() {
    let server = MockServer::start().await;
    let body = fixture("tickets_page1.json");
    let half = body.len() / 2;
    let truncated = body.get(..half).unwrap().to_string();
    Mock::given(method("GET"))
        .and(path(TICKETS_PATH))
        .respond_with(json_response(200, truncated))
        .mount(&server)
        .await;
    let c = build(&server, api_token_settings());
    let err = fetch(c.as_ref(), "tickets", None, june_first())
        .await
        .unwrap_err();

    assert!(
        matches!(
            err,
            ConnectorError::Decode {
                endpoint: "incremental/tickets",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.class(), "decode");
    assert_eq!(
        received(&server).await.len(),
        1,
        "a bad body is not retried"
    );
}

#[tokio::test]
async fn unauthorised_is_an_auth_error_and_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(json_response(401, error_body("unauthorized_401")))
        .mount(&server)
        .await;
    let c = build(&server, api_token_settings());
    let err = fetch(c.as_ref(), "users", None, june_first())
        .await
        .unwrap_err();

    match &err {
        ConnectorError::Auth {
            endpoint,
            status,
            message,
        } => {
            assert_eq!(*endpoint, "incremental/users");
            assert_eq!(*status, 401);
            assert!(message.contains("Couldn't authenticate you"), "{message}");
        }
        other => panic!("expected Auth, got {other:?}"),
    }
    assert!(!err.to_string().contains(TOKEN), "the secret leaked: {err}");
    assert_eq!(received(&server).await.len(), 1);
}

#[tokio::test]
async fn bearer_token_auth_sends_bearer_header() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(TICKETS_PATH))
        .respond_with(json_response(200, fixture("tickets_page2.json")))
        .mount(&server)
        .await;
    let c = build(&server, json!({ "oauth_token": "oauth-abc-123" }));
    fetch(c.as_ref(), "tickets", None, june_first())
        .await
        .unwrap();

    let reqs = received(&server).await;
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        header(&reqs[0], "authorization").as_deref(),
        Some("Bearer oauth-abc-123")
    );
    // per_page defaults to Zendesk's maximum.
    assert_eq!(
        query(&reqs[0]).get("per_page").map(String::as_str),
        Some("1000")
    );
}

// ---------------------------------------------------------------------------------------------
// users, groups, ticket metrics

#[tokio::test]
async fn users_become_identities_with_lowercased_email() {
    let mut body = fixture_json("users_page1.json");
    body["users"][0]["email"] = json!("  Dana.Whitfield@ACME.Example ");
    body["users"][1]["email"] = json!("PRIYA.NAIR@globex.example");
    body["users"][2]["email"] = Value::Null;
    body["users"][2]["active"] = json!(false);

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(USERS_PATH))
        .and(has_query_param("start_time"))
        .respond_with(json_response(200, body.to_string()))
        .expect(1)
        .mount(&server)
        .await;
    let c = build(&server, api_token_settings());
    let (records, cursor) = drain(c.as_ref(), "users", None, june_first())
        .await
        .unwrap();

    let ids: Vec<_> = records
        .iter()
        .map(|r| match r {
            Record::Identity(i) => i,
            other => panic!("expected identities, got {other:?}"),
        })
        .collect();
    assert_eq!(ids.len(), 3);
    assert_eq!(ids[0].user_id, "372000");
    assert_eq!(ids[0].email.as_deref(), Some("dana.whitfield@acme.example"));
    assert_eq!(ids[0].role.as_deref(), Some("admin"));
    assert_eq!(ids[0].name.as_deref(), Some("Dana Whitfield"));
    assert!(ids[0].active);
    // raw keeps what Zendesk sent, case and all.
    assert!(ids[0].raw.get().contains("Dana.Whitfield@ACME.Example"));
    assert_eq!(ids[1].email.as_deref(), Some("priya.nair@globex.example"));
    assert_eq!(ids[1].role.as_deref(), Some("end-user"));
    assert_eq!(ids[2].email, None);
    assert!(!ids[2].active);
    assert_eq!(
        cursor,
        Some(Cursor(
            json!({ "after_cursor": after_cursor_of("users_page1.json") })
        ))
    );
}

/// Serves `fixture` as a two-page list (the first page forced to `has_more: true`) and drains
/// `stream`; checks the pagination and returns the records.
async fn drain_two_page_list(stream: &str, list_path: &str, fixture_name: &str) -> Vec<Record> {
    let last = fixture_json(fixture_name);
    let mut first = last.clone();
    first["meta"]["has_more"] = json!(true);
    first["meta"]["after_cursor"] = json!("c2Vjb25kIHBhZ2U");

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(list_path))
        .and(query_param("page[size]", "100"))
        .and(query_param_is_missing("page[after]"))
        .respond_with(json_response(200, first.to_string()))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(list_path))
        .and(query_param("page[size]", "100"))
        .and(query_param("page[after]", "c2Vjb25kIHBhZ2U"))
        .respond_with(json_response(200, last.to_string()))
        .expect(1)
        .mount(&server)
        .await;
    let c = build(&server, api_token_settings());
    // The stored cursor of a finished list run is None: the next run reads the list whole again.
    let (records, cursor) = drain(c.as_ref(), stream, None, june_first()).await.unwrap();
    assert_eq!(
        cursor, None,
        "{stream}: the cursor is cleared after the last page"
    );

    let reqs = received(&server).await;
    assert_eq!(reqs.len(), 2, "{stream}");
    assert!(!query(&reqs[0]).contains_key("page[after]"));
    assert_eq!(
        query(&reqs[1]).get("page[after]").map(String::as_str),
        Some("c2Vjb25kIHBhZ2U")
    );
    // The first page alone stores the position inside the run (a third request).
    let page = fetch(c.as_ref(), stream, None, june_first()).await.unwrap();
    assert!(page.has_more);
    assert_eq!(
        page.next,
        Some(Cursor(json!({ "page_after": "c2Vjb25kIHBhZ2U" })))
    );
    records
}

#[tokio::test]
async fn groups_and_ticket_metrics_page_with_page_after() {
    let groups = drain_two_page_list("groups", "/api/v2/groups.json", "groups_page1.json").await;
    assert_eq!(groups.len(), 4);
    let names: Vec<&str> = groups
        .iter()
        .map(|r| match r {
            Record::Group(g) => g.name.as_str(),
            other => panic!("expected groups, got {other:?}"),
        })
        .collect();
    assert_eq!(
        names,
        ["Tier 1 Support", "Billing", "Tier 1 Support", "Billing"]
    );

    let metrics = drain_two_page_list(
        "ticket_metrics",
        "/api/v2/ticket_metrics.json",
        "ticket_metrics_page1.json",
    )
    .await;
    assert_eq!(metrics.len(), 4);
    let ticket_ids: Vec<&str> = metrics
        .iter()
        .map(|r| match r {
            Record::TicketMetrics(m) => m.ticket_id.as_str(),
            other => panic!("expected ticket metrics, got {other:?}"),
        })
        .collect();
    assert_eq!(ticket_ids, ["104101", "104102", "104101", "104102"]);
}

#[tokio::test]
async fn unknown_stream_is_invalid() {
    let server = MockServer::start().await;
    let c = build(&server, api_token_settings());
    let err = fetch(c.as_ref(), "organizations", None, june_first())
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Invalid(_)), "{err:?}");
    assert!(received(&server).await.is_empty());
}

// ---------------------------------------------------------------------------------------------
// check

/// `GET /api/v2/users/me.json` answers `{"user": <user object>}`; the admin of the users fixture.
fn me_body(anonymous: bool) -> String {
    let mut user = fixture_json("users_page1.json")["users"][0].clone();
    if anonymous {
        // Without valid credentials Zendesk answers 200 with an anonymous end-user.
        user["id"] = Value::Null;
        user["url"] = Value::Null;
        user["name"] = json!("Anonymous user");
        user["email"] = json!("invalid@example.com");
        user["role"] = json!("end-user");
    }
    json!({ "user": user }).to_string()
}

#[tokio::test]
async fn check_reports_who_is_authenticated() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/users/me.json"))
        .respond_with(json_response(200, me_body(false)))
        .expect(1)
        .mount(&server)
        .await;
    let c = build(&server, api_token_settings());
    let line = c.check().await.unwrap();

    assert!(line.contains("Dana Whitfield"), "{line}");
    assert!(line.contains("372000"), "{line}");
    assert!(line.contains("admin"), "{line}");
    assert!(!line.contains(TOKEN));
    let reqs = received(&server).await;
    assert!(header(&reqs[0], "authorization")
        .unwrap()
        .starts_with("Basic "));
}

#[tokio::test]
async fn check_fails_for_anonymous_user() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/users/me.json"))
        .respond_with(json_response(200, me_body(true)))
        .expect(1)
        .mount(&server)
        .await;
    let c = build(&server, api_token_settings());
    let err = c.check().await.unwrap_err();
    assert!(
        matches!(
            err,
            ConnectorError::Auth {
                endpoint: "users/me",
                status: 200,
                ..
            }
        ),
        "{err:?}"
    );
}
