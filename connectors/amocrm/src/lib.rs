//! # amoCRM / Kommo connector
//!
//! - **API**: amoCRM REST API v4 on the account's own host (`https://{subdomain}.amocrm.ru`, or
//!   `https://{domain}` for Kommo's `{subdomain}.kommo.com` and other hosts; never `www`).
//!   Responses are HAL JSON; **204 with an empty body means "nothing matched"** and is an empty
//!   page, never an error.
//! - **Auth**: either a *long-lived token* of a private integration (`long_lived_token`, sent as
//!   `Authorization: Bearer`, 1 day to 5 years, nothing to refresh: the recommended mode for one
//!   account), or OAuth 2.0 (`client_id`, `client_secret`, `redirect_uri`): the first pair comes
//!   from `okno auth amocrm <instance> --code CODE` ([`Connector::authorize`]), access tokens live
//!   24 hours, and refresh tokens are **single-use** (the old one answers `Token has been
//!   revoked` once exchanged; no grace period is documented). Tokens live in the store and are
//!   refreshed by one process at a time through the SDK's [`okno_connector::OAuthSession`]. A
//!   401 from the API gets one new token and one retry; a revoked refresh token is an auth error
//!   telling the operator to re-authorise.
//! - **Rate limits**: amoCRM allows 7 requests per second per integration (bucket `api`, 420
//!   per minute), and since 2021 reportedly 50 per second per account across all integrations.
//!   429 answers are retried by the SDK client. Repeated excess gets the account or the server's
//!   IP **blocked**: every request then answers 403 with nginx's HTML page instead of a JSON
//!   error. That is reported as a permanent error saying so, never retried: only amoCRM support
//!   can lift a block.
//! - **Streams**:
//!   - `leads`: `GET /api/v4/leads?with=contacts,loss_reason&limit=250&page=P&order[updated_at]=asc
//!     &filter[updated_at][from]=F`, cursor `{"from": F, "page": P}`, first run from
//!     `start_date`. Whether `from` is inclusive is not documented, and page-based paging over a
//!     set that changes while it is read shifts pages (a lead updated mid-scan jumps to the end,
//!     and the first lead of the next page slides onto a page already read). So the window is
//!     moved instead of the page whenever possible: after a page whose last `updated_at` L
//!     satisfies `L - 1 > F`, the next request is page 1 of `from = L - 1`. One second early,
//!     so leads of second L that did not fit on the page are read whether `from` is inclusive
//!     or exclusive; the few leads re-read are harmless, upserts are idempotent. When a full
//!     page holds a single second (`L - 1 <= F`, e.g. a bulk edit), the window cannot move
//!     without skipping, so the next page of the same window is read. After the last page
//!     (no `_links.next`, or 204) the cursor keeps `{from: L - 1, page: 1}`, so the next run
//!     resumes there. Residual risk: if more than 250 leads share one second *and* one of them
//!     is updated while that second is paged through, a lead can slide past; the next change
//!     of that lead brings it back. A page whose leads are not in `updated_at` order (the filter
//!     or sort not honoured) never moves the window, only the page.
//!     Each lead also needs its stage name and the currency: pipelines and `GET /api/v4/account`
//!     are read on the first page and reused for 10 minutes (unreadable pipelines leave stage
//!     names empty; `currency` in the settings skips the account call).
//!   - `pipelines`: `GET /api/v4/leads/pipelines`, one stage row per status of every pipeline,
//!     read whole every run. Statuses 142 (won) and 143 (lost) repeat in every pipeline, so
//!     stages are keyed by (pipeline, status); category: 142 won, 143 lost, else open.
//!   - `users`: `GET /api/v4/users?limit=250&page=P`, read whole every run; needs an
//!     administrator's token. Identities: e-mail lower-cased, `active` from `rights.is_active`,
//!     role `admin` or `user` from `rights.is_admin`.
//!   - `deleted_leads`: `GET /api/v4/events?filter[type]=lead_deleted&filter[created_at][from]=F
//!     &limit=100&page=P` → deletions dated by the event's `created_at`. The order of events is
//!     not documented, so unlike leads the window stays at `from` while its pages are read and
//!     moves (to the newest `created_at` seen minus one second) only after its last page; the
//!     cursor carries that newest time as `"newest"` meanwhile.
//! - **Lead mapping**: `price` → `amount` (exact decimal) in the account currency;
//!   `status_id` → stage; `responsible_user_id` → owner; marks from `custom_fields_values` by
//!   `field_code` (`UTM_SOURCE`, `UTM_MEDIUM`, `UTM_CAMPAIGN`, `UTM_CONTENT`, `UTM_TERM`,
//!   `GCLID`, `YCLID`, `FBCLID`, any case), falling back to a `field_name` equal to the code
//!   (real fields are named `utm_source`...). Only the UTM codes are confirmed by real answers:
//!   `GCLID`/`YCLID` appear only in client code writing them and `FBCLID` is inferred from
//!   amoCRM's export columns; `fields.gclid = <id|code|name>` etc. override any of them.
//!   Product, segment, region, discount and lead source come only from configured `fields`;
//!   select fields give their option's text, multiselects their texts joined by ", ". A
//!   discount that is not a number is left empty with a warning naming the lead; one bad custom
//!   field never fails a page. `custom_fields_values` may be `null`.
//! - **Webhooks** (with `webhook_token`): unsigned form bodies authenticated by a secret path
//!   token; lead changes are fetched again by id (`filter[id][]`, 250 per request), deletions
//!   are marked at once. See the `webhook` module for the details and the one limitation
//!   (deletions from webhooks are dated when processed).
//!
//! ## What the public sources leave open, and how this code copes
//!
//! - Inclusive or exclusive `filter[updated_at][from]` / `filter[created_at][from]`: the
//!   one-second overlap above reads every lead under either meaning.
//! - Whether the date filters depend on the account's alpha `is_api_filter_enabled`: if the
//!   filter is ignored, the sorted answers still page forward from the oldest lead; if the
//!   order is ignored, the window stops moving (see `leads`).
//! - The order of `/api/v4/events` and its maximum `limit` (100 on amoCRM.ru, 250 on Kommo):
//!   the events window is fixed while paged, and 100 is asked.
//! - `_page` and the encoding of `_links.next.href`: neither is read; only the presence of
//!   `next` matters, and the next request is built from the cursor.
//! - The list of tracking field codes: code first, then a name equal to the code, then the
//!   `fields.*` overrides.
//! - The payload of `lead_deleted` events: only `entity_id` (else `_embedded.entity.id`) and
//!   `created_at` are used.
//! - The HTTP status of a reused refresh token (its body says 401; some see 400): both, and a
//!   403, end as an auth error asking for `okno auth amocrm <instance> --code CODE`.
//! - The 429 body and whether `Retry-After` is sent: only the status is relied upon; the SDK
//!   backs off on its own when no `Retry-After` comes.
//! - `currency` in `/api/v4/account` (Kommo documents it, amoCRM.ru's example lacks it):
//!   optional; `currency` in the settings overrides it.
//! - The names of stages 142/143 and whether they can be renamed: categories key on the ids.
//! - A missing lead fetched by id: leads are fetched with `filter[id][]` on the list, so a
//!   missing one is simply absent (or the answer is 204).

