//! # Meta Ads connector (Marketing API)
//!
//! - **API**: the Graph API's Marketing endpoints, `https://graph.facebook.com/{api_version}/...`
//!   (`api_version` defaults to `v26.0`, released July 2026; Meta retires a version about a year
//!   after the next one ships, so the default moves with okno releases). `base_url` replaces the
//!   host for every request (tests, proxies). Lists are cursor-paged: `{"data": [...],
//!   "paging": {"cursors": {"after"}, "next"}}`; the next request repeats the query with
//!   `after=<cursors.after>` (never following `paging.next`, which names Meta's own host), and
//!   the absence of `paging.next` ends the list.
//! - **Auth**: a system user's access token (`access_token`) with `ads_read`, sent as
//!   `Authorization: Bearer` so it never appears in a URL. System user tokens do not expire
//!   unless revoked, so there is nothing to refresh and no OAuth flow. With `app_secret`,
//!   every request also carries `appsecret_proof` = hex HMAC-SHA256 of the token keyed with
//!   the app secret (required by apps that enable "Require App Secret"). Error code **190** (or
//!   102) means the token is invalid, expired or revoked and becomes
//!   [`ConnectorError::Auth`] naming where to generate a new one; codes 10 and 200-299 are
//!   missing permissions (Auth, naming the ad account assignment).
//! - **Rate limits**: Meta scores calls per ad account and business use case (`ads_management`
//!   for account and campaign reads, `ads_insights` for insights) and reports usage in headers:
//!   `X-Business-Use-Case-Usage` (per business id, a list of `{type, call_count,
//!   total_cputime, total_time, estimated_time_to_regain_access}`; percentages and **minutes**),
//!   `X-Ad-Account-Usage` (`acc_id_util_pct`, `reset_time_duration` in seconds) and
//!   `X-FB-Ads-Insights-Throttle` (`app_id_util_pct`, `acc_id_util_pct`); `X-App-Usage` is read
//!   too. After every response the highest percentage decides a pause before the next request:
//!   none below 75 %, growing linearly to 60 s at 100 % (or the ad account's reset time). When a
//!   header says access is blocked (a regain estimate above 0, or the account at 100 % with a
//!   reset time), the next request waits for it, or, past 2 minutes, the page fails with
//!   [`ConnectorError::Quota`] until then and nothing is sent. Throttling errors (codes 4, 17,
//!   32, 341, 613 and the business-use-case family 80000-80014, e.g. 80000 insights, 80004
//!   management) arrive in the body of a 4xx: a named wait up to 2 minutes is retried by the
//!   SDK client after exactly that wait ([`okno_connector::Verdict::Retry`]); a longer one is a
//!   Quota with `until` = now + the wait, sent once and never retried; one that names no time
//!   is retried after 60 s (Meta blocks a throttled account 60 s on the standard tier) within
//!   the client's attempts, then reported as rate limited. Buckets `ads_management` and
//!   `ads_insights` (60 requests/minute each by default) only cap bursts; the headers govern.
//! - **Streams**:
//!   - `campaigns` (full refresh): one page per configured account, cursor `{"account": N}` (the
//!     index of the next account), cleared after the last: the account
//!     (`GET /{v}/act_{id}?fields=name,currency,timezone_name`) as an `AdAccount`, then every
//!     campaign (`GET /{v}/act_{id}/campaigns?fields=id,name,status,effective_status&limit=500`,
//!     paged to the end). Status is `effective_status` (ACTIVE, PAUSED, WITH_ISSUES...), else
//!     `status`; `channel` is the `channel` setting or `meta_ads`; `utm_campaign` stays empty
//!     (Meta keeps URL tags on ads, not campaigns).
//!   - `spend`: the SDK's look-back plan ([`okno_connector::spend`]): when a pass starts the
//!     account is looked up (currency, IANA `timezone_name`, whose "today" ends the pass) and
//!     recorded; each page is one slice of at most 28 days of one account with every
//!     campaign-day row of it and a `SpendWindow`. The rows come from
//!     `/{v}/act_{id}/insights?level=campaign&time_increment=1&time_range={"since","until"}
//!     &fields=campaign_id,campaign_name,spend,impressions,clicks,actions,date_start,date_stop
//!     &limit=500`: read directly (`GET`, paged) when the slice spans at most `async_after_days`
//!     days (default 7), else as an **asynchronous report run**: `POST` the same parameters,
//!     get `report_run_id`, poll `GET /{v}/{report_run_id}` after 2, 4, 8, 16, 30, 30... s
//!     until `async_status` is `Job Completed` at `async_percent_completion` 100, then page
//!     `GET /{v}/{report_run_id}/insights`. `Job Failed` and `Job Skipped` fail the page
//!     clearly (transient: the next run asks again), and so does a run unfinished after 30
//!     minutes. A direct query that Meta reports as timed out (code 100 subcode 1504018, or 2
//!     subcode 1504038) is asked again as a report run.
//!     `lookback_days` (default 28, Meta's restatement window) is re-pulled every run.
//! - **Mapping**: `spend` is a decimal string in the account currency, parsed from its text into
//!   an exact `Decimal` (a JSON number is parsed from its text too); `impressions` and `clicks`
//!   are whole numbers in strings; conversions are the sum of `actions[].value` whose
//!   `action_type` is listed in `conversion_actions` (default `lead` and `purchase`, Meta's
//!   aggregates: listing a sub-type such as `offsite_conversion.fb_pixel_lead` as well would
//!   count it twice). `date_start` is the row's day in the account's time zone; a row spanning
//!   several days or outside the requested range is refused as a decode error rather than stored
//!   under a wrong day. Account ids are written `act_<digits>` everywhere. Costs exclude VAT
//!   (`vat_included` is left unknown). `raw` is the row exactly as received.
//!
//! ## What the public sources leave open, and how this code copes
//!
//! - Whether every Marketing endpoint accepts the token in `Authorization: Bearer` (the
//!   reference examples pass `access_token` as a parameter): the header is used because the
//!   Graph API accepts OAuth bearer headers and a URL can leak into logs.
//! - The HTTP status of throttling and token errors (400, 403 and 401 are all reported): the
//!   decision is made on the body's `code`, never the status.
//! - Which usage header wins when they disagree: the highest percentage and the longest
//!   named wait are used. A header that does not parse is ignored.
//! - Whether `Job Completed` can come before 100 %: both are required when the percentage
//!   is present. Unknown `async_status` values are polled on until the 30-minute bound.
//! - Whether a report run can be resumed across processes: it is not; an interrupted page
//!   starts a new run, as the committed cursor never names one.
//! - Metrics Meta leaves out of a row: a missing `spend` is zero, missing counts stay unknown,
//!   missing `actions` mean zero conversions.
//! - Attribution: the account's default attribution setting applies (no
//!   `action_attribution_windows` is sent), so conversions match Ads Manager's default view.
//! - The campaigns edge may leave out deleted or archived campaigns; their spend rows still
//!   arrive with `campaign_id` (and `campaign_name` in `raw`).
//! - The exact `estimated_time_to_regain_access` unit (minutes per Meta's reference and every
//!   client seen) and whether `reset_time_duration` means "blocked for" or "window resets in":
//!   it is only treated as a block when `acc_id_util_pct` is at 100 or an error says so.

