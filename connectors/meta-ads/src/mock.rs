//! A Graph API stand-in for tests and benchmarks (feature `mock`): serves ad accounts, their
//! campaigns and campaign-day insights, directly (`GET act_{id}/insights`) and as asynchronous
//! report runs (`POST act_{id}/insights` → `report_run_id`, `GET {run}` → `async_status`,
//! `GET {run}/insights`), for any API version in the path, on a local wiremock server.
//!
//! What it honours: `time_range` (`{"since","until"}`, from the query or the POST form),
//! `limit` (default 25, at most 500) and `after` cursors (`paging.next` only while more rows
//! follow), and the `Authorization: Bearer` header (a request without one gets error 190).
//! Rows come in date order, then campaign order. Every figure is a function of (account,
//! campaign, day, [`MetaMock::revision`]), so a run can be checked row by row and a restatement
//! simulated by bumping the revision; some campaign-days have no row at all (the campaign did
//! not run), as Meta leaves them out. Bodies are written straight into one buffer.
//!
//! Build an instance against it with [`SETTINGS_TOML`] and `base_url` = the server's `uri()`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{Datelike, NaiveDate};
use okno_connector::testkit::MockVendor;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// `[connector.settings]` for an instance pointed at the mock with `base_url` (one account
/// written with `act_`, one without).
pub const SETTINGS_TOML: &str = "access_token = \"mock-meta-system-user-token\"\n\
     ad_account_ids = [\"act_1000000001\", \"1000000002\"]\n";

/// The default accounts: id digits, name, currency, IANA zone.
pub const ACCOUNTS: [(&str, &str, &str, &str); 2] = [
    (
        "1000000001",
        "Okhvat School — US",
        "USD",
        "America/Los_Angeles",
    ),
    ("1000000002", "Okhvat School — EU", "EUR", "Europe/Berlin"),
];

const DEFAULT_LIMIT: usize = 25;
const MAX_LIMIT: usize = 500;
const FIRST_RUN_ID: u64 = 1_310_000_000_000_000;

/// One ad account the mock serves.
#[derive(Debug, Clone)]
pub struct MockAccount {
    /// Digits, without `act_`.
    pub id: String,
    pub name: String,
    pub currency: String,
    pub time_zone: String,
}

#[derive(Debug, Clone)]
struct Run {
    account: usize,
    since: NaiveDate,
    until: NaiveDate,
    polls: u32,
}

/// A Graph API stand-in with `campaigns` campaigns in each account.
#[derive(Debug, Clone)]
pub struct MetaMock {
    pub accounts: Vec<MockAccount>,
    pub campaigns: usize,
    /// Status polls a report run answers `Job Running` before `Job Completed`.
    pub polls_until_done: u32,
    /// Changing it changes every figure (a restatement).
    pub revision: Arc<AtomicU64>,
    /// Insights pages served (direct and report runs), for assertions.
    pub insights_pages: Arc<AtomicUsize>,
    runs: Arc<Mutex<Vec<Run>>>,
}

impl MetaMock {
    /// The [`ACCOUNTS`] with `campaigns` campaigns each.
    pub fn new(campaigns: usize) -> Self {
        MetaMock {
            accounts: ACCOUNTS
                .iter()
                .map(|(id, name, currency, tz)| MockAccount {
                    id: id.to_string(),
                    name: name.to_string(),
                    currency: currency.to_string(),
                    time_zone: tz.to_string(),
                })
                .collect(),
            campaigns,
            polls_until_done: 1,
            revision: Arc::default(),
            insights_pages: Arc::default(),
            runs: Arc::default(),
        }
    }

    /// Report runs created so far.
    pub fn runs_created(&self) -> usize {
        self.runs.lock().map(|r| r.len()).unwrap_or(0)
    }

    fn account_index(&self, segment: &str) -> Option<usize> {
        let digits = segment.strip_prefix("act_")?;
        self.accounts.iter().position(|a| a.id == digits)
    }
}

/// The id of campaign `c` of account `a`.
pub fn campaign_id(a: usize, c: usize) -> String {
    (120_200_000_000_000_000u64 + (a as u64) * 1_000 + c as u64).to_string()
}

fn day_number(d: NaiveDate) -> u64 {
    d.num_days_from_ce().max(0) as u64
}

/// The spend of campaign `c` of account `a` on `day`, in cents, or `None` when the campaign
/// did not run that day (no row).
pub fn spend_cents(a: usize, c: usize, day: NaiveDate, revision: u64) -> Option<u64> {
    let n = day_number(day);
    if (c as u64 + n) % 11 == 0 {
        return None;
    }
    Some(1_000 + ((c as u64) * 37 + n * 11 + (a as u64) * 5 + revision * 3) % 9_000)
}

/// Impressions of a campaign-day that has a row.
pub fn impressions(c: usize, day: NaiveDate) -> u64 {
    500 + ((c as u64) * 13 + day_number(day) * 7) % 5_000
}

