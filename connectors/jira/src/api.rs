//! Endpoints, the page protocol of each stream and the per-instance caches. Each stream
//! function fetches exactly one page of the stream (plus the few lookups that page needs).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use okno_connector::http::HttpResponse;
use okno_connector::reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION};
use okno_connector::{ConnectorError, Cursor, HttpClient, Page, Record, StatusCategory};
use serde::de::DeserializeSeed;
use serde_json::json;
use serde_json::value::RawValue;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::config::{Credentials, Deployment, Settings};
use crate::cursor::{window, IssuesCursor, Scan, Zone, OVERLAP_MS};
use crate::model::{self, ChangelogPage, Fields, FieldsSeed, Issue, SearchPage};
use crate::normalize::{self, TaskInput, Transition};

/// The one request budget.
pub(crate) const BUCKET: &str = "api";
/// Issues per search page.
pub(crate) const PAGE_SIZE: u64 = 100;
/// Changelog entries per page of `/rest/api/3/issue/{id}/changelog` (its maximum).
const CHANGELOG_PAGE: u64 = 100;
/// Users per page: Cloud allows 1000, newer Data Center versions 100.
const CLOUD_USERS_PAGE: u64 = 1000;
const DC_USERS_PAGE: u64 = 100;
/// Issue ids per `id in (...)` query of [`Api::issues_by_id`].
const IDS_PER_QUERY: usize = 50;
/// How long the account's time zone from `/myself` is reused.
const ZONE_TTL: Duration = Duration::from_secs(3600);
/// How often at most `/status` is read again to learn a status no issue showed.
const STATUS_TTL: Duration = Duration::from_secs(600);
/// The system fields every issue query asks for (`search/jql` returns only ids otherwise).
const SYSTEM_FIELDS: &[&str] = &[
    "summary",
    "status",
    "assignee",
    "reporter",
    "created",
    "updated",
    "resolutiondate",
    "labels",
    "components",
    "project",
    "issuetype",
];

/// The REST paths of one deployment.
struct Paths {
    search: &'static str,
    myself: &'static str,
    status: &'static str,
    users: &'static str,
}

const CLOUD: Paths = Paths {
    search: "/rest/api/3/search/jql",
    myself: "/rest/api/3/myself",
    status: "/rest/api/3/status",
    users: "/rest/api/3/users/search",
};

const DATA_CENTER: Paths = Paths {
    search: "/rest/api/2/search",
    myself: "/rest/api/2/myself",
    status: "/rest/api/2/status",
    users: "/rest/api/2/user/search",
};

/// What `/myself` says, owned.
pub(crate) struct Myself {
    pub id: Option<String>,
    pub name: Option<String>,
    pub time_zone: Option<String>,
}

/// One issue of a search page, parsed.
struct Parsed<'a> {
    issue: Issue<'a>,
    fields: Fields<'a>,
    raw: &'a RawValue,
    updated: DateTime<Utc>,
    updated_ms: i64,
}

pub(crate) struct Api {
    http: HttpClient,
    base: String,
    auth: HeaderValue,
    settings: Settings,
    paths: &'static Paths,
    /// `fields` of every issue query.
    fields: String,
    filter: Option<String>,
    zone: Mutex<Option<(Instant, Zone)>>,
    /// Status id → category, learned from issues and `/status`.
    categories: std::sync::Mutex<HashMap<String, StatusCategory>>,
    statuses_read: Mutex<Option<Instant>>,
    instance: String,
}

fn decode<'a, T: serde::Deserialize<'a>>(
    endpoint: &'static str,
    body: &'a [u8],
) -> Result<T, ConnectorError> {
    serde_json::from_slice(body).map_err(|e| ConnectorError::decode(endpoint, e))
}

fn excerpt(raw: &RawValue) -> String {
    raw.get().chars().take(120).collect()
}

fn bad_cursor(value: &serde_json::Value, why: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::Invalid(format!(
        "issues: stored cursor {value} is not readable ({why}); run `okno sync <instance> --stream issues --full` to start over"
    ))
}