mod api;
mod config;
#[cfg(feature = "mock")]
pub mod mock;
mod model;
mod normalize;
mod throttle;

use std::sync::Arc;

use okno_connector::{
    async_trait, BuildContext, Connector, ConnectorError, ConnectorKind, HttpClient, Page,
    PageRequest, RateBucket, SettingsError, StreamSpec,
};

pub use config::Settings;

/// The kind name in `[[connector]] kind = "meta_ads"`.
pub const KIND_NAME: &str = "meta_ads";

/// The registry entry for `kind = "meta_ads"`.
pub static KIND: ConnectorKind = ConnectorKind {
    kind: KIND_NAME,
    summary: "Meta Ads (Marketing API): ad accounts, campaigns and daily campaign spend with conversions",
    streams: &[
        StreamSpec {
            name: "campaigns",
            doc: "every configured ad account and all its campaigns, read whole every run (cursor: the next account's index)",
            default: true,
        },
        StreamSpec {
            name: "spend",
            doc: "daily campaign spend, impressions, clicks and conversions from insights, re-pulling the last lookback_days; one page per slice of up to 28 days (cursor: the SDK's spend plan)",
            default: true,
        },
    ],
    settings: config::SETTINGS,
    rate_buckets: &[
        RateBucket {
            name: api::MANAGEMENT,
            per_minute: 60,
            doc: "account and campaign reads; Meta's own limit is a per-account score reported in X-Business-Use-Case-Usage, which paces requests on top of this cap",
        },
        RateBucket {
            name: api::INSIGHTS,
            per_minute: 60,
            doc: "insights queries, report runs and their status polls; paced further by Meta's usage headers",
        },
    ],
    build,
};

fn build(ctx: BuildContext) -> Result<Arc<dyn Connector>, Vec<SettingsError>> {
    let settings = config::Settings::parse(&ctx.settings, ctx.base_url.as_ref(), KIND_NAME)?;
    let http = HttpClient::new(KIND_NAME, &ctx.instance, &ctx.http)
        .map_err(|e| vec![SettingsError::new("", e.to_string())])?;
    let api = api::Api::new(http, settings)
        .map_err(|e| vec![SettingsError::new("access_token", e.to_string())])?;
    Ok(Arc::new(MetaAds { api }))
}

/// One Meta Ads instance: a token and the ad accounts it reads.
pub struct MetaAds {
    api: api::Api,
}

#[async_trait]
impl Connector for MetaAds {
    async fn fetch_page(&self, req: PageRequest<'_>) -> Result<Page, ConnectorError> {
        match req.stream {
            "campaigns" => self.api.campaigns_page(req.cursor).await,
            "spend" => self.api.spend_page(req.cursor, req.start).await,
            other => Err(ConnectorError::Invalid(format!(
                "meta_ads has no stream {other:?} (streams: campaigns, spend)"
            ))),
        }
    }

    async fn check(&self) -> Result<String, ConnectorError> {
        self.api.check().await
    }
}