mod api;
mod auth;
mod config;
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

pub use config::Settings;

/// The registry entry for `kind = "amocrm"`.
pub const KIND: ConnectorKind = ConnectorKind {
    kind: "amocrm",
    summary: "amoCRM / Kommo: leads with marketing marks, stages, pipelines, users and deletions",
    streams: &[
        StreamSpec {
            name: "leads",
            doc: "leads ordered by updated_at; resumes from {from: updated_at - 1 s, page} (see the crate docs)",
            default: true,
        },
        StreamSpec {
            name: "pipelines",
            doc: "every status of every pipeline as a stage (142 won, 143 lost), read whole every run",
            default: true,
        },
        StreamSpec {
            name: "users",
            doc: "users as identities (needs an administrator's token), read whole every run",
            default: true,
        },
        StreamSpec {
            name: "deleted_leads",
            doc: "lead_deleted events marking leads deleted; resumes from the newest event's created_at - 1 s",
            default: true,
        },
    ],
    settings: config::SETTINGS,
    rate_buckets: &[RateBucket {
        name: "api",
        per_minute: 420,
        doc: "every request, the token endpoint included: amoCRM allows 7 per second per integration and blocks accounts that keep exceeding it",
    }],
    build,
};

fn build(ctx: BuildContext) -> Result<Arc<dyn Connector>, Vec<SettingsError>> {
    let settings = config::Settings::parse(&ctx.settings, ctx.base_url.as_ref())?;
    let http = HttpClient::new("amocrm", &ctx.instance, &ctx.http)
        .map_err(|e| vec![SettingsError::new("", e.to_string())])?;
    let (auth, tokens) = match &settings.auth {
        config::AuthSettings::LongLived(t) => (auth::Auth::LongLived(t.clone()), None),
        config::AuthSettings::OAuth {
            client_id,
            client_secret,
            redirect_uri,
        } => {
            let endpoint = |http: HttpClient| {
                auth::TokenEndpoint::new(
                    http,
                    &settings.base_url,
                    client_id.clone(),
                    client_secret.clone(),
                    redirect_uri.clone(),
                    &ctx.instance,
                )
            };
            let session = endpoint(http.clone()).session(ctx.tokens.clone());
            (
                auth::Auth::OAuth(Box::new(session)),
                Some(endpoint(http.clone())),
            )
        }
    };
    let webhooks = settings
        .webhook_token
        .clone()
        .map(|token| webhook::Webhooks { token });
    Ok(Arc::new(AmoCrm {
        api: api::Api::new(http, settings, auth, &ctx.instance),
        tokens,
        webhooks,
        instance: ctx.instance,
    }))
}