impl Api {
    pub(crate) fn new(
        http: HttpClient,
        settings: Settings,
        instance: &str,
    ) -> Result<Self, String> {
        use base64::Engine;
        use okno_connector::ExposeSecret;
        let value = match &settings.credentials {
            Credentials::Basic { email, api_token } => format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD
                    .encode(format!("{email}:{}", api_token.expose_secret()))
            ),
            Credentials::Bearer(token) => format!("Bearer {}", token.expose_secret().trim()),
        };
        let mut auth = HeaderValue::from_str(&value)
            .map_err(|_| "the credentials contain characters an HTTP header cannot carry")?;
        auth.set_sensitive(true);
        let mut fields: Vec<&str> = SYSTEM_FIELDS.to_vec();
        for f in [&settings.campaign_field, &settings.estimate_field]
            .into_iter()
            .flatten()
        {
            if !fields.contains(&f.as_str()) {
                fields.push(f);
            }
        }
        let fields = fields.join(",");
        Ok(Api {
            http,
            base: settings.base_url.as_str().trim_end_matches('/').to_string(),
            auth,
            paths: match settings.deployment {
                Deployment::Cloud => &CLOUD,
                Deployment::DataCenter => &DATA_CENTER,
            },
            fields,
            filter: settings.filter(),
            settings,
            zone: Mutex::new(None),
            categories: std::sync::Mutex::new(HashMap::new()),
            statuses_read: Mutex::new(None),
            instance: instance.to_string(),
        })
    }

    fn cloud(&self) -> bool {
        self.settings.deployment == Deployment::Cloud
    }

    async fn get(
        &self,
        endpoint: &'static str,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<HttpResponse, ConnectorError> {
        let url = format!("{}{path}", self.base);
        let auth = &self.auth;
        self.http
            .send(endpoint, BUCKET, |c| {
                c.get(&url)
                    .query(query)
                    .header(AUTHORIZATION, auth.clone())
                    .header(ACCEPT, "application/json")
            })
            .await
            .map_err(|e| self.explain(e))
    }

    /// Adds what the operator can do about an error.
    fn explain(&self, e: ConnectorError) -> ConnectorError {
        match e {
            ConnectorError::Auth {
                endpoint,
                status,
                message,
            } => {
                let hint = match (status, self.cloud()) {
                    (401, true) => "check `email` and `api_token` (API tokens expire; create a new one at id.atlassian.com)",
                    (401, false) => "check `personal_access_token` (it may have expired or been revoked)",
                    _ => "the account lacks a permission this needs (Browse projects; Browse users and groups for `users`)",
                };
                ConnectorError::Auth {
                    endpoint,
                    status,
                    message: format!("{message} ({hint})"),
                }
            }
            ConnectorError::Permanent {
                endpoint,
                status: 400,
                message,
            } if endpoint.starts_with("search") => ConnectorError::Permanent {
                endpoint,
                status: 400,
                message: format!(
                    "{message} (Jira refused the JQL; check the `jql` and `projects` settings)"
                ),
            },
            ConnectorError::Permanent {
                endpoint,
                status: 410,
                message,
            } => ConnectorError::Permanent {
                endpoint,
                status: 410,
                message: format!(
                    "{message} (this Jira removed the endpoint; is `deployment` right for it?)"
                ),
            },
            other => other,
        }
    }

    // -----------------------------------------------------------------------------------------
    // account, time zone, statuses

    pub(crate) async fn myself(&self) -> Result<Myself, ConnectorError> {
        const EP: &str = "myself";
        let resp = self.get(EP, self.paths.myself, &[]).await?;
        let u: model::User = decode(EP, &resp.body)?;
        Ok(Myself {
            id: u.user_id().map(str::to_string),
            name: u.display_name.as_deref().map(str::to_string),
            time_zone: u.time_zone.as_deref().map(str::to_string),
        })
    }

    fn zone_of(&self, me: &Myself) -> Zone {
        match me.time_zone.as_deref().map(str::trim) {
            Some(name) if !name.is_empty() => match name.parse::<Tz>() {
                Ok(tz) => Zone::Named(tz),
                Err(_) => {
                    tracing::warn!(instance = %self.instance, zone = name, "Jira names a time zone chrono-tz does not know; JQL windows start 12 hours early (set `time_zone`)");
                    Zone::Unknown
                }
            },
            _ => {
                tracing::warn!(instance = %self.instance, "/myself shows no time zone; JQL windows start 12 hours early (set `time_zone` to the account's Jira time zone)");
                Zone::Unknown
            }
        }
    }

    /// The zone JQL dates are read in: the setting, else `/myself` (cached for an hour).
    pub(crate) async fn zone(&self) -> Result<Zone, ConnectorError> {
        if let Some(tz) = self.settings.time_zone {
            return Ok(Zone::Named(tz));
        }
        let mut guard = self.zone.lock().await;
        if let Some((at, zone)) = *guard {
            if at.elapsed() < ZONE_TTL {
                return Ok(zone);
            }
        }
        let me = self.myself().await?;
        let zone = self.zone_of(&me);
        *guard = Some((Instant::now(), zone));
        Ok(zone)
    }

    pub(crate) async fn check(&self) -> Result<String, ConnectorError> {
        let me = self.myself().await?;
        let zone = match self.settings.time_zone {
            Some(tz) => format!("{} (configured)", tz.name()),
            None => {
                let z = self.zone_of(&me);
                *self.zone.lock().await = Some((Instant::now(), z));
                match z {
                    Zone::Named(tz) => tz.name().to_string(),
                    Zone::Unknown => "unknown".to_string(),
                }
            }
        };
        Ok(format!(
            "Jira {} {} as {} ({}), JQL time zone {zone}",
            if self.cloud() { "Cloud" } else { "Data Center" },
            self.base,
            me.name.as_deref().unwrap_or("(no name)"),
            me.id.as_deref().unwrap_or("?"),
        ))
    }

    /// Reads `/status` again (at most every [`STATUS_TTL`]) to learn statuses no issue showed.
    async fn refresh_statuses(&self) -> Result<(), ConnectorError> {
        const EP: &str = "status";
        let mut guard = self.statuses_read.lock().await;
        if guard.is_some_and(|at| at.elapsed() < STATUS_TTL) {
            return Ok(());
        }
        *guard = Some(Instant::now());
        let resp = match self.get(EP, self.paths.status, &[]).await {
            Ok(r) => r,
            Err(e @ (ConnectorError::Permanent { .. } | ConnectorError::Decode { .. })) => {
                tracing::warn!(instance = %self.instance, error = %e, "cannot read Jira statuses; changes into unknown statuses are ignored for started/done times");
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let statuses: Vec<model::Status> = match decode(EP, &resp.body) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(instance = %self.instance, error = %e, "unreadable Jira statuses; changes into unknown statuses are ignored for started/done times");
                return Ok(());
            }
        };
        let mut cats = self.categories.lock().unwrap_or_else(|p| p.into_inner());
        for s in &statuses {
            if let Some(id) = &s.id {
                let key = s.status_category.as_ref().and_then(|c| c.key.as_deref());
                cats.insert(id.as_str().to_string(), normalize::category(key));
            }
        }
        Ok(())
    }

    fn learn(&self, parsed: &[Parsed<'_>]) {
        let mut cats = self.categories.lock().unwrap_or_else(|p| p.into_inner());
        for p in parsed {
            if let Some(s) = &p.fields.status {
                if let Some(id) = &s.id {
                    let key = s.status_category.as_ref().and_then(|c| c.key.as_deref());
                    if !cats.contains_key(id.as_str()) {
                        cats.insert(id.as_str().to_string(), normalize::category(key));
                    }
                }
            }
        }
    }

    /// The known categories, after one `/status` read if some transition names a status never
    /// seen.
    async fn categories_for(
        &self,
        transitions: &[Vec<Transition>],
    ) -> Result<HashMap<String, StatusCategory>, ConnectorError> {
        let unknown = {
            let cats = self.categories.lock().unwrap_or_else(|p| p.into_inner());
            transitions.iter().flatten().any(|t| {
                [&t.from, &t.to]
                    .into_iter()
                    .flatten()
                    .any(|id| !cats.contains_key(id))
            })
        };
        if unknown {
            self.refresh_statuses().await?;
        }
        Ok(self
            .categories
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone())
    }

    // -----------------------------------------------------------------------------------------
    // issues

    fn issues_jql(&self, from_local: &str) -> String {
        match &self.filter {
            Some(f) => format!("{f} AND updated >= \"{from_local}\" ORDER BY updated ASC, id ASC"),
            None => format!("updated >= \"{from_local}\" ORDER BY updated ASC, id ASC"),
        }
    }

    /// One search request: Cloud pages with `nextPageToken`, Data Center with `startAt`.
    async fn search(
        &self,
        jql: &str,
        token: Option<&str>,
        start_at: u64,
    ) -> Result<HttpResponse, ConnectorError> {
        let mut query = vec![
            ("jql", jql.to_string()),
            ("fields", self.fields.clone()),
            ("expand", "changelog".to_string()),
            ("maxResults", PAGE_SIZE.to_string()),
        ];
        if self.cloud() {
            if let Some(t) = token {
                query.push(("nextPageToken", t.to_string()));
            }
            self.get("search/jql", self.paths.search, &query).await
        } else {
            query.push(("startAt", start_at.to_string()));
            self.get("search", self.paths.search, &query).await
        }
    }

    fn parse_issues<'a>(
        &self,
        endpoint: &'static str,
        items: &[&'a RawValue],
    ) -> Result<Vec<Parsed<'a>>, ConnectorError> {
        let seed = || FieldsSeed {
            campaign: self.settings.campaign_field.as_deref(),
            estimate: self.settings.estimate_field.as_deref(),
        };
        items
            .iter()
            .map(|raw| {
                let issue: Issue<'a> = serde_json::from_str(raw.get()).map_err(|e| {
                    ConnectorError::decode(endpoint, format!("{e} in issue {}…", excerpt(raw)))
                })?;
                let fields = match issue.fields {
                    Some(f) => seed()
                        .deserialize(&mut serde_json::Deserializer::from_str(f.get()))
                        .map_err(|e| {
                            ConnectorError::decode(
                                endpoint,
                                format!("{e} in the fields of issue {}", issue.id.as_str()),
                            )
                        })?,
                    None => Fields::default(),
                };
                let updated = fields
                    .updated
                    .as_deref()
                    .and_then(normalize::parse_time)
                    .ok_or_else(|| {
                        ConnectorError::decode(
                            endpoint,
                            format!(
                                "issue {} has no readable `updated` ({:?})",
                                issue.id.as_str(),
                                fields.updated.as_deref()
                            ),
                        )
                    })?;
                Ok(Parsed {
                    updated_ms: updated.timestamp_millis(),
                    issue,
                    fields,
                    raw,
                    updated,
                })
            })
            .collect()
    }

    /// The status changes of an issue: from its expanded changelog, or fetched whole when Jira
    /// cut the expanded one short (Cloud's enhanced search keeps 40 histories).
    async fn status_changes(&self, p: &Parsed<'_>) -> Result<Vec<Transition>, ConnectorError> {
        let mut out = Vec::new();
        if let Some(cl) = &p.issue.changelog {
            let histories = cl.histories.as_deref().unwrap_or_default();
            if cl.total.is_none_or(|t| t as usize <= histories.len()) {
                normalize::transitions(histories, &mut out);
                return Ok(out);
            }
        } else {
            // No changelog at all (not expanded): nothing to read, and not worth a request.
            return Ok(out);
        }
        self.full_changelog(p.issue.id.as_str(), &mut out).await?;
        Ok(out)
    }

    async fn full_changelog(
        &self,
        issue_id: &str,
        out: &mut Vec<Transition>,
    ) -> Result<(), ConnectorError> {
        if !issue_id.bytes().all(|b| b.is_ascii_digit()) || issue_id.is_empty() {
            return Err(ConnectorError::decode(
                "issue/changelog",
                format!("issue id {issue_id:?} is not a Jira id"),
            ));
        }
        if self.cloud() {
            const EP: &str = "issue/changelog";
            let path = format!("/rest/api/3/issue/{issue_id}/changelog");
            let mut start = 0u64;
            for _ in 0..1000 {
                let query = [
                    ("startAt", start.to_string()),
                    ("maxResults", CHANGELOG_PAGE.to_string()),
                ];
                let resp = self.get(EP, &path, &query).await?;
                let page: ChangelogPage = decode(EP, &resp.body)?;
                let values = page.values.as_deref().unwrap_or_default();
                normalize::transitions(values, out);
                start += values.len() as u64;
                let done = values.is_empty()
                    || page.is_last == Some(true)
                    || page.total.is_some_and(|t| start >= t);
                if done {
                    return Ok(());
                }
            }
            Ok(())
        } else {
            const EP: &str = "issue";
            let path = format!("/rest/api/2/issue/{issue_id}");
            let query = [
                ("fields", "status".to_string()),
                ("expand", "changelog".to_string()),
            ];
            let resp = self.get(EP, &path, &query).await?;
            let issue: Issue = decode(EP, &resp.body)?;
            if let Some(cl) = &issue.changelog {
                normalize::transitions(cl.histories.as_deref().unwrap_or_default(), out);
            }
            Ok(())
        }
    }

    /// Tasks of these parsed issues (their changelogs completed where cut short).
    async fn tasks(&self, parsed: Vec<Parsed<'_>>) -> Result<Vec<Record>, ConnectorError> {
        let mut changes = Vec::with_capacity(parsed.len());
        for p in &parsed {
            changes.push(self.status_changes(p).await?);
        }
        let categories = self.categories_for(&changes).await?;
        Ok(parsed
            .iter()
            .zip(changes)
            .map(|(p, transitions)| {
                Record::Task(Box::new(normalize::task(
                    TaskInput {
                        issue: &p.issue,
                        fields: &p.fields,
                        raw: p.raw,
                        updated: p.updated,
                        transitions,
                    },
                    &categories,
                    &self.instance,
                )))
            })
            .collect())
    }

    pub(crate) async fn issues_page(
        &self,
        cursor: Option<&Cursor>,
        start: DateTime<Utc>,
    ) -> Result<Page, ConnectorError> {
        let endpoint = if self.cloud() { "search/jql" } else { "search" };
        let zone = self.zone().await?;
        let mut state = match cursor {
            None => IssuesCursor {
                since_ms: start.timestamp_millis(),
                seen: Vec::new(),
                scan: None,
            },
            Some(Cursor(v)) => {
                serde_json::from_value::<IssuesCursor>(v.clone()).map_err(|e| bad_cursor(v, e))?
            }
        };
        let mut scan = match state.scan.take() {
            Some(s) => s,
            None => {
                let target = if cursor.is_none() {
                    state.since_ms
                } else {
                    state.since_ms - OVERLAP_MS
                };
                Scan::new(window(target, zone))
            }
        };
        let jql = self.issues_jql(&scan.from_local);
        let resp = self
            .search(&jql, scan.token.as_deref(), scan.start_at)
            .await?;
        let page: SearchPage = decode(endpoint, &resp.body)?;
        let parsed = self.parse_issues(endpoint, page.issues())?;
        self.learn(&parsed);

        let page_max = parsed.iter().map(|p| p.updated_ms).max();
        let n = parsed.len() as u64;
        let fresh: Vec<Parsed<'_>> = {
            let seen: HashSet<(&str, i64)> = state
                .seen
                .iter()
                .map(|(id, ms)| (id.as_str(), *ms))
                .collect();
            let mut on_page: HashSet<(String, i64)> = HashSet::new();
            parsed
                .into_iter()
                .filter(|p| {
                    let key = (p.issue.id.as_str(), p.updated_ms);
                    !seen.contains(&key) && on_page.insert((key.0.to_string(), key.1))
                })
                .collect()
        };
        for p in &fresh {
            state.since_ms = state.since_ms.max(p.updated_ms);
            state
                .seen
                .push((p.issue.id.as_str().to_string(), p.updated_ms));
        }
        let records = self.tasks(fresh).await?;

        let more = if self.cloud() {
            page.next_page_token.is_some()
                && page.is_last != Some(true)
                && !(n == 0 && page.next_page_token == scan.token)
        } else {
            let at = page.start_at.unwrap_or(scan.start_at);
            n > 0 && page.total.is_some_and(|t| at + n < t)
        };
        let has_more = if more {
            // Move the window up to the page's newest minute when that reads fewer issues
            // again than it skips; keep paging the same query only inside one minute.
            let moved = page_max
                .map(|ms| window(ms, zone))
                .filter(|w| w.earliest_ms > scan.from_latest_ms);
            scan = match moved {
                Some(w) => Scan::new(w),
                None => Scan {
                    token: page.next_page_token.clone(),
                    start_at: page.start_at.unwrap_or(scan.start_at) + n,
                    ..scan
                },
            };
            state.scan = Some(scan);
            true
        } else {
            false
        };
        state.prune();
        let next = serde_json::to_value(&state)
            .map_err(|e| ConnectorError::Invalid(format!("cannot store the cursor: {e}")))?;
        Ok(Page {
            records,
            next: Some(Cursor(next)),
            has_more,
        })
    }

    /// Issues by id (webhooks), within the configured projects and JQL; ids Jira no longer has,
    /// or that fall outside the filter, are left out.
    pub(crate) async fn issues_by_id(&self, ids: &[String]) -> Result<Page, ConnectorError> {
        let endpoint = if self.cloud() { "search/jql" } else { "search" };
        let mut numeric: Vec<&str> = Vec::with_capacity(ids.len());
        for id in ids {
            let id = id.trim();
            if id.is_empty() || id.len() > 19 || !id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ConnectorError::Invalid(format!(
                    "{id:?} is not a Jira issue id"
                )));
            }
            if !numeric.contains(&id) {
                numeric.push(id);
            }
        }
        let mut records = Vec::new();
        for chunk in numeric.chunks(IDS_PER_QUERY) {
            let ids = format!("id in ({})", chunk.join(", "));
            let jql = match &self.filter {
                Some(f) => format!("{ids} AND {f}"),
                None => ids,
            };
            let mut token: Option<String> = None;
            let mut start_at = 0u64;
            for _ in 0..100 {
                let resp = self.search(&jql, token.as_deref(), start_at).await?;
                let page: SearchPage = decode(endpoint, &resp.body)?;
                let parsed = self.parse_issues(endpoint, page.issues())?;
                self.learn(&parsed);
                let n = parsed.len() as u64;
                records.extend(self.tasks(parsed).await?);
                let more = if self.cloud() {
                    page.next_page_token.is_some() && page.is_last != Some(true) && n > 0
                } else {
                    n > 0 && page.total.is_some_and(|t| start_at + n < t)
                };
                if !more {
                    break;
                }
                token = page.next_page_token;
                start_at += n;
            }
        }
        Ok(Page {
            records,
            next: None,
            has_more: false,
        })
    }

    // -----------------------------------------------------------------------------------------
    // users

    /// One page of users, read whole every run (the cursor only carries the offset inside a run).
    pub(crate) async fn users_page(&self, cursor: Option<&Cursor>) -> Result<Page, ConnectorError> {
        let endpoint = if self.cloud() {
            "users/search"
        } else {
            "user/search"
        };
        let start_at = match cursor {
            None => 0,
            Some(Cursor(v)) => v
                .get("start_at")
                .and_then(|p| p.as_u64())
                .ok_or_else(|| {
                    ConnectorError::Invalid(format!(
                        "users: stored cursor {v} has no start_at; run `okno sync <instance> --stream users --full`"
                    ))
                })?,
        };
        let (limit, query) = if self.cloud() {
            (
                CLOUD_USERS_PAGE,
                vec![
                    ("startAt", start_at.to_string()),
                    ("maxResults", CLOUD_USERS_PAGE.to_string()),
                ],
            )
        } else {
            (
                DC_USERS_PAGE,
                vec![
                    ("username", ".".to_string()),
                    ("includeActive", "true".to_string()),
                    ("includeInactive", "true".to_string()),
                    ("startAt", start_at.to_string()),
                    ("maxResults", DC_USERS_PAGE.to_string()),
                ],
            )
        };
        let resp = self.get(endpoint, self.paths.users, &query).await?;
        let items: Vec<&RawValue> = decode(endpoint, &resp.body)?;
        let mut records = Vec::with_capacity(items.len());
        for raw in &items {
            let u: model::User = serde_json::from_str(raw.get()).map_err(|e| {
                ConnectorError::decode(endpoint, format!("{e} in user {}…", excerpt(raw)))
            })?;
            if let Some(identity) = normalize::identity(&u, raw) {
                records.push(Record::Identity(identity));
            }
        }
        let n = items.len() as u64;
        // Cloud may return fewer than asked before the end (privacy filtering), so it pages
        // until an empty answer; Data Center pages until a short one.
        let more = if self.cloud() { n > 0 } else { n >= limit };
        if !self.cloud() && more && start_at + n >= 100 && start_at == 0 {
            tracing::debug!(instance = %self.instance, "Data Center user search returned a full page; newer versions cap it at the first 100 users");
        }
        Ok(Page {
            records,
            next: more.then(|| Cursor(json!({ "start_at": start_at + n }))),
            has_more: more,
        })
    }
}
