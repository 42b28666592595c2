//! # Jira connector (Cloud and Data Center)
//!
//! - **API**: Jira Cloud REST API v3 on `https://{site}.atlassian.net` (`deployment = "cloud"`,
//!   the default), or Jira Data Center / Server REST API v2 on the instance's `base_url`
//!   (`deployment = "data_center"`).
//! - **Auth**: Cloud: basic auth with the account's `email` and an `api_token`. Data Center: a
//!   `personal_access_token` sent as `Authorization: Bearer` (Jira 8.14+). 401 and 403 are auth
//!   errors with a hint; nothing is retried by hand.
//! - **Rate limits**: Atlassian publishes no figures (its rate-limiting page describes cost
//!   budgets and per-second burst limits; API-token traffic keeps the burst limits), so the
//!   single bucket `api` is set to a conservative 300 requests per minute (5 per second; an
//!   Atlassian engineer once called ~10 concurrent backend requests safe). Data Center limits
//!   are whatever the administrator configured. 429 answers are retried by the SDK client,
//!   honouring `Retry-After` (seconds), else `X-RateLimit-Reset` (`yyyy-MM-ddTHH:mmZ`, which
//!   Jira Cloud may send alone; see `okno_connector::http::rate_limit_reset`).
//! - **Streams**:
//!   - `issues` (tasks): Cloud `GET /rest/api/3/search/jql` (the old `/rest/api/3/search`
//!     answers 410 on Cloud), Data Center `GET /rest/api/2/search`, with
//!     `jql = <projects> AND (<jql>) AND updated >= "<yyyy-MM-dd HH:mm>" ORDER BY updated ASC, id ASC`,
//!     the fields okno maps asked explicitly (`search/jql` returns ids only otherwise),
//!     `expand=changelog` and `maxResults=100`. JQL reads that minute in the **API account's
//!     time zone** (`time_zone`, else `/myself`'s `timeZone`, cached an hour); see the `cursor`
//!     module for how an instant becomes a minute Jira cannot read late, DST included.
//!     The cursor is `{since_ms, seen: [[id, updated_ms]...], scan?}`: a run starts its window
//!     five minutes before the newest update it emitted (issues whose search-index entry lagged
//!     are read), and skips issues whose (id, updated) it already emitted, so the overlap
//!     re-emits nothing yet never misses an issue (re-emitting would be harmless: upserts are
//!     idempotent). While paging, the window is moved up to the newest minute of each page
//!     instead of following `nextPageToken` through a result set that changes as it is read
//!     (whether the token survives that is not documented); the token (or `startAt`) is
//!     followed only while a page stays inside the window's first minute.
//!   - `users` (identities): Cloud `GET /rest/api/3/users/search?startAt&maxResults=1000` until
//!     an empty page (active, inactive and app accounts; `role` is the `accountType`; the e-mail
//!     is lower-cased, `None` when the user's privacy settings hide it); Data Center
//!     `GET /rest/api/2/user/search?username=.&includeInactive=true` by 100 until a short page
//!     (ids are the user `key`, else `name`). Read whole every run.
//! - **Task mapping**: see the `normalize` module — started = first change into an
//!   *in progress* status, done = last change into a *done* status while done. Status
//!   categories come from the issues themselves (each issue's current status names its
//!   category) and from `/status`, read at most every ten minutes when a change names a status
//!   no issue showed. Cloud's enhanced search cuts an expanded changelog to 40 histories: when
//!   `changelog.total` exceeds what came, the issue's whole changelog is paged from
//!   `/rest/api/3/issue/{id}/changelog` (100 per request; Data Center:
//!   `/rest/api/2/issue/{id}?expand=changelog`). That costs one or more requests per issue with
//!   over 40 histories, and nothing for the rest.
//! - **Deletions**: Jira's search cannot list deleted issues, so polling never sees them; a
//!   deleted issue is marked only by the `jira:issue_deleted` webhook.
//! - **Webhooks** (with `webhook_secret`): see the `webhook` module.
//! - **Unknown time zone**: when neither `time_zone` nor `/myself` names the account's zone,
//!   windows start twelve hours early (safe for every zone) and each run re-reads, and may
//!   re-emit, up to twelve hours of issues; a warning asks for `time_zone`.
//!
//! ## What the public sources leave open, and how this code copes
//!
//! - Whether `nextPageToken` is stable while matching issues change (offset or search-after):
//!   the window moves instead (above).
//! - Which 40 histories enhanced search keeps (newest or oldest) and their order: any
//!   cut-short changelog is fetched whole, and changes are sorted by time.
//! - Whether Cloud JQL accepts epoch-millisecond date literals (Jira Server's source does): not
//!   used; the minute string is.
//! - `isLast` on every Cloud page: paging ends on a missing `nextPageToken` or `isLast: true`.
//! - `ORDER BY id`: JQL's `id` is an alias of the issue key field; it only breaks ties.
//! - Data Center ≥ 10.3 caps `user/search` at its first 100 results; larger user bases need
//!   `/rest/api/2/user/list`, which this connector does not use yet.

