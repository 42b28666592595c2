//! A Jira Cloud stand-in for tests and benchmarks (feature `mock`): serves `total` generated
//! issues shaped like `GET /rest/api/3/search/jql` answers (100 per page, `nextPageToken` and
//! `isLast: false` while more follow, the last page without the token and with `isLast: true`,
//! changelog expanded), plus `/rest/api/3/myself` (time zone [`TIME_ZONE`]), `/rest/api/3/status`
//! and `/rest/api/3/users/search`, on a local wiremock server. Issue `i` is the same on every
//! request, so a resumed sync can be checked record by record.
//!
//! The search endpoint honours what the connector sends: `updated >= "yyyy-MM-dd HH:mm"` read in
//! [`TIME_ZONE`] like Jira reads it for the account, `id in (...)`, `maxResults` (at most 100)
//! and `nextPageToken`; results are in `updated` order. Issue `i` has id [`FIRST_ID`]` + i`, key
//! `MKT-<i+1>` and `updated` [`BASE_UPDATED_MS`]` + i * `[`SPACING_MS`], so a page spans about
//! twelve minutes and the connector's minute windows re-read a few issues per page. Pages are
//! rendered on request straight into one buffer.
//!
//! Build an instance against it with [`SETTINGS_TOML`] and `base_url` = the server's `uri()`,
//! with a `start_date` at or before [`BASE_UPDATED_MS`].

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone};
use okno_connector::testkit::MockVendor;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Id of the first generated issue.
pub const FIRST_ID: u64 = 100_000;
/// `updated` of the first generated issue (2025-02-19T21:20:00Z), epoch ms.
pub const BASE_UPDATED_MS: i64 = 1_740_000_000_000;
/// Milliseconds between the `updated` of two consecutive issues.
pub const SPACING_MS: i64 = 7_000;
/// The API account's time zone `/myself` reports (UTC+05:30, no DST).
pub const TIME_ZONE: &str = "Asia/Kolkata";
/// The custom fields the generator fills and [`SETTINGS_TOML`] names.
pub const CAMPAIGN_FIELD: &str = "customfield_10050";
pub const ESTIMATE_FIELD: &str = "customfield_10016";
/// The project of every generated issue.
pub const PROJECT: &str = "MKT";
/// `[connector.settings]` for an instance pointed at the mock with `base_url`.
pub const SETTINGS_TOML: &str = "email = \"bench@okno.example\"\n\
     api_token = \"mock-api-token\"\n\
     campaign_field = \"customfield_10050\"\n\
     estimate_field = \"customfield_10016\"\n";
/// Status ids of the generated workflow: to do, in progress, done.
pub const TODO_STATUS: &str = "10000";
pub const IN_PROGRESS_STATUS: &str = "10001";
pub const DONE_STATUS: &str = "10002";

const MAX_RESULTS: u64 = 100;
const KOLKATA_SECS: i32 = 5 * 3600 + 30 * 60;
/// Marker for "no fault".
const NONE: u64 = u64::MAX;
const ACCOUNTS: [&str; 3] = [
    "5b10ac8d82e05b22cc7d4ef5",
    "712020:4b64bf22-fa79-4996-ad81-9b50d631d3e6",
    "557058:f58131cb-b67d-43c7-b30d-6b58d40bd077",
];

/// Faults the search endpoint can be told to inject, changeable while the server runs. Offsets
/// are issue indexes: a page "starts at" the index of its first issue.
#[derive(Debug)]
pub struct Faults {
    /// The page starting at this offset answers 503.
    pub fail_at_offset: AtomicU64,
    /// The page starting at this offset is cut in half.
    pub truncate_at_offset: AtomicU64,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            fail_at_offset: AtomicU64::new(NONE),
            truncate_at_offset: AtomicU64::new(NONE),
        }
    }
}

impl Faults {
    pub fn clear(&self) {
        self.fail_at_offset.store(NONE, Ordering::SeqCst);
        self.truncate_at_offset.store(NONE, Ordering::SeqCst);
    }
}

