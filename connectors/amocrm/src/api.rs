//! Endpoints, the page cursors and the per-instance caches. Each stream function fetches
//! exactly one page.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use okno_connector::http::HttpResponse;
use okno_connector::reqwest::header::AUTHORIZATION;
use okno_connector::reqwest::{Client, RequestBuilder, StatusCode};
use okno_connector::{ConnectorError, Currency, Cursor, HttpClient, Page, Record};
use serde_json::json;
use serde_json::value::RawValue;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::auth::{bearer, Auth};
use crate::config::Settings;
use crate::model::{self, ListPage};
use crate::normalize::{self, FieldMemo, LeadContext, StageNames};

/// The one request budget: amoCRM allows 7 requests per second per integration.
pub(crate) const BUCKET: &str = "api";
/// Leads per page (amoCRM's maximum).
pub(crate) const LEADS_LIMIT: usize = 250;
/// Events per page (amoCRM.ru documents 100 as the maximum; Kommo says 250).
pub(crate) const EVENTS_LIMIT: usize = 100;
pub(crate) const USERS_LIMIT: usize = 250;
/// `with` of every lead request: contacts and the loss reason are kept in `raw`.
pub(crate) const LEADS_WITH: &str = "contacts,loss_reason";
/// How long pipelines (stage names) and the account currency are reused.
pub(crate) const CACHE_TTL: Duration = Duration::from_secs(10 * 60);

struct Cached<T> {
    at: Instant,
    value: T,
}

pub(crate) struct Api {
    http: HttpClient,
    base: String,
    auth: Auth,
    settings: Settings,
    /// Stage names by (pipeline, status); `None` inside when pipelines could not be read.
    stages: Mutex<Option<Cached<Option<Arc<StageNames>>>>>,
    /// The account's currency; `None` inside when the account states none.
    currency: Mutex<Option<Cached<Option<Currency>>>>,
    instance: String,
}

impl Api {
    pub(crate) fn new(http: HttpClient, settings: Settings, auth: Auth, instance: &str) -> Self {
        let base = settings.base_url.as_str().trim_end_matches('/').to_string();
        Api {
            http,
            base,
            auth,
            settings,
            stages: Mutex::new(None),
            currency: Mutex::new(None),
            instance: instance.to_string(),
        }
    }

    pub(crate) fn auth(&self) -> &Auth {
        &self.auth
    }

    /// Sends an authorised request. A 401 under OAuth gets one new token (refreshed unless
    /// another task already did) and one retry; a blocked account's HTML 403 becomes a clear,
    /// permanent error.
    async fn send<F>(
        &self,
        endpoint: &'static str,
        build: F,
    ) -> Result<HttpResponse, ConnectorError>
    where
        F: Fn(&Client) -> RequestBuilder,
    {
        let token = self.auth.token().await?;
        let header = bearer(&token);
        let first = self
            .http
            .send(endpoint, BUCKET, |c| {
                build(c).header(AUTHORIZATION, header.clone())
            })
            .await;
        let result = match (first, &self.auth) {
            (Err(ConnectorError::Auth { status: 401, .. }), Auth::OAuth(session)) => {
                tracing::info!(instance = %self.instance, endpoint, "amoCRM refused the access token; getting a new one and retrying once");
                let fresh = session.after_rejection(&token).await?;
                let header = bearer(&fresh);
                self.http
                    .send(endpoint, BUCKET, |c| {
                        build(c).header(AUTHORIZATION, header.clone())
                    })
                    .await
            }
            (other, _) => other,
        };
        result.map_err(|e| self.explain(e))
    }

    fn explain(&self, e: ConnectorError) -> ConnectorError {
        if let Some(b) = blocked(&e) {
            return b;
        }
        match e {
            ConnectorError::Auth {
                endpoint,
                status: 401,
                message,
            } => {
                let hint = match self.auth {
                    Auth::LongLived(_) => "the long-lived token has expired or was revoked: generate a new one on the integration's Keys and scopes tab".to_string(),
                    Auth::OAuth(_) => format!(
                        "a freshly issued token was refused too; re-authorise with `okno auth amocrm {} --code CODE`",
                        self.instance
                    ),
                };
                ConnectorError::Auth {
                    endpoint,
                    status: 401,
                    message: format!("{message} ({hint})"),
                }
            }
            other => other,
        }
    }

