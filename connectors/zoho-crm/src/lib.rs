//! # Zoho CRM connector
//!
//! - **API**: Zoho CRM REST API **v8** (`{api_domain}/crm/v8/...`, version held in
//!   [`API_VERSION`]; v7 has the same shapes for everything used here).
//! - **Data centres**: `data_centre` picks the accounts server (`com`, `eu`, `in`, `com.au`,
//!   `jp`, `ca` → `accounts.zohocloud.ca`, `com.cn`, `sa`, `uk`). The API is called on the
//!   `api_domain` Zoho returns with the token (stored with it), else the data centre's
//!   `www.zohoapis.*`; `base_url` overrides both. The UK API domain (`www.zohoapis.uk`) is not
//!   confirmed by Zoho's pages, which is why the token's `api_domain` comes first.
//! - **Auth**: OAuth 2.0. Create a Self Client in the API console, generate a grant code with
//!   the scopes `ZohoCRM.modules.leads.READ, ZohoCRM.modules.deals.READ, ZohoCRM.users.READ,
//!   ZohoCRM.org.READ, ZohoCRM.settings.fields.READ, ZohoCRM.notifications.ALL` (the fields
//!   scope is not confirmed by Zoho's pages), then run `okno auth zoho_crm <instance> --code
//!   GRANT_CODE` within its validity. Tokens live in the store ([`okno_connector::oauth`]);
//!   calls carry `Authorization: Zoho-oauthtoken <token>`. An access token lives an hour and is
//!   refreshed 5 minutes before expiry by one process at a time: Zoho allows 10 refreshes per
//!   refresh token per 10 minutes and 15 live access tokens (the 16th revokes the oldest). A
//!   401 `INVALID_TOKEN` triggers one refresh and one retry. Token-endpoint errors arrive with
//!   HTTP 200 and an `error` key (see `auth`). `redirect_uri` is sent with the code
//!   exchange only when configured (Self Client codes need none; not confirmed for CRM).
//! - **Rate limits**: Zoho counts *credits* per rolling 24 hours (1 per record list call; by
//!   edition: Free 5,000; Standard 50,000 + 250 per user; Professional 50,000 + 500 per user;
//!   Enterprise 50,000 + 1,000 per user; Ultimate 50,000 + 2,000 per user) and concurrent calls
//!   per app (5 to 25 by edition). Exceeding either gives 429 `TOO_MANY_REQUESTS`, which the SDK
//!   client retries, honouring `Retry-After` if Zoho sends one (not confirmed that it does).
//!   Bucket `api` paces okno at 30 calls a minute; lower it on the Free edition.
//! - **Streams** (all default):
//!   - `leads` / `deals`: `GET /crm/v8/{Leads|Deals}` with an explicit `fields` list (Zoho
//!     requires one, at most 50 names: what normalisation reads plus the configured `fields`),
//!     `per_page=200`, `sort_by=Modified_Time&sort_order=asc`, for Leads `converted=both`
//!     (the default hides converted leads), and `If-Modified-Since` = the cursor's `since`
//!     (`start_date` on the first run). 304 and 204 mean nothing new. Pages 1 to 10 go by
//!     `page` (Zoho's 2,000-record limit), then by `page_token` from `info.next_page_token`.
//!     The cursor carries `{since, page | page_token, max_modified}` mid-walk and
//!     `{since: latest Modified_Time − 1 s}` after the last page (the overlap re-reads records
//!     changed within that second; the store upserts). A page token expires after 24 hours
//!     and is bound to its request: when Zoho refuses it (`EXPIRED_VALUE`,
//!     `TOKEN_BOUND_DATA_MISMATCH`), the walk restarts at page 1 from the latest modification
//!     already stored. Caveat of offset paging: a record read earlier in a walk and modified
//!     during it moves to the end, shifting the rest by one, so a record can be missed until
//!     it changes again; notifications and `--full` resyncs cover that.
//!   - `users`: `GET /crm/v8/users?type=AllUsers`, read whole every run → identities (e-mail
//!     lower-cased, active when `status` is `active`, role = Zoho role name).
//!   - `deleted`: `GET /crm/v8/{Leads,Deals}/deleted?type=all` (recycle bin, kept 60 days,
//!     and permanent deletions, kept 120 days), Leads then Deals, each with its own
//!     `If-Modified-Since` in the cursor → deletion marks. No page tokens exist here.
//! - **Normalisation**: Leads become `Lead` rows of entity `lead` (name = `Full_Name`, else the
//!   names, else `Company`; stage = `Lead_Status`, lost when in `lost_lead_statuses`);
//!   Deals become entity `deal` (stage = `Stage`, won/lost by the stage's `forecast_type` in
//!   `GET /crm/v8/settings/fields?module=Deals`, cached ten minutes, else by `won_stages` /
//!   `lost_stages`; `closed_at` = `Closing_Date` at midnight in the org's time zone, for won
//!   and lost deals; `pipeline_id` = the `Pipeline` value). Currency is the record's
//!   `Currency`, else the org's home currency (`GET /crm/v8/org`, cached an hour);
//!   `Exchange_Rate` is kept as Zoho gives it. Money is parsed from the JSON text, never
//!   through a float.
//! - **Not confirmed by Zoho's documentation, coded defensively**:
//!   - `$converted_detail` of a converted lead: its `deal` is read as an id string or an
//!     object with `id`; the `Converted_Deal` lookup is the fallback. No Deals field links
//!     back to the lead.
//!   - `Exchange_Rate` direction: stored unchanged (assumed record currency per home unit).
//!   - Whether Zoho refuses unknown names in `fields`: optional fields (`Currency`,
//!     `Exchange_Rate`, `Converted_Deal`, `Pipeline`, configured marks, the default `GCLID`)
//!     are requested only when the module's field metadata lists them; without metadata
//!     the optional standard fields and the configured fields (Leads only) are requested.
//!   - `Pipeline` on a record: a string is taken as it is, an object by its `id`.
//!   - Whether a record's `Stage` carries the display or the actual value: both are looked up.
//!   - Last-page `next_page_token` values, and whether `If-Modified-Since` combines with
//!     `page_token` (the same header is sent on every page of a walk).
//!   - The maximum number of `ids` per call (100 are sent).
//!   - The API name `GCLID` of the field Zoho's Google Ads integration adds (the `gclid`
//!     default; read only where the metadata lists it).
//!   - Field metadata that cannot be read (missing scope, unexpected shape) is logged and the
//!     fallbacks above apply; a temporary failure fails the page instead, so a deal is never
//!     classified by the fallback names because of a network blip.
//! - **Webhooks** (with `webhook_token`): Zoho signs nothing; the `token` it echoes in every
//!   notification body is compared in constant time with `webhook_token` and is required (a
//!   path token is not consulted). `insert`/`update` name records that are fetched again by id
//!   (`fetch_ids`, 100 ids per call, Leads with `converted=both`); `delete` marks them deleted
//!   at the body's `server_time`; other modules are ignored. Zoho sends no delivery id, so the
//!   daemon deduplicates on a hash of the body.
//! - **Notification channel** (with `notify_url` and `webhook_token`): `maintain` lists
//!   `GET /crm/v8/actions/watch` and keeps channel [`channel_id`]`(instance)` subscribed to
//!   `Leads.all` and `Deals.all` with `notify_on_related_action: false`: created with `POST`,
//!   renewed with `PATCH` when less than a day is left (or URL, token or events differ), always
//!   asking for 6 days 23 hours (beyond Zoho's one-week maximum it silently grants one hour, so
//!   the granted `channel_expiry` is checked).

