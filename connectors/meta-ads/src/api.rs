//! Requests, paging, report runs and the two streams. Each stream function fetches exactly one
//! page; every vendor page of that page is fetched inside the call.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use okno_connector::http::HttpResponse;
use okno_connector::reqwest::header::{HeaderValue, AUTHORIZATION};
use okno_connector::reqwest::{Client, RequestBuilder};
use okno_connector::signature::{sign, Algorithm, Encoding};
use okno_connector::spend::{self, Slice, SpendCursor};
use okno_connector::{
    AdAccount, ConnectorError, Cursor, ExposeSecret, HttpClient, Page, Record, Verdict,
};
use serde_json::value::RawValue;
use tokio::time::Instant;

use crate::config::Settings;
use crate::model::{ListPage, ReportRun, ReportRunCreated};
use crate::normalize::{self, RowContext};
use crate::throttle::{self, SHORT_WAIT};

/// Account and campaign reads (Meta's `ads_management` business use case).
pub(crate) const MANAGEMENT: &str = "ads_management";
/// Insights queries, report runs and their polls (Meta's `ads_insights` business use case).
pub(crate) const INSIGHTS: &str = "ads_insights";
/// Objects per page asked for (Meta's default is 25; larger pages mean fewer calls).
pub(crate) const PAGE_LIMIT: u32 = 500;
pub(crate) const ACCOUNT_FIELDS: &str = "name,currency,timezone_name";
pub(crate) const CAMPAIGN_FIELDS: &str = "id,name,status,effective_status";
pub(crate) const INSIGHT_FIELDS: &str =
    "campaign_id,campaign_name,spend,impressions,clicks,actions,date_start,date_stop";
pub(crate) const RUN_FIELDS: &str = "id,async_status,async_percent_completion";
/// The first wait before polling a report run; each later wait doubles up to [`POLL_MAX`].
pub(crate) const POLL_FIRST: Duration = Duration::from_secs(2);
pub(crate) const POLL_MAX: Duration = Duration::from_secs(30);
/// The longest a page waits for one report run (Meta says a run may take up to an hour; a
/// run that takes longer fails this page, and the next run asks again).
pub(crate) const POLL_TOTAL: Duration = Duration::from_secs(30 * 60);
/// A guard against a vendor that never stops paging.
const MAX_PAGES: usize = 100_000;

pub(crate) struct Api {
    http: HttpClient,
    pub(crate) settings: Settings,
    /// `Bearer <token>`, marked sensitive so it never shows in debug output.
    bearer: HeaderValue,
    /// `appsecret_proof`: HMAC-SHA256 of the token keyed with the app secret, hex.
    proof: Option<String>,
    /// No request goes out before this instant (usage headers asked us to slow down).
    not_before: Mutex<Option<Instant>>,
}

