//! A Google Ads stand-in for tests and benchmarks (feature `mock`): a local wiremock server
//! answering `POST /{version}/customers/{id}/googleAds:searchStream` for the connector's four
//! queries, and the OAuth token endpoint at `POST /token`.
//!
//! - `FROM customer`: one account, currency [`CURRENCY`], time zone [`TIME_ZONE`] (not UTC).
//! - `FROM campaign` without a date: `campaigns` campaigns, ids [`FIRST_CAMPAIGN_ID`]` + c`.
//! - `FROM campaign WHERE segments.date BETWEEN 'a' AND 'b'`: one row per campaign and day of
//!   the mock's days (`first_day` .. `first_day + days - 1`) inside `[a, b]`, in batches of
//!   [`BATCH_ROWS`] rows like Google's stream. [`SpendMock::rows_between`] says how many rows a
//!   window yields; [`SpendMock::cost_micros`] and friends give each row's figures.
//! - `FROM click_view WHERE segments.date = 'd'`: [`CLICKS_PER_DAY`] gclids per campaign for
//!   the first [`CLICKING_CAMPAIGNS`] campaigns.
//!
//! Rows are the same on every request, so a resumed sync can be checked row by row. Bodies are
//! written straight into one buffer (no JSON values per row): the daemon's ingest benchmark
//! reads well over 100,000 rows per second from it. Build an instance against it with
//! [`SETTINGS_TOML`] and `base_url` = the server's `uri()`; the token endpoint then lives at
//! `{base_url}/token` and hands out [`ACCESS_TOKEN`]. One spend page covers 31 days, so it
//! carries `campaigns × 31` rows: choose enough campaigns (say 1,000) that the `api` budget
//! (600 requests per minute) is not what a benchmark measures, or raise it in the instance's
//! `[connector.rate_limit]`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeZone, Utc};
use okno_connector::chrono_tz::Tz;
use okno_connector::testkit::MockVendor;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The customer id of [`SETTINGS_TOML`] (any id in a request path is served alike).
pub const CUSTOMER_ID: &str = "1234567890";
/// The account's currency.
pub const CURRENCY: &str = "RUB";
/// The account's time zone (UTC+3 all year).
pub const TIME_ZONE: &str = "Europe/Moscow";
/// The id of campaign 0.
pub const FIRST_CAMPAIGN_ID: u64 = 20_000_000_000;
/// Rows per streamed message.
pub const BATCH_ROWS: usize = 10_000;
/// Click ids per campaign and day.
pub const CLICKS_PER_DAY: u64 = 2;
/// How many campaigns (from campaign 0) have click ids.
pub const CLICKING_CAMPAIGNS: u64 = 5;
/// The access token the token endpoint hands out.
pub const ACCESS_TOKEN: &str = "ya29.mock-access-token";
/// The developer token of [`SETTINGS_TOML`].
pub const DEVELOPER_TOKEN: &str = "mock-developer-token";
/// `[connector.settings]` for an instance pointed at the mock with `base_url`.
pub const SETTINGS_TOML: &str = "customer_ids = [\"123-456-7890\"]\n\
     developer_token = \"mock-developer-token\"\n\
     client_id = \"1234567890-mock.apps.googleusercontent.com\"\n\
     client_secret = \"mock-client-secret\"\n\
     refresh_token = \"1//mock-refresh-token\"\n";

const SPEND_MASK: &str = "campaign.id,campaign.name,segments.date,metrics.costMicros,metrics.impressions,metrics.clicks,metrics.conversions";
const CONVERSIONS: [&str; 4] = ["0.0", "0.5", "1.25", "3.0"];

/// `campaigns` campaigns with spend on each of `days` days.
#[derive(Debug, Clone)]
pub struct SpendMock {
    pub campaigns: u64,
    pub days: u64,
    /// The first day with spend, in the account's zone.
    pub first_day: NaiveDate,
    /// searchStream requests answered with 200, for assertions.
    pub served: Arc<AtomicUsize>,
}