/// `total` generated issues behind a Jira-Cloud-shaped API.
#[derive(Debug, Clone)]
pub struct IssuesMock {
    pub total: u64,
    pub faults: Arc<Faults>,
    /// Search pages served with 200, for assertions.
    pub served: Arc<AtomicUsize>,
}

/// Where issue `i` stands: 0 done, 1 in progress, 2 to do.
fn state(i: u64) -> u64 {
    i % 3
}

/// `updated` of issue `i`, epoch ms.
pub fn updated_ms(i: u64) -> i64 {
    BASE_UPDATED_MS + i as i64 * SPACING_MS
}

/// `created` of issue `i`: three days before its update.
pub fn created_ms(i: u64) -> i64 {
    updated_ms(i) - 3 * 86_400_000
}

/// When issue `i` moved into progress (every issue not to do: an hour after creation).
pub fn started_ms(i: u64) -> Option<i64> {
    (state(i) != 2).then(|| created_ms(i) + 3_600_000)
}

/// When issue `i` was done (done issues: two days after creation).
pub fn done_ms(i: u64) -> Option<i64> {
    (state(i) == 0).then(|| created_ms(i) + 2 * 86_400_000)
}

/// The campaign (select option) of issue `i`; every fourth issue has none.
pub fn campaign_of(i: u64) -> Option<&'static str> {
    const CAMPAIGNS: [&str; 3] = ["spring-sale-25", "webinar-series", "brand-refresh"];
    (i % 4 != 3).then(|| CAMPAIGNS[(i % 3) as usize])
}

/// The estimate (story points, as Jira writes the number) of issue `i`; every seventh has none.
pub fn estimate_of(i: u64) -> Option<&'static str> {
    const POINTS: [&str; 5] = ["1.0", "2.0", "3.0", "5.0", "0.5"];
    (i % 7 != 0).then(|| POINTS[(i % 5) as usize])
}

/// The status name of issue `i`.
pub fn status_of(i: u64) -> &'static str {
    match state(i) {
        0 => "Done",
        1 => "In Progress",
        _ => "To Do",
    }
}

fn json(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body, "application/json")
}

fn write_time(out: &mut String, ms: i64) {
    let offset = FixedOffset::east_opt(KOLKATA_SECS).expect("valid offset");
    let t = DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .with_timezone(&offset);
    let _ = write!(out, "{}", t.format("%Y-%m-%dT%H:%M:%S%.3f%z"));
}

impl IssuesMock {
    pub fn new(total: u64) -> Self {
        IssuesMock {
            total,
            faults: Arc::default(),
            served: Arc::default(),
        }
    }

    /// The first issue index with `updated >= ms`.
    pub fn first_index(ms: i64) -> u64 {
        if ms <= BASE_UPDATED_MS {
            0
        } else {
            ((ms - BASE_UPDATED_MS) as u64).div_ceil(SPACING_MS as u64)
        }
    }

    /// Renders the search page of issues `[start, end)`; `next` is the index the next page
    /// starts at, if any.
    pub fn page(&self, indexes: impl Iterator<Item = u64>, next: Option<u64>) -> String {
        let mut body = String::with_capacity(MAX_RESULTS as usize * 2_200 + 128);
        body.push_str("{\"issues\":[");
        for (n, i) in indexes.enumerate() {
            if n > 0 {
                body.push(',');
            }
            issue_json(i, &mut body);
        }
        body.push(']');
        match next {
            Some(next) => {
                let _ = write!(body, ",\"nextPageToken\":\"p{next}\",\"isLast\":false}}");
            }
            None => body.push_str(",\"isLast\":true}"),
        }
        body
    }
}

