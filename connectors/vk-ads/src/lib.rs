//! # VK Ads connector (`vk_ads`)
//!
//! Pulls the campaigns of one VK Ads account and their daily spend.
//!
//! - **API**: VK Ads (ads.vk.com, formerly myTarget) REST API **v2**, `https://ads.vk.com/api/v2/...`;
//!   every URL — the token endpoints included — is built from `base_url` when the instance sets
//!   one (`{base_url}/api/v2/oauth2/token.json`), which is how tests point it at a stand-in.
//!   JSON everywhere; integers and decimals may arrive as strings (`"123"`, `"1.23"`), so every
//!   number is parsed from its text (`normalize`).
//! - **Auth** (`auth`): OAuth 2 *client credentials* — `POST /api/v2/oauth2/token.json` with the
//!   form `grant_type=client_credentials&client_id&client_secret` — or, with
//!   `agency_client_name`, the agency variant `grant_type=agency_client_credentials` that mints a
//!   token for one of the agency's (or manager's) clients. The answer carries `access_token`,
//!   `token_type` (`bearer`), `expires_in` (`"86400"`: a string in this grant's example),
//!   `refresh_token`, `scope` and, in some answers, `tokens_left`. VK allows **5 live tokens
//!   per client and user**, so the token lives in okno's store (the SDK's `OAuthSession`,
//!   shared by all processes, refreshed by one at a time with
//!   `grant_type=refresh_token`) and is minted only when the store has none or VK no longer
//!   knows the refresh token. A 401 from the API (`expired_token`, `invalid_token`) gets one new
//!   token and one retry. A mint refused with 403 (the token limit) is an auth error saying how
//!   to free the slots (`POST /api/v2/oauth2/token/delete.json`), which the connector does itself
//!   only with `delete_tokens_at_limit = true`, since it logs out every program using the client.
//! - **Rate limits** (`limits`): limits per second, hour and calendar day, different per user
//!   and method and not published as numbers; every answer states them in
//!   `X-RateLimit-{RPS,Hourly,Daily}-{Limit,Remaining}`. The bucket `api` (default 120 requests
//!   a minute, 2 a second: a conservative guess, overridable) paces every call. A 429 is retried
//!   by the SDK (after a second when the second's budget is spent); a spent hour or day — from
//!   a 429 or from `Remaining: 0` on a successful answer — is `ConnectorError::Quota` until the
//!   next hour or Moscow midnight, without another request.
//! - **Account** (`GET /api/v2/user.json?fields=id,username,additional_info,account`): the
//!   account id (the user `id`), its name (`additional_info.client_name` for agency clients,
//!   else `username`) and currency (`account.currency`; the `currency` setting overrides it).
//!   The API exposes no time zone for the account; its datetimes are Moscow time unless stated,
//!   so statistics days are taken as days in the `time_zone` setting, `Europe/Moscow` by default.
//! - **Levels** (`level`): the current VK Ads interface has *campaigns* (API `ad_plans`), which
//!   contain *ad groups* (API `campaigns`, the old myTarget campaigns), which contain ads
//!   (`banners`). `level = "ad_plans"` (default) makes okno's campaigns the interface's campaigns;
//!   `level = "campaigns"` uses the API's campaigns (the interface's ad groups), for accounts
//!   whose UTM marks or budgets are set per ad group.
//! - **Streams**:
//!   - `campaigns`: `GET /api/v2/{ad_plans|campaigns}.json?fields=id,name,status&limit=50&offset=N`
//!     (`{count, offset, limit, items}`) read to the end in one page, with the account's
//!     `AdAccount`; full refresh (cursor cleared). Status as VK spells it (`active`, `blocked`,
//!     `deleted`). VK has no `utm_campaign` of its own (marks live in each ad's URL): `None`.
//!   - `spend`: the SDK's look-back plan (`okno_connector::spend`), slices of at most 92 days
//!     (the statistics limit), `lookback_days` 7 by default. Each page: the object ids (the list
//!     above, to the end), then `GET /api/v2/statistics/{ad_plans|campaigns}/day.json?id=<≤200
//!     ids>&date_from&date_to&metrics=base` for every chunk of 200 ids →
//!     `items[].rows[] = {date, base: {shows, clicks, goals, spent, ...}}`; `spent` → exact
//!     decimal cost, `shows` → impressions, `clicks`, `goals` (else `base.vk.goals`) →
//!     conversions. Days with nothing at all are not stored (VK may list or omit them; the
//!     slice's `SpendWindow` zeroes stored rows it does not repeat), and rows dated outside the
//!     requested days are dropped with a warning.
//! - **Errors**: `{"error": {"code", "message"}}` (resources, statistics: `ERR_WRONG_PARAMETER`,
//!   `ERR_LIMIT_EXCEEDED`, `ERR_WRONG_DATE`...), `{"code", "message"}` (401s) and OAuth's
//!   `{"error": "...", "error_description": ...}` (token endpoint) all become errors that quote
//!   the code and message and say what to do.
//!
//! ## What the public sources leave open, and how this code copes
//!
//! - **The account's time zone**: not found in `user.json`; the `time_zone` setting (default
//!   `Europe/Moscow`, the API's default zone) names it. An account whose statistics follow
//!   another zone must set it.
//! - **Where the currency is**: `account.currency` in answers seen in public code, sometimes on
//!   the user; both are read, and without either the `spend` stream fails asking for the
//!   `currency` setting rather than guessing RUB.
//! - **When the daily limit resets**: "calendar day", zone unstated; Moscow midnight is assumed
//!   (the earlier of Moscow and UTC midnight, so at worst one request hits the limit again
//!   and yields another `Quota`). The hour is the UTC hour.
//! - **The rate-limit numbers**: not published; the bucket's 120/min is a guess to tune with
//!   `[connector.rate_limit] api = N` after looking at `X-RateLimit-*-Limit` or
//!   `GET /api/v2/throttling.json`.
//! - **The body of the token-limit refusal**: documented only as HTTP 403; public code shows
//!   `{"error": "token_limit_exceeded"}`. Any 403 on a mint is treated as the limit.
//! - **Refresh-token lifetime**: tokens unused for a month are deleted; a refused refresh token
//!   (any 4xx except `invalid_client`) leads to one new mint.
//! - **Whether deleted ad plans are listed**: the list is read without a status filter (none is
//!   documented for these endpoints, and an unknown filter could fail every request). If VK
//!   leaves deleted plans out by default, a plan deleted inside the look-back window is no
//!   longer asked for, and the next slice over those days zeroes its stored rows. Pausing
//!   rather than deleting plans whose recent spend matters avoids this.
//! - **`base.goals` vs `base.vk.goals`**: older documentation has `goals` in `base`, newer answers
//!   a `vk.goals` block; the first present is used, else conversions are `None`.
//! - **Page size**: the API's general rules say `limit` is at most 50; 50 is asked and paging
//!   follows `count` (or a short page when `count` is missing).
//! - **Depth of daily statistics**: older documentation limits daily statistics to the last 92
//!   days, newer code reads a year. A refused date range (`ERR_WRONG_DATE`) is a permanent error
//!   asking to move `start_date` forward.
//! - **Cross-process first mint**: the token store can claim an existing row but not an absent
//!   one, so two processes starting at the same moment with an empty store may each mint once
//!   (two of the five slots; the second token simply replaces the first in the store).
//!
//! Where to start reading: [`KIND`], then `api::Api::spend_page`, `auth::Tokens::token` and
//! `limits::Limits`.

