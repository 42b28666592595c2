//! Endpoints, authentication of each call, pagination and the metadata caches. Each
//! `*_page` function fetches exactly one page.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use okno_connector::http::HttpResponse;
use okno_connector::reqwest::header::{HeaderValue, AUTHORIZATION, IF_MODIFIED_SINCE};
use okno_connector::reqwest::{Method, StatusCode};
use okno_connector::{
    ConnectorError, Cursor, ExposeSecret, HttpClient, OAuthSession, Page, Record, SecretString,
};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use url::Url;

use crate::config::Settings;
use crate::model::{self, RecordPage, UserPage};
use crate::normalize::{self, Context, Fields, Module, ModuleMeta, OrgFacts};
use crate::API_VERSION;

/// Records per page; Zoho's maximum for every list used here.
pub(crate) const PER_PAGE: u32 = 200;
/// `page` reaches only the first 2,000 records (10 × 200); past that Zoho wants `page_token`.
pub(crate) const MAX_DISCRETE_PAGE: u32 = 10;
/// Ids per `GET /{Module}?ids=` request (Zoho does not document a maximum; its Users API
/// takes 100).
pub(crate) const IDS_PER_REQUEST: usize = 100;
/// How long field metadata (stage forecast types, which fields exist) is reused.
const META_TTL: Duration = Duration::from_secs(10 * 60);
/// How long the org's facts (home currency, time zone) are reused.
const ORG_TTL: Duration = Duration::from_secs(60 * 60);
/// Overlap subtracted from the last modification time seen, so records modified within the
/// same second as the last one are not missed (they are read twice; the store upserts).
const OVERLAP_SECS: i64 = 1;

/// The scopes a grant code needs for everything this connector does.
pub(crate) const SCOPES: &str = "ZohoCRM.modules.leads.READ,ZohoCRM.modules.deals.READ,ZohoCRM.users.READ,ZohoCRM.org.READ,ZohoCRM.settings.fields.READ,ZohoCRM.notifications.ALL";

/// Fields requested for every Lead: what normalisation reads. Only these (plus `id`) come back.
const LEAD_FIELDS: &[&str] = &[
    "Full_Name",
    "First_Name",
    "Last_Name",
    "Company",
    "Lead_Status",
    "Lead_Source",
    "Owner",
    "Created_Time",
    "Modified_Time",
    "$converted_detail",
];
/// Requested when the module's field metadata lists them, or when there is no metadata:
/// `Currency`/`Exchange_Rate` exist only with multi-currency on; `Converted_Deal` is known
/// only from Zoho's SDK field list.
const LEAD_OPTIONAL: &[&str] = &["Currency", "Exchange_Rate", "Converted_Deal"];
const DEAL_FIELDS: &[&str] = &[
    "Deal_Name",
    "Stage",
    "Amount",
    "Closing_Date",
    "Lead_Source",
    "Owner",
    "Created_Time",
    "Modified_Time",
];
const DEAL_OPTIONAL: &[&str] = &["Currency", "Exchange_Rate", "Pipeline"];
/// Zoho refuses more (`LIMIT_EXCEEDED`).
const MAX_FIELDS: usize = 50;

struct Cached<T> {
    at: tokio::time::Instant,
    value: T,
}

impl<T> Cached<T> {
    fn fresh(&self, ttl: Duration) -> bool {
        self.at.elapsed() < ttl
    }
}

/// One request, rebuilt for a retry with a new token.
pub(crate) struct Req<'a> {
    pub(crate) method: Method,
    /// Below `/crm/{version}`, e.g. `/Leads`.
    pub(crate) path: String,
    pub(crate) query: Vec<(&'static str, String)>,
    pub(crate) if_modified_since: Option<DateTime<Utc>>,
    pub(crate) json: Option<&'a serde_json::Value>,
}