mod api;
mod auth;
mod config;
mod model;
mod normalize;
mod watch;
mod webhook;

use std::sync::Arc;
use std::time::Duration;

use okno_connector::oauth::SessionOptions;
use okno_connector::{
    async_trait, BuildContext, Connector, ConnectorError, ConnectorKind, HttpClient, OAuthSession,
    Page, PageRequest, RateBucket, SecretString, SettingsError, StreamSpec,
};

pub use config::Settings;
pub use watch::channel_id;

/// The Zoho CRM API version every path uses (`/crm/v8/...`).
pub const API_VERSION: &str = "v8";

/// The registry entry for `kind = "zoho_crm"`.
pub const KIND: ConnectorKind = ConnectorKind {
    kind: "zoho_crm",
    summary: "Zoho CRM: leads and deals (won/lost by stage forecast type, multi-currency), users and deletions",
    streams: &[
        StreamSpec {
            name: "leads",
            doc: "Leads (converted ones included) modified since the cursor (If-Modified-Since), by Modified_Time; page, then page_token past 2,000",
            default: true,
        },
        StreamSpec {
            name: "deals",
            doc: "Deals modified since the cursor (If-Modified-Since), by Modified_Time; page, then page_token past 2,000",
            default: true,
        },
        StreamSpec {
            name: "users",
            doc: "all CRM users as identities, read whole every run",
            default: true,
        },
        StreamSpec {
            name: "deleted",
            doc: "deleted Leads and Deals (recycle bin and permanent) since each module's cursor time",
            default: true,
        },
    ],
    settings: config::SETTINGS,
    rate_buckets: &[RateBucket {
        name: "api",
        per_minute: 30,
        doc: "every CRM API call; Zoho counts credits per 24 h by edition (Free 5,000; Standard and up 50,000 plus 250 to 2,000 per user), so okno stays well under",
    }],
    build,
};