    async fn get(
        &self,
        endpoint: &'static str,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<HttpResponse, ConnectorError> {
        let url = format!("{}{path}", self.base);
        self.send(endpoint, |c| c.get(&url).query(query)).await
    }

    // -----------------------------------------------------------------------------------------
    // leads

    pub(crate) async fn leads_page(
        &self,
        cursor: Option<&Cursor>,
        start: DateTime<Utc>,
    ) -> Result<Page, ConnectorError> {
        const EP: &str = "leads";
        let pos = Position::read(cursor, start, EP)?;
        let stages = self.stage_names().await?;
        let currency = self.currency().await?;
        let query = vec![
            ("with", LEADS_WITH.to_string()),
            ("limit", LEADS_LIMIT.to_string()),
            ("page", pos.page.to_string()),
            ("order[updated_at]", "asc".to_string()),
            ("filter[updated_at][from]", pos.from.to_string()),
        ];
        let resp = self.get(EP, "/api/v4/leads", &query).await?;
        if no_content(&resp) {
            return Ok(pos.after(&PageSeen::default()).page(Vec::new()));
        }
        let page: ListPage = decode(EP, &resp.body)?;
        let cx = LeadContext {
            fields: &self.settings.fields,
            stages: stages.as_deref(),
            currency,
        };
        let mut seen = PageSeen {
            has_next: page.has_next(),
            ..PageSeen::default()
        };
        let mut records = Vec::with_capacity(page.items().len());
        let mut memo = FieldMemo::default();
        for raw in page.items() {
            let lead: model::Lead = decode_item(EP, raw)?;
            seen.observe(lead.updated_at);
            records.push(lead_record(EP, lead, raw, &cx, &mut memo)?);
        }
        if !seen.sorted {
            tracing::warn!(
                instance = %self.instance,
                "amoCRM returned leads out of updated_at order; paging this window without moving its start"
            );
        }
        Ok(pos.after(&seen).page(records))
    }