impl Api {
    pub(crate) fn new(http: HttpClient, settings: Settings) -> Result<Api, ConnectorError> {
        let token = settings.access_token.expose_secret().trim();
        let mut bearer = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
            ConnectorError::Invalid(
                "access_token holds characters that cannot be sent in a header".into(),
            )
        })?;
        bearer.set_sensitive(true);
        let proof = settings.app_secret.as_ref().map(|secret| {
            let secret = okno_connector::SecretString::from(secret.expose_secret().trim());
            sign(
                Algorithm::Sha256,
                Encoding::Hex,
                &secret,
                &[token.as_bytes()],
            )
        });
        Ok(Api {
            http,
            settings,
            bearer,
            proof,
            not_before: Mutex::new(None),
        })
    }

    /// `{base}/{version}/{path}`.
    fn url(&self, path: &str) -> String {
        format!(
            "{}/{}/{}",
            self.settings.base, self.settings.api_version, path
        )
    }

    /// Waits as long as the last usage headers asked; a wait past [`SHORT_WAIT`] is a quota.
    async fn pace(&self, endpoint: &'static str) -> Result<(), ConnectorError> {
        let until = *self.not_before.lock().unwrap_or_else(|e| e.into_inner());
        let Some(until) = until else {
            return Ok(());
        };
        let now = Instant::now();
        if until <= now {
            return Ok(());
        }
        let wait = until - now;
        if wait > SHORT_WAIT {
            return Err(ConnectorError::Quota {
                endpoint,
                until: Utc::now()
                    + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1)),
                message: "Meta's usage headers say access is blocked until then".into(),
            });
        }
        tracing::info!(
            endpoint,
            wait_ms = wait.as_millis() as u64,
            "Meta usage is high; slowing down"
        );
        tokio::time::sleep_until(until).await;
        Ok(())
    }

    fn note_usage(&self, resp: &HttpResponse) {
        let usage = throttle::usage(&resp.headers);
        let mut slot = self.not_before.lock().unwrap_or_else(|e| e.into_inner());
        match usage.pause() {
            Some(p) => {
                let until = Instant::now() + p;
                *slot = Some(slot.map_or(until, |u| u.max(until)));
            }
            None => *slot = None,
        }
    }

    /// Sends one authorised request through the SDK client, with Meta's errors classified.
    /// `timed_out` is raised when Meta says a direct insights query ran out of time.
    async fn send<F>(
        &self,
        endpoint: &'static str,
        bucket: &str,
        build: F,
        timed_out: Option<&AtomicBool>,
    ) -> Result<HttpResponse, ConnectorError>
    where
        F: Fn(&Client) -> RequestBuilder,
    {
        self.pace(endpoint).await?;
        let resp = self
            .http
            .send_classified(
                endpoint,
                bucket,
                |c| {
                    let mut r = build(c).header(AUTHORIZATION, self.bearer.clone());
                    if let Some(p) = &self.proof {
                        r = r.query(&[("appsecret_proof", p.as_str())]);
                    }
                    r
                },
                |r| classify(r, endpoint, timed_out),
            )
            .await?;
        self.note_usage(&resp);
        Ok(resp)
    }

    /// Reads every page of a list edge, handing each element to `each`.
    async fn paged<F>(
        &self,
        endpoint: &'static str,
        bucket: &str,
        url: &str,
        query: &[(&str, String)],
        timed_out: Option<&AtomicBool>,
        mut each: F,
    ) -> Result<(), ConnectorError>
    where
        F: FnMut(&RawValue) -> Result<(), ConnectorError>,
    {
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let resp = self
                .send(
                    endpoint,
                    bucket,
                    |c| {
                        let r = c.get(url).query(query);
                        match &after {
                            Some(a) => r.query(&[("after", a.as_str())]),
                            None => r,
                        }
                    },
                    timed_out,
                )
                .await?;
            let page: ListPage<'_> = serde_json::from_slice(&resp.body)
                .map_err(|e| ConnectorError::decode(endpoint, e))?;
            for raw in &page.data {
                each(raw)?;
            }
            let next = match page.next_after() {
                Some(a) => Some(a),
                None if page.has_next() => Some(after_of_next(&page).ok_or_else(|| {
                    ConnectorError::decode(
                        endpoint,
                        "paging.next is set but names no `after` cursor",
                    )
                })?),
                None => None,
            };
            match next {
                None => return Ok(()),
                Some(a) if after.as_deref() == Some(a.as_str()) => {
                    return Err(ConnectorError::decode(
                        endpoint,
                        "the paging cursor did not move; stopping instead of looping",
                    ))
                }
                Some(a) => after = Some(a),
            }
        }
        Err(ConnectorError::decode(
            endpoint,
            format!("more than {MAX_PAGES} pages"),
        ))
    }

    /// `GET /{v}/act_{id}?fields=name,currency,timezone_name`.
    pub(crate) async fn account(
        &self,
        account: &str,
    ) -> Result<(AdAccount, okno_connector::chrono_tz::Tz), ConnectorError> {
        const EP: &str = "ad_account";
        let url = self.url(account);
        let resp = self
            .send(
                EP,
                MANAGEMENT,
                |c| c.get(&url).query(&[("fields", ACCOUNT_FIELDS)]),
                None,
            )
            .await?;
        let raw: Box<RawValue> = resp.json(EP)?;
        normalize::ad_account(account, &raw, EP)
    }

    /// One page of the `campaigns` stream: the account at index `cursor.account` and every
    /// campaign of it.
    pub(crate) async fn campaigns_page(
        &self,
        cursor: Option<&Cursor>,
    ) -> Result<Page, ConnectorError> {
        const EP: &str = "campaigns";
        let index = match cursor {
            None => 0,
            Some(c) => c.0.get("account").and_then(|v| v.as_u64()).ok_or_else(|| {
                ConnectorError::Invalid(
                    "the stored campaigns cursor is not readable; run `okno sync <instance> --full`"
                        .into(),
                )
            })? as usize,
        };
        let Some(account) = self.settings.accounts.get(index) else {
            // Accounts were removed from config since the cursor was stored: the run is over.
            return Ok(Page {
                records: Vec::new(),
                next: None,
                has_more: false,
            });
        };
        let (info, _) = self.account(account).await?;
        let mut records = vec![Record::AdAccount(info)];
        let url = self.url(&format!("{account}/campaigns"));
        let query = [
            ("fields", CAMPAIGN_FIELDS.to_string()),
            ("limit", PAGE_LIMIT.to_string()),
        ];
        let channel = self.settings.channel.as_str();
        self.paged(EP, MANAGEMENT, &url, &query, None, |raw| {
            records.push(Record::Campaign(normalize::campaign(
                account, raw, channel, EP,
            )?));
            Ok(())
        })
        .await?;
        let more = index + 1 < self.settings.accounts.len();
        Ok(Page {
            records,
            next: more.then(|| Cursor(serde_json::json!({ "account": index + 1 }))),
            has_more: more,
        })
    }

    /// One page of the `spend` stream: one complete slice of one account (see `spend.rs`).
    pub(crate) async fn spend_page(
        &self,
        cursor: Option<&Cursor>,
        start: DateTime<Utc>,
    ) -> Result<Page, ConnectorError> {
        let window = self.settings.window;
        let mut plan = SpendCursor::from_cursor(cursor)?;
        let mut records = Vec::new();
        if plan.needs_pass() {
            let Some(account) = plan
                .next_account(&self.settings.accounts)
                .map(str::to_string)
            else {
                plan.finish();
                return Ok(Page {
                    records,
                    next: Some(plan.to_cursor()),
                    has_more: false,
                });
            };
            let (info, tz) = self.account(&account).await?;
            let today = spend::today_in(&tz, Utc::now());
            plan.begin(
                &account,
                today,
                spend::start_day(start, &tz),
                &window,
                info.currency,
                None,
            );
            records.push(Record::AdAccount(info));
        }
        let slice = plan
            .slice(&window)
            .ok_or_else(|| ConnectorError::Invalid("no spend pass is planned".into()))?;
        self.slice_rows(&slice, &mut records).await?;
        records.push(Record::SpendWindow(slice.window()));
        let has_more = plan.advance(&slice);
        Ok(Page {
            records,
            next: Some(plan.to_cursor()),
            has_more,
        })
    }

    /// Every campaign-day of `slice`, directly or through a report run.
    async fn slice_rows(
        &self,
        slice: &Slice,
        records: &mut Vec<Record>,
    ) -> Result<(), ConnectorError> {
        let ctx = RowContext {
            account_id: &slice.account,
            currency: slice.currency,
            from: slice.from,
            to: slice.to,
            conversion_actions: &self.settings.conversion_actions,
        };
        let days = (slice.to - slice.from).num_days() + 1;
        let params = insights_params(slice.from, slice.to);
        if days > i64::from(self.settings.async_after_days) {
            return self.insights_async(slice, &params, &ctx, records).await;
        }
        const EP: &str = "insights";
        let url = self.url(&format!("{}/insights", slice.account));
        let timed_out = AtomicBool::new(false);
        let mut rows = Vec::new();
        let direct = self
            .paged(EP, INSIGHTS, &url, &params, Some(&timed_out), |raw| {
                rows.push(Record::AdSpend(normalize::spend_row(raw, &ctx, EP)?));
                Ok(())
            })
            .await;
        match direct {
            Ok(()) => {
                records.extend(rows);
                Ok(())
            }
            Err(e) if timed_out.load(Ordering::Relaxed) => {
                tracing::info!(
                    account = %slice.account,
                    from = %slice.from,
                    to = %slice.to,
                    "the direct insights query timed out at Meta; asking for a report run instead: {e}"
                );
                self.insights_async(slice, &params, &ctx, records).await
            }
            Err(e) => Err(e),
        }
    }

    /// `POST /{v}/act_{id}/insights` → `report_run_id`, polls `GET /{v}/{run}` with growing
    /// waits until `Job Completed` at 100 %, then reads `GET /{v}/{run}/insights` to the end.
    async fn insights_async(
        &self,
        slice: &Slice,
        params: &[(&str, String)],
        ctx: &RowContext<'_>,
        records: &mut Vec<Record>,
    ) -> Result<(), ConnectorError> {
        const START: &str = "report_run_start";
        const POLL: &str = "report_run_status";
        const RESULTS: &str = "report_run_insights";
        let url = self.url(&format!("{}/insights", slice.account));
        // The paging limit belongs to reading results, not to the job.
        let job: Vec<(&str, String)> = params
            .iter()
            .filter(|(k, _)| *k != "limit")
            .cloned()
            .collect();
        let resp = self
            .send(START, INSIGHTS, |c| c.post(&url).form(&job), None)
            .await?;
        let created: ReportRunCreated = resp.json(START)?;
        let run = created.report_run_id.trim().to_string();
        if run.is_empty() || !run.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(ConnectorError::decode(
                START,
                format!("report_run_id {run:?} is not an id"),
            ));
        }
        let status_url = self.url(&run);
        let mut wait = POLL_FIRST;
        let mut waited = Duration::ZERO;
        let mut polls = 0u32;
        let mut last = String::from("not polled");
        loop {
            if waited + wait > POLL_TOTAL {
                return Err(ConnectorError::Transient {
                    endpoint: POLL,
                    attempts: polls,
                    message: format!(
                        "report run {run} for {} {}..{} is still {last} after {} min; the next run asks again",
                        slice.account,
                        slice.from,
                        slice.to,
                        waited.as_secs() / 60
                    ),
                });
            }
            tokio::time::sleep(wait).await;
            waited += wait;
            wait = (wait * 2).min(POLL_MAX);
            polls += 1;
            let resp = self
                .send(
                    POLL,
                    INSIGHTS,
                    |c| c.get(&status_url).query(&[("fields", RUN_FIELDS)]),
                    None,
                )
                .await?;
            let state: ReportRun = resp.json(POLL)?;
            let status = state.async_status.unwrap_or_default();
            let percent = state.async_percent_completion.as_ref().and_then(|p| {
                p.as_f64()
                    .or_else(|| p.as_str().and_then(|s| s.parse().ok()))
            });
            last = match percent {
                Some(p) => format!("{status:?} at {p}%"),
                None => format!("{status:?}"),
            };
            match status.as_str() {
                "Job Completed" if percent.is_none_or(|p| p >= 100.0) => break,
                "Job Failed" | "Job Skipped" => {
                    return Err(ConnectorError::Transient {
                        endpoint: POLL,
                        attempts: polls,
                        message: format!(
                            "Meta's report run {run} for {} {}..{} ended as {status:?}; the next run asks again",
                            slice.account, slice.from, slice.to
                        ),
                    })
                }
                _ => {
                    tracing::debug!(%run, polls, status = %last, "report run not finished yet");
                }
            }
        }
        tracing::debug!(%run, polls, "report run completed");
        let results_url = self.url(&format!("{run}/insights"));
        let query = [("limit", PAGE_LIMIT.to_string())];
        self.paged(RESULTS, INSIGHTS, &results_url, &query, None, |raw| {
            records.push(Record::AdSpend(normalize::spend_row(raw, ctx, RESULTS)?));
            Ok(())
        })
        .await
    }

    /// `okno validate --online`: one account lookup.
    pub(crate) async fn check(&self) -> Result<String, ConnectorError> {
        let first = self
            .settings
            .accounts
            .first()
            .ok_or_else(|| ConnectorError::Invalid("no ad account configured".into()))?;
        let (info, _) = self.account(first).await?;
        Ok(format!(
            "Meta ad account {} {:?} ({}, {}) via Graph API {}; {} account(s) configured",
            info.account_id,
            info.name.unwrap_or_default(),
            info.currency,
            info.time_zone,
            self.settings.api_version,
            self.settings.accounts.len()
        ))
    }
}