impl Req<'_> {
    pub(crate) fn get(path: impl Into<String>, query: Vec<(&'static str, String)>) -> Req<'static> {
        Req {
            method: Method::GET,
            path: path.into(),
            query,
            if_modified_since: None,
            json: None,
        }
    }
}

pub(crate) struct Api {
    pub(crate) http: HttpClient,
    pub(crate) settings: Settings,
    pub(crate) session: OAuthSession,
    pub(crate) instance: String,
    org: tokio::sync::Mutex<Option<Cached<Option<Arc<OrgFacts>>>>>,
    meta: tokio::sync::Mutex<HashMap<Module, Cached<Option<Arc<ModuleMeta>>>>>,
}

/// Where a module walk stands. `since` is the `If-Modified-Since` of the whole walk (page
/// tokens are bound to the request they came from), `max_modified` the latest `Modified_Time`
/// seen so far in it.
#[derive(Serialize, Deserialize, Default, Debug)]
struct ModuleCursor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    since: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    page: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    page_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_modified: Option<String>,
}

/// Where the deleted-records walk stands: per module its own `since`; mid-walk the module,
/// page and latest deletion time seen in it.
#[derive(Serialize, Deserialize, Default, Debug)]
struct DeletedCursor {
    #[serde(default)]
    since: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    module: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    page: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_deleted: Option<String>,
}

#[derive(Serialize, Deserialize, Default, Debug)]
struct UsersCursor {
    page: u32,
}

#[derive(Debug, Clone)]
enum Position {
    Page(u32),
    Token(String),
}

fn iso(t: DateTime<Utc>) -> String {
    // `2025-03-12T09:05:54+00:00`: ISO 8601 with an offset, as Zoho's examples write it.
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

fn parse_cursor<T: for<'de> Deserialize<'de> + Default>(
    cursor: Option<&Cursor>,
    stream: &str,
) -> Result<T, ConnectorError> {
    match cursor {
        None => Ok(T::default()),
        Some(Cursor(v)) => serde_json::from_value(v.clone()).map_err(|e| {
            ConnectorError::Invalid(format!(
                "zoho_crm {stream}: stored cursor {v} is not one this connector wrote ({e}); run `okno sync <instance> --stream {stream} --full` to start over"
            ))
        }),
    }
}

fn cursor_time(text: &str, stream: &str) -> Result<DateTime<Utc>, ConnectorError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            ConnectorError::Invalid(format!(
                "zoho_crm {stream}: stored cursor time {text:?} is invalid ({e}); run `okno sync <instance> --stream {stream} --full`"
            ))
        })
}

/// The `code` of a Zoho error body quoted in an error message (which may be cut short).
fn error_code(message: &str) -> Option<String> {
    if let Ok(e) = serde_json::from_str::<model::ApiError>(message) {
        return e.code;
    }
    let start = message.find("\"code\"")? + "\"code\"".len();
    let rest = message[start..]
        .trim_start()
        .strip_prefix(':')?
        .trim_start();
    let rest = rest.strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_string())
}

fn is_invalid_token(message: &str) -> bool {
    matches!(
        error_code(message).as_deref(),
        Some("INVALID_TOKEN" | "INVALID_OAUTHTOKEN")
    ) || message.contains("invalid oauth token")
}

/// Zoho refused a `page_token`: expired after 24 h, or no longer matching the request.
fn page_token_refused(e: &ConnectorError) -> bool {
    match e {
        ConnectorError::Permanent {
            status: 400,
            message,
            ..
        } => match error_code(message).as_deref() {
            Some("EXPIRED_VALUE" | "TOKEN_BOUND_DATA_MISMATCH") => true,
            Some("INVALID_DATA") => message.contains("page_token"),
            _ => false,
        },
        _ => false,
    }
}

fn is_code(e: &ConnectorError, code: &str) -> bool {
    match e {
        ConnectorError::Permanent { message, .. } => error_code(message).as_deref() == Some(code),
        _ => false,
    }
}