    /// Leads by id, for webhooks. Deleted leads are not listed and so simply absent.
    pub(crate) async fn leads_by_id(&self, ids: &[String]) -> Result<Page, ConnectorError> {
        const EP: &str = "leads/by_id";
        let mut numeric = Vec::with_capacity(ids.len());
        for id in ids {
            let id = id.trim();
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ConnectorError::Invalid(format!(
                    "{id:?} is not an amoCRM lead id"
                )));
            }
            numeric.push(id);
        }
        let stages = self.stage_names().await?;
        let currency = self.currency().await?;
        let cx = LeadContext {
            fields: &self.settings.fields,
            stages: stages.as_deref(),
            currency,
        };
        let mut records = Vec::with_capacity(ids.len());
        let mut memo = FieldMemo::default();
        for chunk in numeric.chunks(LEADS_LIMIT) {
            let mut query = vec![
                ("with", LEADS_WITH.to_string()),
                ("limit", LEADS_LIMIT.to_string()),
            ];
            query.extend(chunk.iter().map(|id| ("filter[id][]", id.to_string())));
            let resp = self.get(EP, "/api/v4/leads", &query).await?;
            if no_content(&resp) {
                continue;
            }
            let page: ListPage = decode(EP, &resp.body)?;
            for raw in page.items() {
                let lead: model::Lead = decode_item(EP, raw)?;
                records.push(lead_record(EP, lead, raw, &cx, &mut memo)?);
            }
        }
        Ok(Page {
            records,
            next: None,
            has_more: false,
        })
    }

    // -----------------------------------------------------------------------------------------
    // pipelines

    /// Every status of every pipeline, read whole every run; refreshes the stage-name cache.
    pub(crate) async fn pipelines_page(&self) -> Result<Page, ConnectorError> {
        let (names, records) = self.fetch_pipelines().await?;
        *self.stages.lock().await = Some(Cached {
            at: Instant::now(),
            value: Some(Arc::new(names)),
        });
        Ok(Page {
            records,
            next: None,
            has_more: false,
        })
    }

    async fn fetch_pipelines(&self) -> Result<(StageNames, Vec<Record>), ConnectorError> {
        const EP: &str = "leads/pipelines";
        let resp = self.get(EP, "/api/v4/leads/pipelines", &[]).await?;
        let mut names = StageNames::new();
        let mut records = Vec::new();
        if no_content(&resp) {
            return Ok((names, records));
        }
        let page: ListPage = decode(EP, &resp.body)?;
        for raw in page.items() {
            let pipeline: model::Pipeline = decode_item(EP, raw)?;
            let statuses = pipeline
                .embedded
                .as_ref()
                .map(|e| e.statuses.as_slice())
                .unwrap_or_default();
            for status_raw in statuses {
                let status: model::Status = decode_item(EP, status_raw)?;
                let status_id = status.id;
                let stage = normalize::stage(&pipeline, status, status_raw);
                if !stage.stage_name.is_empty() {
                    names.insert((pipeline.id, status_id), stage.stage_name.clone());
                }
                records.push(Record::Stage(stage));
            }
        }
        Ok((names, records))
    }

    /// Stage names from a cache of at most [`CACHE_TTL`]; `None` when pipelines cannot be read
    /// (leads are then stored without stage names).
    async fn stage_names(&self) -> Result<Option<Arc<StageNames>>, ConnectorError> {
        let mut guard = self.stages.lock().await;
        if let Some(c) = guard.as_ref().filter(|c| c.at.elapsed() < CACHE_TTL) {
            return Ok(c.value.clone());
        }
        let value = match self.fetch_pipelines().await {
            Ok((names, _)) => Some(Arc::new(names)),
            Err(e) if degradable(&e) => {
                tracing::warn!(instance = %self.instance, error = %e, "cannot read amoCRM pipelines; leads are stored without stage names for now");
                None
            }
            Err(e) => return Err(e),
        };
        *guard = Some(Cached {
            at: Instant::now(),
            value: value.clone(),
        });
        Ok(value)
    }

    // -----------------------------------------------------------------------------------------
    // account

    async fn account(&self) -> Result<model::Account, ConnectorError> {
        const EP: &str = "account";
        let resp = self.get(EP, "/api/v4/account", &[]).await?;
        decode(EP, &resp.body)
    }

    /// The settings' currency, else the account's from a cache of at most [`CACHE_TTL`].
    async fn currency(&self) -> Result<Option<Currency>, ConnectorError> {
        if let Some(c) = self.settings.currency {
            return Ok(Some(c));
        }
        let mut guard = self.currency.lock().await;
        if let Some(c) = guard.as_ref().filter(|c| c.at.elapsed() < CACHE_TTL) {
            return Ok(c.value);
        }
        let value = match self.account().await {
            Ok(a) => account_currency(&a, &self.instance),
            Err(e) if degradable(&e) => {
                tracing::warn!(instance = %self.instance, error = %e, "cannot read the amoCRM account; leads are stored without a currency (set `currency` in the settings)");
                None
            }
            Err(e) => return Err(e),
        };
        *guard = Some(Cached {
            at: Instant::now(),
            value,
        });
        Ok(value)
    }

    pub(crate) async fn check(&self) -> Result<String, ConnectorError> {
        let a = self.account().await?;
        let currency = self
            .settings
            .currency
            .or_else(|| account_currency(&a, &self.instance))
            .map_or_else(|| "unknown".to_string(), |c| c.to_string());
        let subdomain = a.subdomain.as_deref().unwrap_or("?");
        Ok(format!(
            "amoCRM account {} ({subdomain}), currency {currency}",
            a.name.as_deref().unwrap_or("(unnamed)")
        ))
    }

    // -----------------------------------------------------------------------------------------
    // users

    /// One page of users, read whole every run (the cursor only carries the page inside a run).
    pub(crate) async fn users_page(&self, cursor: Option<&Cursor>) -> Result<Page, ConnectorError> {
        const EP: &str = "users";
        let page_no = match cursor {
            None => 1,
            Some(Cursor(v)) => v
                .get("page")
                .and_then(|p| p.as_u64())
                .filter(|&p| p >= 1)
                .ok_or_else(|| bad_cursor(EP, v, "page"))?,
        };
        let query = [
            ("limit", USERS_LIMIT.to_string()),
            ("page", page_no.to_string()),
        ];
        let resp = match self.get(EP, "/api/v4/users", &query).await {
            Err(ConnectorError::Auth {
                endpoint,
                status: 403,
                message,
            }) => {
                return Err(ConnectorError::Auth {
                    endpoint,
                    status: 403,
                    message: format!(
                        "{message} (listing users needs an administrator's token; authorise as an admin, or drop `users` from the instance's streams)"
                    ),
                })
            }
            other => other?,
        };
        if no_content(&resp) {
            return Ok(Page {
                records: Vec::new(),
                next: None,
                has_more: false,
            });
        }
        let page: ListPage = decode(EP, &resp.body)?;
        let records = page
            .items()
            .iter()
            .map(|raw| {
                let u: model::User = decode_item(EP, raw)?;
                Ok(Record::Identity(normalize::identity(u, raw)))
            })
            .collect::<Result<Vec<_>, ConnectorError>>()?;
        let more = page.has_next() && !records.is_empty();
        Ok(Page {
            records,
            next: more.then(|| Cursor(json!({ "page": page_no + 1 }))),
            has_more: more,
        })
    }

    // -----------------------------------------------------------------------------------------
    // deleted leads (events)

    pub(crate) async fn deleted_leads_page(
        &self,
        cursor: Option<&Cursor>,
        start: DateTime<Utc>,
    ) -> Result<Page, ConnectorError> {
        const EP: &str = "events";
        let pos = EventsPosition::read(cursor, start, EP)?;
        let query = [
            ("filter[type]", "lead_deleted".to_string()),
            ("filter[created_at][from]", pos.from.to_string()),
            ("limit", EVENTS_LIMIT.to_string()),
            ("page", pos.page.to_string()),
        ];
        let resp = self.get(EP, "/api/v4/events", &query).await?;
        if no_content(&resp) {
            return Ok(pos.after(None, false).page(Vec::new()));
        }
        let page: ListPage = decode(EP, &resp.body)?;
        let mut records = Vec::with_capacity(page.items().len());
        let mut newest: Option<i64> = None;
        for raw in page.items() {
            let ev: model::Event = decode_item(EP, raw)?;
            newest = newest.max(Some(ev.created_at));
            if ev.kind.as_deref().is_some_and(|k| k != "lead_deleted") {
                continue;
            }
            let id = ev
                .entity_id
                .or_else(|| ev.embedded.as_ref()?.entity.as_ref()?.id)
                .ok_or_else(|| {
                    ConnectorError::decode(EP, "lead_deleted event without entity_id")
                })?;
            let at = normalize::time(ev.created_at).ok_or_else(|| {
                ConnectorError::decode(EP, format!("bad created_at {}", ev.created_at))
            })?;
            records.push(Record::Deleted(normalize::deleted(id, at)));
        }
        let has_next = page.has_next() && !page.items().is_empty();
        Ok(pos.after(newest, has_next).page(records))
    }
}