/// Leads and purchases of a campaign-day that has a row.
pub fn actions(c: usize, day: NaiveDate) -> (u64, u64) {
    let n = day_number(day);
    ((c as u64 + n) % 4, ((c as u64) * 3 + n) % 2)
}

fn json(status: u16, body: String) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body, "application/json; charset=UTF-8")
}

fn graph_error(status: u16, code: i64, subcode: Option<i64>, message: &str) -> ResponseTemplate {
    let sub = subcode
        .map(|s| format!(",\"error_subcode\":{s}"))
        .unwrap_or_default();
    json(
        status,
        format!(
            "{{\"error\":{{\"message\":{},\"type\":\"OAuthException\",\"code\":{code}{sub},\"fbtrace_id\":\"AmockTrace01\"}}}}",
            serde_json::Value::String(message.to_string())
        ),
    )
}

fn param(pairs: &[(String, String)], key: &str) -> Option<String> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

fn time_range(pairs: &[(String, String)]) -> Option<(NaiveDate, NaiveDate)> {
    let v: serde_json::Value = serde_json::from_str(&param(pairs, "time_range")?).ok()?;
    let since = v.get("since")?.as_str()?.parse().ok()?;
    let until = v.get("until")?.as_str()?.parse().ok()?;
    (since <= until).then_some((since, until))
}

impl MetaMock {
    fn rows(&self, a: usize, since: NaiveDate, until: NaiveDate) -> Vec<(NaiveDate, usize)> {
        let revision = self.revision.load(Ordering::SeqCst);
        let mut out = Vec::new();
        for day in since.iter_days().take_while(|d| *d <= until) {
            for c in 0..self.campaigns {
                if spend_cents(a, c, day, revision).is_some() {
                    out.push((day, c));
                }
            }
        }
        out
    }

    fn insights_page(
        &self,
        a: usize,
        since: NaiveDate,
        until: NaiveDate,
        pairs: &[(String, String)],
        origin_path: &str,
    ) -> ResponseTemplate {
        let revision = self.revision.load(Ordering::SeqCst);
        let rows = self.rows(a, since, until);
        let limit = param(pairs, "limit")
            .and_then(|l| l.parse().ok())
            .unwrap_or(DEFAULT_LIMIT)
            .clamp(1, MAX_LIMIT);
        let offset = param(pairs, "after")
            .and_then(|c| c.strip_prefix("TU9DSy").and_then(|n| n.parse().ok()))
            .unwrap_or(0usize);
        let end = (offset + limit).min(rows.len());
        let account = &self.accounts[a];
        let mut body = String::with_capacity((end.saturating_sub(offset)) * 420 + 256);
        body.push_str("{\"data\":[");
        for (n, (day, c)) in rows[offset.min(end)..end].iter().enumerate() {
            let (day, c) = (*day, *c);
            let cents = spend_cents(a, c, day, revision).unwrap_or(0);
            let imp = impressions(c, day);
            let clicks = imp / 40;
            let (leads, purchases) = actions(c, day);
            if n > 0 {
                body.push(',');
            }
            let _ = write!(
                body,
                "{{\"campaign_id\":\"{id}\",\"campaign_name\":\"Spring enrolment {c}\",\"spend\":\"{}.{:02}\",\"impressions\":\"{imp}\",\"clicks\":\"{clicks}\",\"actions\":[{{\"action_type\":\"link_click\",\"value\":\"{clicks}\"}}",
                cents / 100,
                cents % 100,
                id = campaign_id(a, c),
            );
            if leads > 0 {
                let _ = write!(
                    body,
                    ",{{\"action_type\":\"lead\",\"value\":\"{leads}\"}},{{\"action_type\":\"offsite_conversion.fb_pixel_lead\",\"value\":\"{leads}\"}}"
                );
            }
            if purchases > 0 {
                let _ = write!(
                    body,
                    ",{{\"action_type\":\"purchase\",\"value\":\"{purchases}\"}}"
                );
            }
            let _ = write!(
                body,
                "],\"date_start\":\"{day}\",\"date_stop\":\"{day}\",\"account_id\":\"{}\"}}",
                account.id
            );
        }
        let _ = write!(
            body,
            "],\"paging\":{{\"cursors\":{{\"before\":\"TU9DSy{offset}\",\"after\":\"TU9DSy{end}\"}}"
        );
        if end < rows.len() {
            let _ = write!(
                body,
                ",\"next\":\"https://graph.facebook.com{origin_path}?limit={limit}&after=TU9DSy{end}\""
            );
        }
        body.push_str("}}");
        self.insights_pages.fetch_add(1, Ordering::SeqCst);
        json(200, body)
    }

    fn account_body(&self, a: usize) -> ResponseTemplate {
        let acc = &self.accounts[a];
        json(
            200,
            format!(
                "{{\"name\":{},\"currency\":\"{}\",\"timezone_name\":\"{}\",\"id\":\"act_{}\"}}",
                serde_json::Value::String(acc.name.clone()),
                acc.currency,
                acc.time_zone,
                acc.id
            ),
        )
    }