/// `updated >= "yyyy-MM-dd HH:mm"` of a JQL string, read in [`TIME_ZONE`], as epoch ms.
fn jql_from_ms(jql: &str) -> Option<i64> {
    let start = jql.find("updated >= \"")? + "updated >= \"".len();
    let end = start + jql[start..].find('"')?;
    let local = NaiveDateTime::parse_from_str(&jql[start..end], "%Y-%m-%d %H:%M").ok()?;
    let offset = FixedOffset::east_opt(KOLKATA_SECS)?;
    Some(
        offset
            .from_local_datetime(&local)
            .single()?
            .timestamp_millis(),
    )
}

/// The ids of `id in (...)` of a JQL string.
fn jql_ids(jql: &str) -> Option<Vec<u64>> {
    let start = jql.find("id in (")? + "id in (".len();
    let end = start + jql[start..].find(')')?;
    Some(
        jql[start..end]
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect(),
    )
}

fn query<'a>(request: &'a Request, key: &str) -> Option<std::borrow::Cow<'a, str>> {
    request
        .url
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

impl Respond for IssuesMock {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let jql = query(request, "jql").unwrap_or_default();
        if let Some(ids) = jql_ids(&jql) {
            let found: Vec<u64> = ids
                .into_iter()
                .filter(|id| *id >= FIRST_ID && *id < FIRST_ID + self.total)
                .map(|id| id - FIRST_ID)
                .collect();
            return json(self.page(found.into_iter(), None));
        }
        let limit = query(request, "maxResults")
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(50)
            .clamp(1, MAX_RESULTS);
        let first = Self::first_index(jql_from_ms(&jql).unwrap_or(i64::MIN));
        let offset = match query(request, "nextPageToken") {
            Some(t) => match t.strip_prefix('p').and_then(|n| n.parse::<u64>().ok()) {
                Some(n) => n,
                None => {
                    return ResponseTemplate::new(400).set_body_raw(
                        "{\"errorMessages\":[\"Invalid nextPageToken\"],\"errors\":{}}",
                        "application/json",
                    )
                }
            },
            None => first,
        };
        if self.faults.fail_at_offset.load(Ordering::SeqCst) == offset {
            return ResponseTemplate::new(503).set_body_raw(
                "<html><body>503 Service Unavailable</body></html>",
                "text/html",
            );
        }
        let start = offset.min(self.total);
        let end = (start + limit).min(self.total);
        let mut body = self.page(start..end, (end < self.total).then_some(end));
        if self.faults.truncate_at_offset.load(Ordering::SeqCst) == offset {
            let mut cut = body.len() / 2;
            while !body.is_char_boundary(cut) {
                cut -= 1;
            }
            body.truncate(cut);
        }
        self.served.fetch_add(1, Ordering::SeqCst);
        json(body)
    }
}

/// `/rest/api/3/users/search`: the three accounts of the generated issues, then an empty page.
struct UsersMock;

impl Respond for UsersMock {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let start = query(request, "startAt")
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        if start > 0 {
            return json("[]".to_string());
        }
        json(users_json())
    }
}

