//! Connector-level tests: the Jira connector, built through its registry entry, against a
//! wiremock server serving the documented response shapes in `tests/fixtures/`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};
use okno_connector::signature::{sign, Algorithm, Encoding};
use okno_connector::testkit::{drain, fixture as read_fixture, test_http_options};
use okno_connector::webhook::{VerifyError, WebhookEvent, WebhookRequest};
use okno_connector::{
    BuildContext, Connector, ConnectorError, Cursor, DeletedKind, Identity, PageRequest, Record,
    SecretString, SettingsError, StatusCategory, Task, TokenVault,
};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use url::Url;
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const EMAIL: &str = "priya.nair@acme-marketing.example";
const API_TOKEN: &str = "ATATT3xFfGF0-test-token";
const SEARCH: &str = "/rest/api/3/search/jql";
const MYSELF: &str = "/rest/api/3/myself";
const STATUS: &str = "/rest/api/3/status";
const FIELDS: &str = "summary,status,assignee,reporter,created,updated,resolutiondate,labels,components,project,issuetype,customfield_10050,customfield_10016";
const JONAS: &str = "712020:4b64bf22-fa79-4996-ad81-9b50d631d3e6";
const PRIYA: &str = "5b10ac8d82e05b22cc7d4ef5";

// ---------------------------------------------------------------------------------------------
// helpers

fn fixture(name: &str) -> String {
    read_fixture(env!("CARGO_MANIFEST_DIR"), name)
}

fn ok_json(body: impl Into<String>) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.into(), "application/json")
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .with_timezone(&Utc)
}

fn cloud_settings() -> Value {
    json!({
        "email": EMAIL,
        "api_token": API_TOKEN,
        "projects": ["MKT", "CONTENT"],
        "campaign_field": "customfield_10050",
        "estimate_field": "customfield_10016",
    })
}

fn context(base_url: &str, settings: Value) -> BuildContext {
    BuildContext {
        instance: "jira".into(),
        settings,
        base_url: Some(Url::parse(base_url).unwrap()),
        http: test_http_options(),
        tokens: TokenVault::new(),
    }
}

fn build_at(base_url: &str, settings: Value) -> Arc<dyn Connector> {
    (okno_jira::KIND.build)(context(base_url, settings)).unwrap_or_else(|e| panic!("{e:?}"))
}

fn build(server: &MockServer, settings: Value) -> Arc<dyn Connector> {
    build_at(&server.uri(), settings)
}

fn build_err(settings: Value, base_url: Option<&str>) -> Vec<SettingsError> {
    let mut ctx = context("http://unused.example", settings);
    ctx.base_url = base_url.map(|u| Url::parse(u).unwrap());
    match (okno_jira::KIND.build)(ctx) {
        Ok(_) => panic!("settings accepted"),
        Err(e) => e,
    }
}

fn tasks(records: &[Record]) -> Vec<&Task> {
    records
        .iter()
        .filter_map(|r| match r {
            Record::Task(t) => Some(t.as_ref()),
            _ => None,
        })
        .collect()
}

fn task<'a>(records: &'a [Record], id: &str) -> &'a Task {
    tasks(records)
        .into_iter()
        .find(|t| t.task_id == id)
        .unwrap_or_else(|| panic!("no task {id}"))
}

fn identities(records: &[Record]) -> Vec<&Identity> {
    records
        .iter()
        .filter_map(|r| match r {
            Record::Identity(i) => Some(i),
            _ => None,
        })
        .collect()
}

async fn requests(server: &MockServer, p: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path() == p)
        .collect()
}

fn param(r: &Request, key: &str) -> Option<String> {
    r.url
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

fn header(r: &Request, name: &str) -> Option<String> {
    r.headers.get(name).map(|v| v.to_str().unwrap().to_string())
}

async fn mount_cloud_basics(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path(MYSELF))
        .respond_with(ok_json(fixture("myself_cloud.json")))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(STATUS))
        .respond_with(ok_json(fixture("statuses.json")))
        .mount(server)
        .await;
}

/// 10:01 in Asia/Kolkata on 2025-03-05.
fn kolkata_1001() -> DateTime<Utc> {
    utc("2025-03-05T04:31:00Z")
}

// ---------------------------------------------------------------------------------------------
// issues: paging, fields, changelog