fn tz() -> Tz {
    // A constant IANA name; the fallback is never taken.
    TIME_ZONE.parse().unwrap_or(Tz::UTC)
}

impl SpendMock {
    /// Spend on the `days` days ending today in the account's zone.
    pub fn new(campaigns: u64, days: u64) -> Self {
        let today = Utc::now().with_timezone(&tz()).date_naive();
        let days = days.max(1);
        SpendMock {
            campaigns,
            days,
            first_day: today.checked_sub_days(Days::new(days - 1)).unwrap_or(today),
            served: Arc::default(),
        }
    }

    /// Moves the first day with spend (tests that pin dates).
    pub fn with_first_day(mut self, first_day: NaiveDate) -> Self {
        self.first_day = first_day;
        self
    }

    pub fn last_day(&self) -> NaiveDate {
        self.first_day
            .checked_add_days(Days::new(self.days - 1))
            .unwrap_or(self.first_day)
    }

    /// The instant to give a first sync as its start: midnight of `first_day` in the account's
    /// zone, so a first pass begins exactly at the first day with spend.
    pub fn backfill_start(&self) -> DateTime<Utc> {
        tz().from_local_datetime(&self.first_day.and_time(NaiveTime::MIN))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| self.first_day.and_time(NaiveTime::MIN).and_utc())
    }

    /// How many spend rows the window `[from, to]` yields.
    pub fn rows_between(&self, from: NaiveDate, to: NaiveDate) -> u64 {
        let from = from.max(self.first_day);
        let to = to.min(self.last_day());
        if from > to {
            return 0;
        }
        self.campaigns * ((to - from).num_days() as u64 + 1)
    }

    /// The day index of `d`, if the mock has spend on it.
    fn day_index(&self, d: NaiveDate) -> Option<u64> {
        let i = (d - self.first_day).num_days();
        (i >= 0 && (i as u64) < self.days).then_some(i as u64)
    }

    /// `costMicros` of campaign `c` on day index `d` (from `first_day`).
    pub fn cost_micros(c: u64, d: u64) -> i64 {
        1_000_000 + ((c * 7_919 + d * 104_729) % 500_000_000) as i64
    }

    pub fn impressions(c: u64, d: u64) -> i64 {
        100 + ((c * 31 + d * 17) % 5_000) as i64
    }

    pub fn clicks(c: u64, d: u64) -> i64 {
        Self::impressions(c, d) / 20 + (c % 3) as i64
    }

    /// `conversions` as the JSON text the mock writes.
    pub fn conversions(c: u64, d: u64) -> &'static str {
        CONVERSIONS[((c + d) % CONVERSIONS.len() as u64) as usize]
    }

    /// The gclid of click `k` of campaign `c` on day index `d`.
    pub fn gclid(c: u64, d: u64, k: u64) -> String {
        format!("Cj0KCQiA{c:06}x{d:05}x{k}_BwE")
    }

    /// The spend answer for `[from, to]` of `customer`.
    pub fn spend_body(&self, customer: &str, from: NaiveDate, to: NaiveDate) -> String {
        let rows = self.rows_between(from, to) as usize;
        let mut out = String::with_capacity(rows * 330 + 256);
        out.push('[');
        let mut in_batch = 0usize;
        let mut batches = 0usize;
        let open = |out: &mut String, batches: &mut usize| {
            if *batches > 0 {
                out.push(',');
            }
            out.push_str("{\"results\":[");
            *batches += 1;
        };
        let from = from.max(self.first_day);
        let to = to.min(self.last_day());
        let mut day = from;
        while day <= to {
            let Some(d) = self.day_index(day) else { break };
            let date = day.format("%Y-%m-%d").to_string();
            for c in 0..self.campaigns {
                if in_batch == 0 {
                    open(&mut out, &mut batches);
                } else {
                    out.push(',');
                }
                let id = FIRST_CAMPAIGN_ID + c;
                let _ = write!(
                    out,
                    "{{\"campaign\":{{\"resourceName\":\"customers/{customer}/campaigns/{id}\",\"id\":\"{id}\",\
                     \"name\":\"Campaign {c}\"}},\"segments\":{{\"date\":\"{date}\"}},\"metrics\":{{\
                     \"clicks\":\"{clicks}\",\"conversions\":{conv},\"costMicros\":\"{cost}\",\"impressions\":\"{imp}\"}}}}",
                    clicks = Self::clicks(c, d),
                    conv = Self::conversions(c, d),
                    cost = Self::cost_micros(c, d),
                    imp = Self::impressions(c, d),
                );
                in_batch += 1;
                if in_batch == BATCH_ROWS {
                    close_batch(&mut out, SPEND_MASK, batches);
                    in_batch = 0;
                }
            }
            day = match day.succ_opt() {
                Some(n) => n,
                None => break,
            };
        }
        if in_batch > 0 {
            close_batch(&mut out, SPEND_MASK, batches);
        }
        if batches == 0 {
            let _ = write!(
                out,
                "{{\"fieldMask\":\"{SPEND_MASK}\",\"requestId\":\"mock-spend-empty\"}}"
            );
        }
        out.push(']');
        out
    }

    fn customer_body(customer: &str) -> String {
        format!(
            "[{{\"results\":[{{\"customer\":{{\"resourceName\":\"customers/{customer}\",\"id\":\"{customer}\",\
             \"descriptiveName\":\"Mock account {customer}\",\"currencyCode\":\"{CURRENCY}\",\"timeZone\":\"{TIME_ZONE}\"}}}}],\
             \"fieldMask\":\"customer.id,customer.descriptiveName,customer.currencyCode,customer.timeZone\",\
             \"requestId\":\"mock-customer\"}}]"
        )
    }

    fn campaigns_body(&self, customer: &str) -> String {
        let mut out = String::with_capacity(self.campaigns as usize * 260 + 256);
        out.push_str("[{\"results\":[");
        for c in 0..self.campaigns {
            if c > 0 {
                out.push(',');
            }
            let id = FIRST_CAMPAIGN_ID + c;
            let status = if c % 5 == 4 { "PAUSED" } else { "ENABLED" };
            let _ = write!(
                out,
                "{{\"campaign\":{{\"resourceName\":\"customers/{customer}/campaigns/{id}\",\"id\":\"{id}\",\
                 \"name\":\"Campaign {c}\",\"status\":\"{status}\",\
                 \"trackingUrlTemplate\":\"{{lpurl}}?utm_source=google&utm_campaign={{campaignid}}\"}}}}"
            );
        }
        out.push_str("],\"fieldMask\":\"campaign.id,campaign.name,campaign.status,campaign.trackingUrlTemplate\",\"requestId\":\"mock-campaigns\"}]");
        out
    }

    fn clicks_body(&self, customer: &str, day: NaiveDate) -> String {
        let mut out = String::from("[{");
        let mask = "\"fieldMask\":\"clickView.gclid,campaign.id,segments.date\",\"requestId\":\"mock-clicks\"";
        if let Some(d) = self.day_index(day) {
            out.push_str("\"results\":[");
            let date = day.format("%Y-%m-%d");
            let mut first = true;
            for c in 0..self.campaigns.min(CLICKING_CAMPAIGNS) {
                for k in 0..CLICKS_PER_DAY {
                    if !first {
                        out.push(',');
                    }
                    first = false;
                    let id = FIRST_CAMPAIGN_ID + c;
                    let gclid = Self::gclid(c, d, k);
                    let _ = write!(
                        out,
                        "{{\"clickView\":{{\"resourceName\":\"customers/{customer}/clickViews/{date}~{gclid}\",\"gclid\":\"{gclid}\"}},\
                         \"campaign\":{{\"resourceName\":\"customers/{customer}/campaigns/{id}\",\"id\":\"{id}\"}},\
                         \"segments\":{{\"date\":\"{date}\"}}}}"
                    );
                }
            }
            out.push_str("],");
        }
        out.push_str(mask);
        out.push_str("}]");
        out
    }
}