/// Writes issue `i` as `search/jql` returns it with the connector's `fields` and
/// `expand=changelog`.
pub fn issue_json(i: u64, out: &mut String) {
    let id = FIRST_ID + i;
    let created = created_ms(i);
    let (status_id, status_name, cat_id, cat_key, cat_name) = match state(i) {
        0 => (DONE_STATUS, "Done", 3, "done", "Done"),
        1 => (
            IN_PROGRESS_STATUS,
            "In Progress",
            4,
            "indeterminate",
            "In Progress",
        ),
        _ => (TODO_STATUS, "To Do", 2, "new", "To Do"),
    };
    let _ = write!(
        out,
        "{{\"expand\":\"operations,versionedRepresentations,editmeta,changelog,renderedFields\",\"id\":\"{id}\",\
         \"self\":\"https://okno-bench.atlassian.net/rest/api/3/issue/{id}\",\"key\":\"{PROJECT}-{key}\",\
         \"changelog\":{{\"startAt\":0,\"maxResults\":{n},\"total\":{n},\"histories\":[",
        key = i + 1,
        n = match state(i) {
            0 => 2,
            1 => 1,
            _ => 0,
        },
    );
    // Newest first, as the expand documentation describes.
    if let Some(done) = done_ms(i) {
        let _ = write!(
            out,
            "{{\"id\":\"{h}\",\"author\":{{\"accountId\":\"{a}\",\"displayName\":\"Priya Nair\",\"active\":true,\"accountType\":\"atlassian\"}},\"created\":\"",
            h = id * 10 + 2,
            a = ACCOUNTS[0],
        );
        write_time(out, done);
        let _ = write!(
            out,
            "\",\"items\":[{{\"field\":\"resolution\",\"fieldtype\":\"jira\",\"fieldId\":\"resolution\",\"from\":null,\"fromString\":null,\"to\":\"10000\",\"toString\":\"Done\"}},\
             {{\"field\":\"status\",\"fieldtype\":\"jira\",\"fieldId\":\"status\",\"from\":\"{IN_PROGRESS_STATUS}\",\"fromString\":\"In Progress\",\"to\":\"{DONE_STATUS}\",\"toString\":\"Done\"}}]}},"
        );
    }
    if let Some(started) = started_ms(i) {
        let _ = write!(
            out,
            "{{\"id\":\"{h}\",\"author\":{{\"accountId\":\"{a}\",\"displayName\":\"Priya Nair\",\"active\":true,\"accountType\":\"atlassian\"}},\"created\":\"",
            h = id * 10 + 1,
            a = ACCOUNTS[0],
        );
        write_time(out, started);
        let _ = write!(
            out,
            "\",\"items\":[{{\"field\":\"status\",\"fieldtype\":\"jira\",\"fieldId\":\"status\",\"from\":\"{TODO_STATUS}\",\"fromString\":\"To Do\",\"to\":\"{IN_PROGRESS_STATUS}\",\"toString\":\"In Progress\"}}]}}"
        );
    }
    if out.ends_with(',') {
        out.pop();
    }
    out.push_str("]},\"fields\":{\"summary\":\"");
    let _ = write!(out, "Landing page copy for campaign #{i}");
    let _ = write!(
        out,
        "\",\"status\":{{\"self\":\"https://okno-bench.atlassian.net/rest/api/3/status/{status_id}\",\"description\":\"\",\
         \"name\":\"{status_name}\",\"id\":\"{status_id}\",\"statusCategory\":{{\"self\":\"https://okno-bench.atlassian.net/rest/api/3/statuscategory/{cat_id}\",\
         \"id\":{cat_id},\"key\":\"{cat_key}\",\"colorName\":\"blue-gray\",\"name\":\"{cat_name}\"}}}},\
         \"assignee\":{{\"accountId\":\"{assignee}\",\"displayName\":\"Marketing {n}\",\"active\":true,\"timeZone\":\"{TIME_ZONE}\",\"accountType\":\"atlassian\"}},\
         \"reporter\":{{\"accountId\":\"{reporter}\",\"displayName\":\"Priya Nair\",\"active\":true,\"timeZone\":\"{TIME_ZONE}\",\"accountType\":\"atlassian\"}},\
         \"created\":\"",
        assignee = ACCOUNTS[(i % 3) as usize],
        reporter = ACCOUNTS[0],
        n = i % 3,
    );
    write_time(out, created);
    out.push_str("\",\"updated\":\"");
    write_time(out, updated_ms(i));
    out.push_str("\",\"resolutiondate\":");
    match done_ms(i) {
        Some(done) => {
            out.push('"');
            write_time(out, done);
            out.push('"');
        }
        None => out.push_str("null"),
    }
    let _ = write!(
        out,
        ",\"labels\":[\"content\",\"q1-{q}\"],\"components\":[{{\"self\":\"https://okno-bench.atlassian.net/rest/api/3/component/10010\",\"id\":\"10010\",\"name\":\"Website\"}}],\
         \"project\":{{\"self\":\"https://okno-bench.atlassian.net/rest/api/3/project/10000\",\"id\":\"10000\",\"key\":\"{PROJECT}\",\"name\":\"Marketing\",\"projectTypeKey\":\"business\",\"simplified\":false}},\
         \"issuetype\":{{\"self\":\"https://okno-bench.atlassian.net/rest/api/3/issuetype/10001\",\"id\":\"10001\",\"description\":\"A small, distinct piece of work.\",\"name\":\"Task\",\"subtask\":false}},\
         \"{CAMPAIGN_FIELD}\":",
        q = i % 4,
    );
    match campaign_of(i) {
        Some(c) => {
            let _ = write!(
                out,
                "{{\"self\":\"https://okno-bench.atlassian.net/rest/api/3/customFieldOption/10100\",\"value\":\"{c}\",\"id\":\"10100\"}}"
            );
        }
        None => out.push_str("null"),
    }
    let _ = write!(
        out,
        ",\"{ESTIMATE_FIELD}\":{}}}}}",
        estimate_of(i).unwrap_or("null")
    );
}