/// Adds what to do to the auth errors Zoho explains by code.
fn explain_auth(e: ConnectorError) -> ConnectorError {
    match e {
        ConnectorError::Auth {
            endpoint,
            status,
            message,
        } => {
            let hint = match error_code(&message).as_deref() {
                Some("OAUTH_SCOPE_MISMATCH") => format!(
                    " — the grant lacks a scope this call needs; generate a new grant code with the scopes {SCOPES} and run `okno auth zoho_crm <instance> --code CODE`"
                ),
                Some("AUTHENTICATION_FAILURE") | Some("INVALID_TOKEN") => {
                    " — the access token was refused; if this persists, run `okno auth zoho_crm <instance> --code CODE` with a new grant code".to_string()
                }
                Some("NO_PERMISSION") => {
                    " — the authorising user's profile lacks this permission in Zoho CRM".to_string()
                }
                _ => String::new(),
            };
            ConnectorError::Auth {
                endpoint,
                status,
                message: format!("{message}{hint}"),
            }
        }
        other => other,
    }
}

/// Whether a metadata failure should fail the page (the next run may succeed) or only be
/// logged (missing scope, unexpected shape: then the configured fallbacks are used).
fn passes_through(e: &ConnectorError) -> bool {
    matches!(
        e,
        ConnectorError::Transient { .. } | ConnectorError::RateLimited { .. }
    )
}

/// Decodes a body whose records are borrowed as raw JSON.
fn decode<'a, T: Deserialize<'a>>(
    endpoint: &'static str,
    body: &'a [u8],
) -> Result<T, ConnectorError> {
    serde_json::from_slice(body).map_err(|e| ConnectorError::decode(endpoint, e))
}

fn empty(resp: &HttpResponse) -> bool {
    resp.status == StatusCode::NOT_MODIFIED
        || resp.status == StatusCode::NO_CONTENT
        || resp.body.iter().all(u8::is_ascii_whitespace)
}

