//! # Google Ads connector
//!
//! - **API**: the REST interface of the Google Ads API, version [`config::DEFAULT_API_VERSION`]
//!   (v26, the latest major version at the time of writing; `api_version` overrides it when
//!   Google sunsets it, roughly a year after release). Every read is one GAQL query sent as
//!   `POST https://googleads.googleapis.com/{version}/customers/{id}/googleAds:searchStream`
//!   with body `{"query": "..."}`. The answer is a JSON **array** of messages, each with
//!   `results` (rows), `fieldMask` and `requestId`; the connector reads every message of the
//!   array, so one call returns the whole result however Google batches it. Rows are proto3
//!   JSON: lowerCamelCase names (`metrics.costMicros`), int64 values as **strings**, doubles
//!   as numbers, enums by name.
//! - **Auth**: headers `Authorization: Bearer <access token>`, `developer-token` (setting
//!   `developer_token`) and, for accounts reached through a manager account,
//!   `login-customer-id` (setting `login_customer_id`, digits only). Access tokens come from
//!   the OAuth 2.0 refresh-token grant at `https://oauth2.googleapis.com/token` (form body with
//!   `client_id`, `client_secret`, `refresh_token`, `grant_type=refresh_token`), through the
//!   SDK's [`okno_connector::OAuthSession`]: tokens live in the store, are shared by every
//!   process and refreshed once across them, and a rotated refresh token is stored before use.
//!   The refresh token of the settings seeds the store on first use (see the `auth` module). A 401
//!   (`UNAUTHENTICATED`) gets one new access token and one retry. When `base_url` is set (tests,
//!   proxies), the API is called at `{base_url}/{version}/...` and the token endpoint at
//!   `{base_url}/token`.
//! - **Quotas and rate limits**: a searchStream call is **one operation** of the developer
//!   token's daily quota (Basic access: 15,000 a day) however many rows it streams. Google
//!   answers over-use with `GoogleAdsFailure` errors in the body (HTTP 429):
//!   - `quotaError: RESOURCE_EXHAUSTED` with a long or no `quotaErrorDetails.retryDelay` is the
//!     daily quota: the run ends with [`ConnectorError::Quota`] until now + `retryDelay`, or,
//!     without one, the next midnight Pacific Time. Nothing is retried.
//!   - `RESOURCE_EXHAUSTED` with a `retryDelay` of at most 5 minutes (a short window such as
//!     requests per account), `RESOURCE_TEMPORARILY_EXHAUSTED` and
//!     `EXCESSIVE_SHORT_TERM_QUERY_RESOURCE_CONSUMPTION` are retried by the SDK client after
//!     `retryDelay` (or its backoff).
//!   - `EXCESSIVE_LONG_TERM_QUERY_RESOURCE_CONSUMPTION` (a query pattern used too heavily over
//!     24 hours) ends the run as a quota until now + `retryDelay` (else one hour).
//!
//!   Buckets: `api` (600 requests per minute, every searchStream call) and `oauth` (60 per
//!   minute, the token endpoint). Google publishes no per-minute figure; these only keep a run
//!   from bursting.
//! - **Errors**: `error.details[]` holds a `GoogleAdsFailure` (`errors[].errorCode` — a one-of
//!   such as `{"authorizationError": "USER_PERMISSION_DENIED"}` — `errors[].message`,
//!   `requestId`); the body may also come wrapped in an array (searchStream). Messages name
//!   every code, the quota bucket and the request id. `authenticationError` is an auth error;
//!   `authorizationError` is an auth error that names the fix (`login_customer_id` for
//!   `USER_PERMISSION_DENIED`, Basic access for `DEVELOPER_TOKEN_NOT_APPROVED`...); 5xx and
//!   `internalError` are retried; anything else is permanent, and a 404 or `UNSUPPORTED_VERSION`
//!   points at `api_version`.
//! - **Streams**:
//!   - `campaigns` (full refresh; cursor `{"next": i}` only inside a run, cleared after the
//!     last account): one page per configured account with its [`AdAccount`]
//!     (`SELECT customer.id, customer.descriptive_name, customer.currency_code,
//!     customer.time_zone FROM customer`) and every campaign (`SELECT campaign.id,
//!     campaign.name, campaign.status, campaign.tracking_url_template, campaign.final_url_suffix
//!     FROM campaign`). `status` as Google spells it (ENABLED, PAUSED, REMOVED); `channel` from
//!     the settings, else `google_ads`; `utm_campaign` only when the campaign's own final URL
//!     suffix or tracking template sets `utm_campaign` to a literal or to `{campaignid}`.
//!   - `spend` (the SDK's [`okno_connector::spend`] plan; cursor: `SpendCursor`): per account
//!     and run, the days since the last pass plus `lookback_days` (default 30) in slices of 31
//!     days; each page is one slice, `SELECT campaign.id, campaign.name, segments.date,
//!     metrics.cost_micros, metrics.impressions, metrics.clicks, metrics.conversions FROM
//!     campaign WHERE segments.date BETWEEN '<from>' AND '<to>'` (both ends inclusive), every
//!     row an [`okno_connector::AdSpend`] and then the slice's [`okno_connector::SpendWindow`]. Days are the
//!     account's (`customer.time_zone`), and "today" is today in that zone.
//!   - `clicks` (SpendCursor with its own window: slices of one day, `click_lookback_days`,
//!     default 3): `SELECT click_view.gclid, campaign.id, segments.date FROM click_view WHERE
//!     segments.date = '<day>'` → [`okno_connector::ClickId`] (kind gclid). `click_view` must
//!     be filtered to one day and serves only the last 90 days, so a pass never starts more than
//!     88 days before the account's today (a first backfill from an older `start_date` starts
//!     there). No `SpendWindow` on this stream.
//! - **Mapping**: `cost` = `costMicros` / 1,000,000 exactly (`Decimal::new(micros, 6)`),
//!   `conversions` = the exact decimal of the number's JSON text, `impressions` and `clicks`
//!   from their int64 strings; `raw` is the row as Google sent it. Google reports costs without
//!   VAT and says nothing about it: `vat_included` is `None`.
//!
//! ## What the public sources leave open, and how this code copes
//!
//! - **When the daily quota resets.** Google's documents speak of "per day" without a time;
//!   other Google APIs reset daily quotas at midnight Pacific Time, and real quota errors carry
//!   a `retryDelay` ("Retry in 40591 seconds"). `retryDelay` wins; midnight Pacific Time is the
//!   fallback.
//! - **Which `RESOURCE_EXHAUSTED` is daily.** The enum does not say; `rateScope`/`rateName`
//!   are free text. A `retryDelay` of at most 5 minutes is treated as a short window and waited
//!   out; anything longer, or none, as the daily quota.
//! - **Omitted metrics.** proto3 JSON may leave out fields at their default; a missing
//!   `costMicros`, `impressions`, `clicks` or `conversions` is read as zero.
//! - **Non-finite conversions.** proto3 JSON writes `"NaN"`/`"Infinity"` as strings; such a
//!   value is stored as no conversions (`None`) rather than failing the slice.
//! - **The 90-day edge of `click_view`** is measured "from the time of the request" in a zone
//!   Google does not name: the connector stays two days inside it.
//! - **Errors inside a 200 stream.** The documents describe the stream's failure only through
//!   the client libraries; an array element with `error` is handled like an error answer (a
//!   quota there ends the run as a quota; a throttle as rate limiting).
//! - **Rotation of the refresh token.** Google's refresh responses normally carry no new
//!   refresh token; if one arrives it is stored and used, and the settings' token is the
//!   fallback when a stored one is refused.
//! - **Customer ids** are documented as 10 digits (shown `123-456-7890`); other lengths are
//!   refused at validation.

