//! A VK Ads stand-in for tests and benchmarks (feature `mock`): a local wiremock server that
//! answers the token endpoint, `user.json`, `ad_plans.json` / `campaigns.json` (offset paging,
//! at most 50 per page) and the daily statistics of both levels for `plans` generated objects,
//! honouring `id`, `date_from` and `date_to` (and refusing more than 200 ids or 92 days, like
//! VK). Object `i` has id [`FIRST_PLAN_ID`]` + i`; its figures on a day depend only on `i` and
//! the date ([`VkAdsMock::day`]), so any pull can be checked row by row. One day in seven has
//! nothing: half of those are listed as zero rows, half omitted, as VK may do either. Bodies
//! are written straight into one buffer.
//!
//! Point an instance at it with `base_url` and [`SETTINGS_TOML`].

use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use okno_connector::rust_decimal::Decimal;
use okno_connector::testkit::MockVendor;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Id of the first generated ad plan / campaign.
pub const FIRST_PLAN_ID: u64 = 11_000_000;
/// The account behind the mock's token.
pub const ACCOUNT_ID: u64 = 7_000_001;
/// The account currency the mock reports.
pub const CURRENCY: &str = "RUB";
/// The token the mock issues (and accepts).
pub const ACCESS_TOKEN: &str = "mock-vk-access-token";
/// `[connector.settings]` for an instance pointed at the mock with `base_url`.
pub const SETTINGS_TOML: &str = "client_id = \"mock-client-id\"\n\
     client_secret = \"mock-client-secret\"\n\
     level = \"ad_plans\"\n\
     lookback_days = 7\n";

const MAX_LIMIT: usize = 50;
const MAX_IDS: usize = 200;
const MAX_DAYS: i64 = 92;

/// What one object did on one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Day {
    /// Kopecks (hundredths of the currency); `spent` is `kopecks / 100` exactly.
    pub kopecks: i64,
    pub shows: i64,
    pub clicks: i64,
    pub goals: i64,
}

impl Day {
    pub fn spent(&self) -> Decimal {
        Decimal::new(self.kopecks, 2)
    }
}

/// The generator; clone-able handles share the request counters.
#[derive(Clone)]
pub struct VkAdsMock {
    pub plans: u64,
    /// Statistics requests served.
    pub stats_requests: Arc<AtomicUsize>,
    /// Token requests served.
    pub token_requests: Arc<AtomicUsize>,
}

impl VkAdsMock {
    pub fn new(plans: u64) -> Self {
        VkAdsMock {
            plans,
            stats_requests: Arc::new(AtomicUsize::new(0)),
            token_requests: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Object `index` on `date`: `None` on a day with nothing (every seventh).
    pub fn day(index: u64, date: NaiveDate) -> Option<Day> {
        let ord = i64::from(date.num_days_from_ce());
        let i = index as i64;
        if (i + ord) % 7 == 0 {
            return None;
        }
        let kopecks = (i * 7_919 + ord * 104_729) % 400_000 + 1;
        let shows = kopecks / 25;
        let clicks = shows / 40;
        Some(Day {
            kopecks,
            shows,
            clicks,
            goals: clicks / 8,
        })
    }

    /// The body of a statistics answer for these ids and days.
    pub fn stats_body(&self, ids: &[u64], from: NaiveDate, to: NaiveDate) -> String {
        let days = (to - from).num_days().max(0) as usize + 1;
        let mut body = String::with_capacity(64 + ids.len() * days * 120);
        body.push_str("{\"items\":[");
        let mut first_item = true;
        for id in ids {
            let Some(index) = id.checked_sub(FIRST_PLAN_ID).filter(|i| *i < self.plans) else {
                continue;
            };
            if !first_item {
                body.push(',');
            }
            first_item = false;
            let _ = write!(body, "{{\"id\":{id},\"rows\":[");
            let mut total = Day {
                kopecks: 0,
                shows: 0,
                clicks: 0,
                goals: 0,
            };
            let mut first_row = true;
            for date in from.iter_days().take(days) {
                let day = match Self::day(index, date) {
                    Some(d) => d,
                    // Half of the empty days are listed as zeros, half left out.
                    None if date.day() % 2 == 0 => Day {
                        kopecks: 0,
                        shows: 0,
                        clicks: 0,
                        goals: 0,
                    },
                    None => continue,
                };
                total.kopecks += day.kopecks;
                total.shows += day.shows;
                total.clicks += day.clicks;
                total.goals += day.goals;
                if !first_row {
                    body.push(',');
                }
                first_row = false;
                let _ = write!(body, "{{\"date\":\"{date}\",\"base\":");
                base_json(&day, &mut body);
                body.push('}');
            }
            body.push_str("],\"total\":{\"base\":");
            base_json(&total, &mut body);
            body.push_str("}}");
        }
        body.push_str("]}");
        body
    }
}

fn base_json(day: &Day, out: &mut String) {
    let _ = write!(
        out,
        "{{\"shows\":{},\"clicks\":{},\"goals\":{},\"spent\":\"{}.{:02}\",\"cpm\":\"0\",\"cpc\":\"0\",\"cpa\":\"0\",\"ctr\":0,\"cr\":0}}",
        day.shows,
        day.clicks,
        day.goals,
        day.kopecks / 100,
        day.kopecks % 100
    );
}

fn json(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_raw(body, "application/json")
        .insert_header("X-RateLimit-RPS-Limit", "10")
        .insert_header("X-RateLimit-RPS-Remaining", "9")
        .insert_header("X-RateLimit-Daily-Limit", "100000")
        .insert_header("X-RateLimit-Daily-Remaining", "99999")
}

fn error(status: u16, code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(
        format!("{{\"error\":{{\"code\":\"{code}\",\"message\":\"{message}\"}}}}"),
        "application/json",
    )
}

fn query<'a>(request: &'a Request, key: &str) -> Option<std::borrow::Cow<'a, str>> {
    request
        .url
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

fn authorised(request: &Request) -> bool {
    request
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {ACCESS_TOKEN}"))
}

struct TokenResponder(Arc<AtomicUsize>);

impl Respond for TokenResponder {
    fn respond(&self, _request: &Request) -> ResponseTemplate {
        self.0.fetch_add(1, Ordering::SeqCst);
        json(format!(
            "{{\"access_token\":\"{ACCESS_TOKEN}\",\"token_type\":\"bearer\",\"scope\":\"read_ads\",\
             \"expires_in\":\"86400\",\"refresh_token\":\"mock-vk-refresh-token\",\"tokens_left\":4}}"
        ))
    }
}

struct ListResponder {
    plans: u64,
}

impl Respond for ListResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        if !authorised(request) {
            return ResponseTemplate::new(401).set_body_raw(
                r#"{"code":"invalid_token","message":"Unknown access token"}"#,
                "application/json",
            );
        }
        let limit = query(request, "limit")
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(20)
            .clamp(1, MAX_LIMIT);
        let offset = query(request, "offset")
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        let end = (offset + limit as u64).min(self.plans);
        let mut body = String::with_capacity(limit * 80 + 64);
        let _ = write!(
            body,
            "{{\"count\":{},\"offset\":{offset},\"limit\":{limit},\"items\":[",
            self.plans
        );
        for i in offset..end {
            if i > offset {
                body.push(',');
            }
            let status = match i % 10 {
                0 => "blocked",
                9 => "deleted",
                _ => "active",
            };
            let _ = write!(
                body,
                "{{\"id\":{},\"name\":\"Кампания {i}\",\"status\":\"{status}\"}}",
                FIRST_PLAN_ID + i
            );
        }
        body.push_str("]}");
        json(body)
    }
}

