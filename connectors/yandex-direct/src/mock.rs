//! A Yandex Direct stand-in for tests and benchmarks (feature `mock`): one advertiser
//! ([`LOGIN`], RUB, `Europe/Moscow`) with `campaigns` campaigns and `days` days of statistics
//! from [`FIRST_DAY`], behind wiremock endpoints shaped like Direct API v5:
//!
//! - `POST /json/v5/clients` (`get`), `POST /json/v5/campaigns` (`get`, honouring
//!   `Page.Limit`/`Page.Offset` and answering `LimitedBy` while more remain),
//!   `POST /json/v5/changes` (`checkDictionaries`, `check`: nothing corrected);
//! - `POST /json/v5/reports`: the campaign-by-day TSV for the request's
//!   `SelectionCriteria.DateFrom`..`DateTo` (column header kept, costs in micros), optionally
//!   after `offline_polls` answers of 201 then 202 with `retryIn: 1` per `ReportName`.
//!
//! Every answer carries a `Units` header. Campaign `c` (0-based) has id
//! [`FIRST_CAMPAIGN_ID`]` + c`; its cost on day `d` is [`ReportsMock::cost_micros`]. Reports are
//! rendered straight into one buffer (no JSON values per row), so the daemon's benchmark can
//! ingest well over 100,000 rows per second from it.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{Days, NaiveDate};
use okno_connector::testkit::MockVendor;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The advertiser's login (the account id).
pub const LOGIN: &str = "mock-advertiser";
pub const CURRENCY: &str = "RUB";
pub const TIME_ZONE: &str = "Europe/Moscow";
/// The first day with statistics.
pub const FIRST_DAY: &str = "2025-01-01";
/// Id of the first campaign.
pub const FIRST_CAMPAIGN_ID: u64 = 70_000_000;
/// The `Changes` server time the mock reports.
pub const SERVER_TIME: &str = "2025-06-01T00:00:00Z";
/// `[connector.settings]` for an instance pointed at the mock with `base_url`: the token's own
/// account (found through `Clients.get`), cost with VAT.
pub const SETTINGS_TOML: &str = "token = \"mock-direct-token\"\ninclude_vat = true\n";

const UNITS: &str = "10/199990/200000";

/// `campaigns` × `days` of statistics behind a Direct-shaped API.
#[derive(Debug, Clone)]
pub struct ReportsMock {
    pub campaigns: u64,
    pub days: u64,
    /// Answers of 201 (first) and 202 (then) before a report is served; 0 serves it online.
    pub offline_polls: u32,
    /// Spend rows served in 200 answers, for assertions.
    pub served_rows: Arc<AtomicU64>,
    /// Report requests received, 201/202 included.
    pub report_requests: Arc<AtomicU64>,
    polls: Arc<Mutex<HashMap<String, u32>>>,
}

/// The first day with statistics as a date.
pub fn first_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default()
}

impl ReportsMock {
    pub fn new(campaigns: u64, days: u64) -> Self {
        ReportsMock {
            campaigns,
            days,
            offline_polls: 0,
            served_rows: Arc::default(),
            report_requests: Arc::default(),
            polls: Arc::default(),
        }
    }

    /// Serves every report after `polls` not-ready answers (201, then 202).
    pub fn with_offline_polls(mut self, polls: u32) -> Self {
        self.offline_polls = polls;
        self
    }

    /// Spend rows in `from..=to` (days outside the data have none).
    pub fn rows_between(&self, from: NaiveDate, to: NaiveDate) -> u64 {
        match self.day_range(from, to) {
            Some((a, b)) => (b - a + 1) * self.campaigns,
            None => 0,
        }
    }

    /// Every row the mock holds.
    pub fn total_rows(&self) -> u64 {
        self.campaigns * self.days
    }

    /// Cost of campaign `c` on day `d` (0-based) in micros: whole kopecks from 1 to 90.99 RUB.
    pub fn cost_micros(c: u64, d: u64) -> u64 {
        1_000_000 + ((c * 7_919 + d * 104_729) % 9_000) * 10_000
    }

    pub fn impressions(c: u64, d: u64) -> u64 {
        100 + (c * 31 + d * 17) % 900
    }

    pub fn clicks(c: u64, d: u64) -> u64 {
        Self::impressions(c, d) / 20
    }

    /// Day indexes of `from..=to` that hold data.
    fn day_range(&self, from: NaiveDate, to: NaiveDate) -> Option<(u64, u64)> {
        if self.days == 0 || from > to {
            return None;
        }
        let first = first_day();
        let last = first.checked_add_days(Days::new(self.days - 1))?;
        let a = from.max(first);
        let b = to.min(last);
        if a > b {
            return None;
        }
        Some(((a - first).num_days() as u64, (b - first).num_days() as u64))
    }

