//! Endpoints, paging and chunking: `user.json` for the account, `ad_plans.json` /
//! `campaigns.json` (offset paging to the end), and the daily statistics (at most 200 ids and
//! 92 days per request).

use std::sync::Arc;

use chrono::NaiveDate;
use okno_connector::spend::{self, SpendCursor};
use okno_connector::{
    AdAccount, ConnectorError, HttpClient, HttpResponse, Page, PageRequest, Record, Verdict,
};
use serde_json::value::RawValue;

use crate::auth::{bearer, Tokens};
use crate::config::Settings;
use crate::limits::Limits;
use crate::model::{ListPage, StatsPage, VendorError};
use crate::normalize;
use crate::Clock;

/// The one request budget of an instance (API and token calls).
pub(crate) const BUCKET: &str = "api";
/// Objects per list page: the API's documented maximum `limit`.
pub(crate) const PAGE_LIMIT: usize = 50;
/// Ids per statistics request (documented maximum).
pub(crate) const MAX_IDS: usize = 200;
/// List pages read before giving up on a list that never ends.
const MAX_LIST_PAGES: usize = 20_000;

pub(crate) struct Api {
    pub(crate) http: HttpClient,
    pub(crate) base: String,
    pub(crate) settings: Settings,
    pub(crate) tokens: Tokens,
    pub(crate) limits: Arc<Limits>,
    pub(crate) clock: Clock,
}

/// A clear error from a refused API request.
fn refused(endpoint: &'static str, status: u16, body: &[u8]) -> ConnectorError {
    let vendor = VendorError::parse(body);
    let said = vendor
        .describe()
        .unwrap_or_else(|| okno_connector::http::error_excerpt(body));
    let hint = match vendor.code.as_deref() {
        Some("ERR_LIMIT_EXCEEDED") => {
            " (more than 92 days or 200 objects in one request: please report this as a bug)"
        }
        Some("ERR_WRONG_DATE") => {
            " (VK Ads may not keep daily statistics that far back: move the instance's start_date forward)"
        }
        Some("ERR_WRONG_CAMPAIGNS") | Some("ERR_WRONG_BANNERS") | Some("ERR_WRONG_PARAMETER") => {
            " (the objects or parameters were refused: check `level` and the account the token belongs to)"
        }
        _ => "",
    };
    if status == 403 {
        return ConnectorError::Auth {
            endpoint,
            status,
            message: format!(
                "VK Ads forbids this request for the token's account: {said}; the API client may lack access (read_ads) to it"
            ),
        };
    }
    ConnectorError::Permanent {
        endpoint,
        status,
        message: format!("{said}{hint}"),
    }
}

impl Api {
    fn url(&self, path: &str) -> String {
        format!("{}/api/v2/{path}", self.base)
    }

    async fn send(
        &self,
        endpoint: &'static str,
        url: &str,
        query: &[(&str, String)],
        token: &okno_connector::SecretString,
    ) -> Result<HttpResponse, ConnectorError> {
        self.limits.check(endpoint)?;
        let auth = bearer(token);
        self.http
            .send_classified(
                endpoint,
                BUCKET,
                |c| {
                    c.get(url)
                        .query(query)
                        .header("authorization", auth.clone())
                },
                |resp| {
                    if let Some(v) = self.limits.classify(resp, endpoint) {
                        return Some(v);
                    }
                    match resp.status.as_u16() {
                        s @ (400 | 403 | 404 | 405 | 413 | 422) => {
                            Some(Verdict::Fail(refused(endpoint, s, &resp.body)))
                        }
                        _ => None,
                    }
                },
            )
            .await
    }

    /// One GET with the instance's token; a 401 gets one new token and one retry.
    pub(crate) async fn get(
        &self,
        endpoint: &'static str,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<HttpResponse, ConnectorError> {
        let url = self.url(path);
        let token = self.tokens.token().await?;
        let resp = match self.send(endpoint, &url, query, &token).await {
            Err(ConnectorError::Auth {
                status: 401,
                message,
                ..
            }) => {
                let vendor = VendorError::parse(message.as_bytes());
                tracing::info!(
                    endpoint,
                    vendor = ?vendor.describe(),
                    "VK Ads refused the access token; getting a new one"
                );
                let fresh = self.tokens.after_rejection(&token).await?;
                match self.send(endpoint, &url, query, &fresh).await {
                    Err(ConnectorError::Auth {
                        status: 401,
                        message,
                        ..
                    }) => {
                        let vendor = VendorError::parse(message.as_bytes());
                        return Err(ConnectorError::Auth {
                            endpoint,
                            status: 401,
                            message: format!(
                                "VK Ads refused a freshly issued token ({}): check that API client {} still has access to the account",
                                vendor.describe().unwrap_or(message),
                                self.settings.client_id
                            ),
                        });
                    }
                    other => other?,
                }
            }
            other => other?,
        };
        self.limits.observe(&resp.headers);
        Ok(resp)
    }

    /// The account behind the token: id, name, currency; the zone comes from the settings.
    pub(crate) async fn account(&self) -> Result<AdAccount, ConnectorError> {
        const EP: &str = "user";
        let resp = self
            .get(
                EP,
                "user.json",
                &[("fields", "id,username,additional_info,account".to_string())],
            )
            .await?;
        let raw: Box<RawValue> = resp.json(EP)?;
        normalize::account(&raw, self.settings.currency, &self.settings.time_zone)
    }