fn lead_record(
    endpoint: &'static str,
    lead: model::Lead<'_>,
    raw: &RawValue,
    cx: &LeadContext<'_>,
    memo: &mut FieldMemo,
) -> Result<Record, ConnectorError> {
    normalize::lead(lead, raw, cx, memo)
        .map(|l| Record::Lead(Box::new(l)))
        .map_err(|m| ConnectorError::decode(endpoint, m))
}

fn account_currency(a: &model::Account, instance: &str) -> Option<Currency> {
    let text = a.currency.as_deref()?;
    match text.parse() {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::warn!(instance, error = %e, "the amoCRM account's currency is not an ISO code; set `currency` in the settings");
            None
        }
    }
}

/// 204 No Content (amoCRM's "nothing matched") or an empty body.
fn no_content(resp: &HttpResponse) -> bool {
    resp.status == StatusCode::NO_CONTENT || resp.body.iter().all(u8::is_ascii_whitespace)
}

/// Errors after which a lookup (stage names, currency) is skipped rather than failing the page:
/// missing rights, an unexpected shape. A block, throttling or an outage still fail the page.
fn degradable(e: &ConnectorError) -> bool {
    match e {
        ConnectorError::Auth { status, .. } => *status == 403,
        ConnectorError::Decode { .. } => true,
        ConnectorError::Permanent { status, .. } => *status != 403,
        _ => false,
    }
}