mod api;
mod auth;
mod config;
mod limits;
#[cfg(feature = "mock")]
pub mod mock;
mod model;
mod normalize;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use okno_connector::{
    async_trait, BuildContext, Connector, ConnectorError, ConnectorKind, HttpClient, Page,
    PageRequest, RateBucket, SettingsError, StreamSpec,
};

pub use config::{Level, Settings};

/// The kind name in `[[connector]] kind = "vk_ads"`, and the default channel.
pub const KIND_NAME: &str = "vk_ads";

/// "Now", injectable so tests can run at any instant; the daemon uses the system clock.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The registry entry for `kind = "vk_ads"`.
pub static KIND: ConnectorKind = ConnectorKind {
    kind: KIND_NAME,
    summary: "VK Ads (ads.vk.com): ad plans or campaigns and their daily spend",
    streams: &[
        StreamSpec {
            name: "campaigns",
            doc: "the account and every ad plan (or campaign, by `level`) with its status; full refresh each run",
            default: true,
        },
        StreamSpec {
            name: "spend",
            doc: "daily spend, impressions, clicks and goals per ad plan/campaign; cursor: the SDK's look-back plan, slices of 92 days",
            default: true,
        },
    ],
    settings: config::SETTINGS,
    rate_buckets: &[RateBucket {
        name: api::BUCKET,
        per_minute: 120,
        doc: "every request, token calls included; VK states its per-second/hour/day limits only in X-RateLimit-* headers, so this is a conservative guess",
    }],
    build,
};

fn build(ctx: BuildContext) -> Result<Arc<dyn Connector>, Vec<SettingsError>> {
    build_with_clock(ctx, Arc::new(Utc::now))
}

/// Builds an instance that reads "now" from `clock` (tests); [`KIND`] uses the system clock.
pub fn build_with_clock(
    ctx: BuildContext,
    clock: Clock,
) -> Result<Arc<dyn Connector>, Vec<SettingsError>> {
    let settings = Settings::parse(&ctx.settings, ctx.base_url.as_ref())?;
    let http = HttpClient::new(KIND_NAME, &ctx.instance, &ctx.http)
        .map_err(|e| vec![SettingsError::new("", e.to_string())])?;
    let base = settings.base_url.as_str().trim_end_matches('/').to_string();
    let limits = Arc::new(limits::Limits::new(clock.clone()));
    let endpoint = auth::TokenEndpoint {
        http: http.clone(),
        token_url: format!("{base}/api/v2/oauth2/token.json"),
        delete_url: format!("{base}/api/v2/oauth2/token/delete.json"),
        client_id: settings.client_id.clone(),
        client_secret: settings.client_secret.clone(),
        agency_client_name: settings.agency_client_name.clone(),
        delete_at_limit: settings.delete_tokens_at_limit,
        limits: limits.clone(),
        instance: ctx.instance.clone(),
    };
    let tokens = auth::Tokens::new(endpoint, ctx.tokens.clone());
    Ok(Arc::new(VkAds {
        api: api::Api {
            http,
            base,
            settings,
            tokens,
            limits,
            clock,
        },
    }))
}

/// One VK Ads account (the API client's own, or one agency client).
pub struct VkAds {
    api: api::Api,
}

#[async_trait]
impl Connector for VkAds {
    async fn fetch_page(&self, req: PageRequest<'_>) -> Result<Page, ConnectorError> {
        match req.stream {
            "campaigns" => self.api.campaigns_page().await,
            "spend" => self.api.spend_page(req).await,
            other => Err(ConnectorError::Invalid(format!(
                "vk_ads has no stream {other:?} (it has campaigns and spend)"
            ))),
        }
    }

    async fn check(&self) -> Result<String, ConnectorError> {
        self.api.check().await
    }
}