    /// Every listed ad plan / campaign, read with offset paging to the end.
    pub(crate) async fn list_all(&self) -> Result<Vec<Box<RawValue>>, ConnectorError> {
        let level = self.settings.level;
        let ep = level.list_endpoint();
        let mut all = Vec::new();
        let mut offset = 0usize;
        for _ in 0..MAX_LIST_PAGES {
            let resp = self
                .get(
                    ep,
                    level.list_path(),
                    &[
                        ("fields", "id,name,status".to_string()),
                        ("limit", PAGE_LIMIT.to_string()),
                        ("offset", offset.to_string()),
                    ],
                )
                .await?;
            let page: ListPage = resp.json(ep)?;
            let count = normalize::integer(page.count.as_deref(), "count", ep)?;
            let got = page.items.len();
            all.extend(page.items);
            offset += got;
            let done = match count {
                Some(total) => got == 0 || offset as i64 >= total,
                None => got < PAGE_LIMIT,
            };
            if done {
                return Ok(all);
            }
        }
        Err(ConnectorError::decode(
            ep,
            format!("the list did not end after {MAX_LIST_PAGES} pages"),
        ))
    }

    /// The ids of every listed object.
    async fn ids(&self) -> Result<Vec<String>, ConnectorError> {
        let ep = self.settings.level.list_endpoint();
        let mut ids = Vec::new();
        for raw in self.list_all().await? {
            let item: crate::model::ListItem =
                serde_json::from_str(raw.get()).map_err(|e| ConnectorError::decode(ep, e))?;
            ids.push(normalize::id_text(&item.id, ep)?);
        }
        Ok(ids)
    }

    /// `campaigns`: the account and every campaign, one page, cursor cleared.
    pub(crate) async fn campaigns_page(&self) -> Result<Page, ConnectorError> {
        let account = self.account().await?;
        let ep = self.settings.level.list_endpoint();
        let mut records = Vec::new();
        for raw in self.list_all().await? {
            records.push(Record::Campaign(normalize::campaign(
                &raw,
                &account.account_id,
                &self.settings.channel,
                ep,
            )?));
        }
        records.insert(0, Record::AdAccount(account));
        Ok(Page {
            records,
            next: None,
            has_more: false,
        })
    }

    /// Daily statistics of `ids` from `from` to `to` (at most 92 days), 200 ids per request.
    async fn stats(
        &self,
        ids: &[String],
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<crate::model::StatItem>, ConnectorError> {
        let level = self.settings.level;
        let ep = level.stats_endpoint();
        let mut items = Vec::new();
        for chunk in ids.chunks(MAX_IDS) {
            let resp = self
                .get(
                    ep,
                    level.stats_path(),
                    &[
                        ("id", chunk.join(",")),
                        ("date_from", from.format("%Y-%m-%d").to_string()),
                        ("date_to", to.format("%Y-%m-%d").to_string()),
                        ("metrics", "base".to_string()),
                    ],
                )
                .await?;
            let page: StatsPage = resp.json(ep)?;
            items.extend(page.items);
        }
        Ok(items)
    }

    /// `spend`: one complete slice of the account per page (see `okno_connector::spend`).
    pub(crate) async fn spend_page(&self, req: PageRequest<'_>) -> Result<Page, ConnectorError> {
        let window = self.settings.window;
        let mut plan = SpendCursor::from_cursor(req.cursor)?;
        let mut records = Vec::new();
        if plan.needs_pass() {
            let info = self.account().await?;
            let accounts = vec![info.account_id.clone()];
            let Some(account) = plan.next_account(&accounts).map(str::to_string) else {
                plan.finish();
                return Ok(Page {
                    records,
                    next: Some(plan.to_cursor()),
                    has_more: false,
                });
            };
            let tz = spend::time_zone(&info.time_zone, "account")?;
            let today = spend::today_in(&tz, (self.clock)());
            plan.begin(
                &account,
                today,
                spend::start_day(req.start, &tz),
                &window,
                info.currency,
                None,
            );
            records.push(Record::AdAccount(info));
        }
        let slice = plan.slice(&window).ok_or_else(|| {
            ConnectorError::Invalid("the spend cursor has no pass planned".into())
        })?;
        let ep = self.settings.level.stats_endpoint();
        let ids = self.ids().await?;
        let mut skipped_outside = 0usize;
        for item in self.stats(&ids, slice.from, slice.to).await? {
            let campaign_id = normalize::id_text(&item.id, ep)?;
            for raw in item.rows.unwrap_or_default() {
                let row = normalize::day_row(&raw, ep)?;
                if row.date < slice.from || row.date > slice.to {
                    skipped_outside += 1;
                    continue;
                }
                if row.is_empty() {
                    continue;
                }
                records.push(Record::AdSpend(normalize::ad_spend(
                    row,
                    &raw,
                    &slice.account,
                    &campaign_id,
                    slice.currency,
                )));
            }
        }
        if skipped_outside > 0 {
            tracing::warn!(
                endpoint = ep,
                skipped_outside,
                "VK Ads returned rows outside the requested dates; they were left out"
            );
        }
        records.push(Record::SpendWindow(slice.window()));
        let has_more = plan.advance(&slice);
        Ok(Page {
            records,
            next: Some(plan.to_cursor()),
            has_more,
        })
    }

    /// One cheap call for `okno validate --online`.
    pub(crate) async fn check(&self) -> Result<String, ConnectorError> {
        let account = self.account().await?;
        Ok(format!(
            "VK Ads account {}{} ({}), statistics days in {}",
            account.account_id,
            account
                .name
                .as_deref()
                .map(|n| format!(" \"{n}\""))
                .unwrap_or_default(),
            account.currency,
            account.time_zone
        ))
    }
}