/// The error for a blocked account or IP: amoCRM answers every request with nginx's HTML 403
/// page instead of its JSON errors. Not retried: only amoCRM support lifts the block.
pub(crate) fn blocked(e: &ConnectorError) -> Option<ConnectorError> {
    let ConnectorError::Auth {
        endpoint,
        status: 403,
        message,
    } = e
    else {
        return None;
    };
    // The SDK keeps the start of the body as the message; amoCRM's own 403s are JSON.
    if message.trim_start().starts_with('{') {
        return None;
    }
    Some(ConnectorError::Permanent {
        endpoint,
        status: 403,
        message: "amoCRM has blocked this account or this server's IP address (HTTP 403 with a plain \
                  nginx page instead of a JSON error), usually after its limit of 7 requests per second \
                  was exceeded repeatedly. Every request will be refused until amoCRM support lifts the \
                  block: write to amoCRM support. okno does not retry"
            .to_string(),
    })
}

fn decode<'a, T: serde::Deserialize<'a>>(
    endpoint: &'static str,
    body: &'a [u8],
) -> Result<T, ConnectorError> {
    serde_json::from_slice(body).map_err(|e| ConnectorError::decode(endpoint, e))
}

fn decode_item<'a, T: serde::Deserialize<'a>>(
    endpoint: &'static str,
    raw: &'a RawValue,
) -> Result<T, ConnectorError> {
    serde_json::from_str(raw.get()).map_err(|e| {
        let excerpt: String = raw.get().chars().take(120).collect();
        ConnectorError::decode(endpoint, format!("{e} in object {excerpt}…"))
    })
}

fn bad_cursor(endpoint: &str, value: &serde_json::Value, field: &str) -> ConnectorError {
    ConnectorError::Invalid(format!(
        "{endpoint}: stored cursor {value} has no valid {field:?}; run `okno sync <instance> --stream <stream> --full` to start over"
    ))
}

fn cursor_int(
    value: &serde_json::Value,
    field: &str,
    endpoint: &str,
) -> Result<i64, ConnectorError> {
    value
        .get(field)
        .and_then(|v| v.as_i64())
        .ok_or_else(|| bad_cursor(endpoint, value, field))
}

// ---------------------------------------------------------------------------------------------
// cursors

/// Where the leads stream stands: `filter[updated_at][from]` and the page under it.
/// Stored as `{"from": <unix seconds>, "page": <n>}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Position {
    pub(crate) from: i64,
    pub(crate) page: u32,
}

/// What a page held, as far as the cursor cares.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PageSeen {
    /// `updated_at` of the last lead.
    pub(crate) last: Option<i64>,
    /// Whether every lead was at least as new as the one before.
    pub(crate) sorted: bool,
    /// Whether `_links.next` was present.
    pub(crate) has_next: bool,
}

impl Default for PageSeen {
    fn default() -> Self {
        PageSeen {
            last: None,
            sorted: true,
            has_next: false,
        }
    }
}

impl PageSeen {
    fn observe(&mut self, updated_at: i64) {
        if self.last.is_some_and(|prev| updated_at < prev) {
            self.sorted = false;
        }
        self.last = Some(updated_at);
    }
}