/// The query of an insights read for `from..=to` (account days).
pub(crate) fn insights_params(from: NaiveDate, to: NaiveDate) -> Vec<(&'static str, String)> {
    vec![
        ("level", "campaign".to_string()),
        ("time_increment", "1".to_string()),
        (
            "time_range",
            serde_json::json!({ "since": from.to_string(), "until": to.to_string() }).to_string(),
        ),
        ("fields", INSIGHT_FIELDS.to_string()),
        ("limit", PAGE_LIMIT.to_string()),
    ]
}

/// The `after` parameter of `paging.next`, for pages that name no `cursors.after`.
fn after_of_next(page: &ListPage<'_>) -> Option<String> {
    let next = page.paging.as_ref()?.next.as_deref()?;
    let url = url::Url::parse(next).ok()?;
    let after = url
        .query_pairs()
        .find(|(k, _)| k == "after")
        .map(|(_, v)| v.into_owned());
    after.filter(|a| !a.is_empty())
}

fn classify(
    resp: &HttpResponse,
    endpoint: &'static str,
    timed_out: Option<&AtomicBool>,
) -> Option<Verdict> {
    if let Some(flag) = timed_out {
        if !resp.status.is_success()
            && throttle::graph_error(&resp.body).is_some_and(|e| e.is_insights_timeout())
        {
            flag.store(true, Ordering::Relaxed);
        }
    }
    throttle::classify(resp, endpoint, Utc::now())
}