struct StatsResponder {
    plans: u64,
    served: Arc<AtomicUsize>,
}

impl Respond for StatsResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.served.fetch_add(1, Ordering::SeqCst);
        if !authorised(request) {
            return ResponseTemplate::new(401).set_body_raw(
                r#"{"code":"invalid_token","message":"Unknown access token"}"#,
                "application/json",
            );
        }
        let date = |key: &str| {
            query(request, key).and_then(|v| NaiveDate::parse_from_str(&v, "%Y-%m-%d").ok())
        };
        let (Some(from), Some(to)) = (date("date_from"), date("date_to")) else {
            return error(
                400,
                "ERR_WRONG_PARAMETER",
                "date_from and date_to are required",
            );
        };
        let ids: Vec<u64> = query(request, "id")
            .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
            .unwrap_or_default();
        if ids.is_empty() {
            return error(400, "ERR_WRONG_PARAMETER", "id is required");
        }
        if to < from || (to - from).num_days() + 1 > MAX_DAYS || ids.len() > MAX_IDS {
            return error(400, "ERR_LIMIT_EXCEEDED", "too many dates or objects");
        }
        let mock = VkAdsMock {
            plans: self.plans,
            stats_requests: self.served.clone(),
            token_requests: Arc::new(AtomicUsize::new(0)),
        };
        json(mock.stats_body(&ids, from, to))
    }
}

#[okno_connector::async_trait]
impl MockVendor for VkAdsMock {
    async fn mount(&self, server: MockServer) -> MockServer {
        Mock::given(method("POST"))
            .and(path("/api/v2/oauth2/token.json"))
            .respond_with(TokenResponder(self.token_requests.clone()))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/api/v2/user.json"))
            .respond_with(json(format!(
                "{{\"id\": {ACCOUNT_ID}, \"username\": \"okno-mock@vk\", \"status\": \"active\", \
                 \"account\": {{\"id\": 9000001, \"currency\": \"{CURRENCY}\", \"balance\": \"1000.00\"}}}}"
            )))
            .mount(&server)
            .await;
        for list in ["/api/v2/ad_plans.json", "/api/v2/campaigns.json"] {
            Mock::given(method("GET"))
                .and(path(list))
                .respond_with(ListResponder { plans: self.plans })
                .mount(&server)
                .await;
        }
        for stats in [
            "/api/v2/statistics/ad_plans/day.json",
            "/api/v2/statistics/campaigns/day.json",
        ] {
            Mock::given(method("GET"))
                .and(path(stats))
                .respond_with(StatsResponder {
                    plans: self.plans,
                    served: self.stats_requests.clone(),
                })
                .mount(&server)
                .await;
        }
        server
    }
}