/// The next position and whether to ask again now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Next {
    pub(crate) position: Position,
    pub(crate) has_more: bool,
}

impl Next {
    fn page(self, records: Vec<Record>) -> Page {
        Page {
            records,
            next: Some(self.position.cursor()),
            has_more: self.has_more,
        }
    }
}

impl Position {
    fn read(
        cursor: Option<&Cursor>,
        start: DateTime<Utc>,
        endpoint: &str,
    ) -> Result<Self, ConnectorError> {
        let Some(Cursor(v)) = cursor else {
            return Ok(Position {
                from: start.timestamp(),
                page: 1,
            });
        };
        let from = cursor_int(v, "from", endpoint)?;
        let page = cursor_int(v, "page", endpoint)?;
        let page = u32::try_from(page)
            .ok()
            .filter(|&p| p >= 1)
            .ok_or_else(|| bad_cursor(endpoint, v, "page"))?;
        Ok(Position { from, page })
    }

    pub(crate) fn cursor(self) -> Cursor {
        Cursor(json!({ "from": self.from, "page": self.page }))
    }

    /// The position after a page (see the crate docs for why):
    /// - more pages and the window can move (`L - 1 > from`): restart at page 1 of `from = L - 1`;
    /// - more pages all in one second: next page under the same `from`;
    /// - the last page: `from = L - 1` (never backwards), page 1, for the next run;
    /// - nothing (204): page 1 of the same `from`;
    /// - leads out of order (filter or order not honoured): never move `from`, only the page.
    pub(crate) fn after(self, seen: &PageSeen) -> Next {
        let Some(last) = seen.last else {
            return Next {
                position: Position {
                    from: self.from,
                    page: 1,
                },
                has_more: false,
            };
        };
        let moved = Position {
            from: last.saturating_sub(1),
            page: 1,
        };
        let position = match (seen.sorted, seen.has_next) {
            (true, true) if moved.from > self.from => moved,
            (_, true) => Position {
                from: self.from,
                page: self.page.saturating_add(1),
            },
            (true, false) if moved.from > self.from => moved,
            (_, false) => Position {
                from: self.from,
                page: 1,
            },
        };
        Next {
            position,
            has_more: seen.has_next,
        }
    }
}

/// Where the deleted-leads stream stands. The order of `/api/v4/events` is not documented, so
/// `from` stays fixed while a window is paged through (events never change, so pages do not
/// shift under it except by new events, which at worst repeat one) and only moves, to the newest
/// `created_at` seen minus one second, after the window's last page.
/// Stored as `{"from": <unix seconds>, "page": <n>}` plus `"newest"` inside a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EventsPosition {
    pub(crate) from: i64,
    pub(crate) page: u32,
    pub(crate) newest: Option<i64>,
}

impl EventsPosition {
    fn read(
        cursor: Option<&Cursor>,
        start: DateTime<Utc>,
        endpoint: &str,
    ) -> Result<Self, ConnectorError> {
        let Some(Cursor(v)) = cursor else {
            return Ok(EventsPosition {
                from: start.timestamp(),
                page: 1,
                newest: None,
            });
        };
        let p = Position::read(cursor, start, endpoint)?;
        let newest = match v.get("newest") {
            None | Some(serde_json::Value::Null) => None,
            Some(n) => Some(
                n.as_i64()
                    .ok_or_else(|| bad_cursor(endpoint, v, "newest"))?,
            ),
        };
        Ok(EventsPosition {
            from: p.from,
            page: p.page,
            newest,
        })
    }

    pub(crate) fn after(self, page_newest: Option<i64>, has_next: bool) -> EventsNext {
        let newest = self.newest.max(page_newest);
        let position = if has_next {
            EventsPosition {
                from: self.from,
                page: self.page.saturating_add(1),
                newest,
            }
        } else {
            EventsPosition {
                from: newest.map_or(self.from, |n| n.saturating_sub(1).max(self.from)),
                page: 1,
                newest: None,
            }
        };
        EventsNext {
            position,
            has_more: has_next,
        }
    }
}