/// One amoCRM account.
pub struct AmoCrm {
    api: api::Api,
    /// The token endpoint for `okno auth` (OAuth only).
    tokens: Option<auth::TokenEndpoint>,
    webhooks: Option<webhook::Webhooks>,
    instance: String,
}

#[async_trait]
impl Connector for AmoCrm {
    async fn fetch_page(&self, req: PageRequest<'_>) -> Result<Page, ConnectorError> {
        match req.stream {
            "leads" => self.api.leads_page(req.cursor, req.start).await,
            "pipelines" => self.api.pipelines_page().await,
            "users" => self.api.users_page(req.cursor).await,
            "deleted_leads" => self.api.deleted_leads_page(req.cursor, req.start).await,
            other => Err(ConnectorError::Invalid(format!(
                "amocrm has no stream {other:?}"
            ))),
        }
    }

    async fn check(&self) -> Result<String, ConnectorError> {
        self.api.check().await
    }

    async fn fetch_ids(&self, stream: &str, ids: &[String]) -> Result<Page, ConnectorError> {
        match stream {
            "leads" => self.api.leads_by_id(ids).await,
            other => Err(ConnectorError::Invalid(format!(
                "amocrm cannot fetch {other} by id"
            ))),
        }
    }

    fn webhooks(&self) -> Option<&dyn okno_connector::webhook::WebhookHandler> {
        self.webhooks
            .as_ref()
            .map(|w| w as &dyn okno_connector::webhook::WebhookHandler)
    }

    async fn authorize(&self, code: &str) -> Result<String, ConnectorError> {
        let (Some(endpoint), auth::Auth::OAuth(session)) = (&self.tokens, self.api.auth()) else {
            return Err(ConnectorError::Invalid(format!(
                "{} authenticates with a long-lived token; there is nothing to authorise",
                self.instance
            )));
        };
        if code.trim().is_empty() {
            return Err(ConnectorError::Invalid(
                "the authorisation code is empty".into(),
            ));
        }
        let tokens = endpoint.exchange_code(code).await?;
        let until = tokens.expires_at;
        session.store_initial(tokens).await?;
        Ok(match until {
            Some(t) => format!(
                "amoCRM tokens stored for {}; the access token is valid until {}, and is refreshed automatically",
                self.instance,
                t.format("%Y-%m-%d %H:%M UTC")
            ),
            None => format!("amoCRM tokens stored for {}", self.instance),
        })
    }
}