#[tokio::test]
async fn cloud_search_follows_next_page_token_until_the_key_is_missing() {
    let server = MockServer::start().await;
    mount_cloud_basics(&server).await;
    Mock::given(method("GET"))
        .and(path(SEARCH))
        .and(query_param_is_missing("nextPageToken"))
        .respond_with(ok_json(fixture("search_jql_page1.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(SEARCH))
        .and(query_param("nextPageToken", "CAEaAggD"))
        .respond_with(ok_json(fixture("search_jql_page2.json")))
        .expect(1)
        .mount(&server)
        .await;
    let changelog = "/rest/api/3/issue/10104/changelog";
    Mock::given(method("GET"))
        .and(path(changelog))
        .and(query_param("startAt", "0"))
        .respond_with(ok_json(fixture("issue_changelog_10104_page1.json")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(changelog))
        .and(query_param("startAt", "2"))
        .respond_with(ok_json(fixture("issue_changelog_10104_page2.json")))
        .mount(&server)
        .await;
    let c = build(&server, cloud_settings());

    let (records, cursor) = drain(c.as_ref(), "issues", None, kolkata_1001())
        .await
        .unwrap();

    let ids: Vec<&str> = tasks(&records).iter().map(|t| t.task_id.as_str()).collect();
    assert_eq!(ids, ["10101", "10102", "10103", "10104", "10105"]);

    // Two searches: the same query, the second with the token; the fields asked explicitly.
    let searches = requests(&server, SEARCH).await;
    assert_eq!(searches.len(), 2);
    let jql = "project in (\"MKT\", \"CONTENT\") AND updated >= \"2025-03-05 10:01\" ORDER BY updated ASC, id ASC";
    for r in &searches {
        assert_eq!(param(r, "jql").as_deref(), Some(jql));
        assert_eq!(param(r, "fields").as_deref(), Some(FIELDS));
        assert_eq!(param(r, "expand").as_deref(), Some("changelog"));
        assert_eq!(param(r, "maxResults").as_deref(), Some("100"));
        assert_eq!(param(r, "startAt"), None, "Cloud pages by token only");
        let basic =
            base64::engine::general_purpose::STANDARD.encode(format!("{EMAIL}:{API_TOKEN}"));
        assert_eq!(header(r, "authorization"), Some(format!("Basic {basic}")));
    }
    assert_eq!(param(&searches[0], "nextPageToken"), None);
    assert_eq!(
        param(&searches[1], "nextPageToken").as_deref(),
        Some("CAEaAggD")
    );
    // The time zone is asked once; /status once, for the status no issue showed (10200).
    assert_eq!(requests(&server, MYSELF).await.len(), 1);
    assert_eq!(requests(&server, STATUS).await.len(), 1);
    let cl = requests(&server, changelog).await;
    assert_eq!(
        cl.iter()
            .map(|r| param(r, "startAt").unwrap())
            .collect::<Vec<_>>(),
        ["0", "2"]
    );
    assert!(cl
        .iter()
        .all(|r| param(r, "maxResults").as_deref() == Some("100")));

    // Reopened and done again: first start, last finish; the rest of the mapping.
    let t = task(&records, "10101");
    assert_eq!(t.key.as_deref(), Some("MKT-101"));
    assert_eq!(t.title, "Spring sale landing page");
    assert_eq!(t.project.as_deref(), Some("MKT"));
    assert_eq!(t.project_name.as_deref(), Some("Marketing"));
    assert_eq!(t.task_type.as_deref(), Some("Task"));
    assert_eq!(t.labels, ["landing-page", "spring-sale"]);
    assert_eq!(t.assignee_id.as_deref(), Some(JONAS));
    assert_eq!(t.reporter_id.as_deref(), Some(PRIYA));
    assert_eq!(t.status, "Done");
    assert_eq!(t.status_category, StatusCategory::Done);
    assert_eq!(t.created_at, utc("2025-02-28T10:50:11Z"));
    assert_eq!(t.updated_at, utc("2025-03-05T04:31:05.120Z"));
    assert_eq!(t.started_at, Some(utc("2025-03-01T03:45:00Z")));
    assert_eq!(t.done_at, Some(utc("2025-03-05T04:31:05.120Z")));
    assert_eq!(t.campaign.as_deref(), Some("Spring Sale 2025"));
    assert_eq!(t.estimate.map(|d| d.to_string()).as_deref(), Some("3.0"));
    assert_eq!(t.deleted_at, None);
    // `raw` is the issue exactly as received, changelog included.
    let page1 = fixture("search_jql_page1.json");
    assert!(page1.contains(t.raw.get()), "raw is not a verbatim slice");
    let as_sent: Value = serde_json::from_str(&page1).unwrap();
    let raw: Value = serde_json::from_str(t.raw.get()).unwrap();
    assert_eq!(raw, as_sent["issues"][0]);

    let t = task(&records, "10102");
    assert_eq!(t.status_category, StatusCategory::InProgress);
    assert_eq!(t.started_at, Some(utc("2025-03-05T04:00:00Z")));
    assert_eq!(t.done_at, None);
    assert_eq!(t.campaign, None);
    assert_eq!(t.estimate, Some(Decimal::from(5)));

    let t = task(&records, "10103");
    assert_eq!(t.project.as_deref(), Some("CONTENT"));
    assert_eq!(t.status_category, StatusCategory::Todo);
    assert_eq!((t.started_at, t.done_at), (None, None));
    assert_eq!(t.assignee_id, None);
    assert!(t.labels.is_empty());

    // Cut-short changelog fetched whole; "In Review" known only through /status.
    let t = task(&records, "10104");
    assert_eq!(t.status, "Approved");
    assert_eq!(t.status_category, StatusCategory::Done);
    assert_eq!(t.started_at, Some(utc("2025-03-04T04:30:00Z")));
    assert_eq!(t.done_at, Some(utc("2025-03-05T04:33:12Z")));
    assert_eq!(t.estimate, Some("0.1".parse::<Decimal>().unwrap()));
    assert_eq!(t.campaign.as_deref(), Some("Q2 Webinars"));

    let cursor = cursor.expect("a cursor").0;
    assert_eq!(
        cursor["since_ms"],
        json!(utc("2025-03-05T04:34:00Z").timestamp_millis())
    );
    assert_eq!(cursor["seen"].as_array().unwrap().len(), 5);
    assert_eq!(
        cursor["seen"][4],
        json!(["10105", utc("2025-03-05T04:34:00Z").timestamp_millis()])
    );
    assert!(cursor.get("scan").is_none(), "{cursor}");
}

#[tokio::test]
async fn a_page_reaching_a_later_minute_moves_the_window_instead_of_taking_the_token() {
    let server = MockServer::start().await;
    mount_cloud_basics(&server).await;
    // Page 2's issues (10:03 and 10:04), as the first page of a longer result.
    let mut first: Value = serde_json::from_str(&fixture("search_jql_page2.json")).unwrap();
    first["nextPageToken"] = json!("CAEaAggE");
    first["isLast"] = json!(false);
    Mock::given(method("GET"))
        .and(path(SEARCH))
        .and(query_param_is_missing("nextPageToken"))
        .respond_with(ok_json(first.to_string()))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(SEARCH))
        .respond_with(ok_json(r#"{"issues":[],"isLast":true}"#))
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/issue/10104/changelog"))
        .respond_with(ok_json(fixture("issue_changelog_10104_page2.json")))
        .mount(&server)
        .await;
    let c = build(&server, cloud_settings());
    let page = c
        .fetch_page(PageRequest {
            stream: "issues",
            cursor: None,
            start: kolkata_1001(),
        })
        .await
        .unwrap();
    assert!(page.has_more);
    assert_eq!(tasks(&page.records).len(), 2);
    let scan = &page.next.as_ref().unwrap().0["scan"];
    assert_eq!(
        scan,
        &json!({"from_local": "2025-03-05 10:04", "from_latest_ms": utc("2025-03-05T04:34:00Z").timestamp_millis()})
    );
    let page = c
        .fetch_page(PageRequest {
            stream: "issues",
            cursor: page.next.as_ref(),
            start: kolkata_1001(),
        })
        .await
        .unwrap();
    assert!(!page.has_more);
    assert!(page.records.is_empty(), "10105 was emitted already");
    let searches = requests(&server, SEARCH).await;
    assert_eq!(searches.len(), 2);
    assert_eq!(param(&searches[1], "nextPageToken"), None);
    assert!(param(&searches[1], "jql")
        .unwrap()
        .contains("updated >= \"2025-03-05 10:04\""));
}

// ---------------------------------------------------------------------------------------------
// the minute boundary in a non-UTC zone, across runs

/// A Jira that answers JQL `updated >= "yyyy-MM-dd HH:mm"` the way Jira does for an account
/// in Asia/Kolkata (the minute read in the account's zone), sorted by updated then id, two
/// issues a page, paged with a token.
#[derive(Clone, Default)]
struct FakeJira {
    /// id → updated (ms).
    issues: Arc<Mutex<BTreeMap<u64, i64>>>,
}

const IST: i32 = 5 * 3600 + 30 * 60;

fn ist(local: &str) -> i64 {
    let n = NaiveDateTime::parse_from_str(local, "%Y-%m-%d %H:%M:%S%.f").unwrap();
    FixedOffset::east_opt(IST)
        .unwrap()
        .from_local_datetime(&n)
        .unwrap()
        .timestamp_millis()
}

fn ist_text(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .unwrap()
        .with_timezone(&FixedOffset::east_opt(IST).unwrap())
        .format("%Y-%m-%dT%H:%M:%S%.3f%z")
        .to_string()
}

fn fake_issue(id: u64, updated: i64) -> Value {
    json!({
        "expand": "operations,versionedRepresentations,editmeta,changelog,renderedFields",
        "id": id.to_string(),
        "self": format!("https://acme-marketing.atlassian.net/rest/api/3/issue/{id}"),
        "key": format!("MKT-{id}"),
        "changelog": {"startAt": 0, "maxResults": 0, "total": 0, "histories": []},
        "fields": {
            "summary": format!("Issue {id}"),
            "status": {"name": "To Do", "id": "10000", "statusCategory": {"id": 2, "key": "new", "colorName": "blue-gray", "name": "To Do"}},
            "assignee": null,
            "reporter": null,
            "created": ist_text(updated - 86_400_000),
            "updated": ist_text(updated),
            "resolutiondate": null,
            "labels": [],
            "components": [],
            "project": {"id": "10000", "key": "MKT", "name": "Marketing"},
            "issuetype": {"id": "10001", "name": "Task"},
            "customfield_10050": null,
            "customfield_10016": null
        }
    })
}

impl Respond for FakeJira {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let jql = param(request, "jql").unwrap();
        let start = jql.find("updated >= \"").unwrap() + 12;
        let local = &jql[start..start + 16];
        let from = ist(&format!("{local}:00"));
        let mut matching: Vec<(i64, u64)> = self
            .issues
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, u)| **u >= from)
            .map(|(id, u)| (*u, *id))
            .collect();
        matching.sort();
        let offset: usize = param(request, "nextPageToken")
            .map(|t| t.trim_start_matches('t').parse().unwrap())
            .unwrap_or(0);
        let end = (offset + 2).min(matching.len());
        let issues: Vec<Value> = matching[offset.min(end)..end]
            .iter()
            .map(|(u, id)| fake_issue(*id, *u))
            .collect();
        let mut body = json!({ "issues": issues, "isLast": end >= matching.len() });
        if end < matching.len() {
            body["nextPageToken"] = json!(format!("t{end}"));
        }
        ok_json(body.to_string())
    }
}

fn emitted(records: &[Record]) -> Vec<(String, DateTime<Utc>)> {
    tasks(records)
        .iter()
        .map(|t| (t.task_id.clone(), t.updated_at))
        .collect()
}

#[tokio::test]
async fn minute_boundaries_in_kolkata_lose_nothing_and_repeat_nothing_across_runs() {
    let server = MockServer::start().await;
    mount_cloud_basics(&server).await;
    let jira = FakeJira::default();
    Mock::given(method("GET"))
        .and(path(SEARCH))
        .respond_with(jira.clone())
        .mount(&server)
        .await;
    let set = |id: u64, local: &str| {
        jira.issues.lock().unwrap().insert(id, ist(local));
    };
    set(1, "2025-03-05 10:00:59.900");
    set(2, "2025-03-05 10:01:00.100");
    set(3, "2025-03-05 10:01:30.000");
    set(4, "2025-03-05 10:02:10.000");
    let mut s = cloud_settings();
    s.as_object_mut().unwrap().remove("projects");
    let c = build(&server, s);
    let start = utc("2025-03-05T04:25:00Z"); // 09:55 IST

    let (run1, cursor) = drain(c.as_ref(), "issues", None, start).await.unwrap();
    let at = |local: &str| DateTime::from_timestamp_millis(ist(local)).unwrap();
    assert_eq!(
        emitted(&run1),
        [
            ("1".into(), at("2025-03-05 10:00:59.900")),
            ("2".into(), at("2025-03-05 10:01:00.100")),
            ("3".into(), at("2025-03-05 10:01:30.000")),
            ("4".into(), at("2025-03-05 10:02:10.000")),
        ]
    );
    let first_run_searches = requests(&server, SEARCH).await;
    assert!(param(&first_run_searches[0], "jql")
        .unwrap()
        .starts_with("updated >= \"2025-03-05 09:55\""));

    // Between runs: an issue whose index entry lagged shows up with an update older than the
    // newest one already read, another issue lands on the very same millisecond as issue 4,
    // and issue 2 changes again.
    set(5, "2025-03-05 10:00:59.950");
    set(6, "2025-03-05 10:02:10.000");
    set(2, "2025-03-05 10:02:30.000");
    let (run2, cursor) = drain(c.as_ref(), "issues", cursor, start).await.unwrap();
    assert_eq!(
        emitted(&run2),
        [
            ("5".into(), at("2025-03-05 10:00:59.950")),
            ("6".into(), at("2025-03-05 10:02:10.000")),
            ("2".into(), at("2025-03-05 10:02:30.000")),
        ]
    );
    let searches = requests(&server, SEARCH).await;
    let run2_first = &searches[first_run_searches.len()];
    // Five minutes before the newest update (10:02:10 IST), as a Kolkata minute.
    assert!(param(run2_first, "jql")
        .unwrap()
        .starts_with("updated >= \"2025-03-05 09:57\""));

    // Nothing changed: the overlap re-reads, emits nothing.
    let (run3, _) = drain(c.as_ref(), "issues", cursor, start).await.unwrap();
    assert!(run3.is_empty(), "{:?}", emitted(&run3));
    // The account's time zone came from /myself, once for all three runs.
    assert_eq!(requests(&server, MYSELF).await.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Data Center

#[tokio::test]
async fn data_center_pages_with_start_at_and_a_bearer_token_under_a_context_path() {
    let server = MockServer::start().await;
    let base = format!("{}/jira", server.uri());
    Mock::given(method("GET"))
        .and(path("/jira/rest/api/2/myself"))
        .respond_with(ok_json(fixture("myself_dc.json")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/jira/rest/api/2/search"))
        .and(query_param("startAt", "0"))
        .respond_with(ok_json(fixture("dc_search_page1.json")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/jira/rest/api/2/search"))
        .and(query_param("startAt", "2"))
        .respond_with(ok_json(fixture("dc_search_page2.json")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/jira/rest/api/2/user/search"))
        .and(query_param("startAt", "0"))
        .respond_with(ok_json(fixture("dc_user_search.json")))
        .mount(&server)
        .await;
    let c = build_at(
        &base,
        json!({"deployment": "data_center", "personal_access_token": "dc-pat-5f2a", "estimate_field": "customfield_10106"}),
    );
    // 10:01 in Berlin (CET, UTC+1).
    let start = utc("2025-03-05T09:01:00Z");
    let (records, _) = drain(c.as_ref(), "issues", None, start).await.unwrap();

    let searches = requests(&server, "/jira/rest/api/2/search").await;
    assert_eq!(searches.len(), 2);
    assert_eq!(
        searches
            .iter()
            .map(|r| param(r, "startAt").unwrap())
            .collect::<Vec<_>>(),
        ["0", "2"]
    );
    for r in &searches {
        assert_eq!(
            header(r, "authorization").as_deref(),
            Some("Bearer dc-pat-5f2a")
        );
        assert_eq!(
            param(r, "jql").as_deref(),
            Some("updated >= \"2025-03-05 10:01\" ORDER BY updated ASC, id ASC")
        );
        assert_eq!(param(r, "nextPageToken"), None);
        assert_eq!(
            param(r, "fields").as_deref(),
            Some("summary,status,assignee,reporter,created,updated,resolutiondate,labels,components,project,issuetype,customfield_10106")
        );
    }
    let ids: Vec<&str> = tasks(&records).iter().map(|t| t.task_id.as_str()).collect();
    assert_eq!(ids, ["21004", "21005", "21006"]);
    let t = task(&records, "21004");
    assert_eq!(
        t.assignee_id.as_deref(),
        Some("JIRAUSER10201"),
        "DC users by key"
    );
    assert_eq!(t.reporter_id.as_deref(), Some("admin"));
    assert_eq!(t.status_category, StatusCategory::InProgress);
    assert_eq!(t.started_at, Some(utc("2025-03-05T08:12:44Z")));
    assert_eq!(t.estimate.map(|d| d.to_string()).as_deref(), Some("2.0"));
    let t = task(&records, "21006");
    assert_eq!(t.status_category, StatusCategory::Done);
    assert_eq!(t.started_at, Some(utc("2025-03-03T10:00:00Z")));
    assert_eq!(t.done_at, Some(utc("2025-03-05T09:07:00Z")));
    // Every status involved was some issue's current status: no /status request.
    assert!(requests(&server, "/jira/rest/api/2/status")
        .await
        .is_empty());

    let (users, cursor) = drain(c.as_ref(), "users", None, start).await.unwrap();
    let ids = identities(&users);
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0].user_id, "JIRAUSER10201");
    assert_eq!(
        ids[0].email.as_deref(),
        Some("jonas.weber@acme-marketing.example")
    );
    assert!(!ids[1].active);
    assert_eq!(cursor, None, "a short page ends the users");
    let r = &requests(&server, "/jira/rest/api/2/user/search").await[0];
    assert_eq!(param(r, "username").as_deref(), Some("."));
    assert_eq!(param(r, "includeInactive").as_deref(), Some("true"));
    assert_eq!(param(r, "maxResults").as_deref(), Some("100"));
}

// ---------------------------------------------------------------------------------------------
// rate limits

#[tokio::test]
async fn a_429_waits_for_retry_after_then_succeeds() {
    let server = MockServer::start().await;
    mount_cloud_basics(&server).await;
    Mock::given(method("GET"))
        .and(path(SEARCH))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "1")
                .insert_header("X-RateLimit-Reset", "2025-03-05T04:32Z"),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(SEARCH))
        .respond_with(ok_json(fixture("search_jql_page2.json")))
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/issue/10104/changelog"))
        .respond_with(ok_json(fixture("issue_changelog_10104_page2.json")))
        .mount(&server)
        .await;
    let c = build(&server, cloud_settings());
    let started = std::time::Instant::now();
    let page = c
        .fetch_page(PageRequest {
            stream: "issues",
            cursor: None,
            start: kolkata_1001(),
        })
        .await
        .unwrap();
    assert_eq!(tasks(&page.records).len(), 2);
    assert_eq!(requests(&server, SEARCH).await.len(), 2);
    // The test client's own backoff is at most 100 ms: the second try waited for Retry-After.
    assert!(started.elapsed() >= Duration::from_millis(950));
}

#[tokio::test]
async fn persistent_429_ends_as_rate_limited_and_keeps_the_cursor() {
    let server = MockServer::start().await;
    mount_cloud_basics(&server).await;
    Mock::given(method("GET"))
        .and(path(SEARCH))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "0"))
        .mount(&server)
        .await;
    let c = build(&server, cloud_settings());
    let err = c
        .fetch_page(PageRequest {
            stream: "issues",
            cursor: None,
            start: kolkata_1001(),
        })
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::RateLimited { .. }), "{err}");
    assert_eq!(
        requests(&server, SEARCH).await.len(),
        3,
        "the test policy's 3 tries"
    );
}

#[tokio::test]
async fn refused_credentials_and_jql_are_explained() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(MYSELF))
        .respond_with(ResponseTemplate::new(401).set_body_raw(
            "{\"errorMessages\":[\"Client must be authenticated to access this resource.\"],\"errors\":{}}",
            "application/json",
        ))
        .mount(&server)
        .await;
    let c = build(&server, cloud_settings());
    let err = c.check().await.unwrap_err();
    assert_eq!(err.class(), "auth");
    assert!(err.to_string().contains("api_token"), "{err}");

    let server = MockServer::start().await;
    mount_cloud_basics(&server).await;
    Mock::given(method("GET"))
        .and(path(SEARCH))
        .respond_with(ResponseTemplate::new(400).set_body_raw(
            "{\"errorMessages\":[\"Error in the JQL Query: Expecting either 'OR' or 'AND' but got 'MKT'.\"],\"errors\":{}}",
            "application/json",
        ))
        .mount(&server)
        .await;
    let c = build(&server, cloud_settings());
    let err = c
        .fetch_page(PageRequest {
            stream: "issues",
            cursor: None,
            start: kolkata_1001(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.class(), "permanent");
    assert!(err.to_string().contains("`jql`"), "{err}");
}

#[tokio::test]
async fn check_names_the_account_and_its_time_zone() {
    let server = MockServer::start().await;
    mount_cloud_basics(&server).await;
    let c = build(&server, cloud_settings());
    let line = c.check().await.unwrap();
    assert!(line.contains("Priya Nair"), "{line}");
    assert!(line.contains("Asia/Kolkata"), "{line}");
    assert!(!line.contains(API_TOKEN));
}

#[tokio::test]
async fn an_unreadable_cursor_is_an_invalid_request() {
    let server = MockServer::start().await;
    mount_cloud_basics(&server).await;
    let c = build(&server, cloud_settings());
    let bad = Cursor(json!({"since": "yesterday"}));
    let err = c
        .fetch_page(PageRequest {
            stream: "issues",
            cursor: Some(&bad),
            start: kolkata_1001(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.class(), "invalid");
    assert!(requests(&server, SEARCH).await.is_empty());
}

// ---------------------------------------------------------------------------------------------
// users

#[tokio::test]
async fn cloud_users_become_identities_and_hidden_emails_stay_empty() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/users/search"))
        .and(query_param("startAt", "0"))
        .respond_with(ok_json(fixture("users_search.json")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/users/search"))
        .and(query_param("startAt", "4"))
        .respond_with(ok_json("[]"))
        .mount(&server)
        .await;
    let c = build(&server, cloud_settings());
    let (records, cursor) = drain(c.as_ref(), "users", None, kolkata_1001())
        .await
        .unwrap();
    let ids = identities(&records);
    assert_eq!(ids.len(), 4);
    assert_eq!(ids[0].user_id, PRIYA);
    assert_eq!(
        ids[0].email.as_deref(),
        Some("priya.nair@acme-marketing.example")
    );
    assert_eq!(ids[0].name.as_deref(), Some("Priya Nair"));
    assert_eq!(ids[0].role.as_deref(), Some("atlassian"));
    assert_eq!(ids[1].user_id, JONAS);
    assert_eq!(ids[1].email, None, "privacy hides the address");
    assert!(!ids[2].active);
    assert_eq!(ids[3].role.as_deref(), Some("app"));
    assert_eq!(cursor, None);
    let reqs = requests(&server, "/rest/api/3/users/search").await;
    assert_eq!(reqs.len(), 2);
    assert!(reqs
        .iter()
        .all(|r| param(r, "maxResults").as_deref() == Some("1000")));
}

// ---------------------------------------------------------------------------------------------
// webhooks and fetching by id

fn webhook_settings() -> Value {
    let mut s = cloud_settings();
    s["webhook_secret"] = json!("whsec-new-7c1e");
    s["webhook_secret_previous"] = json!("whsec-old-2b9d");
    s
}

fn signed(secret: &str, body: &[u8], delivery: &str) -> Vec<(String, String)> {
    let sig = sign(
        Algorithm::Sha256,
        Encoding::Hex,
        &SecretString::from(secret.to_string()),
        &[body],
    );
    vec![
        ("content-type".into(), "application/json".into()),
        ("x-hub-signature".into(), format!("sha256={sig}")),
        ("x-atlassian-webhook-identifier".into(), delivery.into()),
        ("x-atlassian-webhook-flow".into(), "Primary".into()),
    ]
}

fn request<'a>(headers: &'a [(String, String)], body: &'a [u8]) -> WebhookRequest<'a> {
    WebhookRequest {
        received_at: Utc::now(),
        headers,
        body,
        path_token: None,
    }
}

#[test]
fn webhook_signatures_are_checked_with_either_secret() {
    let c = build_at("http://unused.example", webhook_settings());
    let hooks = c.webhooks().expect("webhooks enabled by the secret");
    let body = fixture("webhook_issue_updated.json");
    let body = body.as_bytes();

    let headers = signed("whsec-new-7c1e", body, "a1b2");
    assert_eq!(hooks.verify(&request(&headers, body)), Ok(()));
    // Rotation: the previous secret still works.
    let headers = signed("whsec-old-2b9d", body, "a1b2");
    assert_eq!(hooks.verify(&request(&headers, body)), Ok(()));
    // Wrong secret.
    let headers = signed("guessed", body, "a1b2");
    assert_eq!(
        hooks.verify(&request(&headers, body)),
        Err(VerifyError::BadSignature)
    );
    // Tampered body (one digit of the issue id).
    let headers = signed("whsec-new-7c1e", body, "a1b2");
    let tampered = String::from_utf8(body.to_vec()).unwrap().replacen(
        "\"id\":\"10104\"",
        "\"id\":\"10105\"",
        1,
    );
    assert_ne!(tampered.as_bytes(), body);
    assert_eq!(
        hooks.verify(&request(&headers, tampered.as_bytes())),
        Err(VerifyError::BadSignature)
    );
    // The bare hex without `sha256=`, and no header at all.
    let bare: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.clone(), v.trim_start_matches("sha256=").to_string()))
        .collect();
    assert_eq!(
        hooks.verify(&request(&bare, body)),
        Err(VerifyError::BadSignature)
    );
    assert_eq!(
        hooks.verify(&request(&headers[2..], body)),
        Err(VerifyError::MissingHeader("x-hub-signature"))
    );

    let without = build_at("http://unused.example", cloud_settings());
    assert!(without.webhooks().is_none());
}

#[test]
fn a_retried_delivery_has_the_same_delivery_id() {
    let c = build_at("http://unused.example", webhook_settings());
    let hooks = c.webhooks().unwrap();
    let body = fixture("webhook_issue_updated.json");
    let first = signed(
        "whsec-new-7c1e",
        body.as_bytes(),
        "0b1a5d9e-51c4-4d1e-9f6b-2f1f0c2a7d11",
    );
    let mut retry = first.clone();
    retry.push(("x-atlassian-webhook-retry".into(), "1".into()));
    let a = hooks.delivery_id(&request(&first, body.as_bytes()));
    let b = hooks.delivery_id(&request(&retry, body.as_bytes()));
    assert_eq!(a.as_deref(), Some("0b1a5d9e-51c4-4d1e-9f6b-2f1f0c2a7d11"));
    assert_eq!(a, b);
    let other = signed(
        "whsec-new-7c1e",
        body.as_bytes(),
        "7d3c0e55-0000-4c4c-8a8a-000000000002",
    );
    assert_ne!(hooks.delivery_id(&request(&other, body.as_bytes())), a);
    assert_eq!(
        hooks.delivery_id(&request(&first[..2], body.as_bytes())),
        None
    );
}

#[test]
fn webhook_bodies_become_refetches_deletions_or_nothing() {
    let c = build_at("http://unused.example", webhook_settings());
    let hooks = c.webhooks().unwrap();

    let events = hooks
        .parse(fixture("webhook_issue_updated.json").as_bytes())
        .unwrap();
    assert!(
        matches!(&events[..], [WebhookEvent::Refetch { stream, ids }] if stream == "issues" && ids == &["10104"]),
        "{events:?}"
    );
    let created =
        fixture("webhook_issue_updated.json").replace("jira:issue_updated", "jira:issue_created");
    assert!(matches!(
        &hooks.parse(created.as_bytes()).unwrap()[..],
        [WebhookEvent::Refetch { .. }]
    ));

    let events = hooks
        .parse(fixture("webhook_issue_deleted.json").as_bytes())
        .unwrap();
    let [WebhookEvent::Records(records)] = &events[..] else {
        panic!("{events:?}")
    };
    let [Record::Deleted(d)] = &records[..] else {
        panic!("{records:?}")
    };
    assert_eq!(d.kind, DeletedKind::Task);
    assert_eq!(d.id, "10105");
    assert_eq!(d.deleted_at, utc("2025-03-05T04:40:00.123Z"));

    assert!(hooks
        .parse(fixture("webhook_comment_created.json").as_bytes())
        .unwrap()
        .is_empty());

    for garbage in [
        &b"not json"[..],
        b"",
        b"[]",
        b"{\"hello\":1}",
        b"{\"webhookEvent\":\"jira:issue_updated\"}",
        b"{\"webhookEvent\":\"jira:issue_deleted\",\"issue\":{\"id\":\"1; drop\"}}",
        b"{\"webhookEvent\":42}",
        b"\xff\xfe",
    ] {
        let err = hooks.parse(garbage).unwrap_err();
        assert_eq!(
            err.class(),
            "decode",
            "{}",
            String::from_utf8_lossy(garbage)
        );
    }
}

#[tokio::test]
async fn fetching_by_id_keeps_to_the_configured_filter() {
    let server = MockServer::start().await;
    mount_cloud_basics(&server).await;
    Mock::given(method("GET"))
        .and(path(SEARCH))
        .respond_with(ok_json(fixture("search_jql_page2.json")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/issue/10104/changelog"))
        .respond_with(ok_json(fixture("issue_changelog_10104_page2.json")))
        .mount(&server)
        .await;
    let c = build(&server, cloud_settings());
    let page = c
        .fetch_ids("issues", &["10104".into(), "10105".into(), "10104".into()])
        .await
        .unwrap();
    assert_eq!(tasks(&page.records).len(), 2);
    assert!(!page.has_more);
    let r = &requests(&server, SEARCH).await[0];
    assert_eq!(
        param(r, "jql").as_deref(),
        Some("id in (10104, 10105) AND project in (\"MKT\", \"CONTENT\")")
    );
    assert_eq!(param(r, "fields").as_deref(), Some(FIELDS));
    let err = c.fetch_ids("issues", &["MKT-1".into()]).await.unwrap_err();
    assert_eq!(err.class(), "invalid");
    let err = c.fetch_ids("users", &["1".into()]).await.unwrap_err();
    assert_eq!(err.class(), "invalid");
}

// ---------------------------------------------------------------------------------------------
// settings

fn keys(errs: &[SettingsError]) -> Vec<&str> {
    let mut k: Vec<&str> = errs.iter().map(|e| e.key.as_str()).collect();
    k.sort();
    k
}

#[test]
fn misspelt_keys_get_a_did_you_mean() {
    let errs = build_err(
        json!({"siet": "acme", "emial": EMAIL, "api_token": "t", "campain_field": "customfield_10050"}),
        None,
    );
    assert_eq!(keys(&errs), ["campain_field", "emial", "siet"]);
    let hint = |k: &str| {
        errs.iter()
            .find(|e| e.key == k)
            .and_then(|e| e.hint.clone())
            .unwrap()
    };
    assert_eq!(hint("siet"), "did you mean `site`?");
    assert_eq!(hint("emial"), "did you mean `email`?");
    assert_eq!(hint("campain_field"), "did you mean `campaign_field`?");
}

#[test]
fn invalid_values_are_all_reported_at_once() {
    let errs = build_err(
        json!({
            "site": "acme", "email": EMAIL, "api_token": "t",
            "time_zone": "Asia/Kolkatta", "jql": "project = MKT ORDER BY Rank ASC",
            "projects": ["MKT", "9X"], "campaign_field": "Campaign name",
            "webhook_secret_previous": "old"
        }),
        None,
    );
    assert_eq!(
        keys(&errs),
        [
            "campaign_field",
            "jql",
            "projects[1]",
            "time_zone",
            "webhook_secret_previous"
        ]
    );

    // Cloud needs a site (or base_url) and an e-mail with the token; no PAT.
    let errs = build_err(
        json!({"api_token": "t", "personal_access_token": "p"}),
        None,
    );
    assert_eq!(keys(&errs), ["email", "personal_access_token", "site"]);

    // Data Center needs base_url and a PAT, and takes no site or e-mail.
    let errs = build_err(
        json!({"deployment": "data_center", "site": "acme", "email": EMAIL}),
        None,
    );
    assert_eq!(keys(&errs), ["email", "personal_access_token", "site"]);
    let errs = build_err(
        json!({"deployment": "data_center", "personal_access_token": "p"}),
        None,
    );
    assert_eq!(keys(&errs), ["base_url"]);
    let errs = build_err(
        json!({"deployment": "datacenter", "personal_access_token": "p"}),
        Some("https://jira.acme-marketing.example"),
    );
    assert_eq!(keys(&errs), ["deployment"]);
    assert!(errs[0].hint.as_deref().unwrap().contains("data_center"));

    // Both shapes build.
    build_at(
        "https://jira.acme-marketing.example",
        json!({"deployment": "data_center", "personal_access_token": "p", "time_zone": "Europe/Berlin"}),
    );
    let kind = &okno_jira::KIND;
    assert_eq!(kind.kind, "jira");
    assert!(kind.stream("issues").unwrap().default && kind.stream("users").unwrap().default);
    assert_eq!(kind.rate_buckets[0].name, "api");
}