mod api;
mod auth;
pub mod config;
#[cfg(feature = "mock")]
pub mod mock;
mod model;
mod normalize;
mod streams;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use okno_connector::{
    async_trait, AdAccount, BuildContext, Connector, ConnectorError, ConnectorKind, HttpClient,
    Page, PageRequest, RateBucket, SettingsError, StreamSpec,
};

pub use config::Settings;

/// The kind name of this connector, also the default `channel` of its campaigns.
pub const KIND_NAME: &str = "google_ads";

/// Where "now" comes from: the system clock in the daemon, a fixed instant in tests.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The registry entry for `kind = "google_ads"`.
pub static KIND: ConnectorKind = ConnectorKind {
    kind: KIND_NAME,
    summary: "Google Ads: accounts, campaigns, daily spend (restated look-back window) and gclid click ids",
    streams: &[
        StreamSpec {
            name: "campaigns",
            doc: "each account (currency, time zone) and all its campaigns, read whole every run",
            default: true,
        },
        StreamSpec {
            name: "spend",
            doc: "daily cost, impressions, clicks, conversions per campaign in the account's days; re-pulls lookback_days (default 30) in 31-day slices (cursor: spend plan)",
            default: true,
        },
        StreamSpec {
            name: "clicks",
            doc: "gclid click ids from click_view, one day per request, re-reading click_lookback_days (default 3), at most 88 days back",
            default: true,
        },
    ],
    settings: config::SETTINGS,
    rate_buckets: &[
        RateBucket {
            name: api::API_BUCKET,
            per_minute: 600,
            doc: "every searchStream request; each is one operation of the developer token's daily quota (Basic access: 15,000)",
        },
        RateBucket {
            name: auth::OAUTH_BUCKET,
            per_minute: 60,
            doc: "the OAuth token endpoint (access tokens last about an hour, so this is rarely spent)",
        },
    ],
    build,
};