/// `GET /rest/api/3/myself`.
pub fn myself_json() -> String {
    format!(
        "{{\"self\":\"https://okno-bench.atlassian.net/rest/api/3/user?accountId={a}\",\"accountId\":\"{a}\",\
         \"emailAddress\":\"bench@okno.example\",\"displayName\":\"okno bench\",\"active\":true,\
         \"timeZone\":\"{TIME_ZONE}\",\"locale\":\"en_US\",\"accountType\":\"atlassian\"}}",
        a = ACCOUNTS[0]
    )
}

/// `GET /rest/api/3/status`: the generated workflow.
pub fn statuses_json() -> String {
    let mut out = String::from("[");
    for (n, (id, name, cat_id, key, cat_name)) in [
        (TODO_STATUS, "To Do", 2, "new", "To Do"),
        (
            IN_PROGRESS_STATUS,
            "In Progress",
            4,
            "indeterminate",
            "In Progress",
        ),
        (DONE_STATUS, "Done", 3, "done", "Done"),
    ]
    .iter()
    .enumerate()
    {
        if n > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            "{{\"self\":\"https://okno-bench.atlassian.net/rest/api/3/status/{id}\",\"description\":\"\",\"name\":\"{name}\",\
             \"id\":\"{id}\",\"statusCategory\":{{\"id\":{cat_id},\"key\":\"{key}\",\"colorName\":\"blue-gray\",\"name\":\"{cat_name}\"}}}}"
        );
    }
    out.push(']');
    out
}

/// `GET /rest/api/3/users/search` (first page): the generated accounts, one of them hiding its
/// e-mail.
pub fn users_json() -> String {
    let mut out = String::from("[");
    for (n, a) in ACCOUNTS.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        let email = match n {
            0 => ",\"emailAddress\":\"Priya.Nair@okno.example\"".to_string(),
            1 => ",\"emailAddress\":\"marketing1@okno.example\"".to_string(),
            _ => String::new(),
        };
        let _ = write!(
            out,
            "{{\"self\":\"https://okno-bench.atlassian.net/rest/api/3/user?accountId={a}\",\"accountId\":\"{a}\",\
             \"accountType\":\"atlassian\"{email},\"displayName\":\"Marketing {n}\",\"active\":true}}"
        );
    }
    out.push(']');
    out
}

#[okno_connector::async_trait]
impl MockVendor for IssuesMock {
    async fn mount(&self, server: MockServer) -> MockServer {
        Mock::given(method("GET"))
            .and(path("/rest/api/3/search/jql"))
            .respond_with(self.clone())
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/rest/api/3/myself"))
            .respond_with(json(myself_json()))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/rest/api/3/status"))
            .respond_with(json(statuses_json()))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/rest/api/3/users/search"))
            .respond_with(UsersMock)
            .mount(&server)
            .await;
        server
    }
}