fn close_batch(out: &mut String, mask: &str, n: usize) {
    let _ = write!(
        out,
        "],\"fieldMask\":\"{mask}\",\"requestId\":\"mock-spend-{n}\"}}"
    );
}

/// The quoted date after `marker` in a query (`BETWEEN '` → the first date).
fn date_after(query: &str, marker: &str) -> Option<NaiveDate> {
    let rest = &query[query.find(marker)? + marker.len()..];
    NaiveDate::parse_from_str(rest.get(..10)?, "%Y-%m-%d").ok()
}

fn failure(status: u16, rpc: &str, kind: &str, code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(
        format!(
            "{{\"error\":{{\"code\":{status},\"message\":\"{message}\",\"status\":\"{rpc}\",\"details\":[{{\
             \"@type\":\"type.googleapis.com/google.ads.googleads.v26.errors.GoogleAdsFailure\",\
             \"errors\":[{{\"errorCode\":{{\"{kind}\":\"{code}\"}},\"message\":\"{message}\"}}],\
             \"requestId\":\"mock-error\"}}]}}}}"
        ),
        "application/json",
    )
}

impl Respond for SpendMock {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let authorised = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == format!("Bearer {ACCESS_TOKEN}"));
        if !authorised {
            return failure(
                401,
                "UNAUTHENTICATED",
                "authenticationError",
                "OAUTH_TOKEN_INVALID",
                "The OAuth access token is invalid.",
            );
        }
        if request.headers.get("developer-token").is_none() {
            return failure(
                401,
                "UNAUTHENTICATED",
                "authenticationError",
                "DEVELOPER_TOKEN_PARAMETER_MISSING",
                "The developer token is missing.",
            );
        }
        let customer = request
            .url
            .path()
            .split('/')
            .nth(3)
            .unwrap_or(CUSTOMER_ID)
            .to_string();
        let query = serde_json::from_slice::<serde_json::Value>(&request.body)
            .ok()
            .and_then(|v| v.get("query").and_then(|q| q.as_str()).map(str::to_string))
            .unwrap_or_default();
        let body = if query.contains("FROM customer") {
            Self::customer_body(&customer)
        } else if query.contains("FROM click_view") {
            match date_after(&query, "segments.date = '") {
                Some(day) => self.clicks_body(&customer, day),
                None => {
                    return failure(
                        400,
                        "INVALID_ARGUMENT",
                        "queryError",
                        "EXPECTED_FILTERS_ON_DATE_RANGE",
                        "click_view needs a single-day filter on segments.date.",
                    )
                }
            }
        } else if query.contains("FROM campaign") && query.contains("BETWEEN") {
            let (Some(from), Some(to)) = (
                date_after(&query, "BETWEEN '"),
                date_after(&query, "' AND '"),
            ) else {
                return failure(
                    400,
                    "INVALID_ARGUMENT",
                    "queryError",
                    "INVALID_VALUE_WITH_BETWEEN_OPERATOR",
                    "Invalid date range.",
                );
            };
            self.spend_body(&customer, from, to)
        } else if query.contains("FROM campaign") {
            self.campaigns_body(&customer)
        } else {
            return failure(
                400,
                "INVALID_ARGUMENT",
                "queryError",
                "QUERY_ERROR",
                "The mock does not know this query.",
            );
        };
        self.served.fetch_add(1, Ordering::SeqCst);
        ResponseTemplate::new(200).set_body_raw(body, "application/json")
    }
}

#[okno_connector::async_trait]
impl MockVendor for SpendMock {
    async fn mount(&self, server: MockServer) -> MockServer {
        Mock::given(method("POST"))
            .and(path_regex(
                r"^/v[0-9]+(_[0-9]+)?/customers/[0-9]+/googleAds:searchStream$",
            ))
            .respond_with(self.clone())
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/token"))
            .respond_with(ResponseTemplate::new(200).set_body_raw(
                format!(
                    "{{\"access_token\":\"{ACCESS_TOKEN}\",\"expires_in\":3599,\
                     \"scope\":\"https://www.googleapis.com/auth/adwords\",\"token_type\":\"Bearer\"}}"
                ),
                "application/json",
            ))
            .mount(&server)
            .await;
        server
    }
}