impl Api {
    pub(crate) fn new(
        http: HttpClient,
        settings: Settings,
        session: OAuthSession,
        instance: &str,
    ) -> Api {
        Api {
            http,
            settings,
            session,
            instance: instance.to_string(),
            org: tokio::sync::Mutex::new(None),
            meta: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The API base: `base_url` if configured, else the `api_domain` Zoho gave with the token,
    /// else the data centre's default.
    async fn base(&self) -> Result<String, ConnectorError> {
        if let Some(b) = &self.settings.base_url {
            return Ok(b.as_str().trim_end_matches('/').to_string());
        }
        if let Some(domain) = self.session.api_domain().await? {
            let url = Url::parse(domain.trim()).map_err(|e| {
                ConnectorError::Invalid(format!(
                    "the stored Zoho api_domain {domain:?} is not a URL ({e})"
                ))
            })?;
            // The token goes wherever api_domain points: only https, unless the accounts
            // server itself was overridden (tests, proxies).
            let ok = url.scheme() == "https"
                || (self.settings.accounts_overridden && url.scheme() == "http");
            if !ok {
                return Err(ConnectorError::Invalid(format!(
                    "the stored Zoho api_domain {domain:?} is not an https URL"
                )));
            }
            return Ok(url.as_str().trim_end_matches('/').to_string());
        }
        match &self.settings.default_api_domain {
            Some(d) => Ok(d.as_str().trim_end_matches('/').to_string()),
            None => Err(ConnectorError::Invalid(
                "no Zoho API domain: the stored token has none and data_centre is not set".into(),
            )),
        }
    }

    async fn send_once(
        &self,
        endpoint: &'static str,
        base: &str,
        req: &Req<'_>,
        token: &SecretString,
    ) -> Result<HttpResponse, ConnectorError> {
        let url = format!("{base}/crm/{API_VERSION}{}", req.path);
        let mut auth = HeaderValue::from_str(&format!("Zoho-oauthtoken {}", token.expose_secret()))
            .map_err(|_| ConnectorError::Auth {
                endpoint,
                status: 401,
                message: "the stored access token contains characters a header cannot carry".into(),
            })?;
        auth.set_sensitive(true);
        let since = req.if_modified_since.map(iso);
        self.http
            .send(endpoint, "api", |c| {
                let mut b = c
                    .request(req.method.clone(), &url)
                    .query(&req.query)
                    .header(AUTHORIZATION, auth.clone());
                if let Some(s) = &since {
                    b = b.header(IF_MODIFIED_SINCE, s.as_str());
                }
                if let Some(j) = req.json {
                    b = b.json(j);
                }
                b
            })
            .await
    }

    /// Sends `req` with the current access token; when Zoho answers 401 `INVALID_TOKEN` (the
    /// token was revoked, or pushed out by the 16th token minted), gets a new one and retries
    /// once.
    pub(crate) async fn call(
        &self,
        endpoint: &'static str,
        req: &Req<'_>,
    ) -> Result<HttpResponse, ConnectorError> {
        let token = self.session.access_token().await?;
        let base = self.base().await?;
        match self.send_once(endpoint, &base, req, &token).await {
            Err(ConnectorError::Auth {
                status: 401,
                ref message,
                ..
            }) if is_invalid_token(message) => {
                tracing::info!(instance = %self.instance, endpoint, "Zoho refused the access token; refreshing it once");
                let fresh = self.session.after_rejection(&token).await?;
                let base = self.base().await?;
                self.send_once(endpoint, &base, req, &fresh)
                    .await
                    .map_err(explain_auth)
            }
            other => other.map_err(explain_auth),
        }
    }

    // -----------------------------------------------------------------------------------------
    // metadata

    /// The org's facts, cached for an hour. `None` when Zoho would not tell (logged).
    pub(crate) async fn org(&self) -> Result<Option<Arc<OrgFacts>>, ConnectorError> {
        let mut cache = self.org.lock().await;
        if let Some(c) = cache.as_ref().filter(|c| c.fresh(ORG_TTL)) {
            return Ok(c.value.clone());
        }
        let value = match self.fetch_org().await {
            Ok(o) => Some(Arc::new(o)),
            Err(e) if passes_through(&e) => return Err(e),
            Err(e) => {
                tracing::warn!(instance = %self.instance, error = %e, "cannot read the Zoho org; records without a Currency get none and closing dates are read as UTC");
                None
            }
        };
        *cache = Some(Cached {
            at: tokio::time::Instant::now(),
            value: value.clone(),
        });
        Ok(value)
    }

    pub(crate) async fn fetch_org(&self) -> Result<OrgFacts, ConnectorError> {
        const EP: &str = "org";
        let resp = self.call(EP, &Req::get("/org", vec![])).await?;
        let env: model::OrgEnvelope = resp.json(EP)?;
        let org = env
            .org
            .first()
            .ok_or_else(|| ConnectorError::decode(EP, "the org list is empty"))?;
        Ok(OrgFacts::from_model(org))
    }

    /// Field metadata of `module`, cached for ten minutes. `None` when Zoho would not tell
    /// (logged): then the configured stage names decide won/lost.
    pub(crate) async fn module_meta(
        &self,
        module: Module,
    ) -> Result<Option<Arc<ModuleMeta>>, ConnectorError> {
        const EP: &str = "settings/fields";
        let mut cache = self.meta.lock().await;
        if let Some(c) = cache.get(&module).filter(|c| c.fresh(META_TTL)) {
            return Ok(c.value.clone());
        }
        let req = Req::get(
            "/settings/fields",
            vec![("module", module.api_name().to_string())],
        );
        let fetched = match self.call(EP, &req).await {
            Ok(resp) if empty(&resp) => Err(ConnectorError::decode(EP, "no field metadata")),
            Ok(resp) => resp
                .json::<model::FieldsEnvelope>(EP)
                .map(|f| ModuleMeta::from_model(&f)),
            Err(e) => Err(e),
        };
        let value = match fetched {
            Ok(m) => Some(Arc::new(m)),
            Err(e) if passes_through(&e) => return Err(e),
            Err(e) => {
                tracing::warn!(instance = %self.instance, module = module.api_name(), error = %e, "cannot read Zoho field metadata; deal stages are classified by won_stages/lost_stages and only configured fields are requested");
                None
            }
        };
        cache.insert(
            module,
            Cached {
                at: tokio::time::Instant::now(),
                value: value.clone(),
            },
        );
        Ok(value)
    }

    /// The `fields` parameter for `module`: what normalisation reads, the optional standard
    /// fields the org has, and the configured fields.
    pub(crate) fn field_list(&self, module: Module, meta: Option<&ModuleMeta>) -> String {
        let (base, optional) = match module {
            Module::Leads => (LEAD_FIELDS, LEAD_OPTIONAL),
            Module::Deals => (DEAL_FIELDS, DEAL_OPTIONAL),
        };
        let has = |name: &str| meta.is_none_or(|m| m.api_names.contains(name));
        let mut list: Vec<&str> = base.to_vec();
        list.extend(optional.iter().copied().filter(|f| has(f)));
        for f in self.settings.fields.all() {
            let wanted = match meta {
                Some(m) => m.api_names.contains(&f.api_name),
                // Without metadata only configured names are asked for, and only of Leads,
                // where marks live: Zoho may refuse a name the module lacks.
                None => f.configured && module == Module::Leads,
            };
            if wanted {
                list.push(&f.api_name);
            } else if f.configured && meta.is_some() {
                tracing::debug!(instance = %self.instance, module = module.api_name(), field = %f.api_name, "configured field is not a field of this module");
            }
        }
        let mut seen = std::collections::HashSet::new();
        list.retain(|f| seen.insert(*f));
        list.truncate(MAX_FIELDS);
        list.join(",")
    }

    // -----------------------------------------------------------------------------------------
    // Leads and Deals

    async fn list_records(
        &self,
        module: Module,
        fields: &str,
        since: DateTime<Utc>,
        position: &Position,
    ) -> Result<HttpResponse, ConnectorError> {
        let mut query = vec![
            ("fields", fields.to_string()),
            ("per_page", PER_PAGE.to_string()),
            ("sort_by", "Modified_Time".to_string()),
            ("sort_order", "asc".to_string()),
        ];
        if module == Module::Leads {
            // The default (`false`) hides converted leads.
            query.push(("converted", "both".to_string()));
        }
        match position {
            Position::Page(p) => query.push(("page", p.to_string())),
            Position::Token(t) => query.push(("page_token", t.clone())),
        }
        let req = Req {
            method: Method::GET,
            path: format!("/{}", module.api_name()),
            query,
            if_modified_since: Some(since),
            json: None,
        };
        self.call(module.api_name(), &req).await
    }

    /// Normalises a list of Lead or Deal records, reading the org and field metadata only if
    /// some record needs them.
    async fn leads(
        &self,
        module: Module,
        endpoint: &'static str,
        data: &[&RawValue],
        meta: Option<&ModuleMeta>,
    ) -> Result<Vec<okno_connector::Lead>, ConnectorError> {
        let needs_org = !data.is_empty()
            && (module == Module::Deals
                || data
                    .iter()
                    .any(|r| Fields::parse(r).is_ok_and(|f| !f.has("Currency"))));
        let org = if needs_org { self.org().await? } else { None };
        let ctx = Context {
            settings: &self.settings,
            org: org.as_deref(),
            meta,
        };
        data.iter()
            .map(|raw| {
                normalize::lead(module, raw, &ctx).map_err(|e| ConnectorError::decode(endpoint, e))
            })
            .collect()
    }

    pub(crate) async fn module_page(
        &self,
        module: Module,
        cursor: Option<&Cursor>,
        start: DateTime<Utc>,
    ) -> Result<Page, ConnectorError> {
        let stream = module.stream();
        let endpoint = module.api_name();
        let c: ModuleCursor = parse_cursor(cursor, stream)?;
        let mut since = match c.since.as_deref() {
            Some(s) => cursor_time(s, stream)?,
            None => start,
        };
        let max_seen = c
            .max_modified
            .as_deref()
            .map(|m| cursor_time(m, stream))
            .transpose()?;
        let mut position = match (c.page, c.page_token) {
            (Some(_), Some(_)) => {
                return Err(ConnectorError::Invalid(format!(
                    "zoho_crm {stream}: stored cursor has both page and page_token; run `okno sync <instance> --stream {stream} --full`"
                )))
            }
            (_, Some(t)) => Position::Token(t),
            (p, None) => Position::Page(p.unwrap_or(1).max(1)),
        };
        let meta = self.module_meta(module).await?;
        let fields = self.field_list(module, meta.as_deref());

        let resp = match self.list_records(module, &fields, since, &position).await {
            // A page token lives 24 h and is bound to its request. Everything up to the latest
            // modification seen is stored already, so the walk restarts from there.
            Err(e) if matches!(position, Position::Token(_)) && page_token_refused(&e) => {
                let restart = max_seen
                    .map(|m| m - chrono::Duration::seconds(OVERLAP_SECS))
                    .unwrap_or(since);
                tracing::warn!(instance = %self.instance, stream, error = %e, since = %iso(restart), "Zoho refused the stored page_token (expired or no longer matching); restarting the walk from the latest modification seen");
                since = restart;
                position = Position::Page(1);
                self.list_records(module, &fields, since, &position).await?
            }
            other => other?,
        };

        let (records, info) = if empty(&resp) {
            (Vec::new(), model::Info::default())
        } else {
            let page: RecordPage = decode(endpoint, &resp.body)?;
            let leads = self
                .leads(module, endpoint, &page.data, meta.as_deref())
                .await?;
            (leads, page.info.unwrap_or_default())
        };
        let max_modified = records.iter().map(|l| l.updated_at).chain(max_seen).max();
        let more = !records.is_empty() && info.more_records.unwrap_or(false);
        let next_position = if !more {
            None
        } else {
            match &position {
                Position::Page(p) if *p < MAX_DISCRETE_PAGE => Some(Position::Page(p + 1)),
                _ => match info.next_page_token.filter(|t| !t.trim().is_empty()) {
                    Some(t) => Some(Position::Token(t)),
                    None => return Err(ConnectorError::decode(
                        endpoint,
                        "more_records is true past 2,000 records but next_page_token is missing",
                    )),
                },
            }
        };
        let records: Vec<Record> = records
            .into_iter()
            .map(|l| Record::Lead(Box::new(l)))
            .collect();
        let next = match next_position {
            Some(p) => {
                let (page, page_token) = match p {
                    Position::Page(n) => (Some(n), None),
                    Position::Token(t) => (None, Some(t)),
                };
                ModuleCursor {
                    since: Some(iso(since)),
                    page,
                    page_token,
                    max_modified: max_modified.map(iso),
                }
            }
            None => ModuleCursor {
                since: Some(iso(max_modified
                    .map(|m| m - chrono::Duration::seconds(OVERLAP_SECS))
                    .unwrap_or(since))),
                ..ModuleCursor::default()
            },
        };
        let has_more = next.page.is_some() || next.page_token.is_some();
        Ok(Page {
            records,
            next: Some(Cursor(serde_json::to_value(&next).map_err(|e| {
                ConnectorError::Invalid(format!("cannot write the cursor: {e}"))
            })?)),
            has_more,
        })
    }

    /// Leads or Deals by id, for notifications. Ids Zoho no longer has are simply absent.
    pub(crate) async fn by_ids(
        &self,
        module: Module,
        ids: &[String],
    ) -> Result<Page, ConnectorError> {
        let endpoint = module.api_name();
        let ids: Vec<&String> = ids
            .iter()
            .filter(|id| {
                let ok = !id.is_empty() && id.chars().all(|c| c.is_ascii_digit());
                if !ok {
                    tracing::warn!(instance = %self.instance, id = %id, "not a Zoho record id; skipped");
                }
                ok
            })
            .collect();
        let mut records = Vec::with_capacity(ids.len());
        if ids.is_empty() {
            return Ok(Page {
                records,
                next: None,
                has_more: false,
            });
        }
        let meta = self.module_meta(module).await?;
        let fields = self.field_list(module, meta.as_deref());
        for chunk in ids.chunks(IDS_PER_REQUEST) {
            let joined: Vec<&str> = chunk.iter().map(|s| s.as_str()).collect();
            let mut query = vec![("ids", joined.join(",")), ("fields", fields.clone())];
            if module == Module::Leads {
                query.push(("converted", "both".to_string()));
            }
            let resp = self
                .call(endpoint, &Req::get(format!("/{endpoint}"), query))
                .await?;
            if empty(&resp) {
                continue;
            }
            let page: RecordPage = decode(endpoint, &resp.body)?;
            for l in self
                .leads(module, endpoint, &page.data, meta.as_deref())
                .await?
            {
                records.push(Record::Lead(Box::new(l)));
            }
        }
        Ok(Page {
            records,
            next: None,
            has_more: false,
        })
    }

    // -----------------------------------------------------------------------------------------
    // deletions

    pub(crate) async fn deleted_page(
        &self,
        cursor: Option<&Cursor>,
        start: DateTime<Utc>,
    ) -> Result<Page, ConnectorError> {
        const STREAM: &str = "deleted";
        let mut c: DeletedCursor = parse_cursor(cursor, STREAM)?;
        let module = match c.module.as_deref() {
            None => Module::Leads,
            Some(m) => Module::from_api_name(m).ok_or_else(|| {
                ConnectorError::Invalid(format!(
                    "zoho_crm deleted: stored cursor names module {m:?}; run `okno sync <instance> --stream deleted --full`"
                ))
            })?,
        };
        let endpoint = match module {
            Module::Leads => "Leads/deleted",
            Module::Deals => "Deals/deleted",
        };
        let page = c.page.unwrap_or(1).max(1);
        let since = match c.since.get(module.api_name()) {
            Some(s) => cursor_time(s, STREAM)?,
            None => start,
        };
        let max_seen = c
            .max_deleted
            .as_deref()
            .map(|m| cursor_time(m, STREAM))
            .transpose()?;
        let req = Req {
            method: Method::GET,
            path: format!("/{endpoint}"),
            query: vec![
                ("type", "all".to_string()),
                ("page", page.to_string()),
                ("per_page", PER_PAGE.to_string()),
            ],
            if_modified_since: Some(since),
            json: None,
        };
        let (records, more, max_deleted) = match self.call(endpoint, &req).await {
            Ok(resp) if empty(&resp) => (Vec::new(), false, max_seen),
            Ok(resp) => {
                let body: RecordPage = decode(endpoint, &resp.body)?;
                let mut records = Vec::with_capacity(body.data.len());
                let mut max = max_seen;
                for raw in &body.data {
                    let (d, at) = normalize::deleted(module, raw)
                        .map_err(|e| ConnectorError::decode(endpoint, e))?;
                    max = max.max(Some(at));
                    records.push(Record::Deleted(d));
                }
                let more = !body.data.is_empty()
                    && body.info.and_then(|i| i.more_records).unwrap_or(false);
                (records, more, max)
            }
            // The deleted list has no page tokens; should Zoho cap it like the record lists,
            // the module is finished here and continues from the latest deletion next run.
            Err(e) if is_code(&e, "DISCRETE_PAGINATION_LIMIT_EXCEEDED") => {
                tracing::warn!(instance = %self.instance, endpoint, page, "Zoho will not page further through deleted records; continuing from the latest deletion seen on the next run");
                (Vec::new(), false, max_seen)
            }
            Err(e) => return Err(e),
        };
        let has_more;
        if more {
            c.module = Some(module.api_name().to_string());
            c.page = Some(page + 1);
            c.max_deleted = max_deleted.map(iso);
            has_more = true;
        } else {
            let next_since = max_deleted
                .map(|m| m - chrono::Duration::seconds(OVERLAP_SECS))
                .unwrap_or(since);
            c.since
                .insert(module.api_name().to_string(), iso(next_since));
            c.max_deleted = None;
            match module {
                Module::Leads => {
                    c.module = Some(Module::Deals.api_name().to_string());
                    c.page = Some(1);
                    has_more = true;
                }
                Module::Deals => {
                    c.module = None;
                    c.page = None;
                    has_more = false;
                }
            }
        }
        Ok(Page {
            records,
            next: Some(Cursor(serde_json::to_value(&c).map_err(|e| {
                ConnectorError::Invalid(format!("cannot write the cursor: {e}"))
            })?)),
            has_more,
        })
    }

    // -----------------------------------------------------------------------------------------
    // users

    pub(crate) async fn users_page(&self, cursor: Option<&Cursor>) -> Result<Page, ConnectorError> {
        const EP: &str = "users";
        let c: UsersCursor = parse_cursor(cursor, EP)?;
        let page = c.page.max(1);
        let req = Req::get(
            "/users",
            vec![
                ("type", "AllUsers".to_string()),
                ("page", page.to_string()),
                ("per_page", PER_PAGE.to_string()),
            ],
        );
        let resp = self.call(EP, &req).await?;
        if empty(&resp) {
            return Ok(Page {
                records: Vec::new(),
                next: None,
                has_more: false,
            });
        }
        let body: UserPage = decode(EP, &resp.body)?;
        let records = body
            .users
            .iter()
            .map(|raw| {
                normalize::identity(raw)
                    .map(Record::Identity)
                    .map_err(|e| ConnectorError::decode(EP, e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let more =
            !body.users.is_empty() && body.info.and_then(|i| i.more_records).unwrap_or(false);
        Ok(Page {
            records,
            // Read whole every run: the cursor only carries the position inside this run.
            next: more.then(|| Cursor(serde_json::json!({ "page": page + 1 }))),
            has_more: more,
        })
    }

    pub(crate) async fn check(&self) -> Result<String, ConnectorError> {
        let org = self.fetch_org().await?;
        let base = self.base().await?;
        let name = org.name.clone().unwrap_or_else(|| "(unnamed)".into());
        let currency = org
            .currency
            .map(|c| c.to_string())
            .unwrap_or_else(|| "unknown".into());
        let tz = org
            .time_zone_name
            .clone()
            .unwrap_or_else(|| "unknown".into());
        let id = org
            .id
            .clone()
            .map(|i| format!(" (id {i})"))
            .unwrap_or_default();
        *self.org.lock().await = Some(Cached {
            at: tokio::time::Instant::now(),
            value: Some(Arc::new(org)),
        });
        Ok(format!(
            "Zoho CRM org {name}{id}, currency {currency}, time zone {tz}, api domain {base}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_code_even_in_a_cut_body() {
        assert_eq!(
            error_code(r#"{"code":"INVALID_TOKEN","details":{},"message":"invalid oauth token","status":"error"}"#).as_deref(),
            Some("INVALID_TOKEN")
        );
        assert_eq!(
            error_code(r#"{"code": "EXPIRED_VALUE", "details": {"param_name": "page_tok"#)
                .as_deref(),
            Some("EXPIRED_VALUE")
        );
        assert_eq!(error_code("<html>"), None);
        assert!(is_invalid_token(r#"{"code":"INVALID_TOKEN"}"#));
        assert!(!is_invalid_token(r#"{"code":"OAUTH_SCOPE_MISMATCH"}"#));
    }

    #[test]
    fn if_modified_since_is_iso_8601_with_an_offset() {
        let t = DateTime::parse_from_rfc3339("2025-03-12T10:05:54+01:00")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(iso(t), "2025-03-12T09:05:54+00:00");
    }
}