    fn campaigns_body(&self, a: usize, pairs: &[(String, String)], path: &str) -> ResponseTemplate {
        let limit = param(pairs, "limit")
            .and_then(|l| l.parse().ok())
            .unwrap_or(DEFAULT_LIMIT)
            .clamp(1, MAX_LIMIT);
        let offset = param(pairs, "after")
            .and_then(|c| c.strip_prefix("Q0FNUA").and_then(|n| n.parse().ok()))
            .unwrap_or(0usize);
        let end = (offset + limit).min(self.campaigns);
        let mut body = String::from("{\"data\":[");
        for c in offset.min(end)..end {
            if c > offset {
                body.push(',');
            }
            let status = if c % 3 == 2 { "PAUSED" } else { "ACTIVE" };
            let _ = write!(
                body,
                "{{\"id\":\"{}\",\"name\":\"Spring enrolment {c}\",\"status\":\"{status}\",\"effective_status\":\"{status}\"}}",
                campaign_id(a, c)
            );
        }
        let _ = write!(
            body,
            "],\"paging\":{{\"cursors\":{{\"before\":\"Q0FNUA{offset}\",\"after\":\"Q0FNUA{end}\"}}"
        );
        if end < self.campaigns {
            let _ = write!(
                body,
                ",\"next\":\"https://graph.facebook.com{path}?limit={limit}&after=Q0FNUA{end}\""
            );
        }
        body.push_str("}}");
        json(200, body)
    }
}

impl Respond for MetaMock {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let bearer = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("Bearer ") && v.len() > 7);
        if !bearer {
            return graph_error(
                400,
                190,
                None,
                "An active access token must be used to query information about the current user.",
            );
        }
        let mut pairs: Vec<(String, String)> = request.url.query_pairs().into_owned().collect();
        if request.method.as_str() == "POST" {
            pairs.extend(url::form_urlencoded::parse(&request.body).into_owned());
        }
        let path = request.url.path().to_string();
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let post = request.method.as_str() == "POST";
        match segments.as_slice() {
            [_, object] if object.starts_with("act_") && !post => {
                match self.account_index(object) {
                    Some(a) => self.account_body(a),
                    None => unsupported(object),
                }
            }
            [_, object, "campaigns"] if !post => match self.account_index(object) {
                Some(a) => self.campaigns_body(a, &pairs, &path),
                None => unsupported(object),
            },
            [_, object, "insights"] if object.starts_with("act_") => {
                let Some(a) = self.account_index(object) else {
                    return unsupported(object);
                };
                let Some((since, until)) = time_range(&pairs) else {
                    return graph_error(400, 100, None, "(#100) time_range must be a valid range");
                };
                if post {
                    let Ok(mut runs) = self.runs.lock() else {
                        return graph_error(500, 2, None, "mock state poisoned");
                    };
                    runs.push(Run {
                        account: a,
                        since,
                        until,
                        polls: 0,
                    });
                    let id = FIRST_RUN_ID + runs.len() as u64 - 1;
                    json(200, format!("{{\"report_run_id\":\"{id}\"}}"))
                } else {
                    self.insights_page(a, since, until, &pairs, &path)
                }
            }
            [_, run] | [_, run, "insights"] if !post => {
                let Some(index) = run
                    .parse::<u64>()
                    .ok()
                    .and_then(|id| id.checked_sub(FIRST_RUN_ID))
                else {
                    return unsupported(run);
                };
                let Ok(mut runs) = self.runs.lock() else {
                    return graph_error(500, 2, None, "mock state poisoned");
                };
                let Some(r) = runs.get_mut(index as usize) else {
                    return unsupported(run);
                };
                if segments.len() == 2 {
                    r.polls += 1;
                    let done = r.polls > self.polls_until_done;
                    let (status, pct) = if done {
                        ("Job Completed", 100)
                    } else {
                        ("Job Running", 50)
                    };
                    json(
                        200,
                        format!(
                            "{{\"id\":\"{run}\",\"account_id\":\"{}\",\"async_status\":\"{status}\",\"async_percent_completion\":{pct},\"date_start\":\"{}\",\"date_stop\":\"{}\"}}",
                            self.accounts[r.account].id, r.since, r.until
                        ),
                    )
                } else {
                    let r = r.clone();
                    drop(runs);
                    self.insights_page(r.account, r.since, r.until, &pairs, &path)
                }
            }
            _ => unsupported(&path),
        }
    }
}

fn unsupported(object: &str) -> ResponseTemplate {
    graph_error(
        400,
        100,
        Some(33),
        &format!(
            "Unsupported get request. Object with ID '{object}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."
        ),
    )
}

#[okno_connector::async_trait]
impl MockVendor for MetaMock {
    async fn mount(&self, server: MockServer) -> MockServer {
        Mock::given(any())
            .respond_with(self.clone())
            .mount(&server)
            .await;
        server
    }
}