mod api;
mod config;
mod cursor;
#[cfg(feature = "mock")]
pub mod mock;
mod model;
mod normalize;
mod webhook;

use std::sync::Arc;

use okno_connector::{
    async_trait, BuildContext, Connector, ConnectorError, ConnectorKind, HttpClient, Page,
    PageRequest, RateBucket, SettingsError, StreamSpec,
};

pub use config::{Deployment, Settings};

/// The registry entry for `kind = "jira"`.
pub const KIND: ConnectorKind = ConnectorKind {
    kind: "jira",
    summary: "Jira Cloud and Data Center: issues as tasks with started/done times from the changelog, users, deletions",
    streams: &[
        StreamSpec {
            name: "issues",
            doc: "issues as tasks, ordered by updated; resumes from {since_ms, seen} with a 5-minute overlap, deduplicated on (id, updated)",
            default: true,
        },
        StreamSpec {
            name: "users",
            doc: "users as identities (e-mail when visible), read whole every run",
            default: true,
        },
    ],
    settings: config::SETTINGS,
    rate_buckets: &[RateBucket {
        name: "api",
        per_minute: 300,
        doc: "every request; Atlassian publishes no figure, 5 per second stays well inside Cloud's burst limits",
    }],
    build,
};

fn build(ctx: BuildContext) -> Result<Arc<dyn Connector>, Vec<SettingsError>> {
    let settings = config::Settings::parse(&ctx.settings, ctx.base_url.as_ref())?;
    let http = HttpClient::new("jira", &ctx.instance, &ctx.http)
        .map_err(|e| vec![SettingsError::new("", e.to_string())])?;
    let webhooks = (!settings.webhook_secrets.is_empty()).then(|| webhook::Webhooks {
        secrets: settings.webhook_secrets.clone(),
    });
    let api = api::Api::new(http, settings, &ctx.instance)
        .map_err(|why| vec![SettingsError::new("api_token", why)])?;
    Ok(Arc::new(Jira { api, webhooks }))
}

/// One Jira site.
pub struct Jira {
    api: api::Api,
    webhooks: Option<webhook::Webhooks>,
}

#[async_trait]
impl Connector for Jira {
    async fn fetch_page(&self, req: PageRequest<'_>) -> Result<Page, ConnectorError> {
        match req.stream {
            "issues" => self.api.issues_page(req.cursor, req.start).await,
            "users" => self.api.users_page(req.cursor).await,
            other => Err(ConnectorError::Invalid(format!(
                "jira has no stream {other:?}"
            ))),
        }
    }

    async fn check(&self) -> Result<String, ConnectorError> {
        self.api.check().await
    }

    async fn fetch_ids(&self, stream: &str, ids: &[String]) -> Result<Page, ConnectorError> {
        match stream {
            "issues" => self.api.issues_by_id(ids).await,
            other => Err(ConnectorError::Invalid(format!(
                "jira cannot fetch {other} by id"
            ))),
        }
    }

    fn webhooks(&self) -> Option<&dyn okno_connector::webhook::WebhookHandler> {
        self.webhooks
            .as_ref()
            .map(|w| w as &dyn okno_connector::webhook::WebhookHandler)
    }
}