fn build(ctx: BuildContext) -> Result<Arc<dyn Connector>, Vec<SettingsError>> {
    let settings = config::Settings::parse(&ctx.settings, ctx.base_url.as_ref())?;
    let http = HttpClient::new("zoho_crm", &ctx.instance, &ctx.http)
        .map_err(|e| vec![SettingsError::new("", e.to_string())])?;
    let setup_hint = format!(
        "run `okno auth zoho_crm {} --code GRANT_CODE` with a grant code from the Zoho API console (Self Client)",
        ctx.instance
    );
    let accounts = Arc::new(auth::Accounts::new(http.clone(), &settings));
    let session = OAuthSession::new(
        &ctx.instance,
        setup_hint.clone(),
        ctx.tokens.clone(),
        Box::new(auth::ZohoRefresher {
            accounts: accounts.clone(),
            setup_hint: setup_hint.clone(),
        }),
        SessionOptions {
            // Zoho rations refreshes: refresh a little early, never per request.
            margin: Duration::from_secs(300),
            ..SessionOptions::default()
        },
    );
    let webhooks = settings
        .webhook_token
        .clone()
        .map(|t| webhook::Webhooks { tokens: vec![t] });
    Ok(Arc::new(ZohoCrm {
        api: api::Api::new(http, settings, session, &ctx.instance),
        accounts,
        setup_hint,
        webhooks,
    }))
}

/// One Zoho CRM organisation.
pub struct ZohoCrm {
    api: api::Api,
    accounts: Arc<auth::Accounts>,
    setup_hint: String,
    webhooks: Option<webhook::Webhooks>,
}

#[async_trait]
impl Connector for ZohoCrm {
    async fn fetch_page(&self, req: PageRequest<'_>) -> Result<Page, ConnectorError> {
        match req.stream {
            "leads" => {
                self.api
                    .module_page(normalize::Module::Leads, req.cursor, req.start)
                    .await
            }
            "deals" => {
                self.api
                    .module_page(normalize::Module::Deals, req.cursor, req.start)
                    .await
            }
            "users" => self.api.users_page(req.cursor).await,
            "deleted" => self.api.deleted_page(req.cursor, req.start).await,
            other => Err(ConnectorError::Invalid(format!(
                "zoho_crm has no stream {other:?}"
            ))),
        }
    }

    async fn check(&self) -> Result<String, ConnectorError> {
        self.api.check().await
    }

    async fn fetch_ids(&self, stream: &str, ids: &[String]) -> Result<Page, ConnectorError> {
        match normalize::Module::from_stream(stream) {
            Some(module) => self.api.by_ids(module, ids).await,
            None => Err(ConnectorError::Invalid(format!(
                "zoho_crm cannot fetch {stream} by id (leads and deals can be)"
            ))),
        }
    }

    fn webhooks(&self) -> Option<&dyn okno_connector::webhook::WebhookHandler> {
        self.webhooks
            .as_ref()
            .map(|w| w as &dyn okno_connector::webhook::WebhookHandler)
    }

    async fn authorize(&self, code: &str) -> Result<String, ConnectorError> {
        let code = code.trim();
        if code.is_empty() {
            return Err(ConnectorError::Invalid(
                "the grant code is empty; copy it from the API console (Self Client > Generate Code)".into(),
            ));
        }
        let tokens = self
            .accounts
            .exchange_code(&SecretString::from(code.to_string()), &self.setup_hint)
            .await?;
        let domain = tokens
            .api_domain
            .clone()
            .unwrap_or_else(|| "(none given; the data centre's default is used)".into());
        self.api.session.store_initial(tokens).await?;
        Ok(format!(
            "stored Zoho CRM tokens for {}; API domain {domain}",
            self.api.instance
        ))
    }

    async fn maintain(&self) -> Result<Option<String>, ConnectorError> {
        self.api.maintain().await
    }
}