pub(crate) struct EventsNext {
    pub(crate) position: EventsPosition,
    pub(crate) has_more: bool,
}

impl EventsNext {
    fn page(self, records: Vec<Record>) -> Page {
        let p = self.position;
        let cursor = match p.newest {
            Some(n) => json!({ "from": p.from, "page": p.page, "newest": n }),
            None => json!({ "from": p.from, "page": p.page }),
        };
        Page {
            records,
            next: Some(Cursor(cursor)),
            has_more: self.has_more,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(from: i64, page: u32) -> Position {
        Position { from, page }
    }

    fn seen(last: Option<i64>, sorted: bool, has_next: bool) -> PageSeen {
        PageSeen {
            last,
            sorted,
            has_next,
        }
    }

    #[test]
    fn a_page_that_moves_time_restarts_at_page_one_a_second_early() {
        let n = pos(1000, 1).after(&seen(Some(1500), true, true));
        assert_eq!(n.position, pos(1499, 1));
        assert!(n.has_more);
        // Resumed from a later page of the same window, the same rule applies.
        let n = pos(1000, 3).after(&seen(Some(1500), true, true));
        assert_eq!(n.position, pos(1499, 1));
    }

    #[test]
    fn a_full_page_within_one_second_goes_to_the_next_page() {
        // L - 1 == from: the window cannot move without skipping the rest of that second.
        let n = pos(1499, 1).after(&seen(Some(1500), true, true));
        assert_eq!(n.position, pos(1499, 2));
        assert!(n.has_more);
        let n = pos(1499, 2).after(&seen(Some(1499), true, true));
        assert_eq!(n.position, pos(1499, 3));
    }

    #[test]
    fn the_last_page_leaves_the_window_for_the_next_run() {
        let n = pos(1000, 2).after(&seen(Some(1500), true, false));
        assert_eq!(n.position, pos(1499, 1));
        assert!(!n.has_more);
        // Never backwards.
        let n = pos(1499, 4).after(&seen(Some(1499), true, false));
        assert_eq!(n.position, pos(1499, 1));
        // 204 after the last page of a same-second run.
        let n = pos(1499, 5).after(&PageSeen::default());
        assert_eq!(n.position, pos(1499, 1));
        assert!(!n.has_more);
    }

    #[test]
    fn unsorted_pages_never_move_the_window() {
        let n = pos(1000, 1).after(&seen(Some(5000), false, true));
        assert_eq!(n.position, pos(1000, 2));
        let n = pos(1000, 2).after(&seen(Some(5000), false, false));
        assert_eq!(n.position, pos(1000, 1));
    }

    #[test]
    fn events_move_only_after_the_window() {
        let p = EventsPosition {
            from: 100,
            page: 1,
            newest: None,
        };
        let n = p.after(Some(500), true);
        assert_eq!(
            n.position,
            EventsPosition {
                from: 100,
                page: 2,
                newest: Some(500)
            }
        );
        let n = n.position.after(Some(300), false);
        assert_eq!(
            n.position,
            EventsPosition {
                from: 499,
                page: 1,
                newest: None
            }
        );
        let empty = EventsPosition {
            from: 100,
            page: 1,
            newest: None,
        }
        .after(None, false);
        assert_eq!(empty.position.from, 100);
    }

    #[test]
    fn html_403_is_a_block_json_403_is_not() {
        let html = ConnectorError::Auth {
            endpoint: "leads",
            status: 403,
            message: "<html>\r\n<head><title>403 Forbidden</title></head>".into(),
        };
        let b = blocked(&html).expect("blocked");
        assert_eq!(b.class(), "permanent");
        assert!(b.to_string().contains("support"), "{b}");
        let json = ConnectorError::Auth {
            endpoint: "users",
            status: 403,
            message: r#"{"title":"Forbidden","status":403}"#.into(),
        };
        assert!(blocked(&json).is_none());
    }
}