fn build(ctx: BuildContext) -> Result<Arc<dyn Connector>, Vec<SettingsError>> {
    build_with_clock(ctx, Arc::new(Utc::now))
}

/// Builds an instance whose "now" (the accounts' today, quota resets, token lifetimes) comes
/// from `clock`. The registry uses the system clock; tests pin it near midnight UTC.
pub fn build_with_clock(
    ctx: BuildContext,
    clock: Clock,
) -> Result<Arc<dyn Connector>, Vec<SettingsError>> {
    let settings = Settings::parse(&ctx.settings, ctx.base_url.as_ref(), KIND_NAME)?;
    let http = HttpClient::new(KIND_NAME, &ctx.instance, &ctx.http)
        .map_err(|e| vec![SettingsError::new("", e.to_string())])?;
    let tokens = auth::Tokens::new(
        http.clone(),
        &settings,
        ctx.tokens.clone(),
        &ctx.instance,
        clock.clone(),
    );
    Ok(Arc::new(GoogleAds {
        api: api::Api::new(http, settings, tokens, clock, &ctx.instance),
    }))
}

/// One Google Ads instance: the accounts of its `customer_ids`.
pub struct GoogleAds {
    api: api::Api,
}

#[async_trait]
impl Connector for GoogleAds {
    async fn fetch_page(&self, req: PageRequest<'_>) -> Result<Page, ConnectorError> {
        match req.stream {
            "campaigns" => self.campaigns_page(req.cursor).await,
            "spend" => self.spend_page(req).await,
            "clicks" => self.clicks_page(req).await,
            other => Err(ConnectorError::Invalid(format!(
                "{KIND_NAME} has no stream {other:?} (it has campaigns, spend, clicks)"
            ))),
        }
    }

    async fn check(&self) -> Result<String, ConnectorError> {
        let ids = &self.api.settings().customer_ids;
        let first = ids
            .first()
            .ok_or_else(|| ConnectorError::Invalid("no customer_ids configured".into()))?;
        let a: AdAccount = self.account(first).await?;
        Ok(format!(
            "Google Ads customer {} ({}, {}, {}){}",
            a.account_id,
            a.name.as_deref().unwrap_or("unnamed"),
            a.currency,
            a.time_zone,
            if ids.len() > 1 {
                format!(", and {} more account(s) configured", ids.len() - 1)
            } else {
                String::new()
            }
        ))
    }
}