    /// The TSV body for `from..=to`, as Direct sends it with `skipReportHeader` and
    /// `skipReportSummary`.
    pub fn report(&self, from: NaiveDate, to: NaiveDate) -> (String, u64) {
        let mut out = String::from("Date\tCampaignId\tCampaignName\tImpressions\tClicks\tCost\n");
        let Some((a, b)) = self.day_range(from, to) else {
            return (out, 0);
        };
        out.reserve(((b - a + 1) * self.campaigns * 64) as usize);
        let first = first_day();
        for d in a..=b {
            let day = first
                .checked_add_days(Days::new(d))
                .unwrap_or(first)
                .format("%Y-%m-%d")
                .to_string();
            for c in 0..self.campaigns {
                let _ = writeln!(
                    out,
                    "{day}\t{}\tCampaign {c}\t{}\t{}\t{}",
                    FIRST_CAMPAIGN_ID + c,
                    Self::impressions(c, d),
                    Self::clicks(c, d),
                    Self::cost_micros(c, d)
                );
            }
        }
        (out, (b - a + 1) * self.campaigns)
    }
}

fn json_ok(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("Units", UNITS)
        .set_body_raw(body, "application/json; charset=utf-8")
}

fn error(status: u16, code: u32, text: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("Units", UNITS)
        .set_body_raw(
            format!(
                "{{\"error\":{{\"request_id\":\"0\",\"error_code\":{code},\"error_string\":\"{text}\",\"error_detail\":\"\"}}}}"
            ),
            "application/json; charset=utf-8",
        )
}

impl Respond for ReportsMock {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.report_requests.fetch_add(1, Ordering::Relaxed);
        let Ok(body) = serde_json::from_slice::<serde_json::Value>(&request.body) else {
            return error(400, 8000, "Invalid request");
        };
        let params = &body["params"];
        let date = |key: &str| {
            params["SelectionCriteria"][key]
                .as_str()
                .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
        };
        let (Some(from), Some(to)) = (date("DateFrom"), date("DateTo")) else {
            return error(400, 4000, "Invalid dates");
        };
        let name = params["ReportName"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if self.offline_polls > 0 {
            let seen = {
                let mut polls = self.polls.lock().unwrap_or_else(|p| p.into_inner());
                let n = polls.entry(name).or_insert(0);
                *n += 1;
                *n
            };
            if seen <= self.offline_polls {
                return ResponseTemplate::new(if seen == 1 { 201 } else { 202 })
                    .insert_header("Units", UNITS)
                    .insert_header("retryIn", "1")
                    .insert_header("reportsInQueue", "1");
            }
        }
        let (tsv, rows) = self.report(from, to);
        self.served_rows.fetch_add(rows, Ordering::Relaxed);
        ResponseTemplate::new(200)
            .insert_header("Units", UNITS)
            .set_body_raw(tsv, "text/tab-separated-values; charset=utf-8")
    }
}

struct CampaignsResponder(u64);

impl Respond for CampaignsResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap_or_default();
        let page = &body["params"]["Page"];
        let limit = page["Limit"].as_u64().unwrap_or(10_000).clamp(1, 10_000);
        let offset = page["Offset"].as_u64().unwrap_or(0);
        let end = (offset + limit).min(self.0);
        let mut out = String::from("{\"result\":{\"Campaigns\":[");
        for c in offset..end {
            if c > offset {
                out.push(',');
            }
            let _ = write!(
                out,
                "{{\"Id\":{},\"Name\":\"Campaign {c}\",\"Type\":\"TEXT_CAMPAIGN\",\"State\":\"ON\",\"Status\":\"ACCEPTED\",\"TimeZone\":\"{TIME_ZONE}\"}}",
                FIRST_CAMPAIGN_ID + c
            );
        }
        out.push(']');
        if end < self.0 {
            let _ = write!(out, ",\"LimitedBy\":{end}");
        }
        out.push_str("}}");
        json_ok(out)
    }
}

#[okno_connector::async_trait]
impl MockVendor for ReportsMock {
    async fn mount(&self, server: MockServer) -> MockServer {
        Mock::given(method("POST"))
            .and(path("/json/v5/reports"))
            .respond_with(self.clone())
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/json/v5/campaigns"))
            .respond_with(CampaignsResponder(self.campaigns))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/json/v5/clients"))
            .respond_with(json_ok(format!(
                "{{\"result\":{{\"Clients\":[{{\"ClientId\":5550001,\"Login\":\"{LOGIN}\",\"Currency\":\"{CURRENCY}\",\"ClientInfo\":\"Mock Advertiser LLC\"}}]}}}}"
            )))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/json/v5/changes"))
            .respond_with(json_ok(format!(
                "{{\"result\":{{\"Timestamp\":\"{SERVER_TIME}\"}}}}"
            )))
            .mount(&server)
            .await;
        server
    }
}
