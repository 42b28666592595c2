//! # Yandex Direct connector (API v5)
//!
//! - **API**: Direct API v5 at `https://api.direct.yandex.com` (`sandbox = true`:
//!   `https://api-sandbox.direct.yandex.com`; `base_url` overrides both, and every URL below is
//!   built from it). The JSON services take `POST /json/v5/{service}` with
//!   `{"method": ..., "params": ...}` and answer `{"result": ...}` — or, **with HTTP 200**,
//!   `{"error": {"error_code", "request_id", "error_string", "error_detail"}}`. The Reports
//!   service (`POST /json/v5/reports`) answers a TSV body, and its errors come as the same JSON
//!   with HTTP 400. Every response carries `Units: spent/remaining/daily limit` (points).
//! - **Auth**: `Authorization: Bearer <token>` (setting `token`), an OAuth token with the
//!   `direct:api` scope. Yandex issues such tokens for a year and okno holds no refresh token,
//!   so there is nothing to refresh: an invalid token (error 53), missing rights (54), an
//!   unfinished API registration (58) or a user not in Direct (513) are auth errors asking for
//!   a new token. `Accept-Language: en` makes error texts English. Agency tokens name the
//!   client in `Client-Login`: each of `client_logins` is one account; without the setting the
//!   token's own account (its login from `Clients.get`) is the one account.
//! - **Limits**: points per advertiser, refilled through the day; every answer's `Units` header
//!   is logged at debug and set as gauges `okno_vendor_units{instance, vendor="yandex_direct",
//!   kind="spent"|"remaining"|"limit"}`. Error 152 (not enough points) is
//!   [`ConnectorError::Quota`] until an hour later — the engine shows it in `okno status` and
//!   schedules nothing earlier instead of retrying. Five concurrent requests per advertiser are
//!   allowed; errors 506 and 56 (too many requests) are retried by the SDK after 10 s; server
//!   errors 52/1000/1001/1002 and HTTP 5xx with its backoff. The one rate bucket `api`
//!   (120/min) only paces; no per-minute limit is documented.
//! - **Streams**:
//!   - `campaigns` (full refresh): one page per account — an [`AdAccount`](okno_connector::AdAccount) from `Clients.get`
//!     (`Login`, `Currency`, `ClientInfo` as the name) and every campaign from `Campaigns.get`
//!     (`Id`, `Name`, `Type`, `State`, `Status`, `TimeZone`; `Page {Limit: 10000, Offset}`,
//!     the next offset being `LimitedBy` until it is absent). `status` is the campaign's
//!     `State` (`ON`, `OFF`, `SUSPENDED`, `ENDED`, `ARCHIVED`...); `utm_campaign` is empty
//!     because Direct keeps tracking parameters on ads. The cursor is cleared after the last
//!     account.
//!   - `spend`: the SDK's look-back plan ([`okno_connector::spend`]): `lookback_days` (default
//!     3: "statistics normally stabilise within three days") re-pulled every run, slices of 31
//!     days, one report per slice and page, each page ending with its `SpendWindow`. When a
//!     pass starts, the account is looked up (currency, zone) and **Changes** is asked what
//!     was corrected: the first pass stores the server time from `checkDictionaries` (no
//!     `Timestamp`) in `SpendCursor.marks[login]`; later passes call `check` with the
//!     account's campaign ids (3000 per call), `FieldNames: ["CampaignsStat"]` and that mark;
//!     the earliest `Modified.CampaignsStat[].BorderDate` (never before `start_date`) is
//!     passed to `SpendCursor::begin` as `earliest`, and the returned `Timestamp` becomes the
//!     new mark.
//! - **Reports**: `CAMPAIGN_PERFORMANCE_REPORT`, `DateRangeType: CUSTOM_DATE`,
//!   `FieldNames: [Date, CampaignId, CampaignName, Impressions, Clicks, Cost]`, `Format: TSV`,
//!   `IncludeVAT` from the `include_vat` setting (a required choice, recorded on every row as
//!   `vat_included`), `IncludeDiscount: YES` (cost as charged after any discount), headers
//!   `processingMode: auto`, `returnMoneyInMicros: true` (integers, parsed exactly as
//!   `micros / 10^6`), `skipReportHeader` and `skipReportSummary: true`; the column header is
//!   kept and columns are mapped by name. **Offline flow**: 201 (queued) and 202 (building)
//!   carry `retryIn`; the identical request (same bytes, same `ReportName`) is re-sent after
//!   that many seconds (10 s without it, at most 5 min per wait) until 200 brings the TSV. A
//!   report not ready within 20 minutes fails the run as transient; the cursor stays at the
//!   slice. **`ReportName`** is unique to the account, the dates, the VAT choice and the pass's
//!   start time (kept in the cursor, strictly increasing per account), because Direct serves a
//!   finished report from its cache by name and a re-pull under an old name would return stale
//!   figures. The offline queue limit (error 9000, HTTP 400; at most five reports queue per
//!   advertiser) is waited out by the SDK: `retryIn` if given, else 30 s, then the identical
//!   request again; still full after every try, the run ends rate-limited.
//! - **Mapping**: `AdSpend` per (campaign, day) in the account currency; `raw` is the TSV row
//!   as a JSON object of its columns. `--` (no value) is zero cost and empty counts.
//!   Currencies are ISO codes as Direct spells them (RUB, USD, EUR, KZT, BYN, CHF, TRY, UAH...);
//!   `YND_FIXED` (legacy Yandex units) is not money and stops the account with an error saying
//!   so.
//! - **Click ids**: `yclid` cannot be resolved through Direct: click-level data lives in
//!   Yandex Metrica's Logs API (`ym:s:...` visits with their `yclid`). The extension point is
//!   a future Metrica source that would emit [`okno_connector::ClickId`] records with
//!   `kind: ClickKind::Yclid`, `account_id` = the Direct client login and `campaign_id` from
//!   the visit's Direct campaign; this crate deliberately emits none rather than guess.
//!
//! ## What the public sources leave open, and how this code copes
//!
//! - **Which zone report days are counted in.** Clients carry no zone; each campaign has a
//!   `TimeZone` (IANA names such as `Europe/Moscow`). The account's zone is the `time_zone`
//!   setting, else the zone most of its campaigns use (a mix is logged as a warning, ties go to
//!   the first name alphabetically), else `Europe/Moscow`, Direct's default. It decides "today"
//!   and the start day; the report's own `Date` values are stored as Direct gives them.
//! - **How fast points refill.** The documentation says points accrue at regular intervals
//!   through the day but the passage with the exact rule was not available; a spent balance is
//!   reported as a quota until one hour later.
//! - **`IncludeDiscount`**: its effect on accounts in real currencies is not described; `YES`
//!   (what was charged) is sent explicitly in every request, so the figures' meaning never
//!   depends on a server default.
//! - **Queue-limit code.** HTTP 400 is documented for "exceeded the limit on requests in the
//!   queue"; the code 9000 comes from client libraries (tapi-yandex-direct), not the reference.
//! - **`ReportName` length and characters**: undocumented; names use only ASCII letters,
//!   digits, `_` and the login.
//! - **`retryIn` units** are seconds per the header reference; fractions are accepted.
//! - **A report row outside the requested dates** or a malformed number fails the page rather
//!   than letting its `SpendWindow` zero days it did not cover.

mod api;
mod config;
#[cfg(feature = "mock")]
pub mod mock;
mod model;
mod report;
mod streams;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use okno_connector::{
    async_trait, BuildContext, Connector, ConnectorError, ConnectorKind, HttpClient, Page,
    PageRequest, RateBucket, SettingsError, StreamSpec,
};

pub use api::{parse_units, Units};
pub use config::Settings;
pub use report::micros_to_decimal;
pub use streams::report_name;

/// The connector kind's name, also the default `channel` and the metrics' `vendor` label.
pub const KIND_NAME: &str = "yandex_direct";

/// The registry entry for `kind = "yandex_direct"`.
pub static KIND: ConnectorKind = ConnectorKind {
    kind: KIND_NAME,
    summary: "Yandex Direct (API v5): accounts, campaigns and daily campaign spend from offline reports",
    streams: &[
        StreamSpec {
            name: "campaigns",
            doc: "every account and its campaigns (Clients.get, Campaigns.get), read whole every run",
            default: true,
        },
        StreamSpec {
            name: "spend",
            doc: "daily cost, impressions and clicks per campaign from CAMPAIGN_PERFORMANCE_REPORT; look-back window extended by Changes.check, resumes at the next 31-day slice",
            default: true,
        },
    ],
    settings: config::SETTINGS,
    rate_buckets: &[RateBucket {
        name: api::BUCKET,
        per_minute: 120,
        doc: "every request, report polls included; Direct meters points (Units) and allows 5 concurrent requests per advertiser, not a per-minute rate",
    }],
    build,
};

fn build(ctx: BuildContext) -> Result<Arc<dyn Connector>, Vec<SettingsError>> {
    connector_with_clock(ctx, Arc::new(Utc::now))
}

/// Builds an instance whose notion of "now" (today's date in the account's zone, the pass start
/// time, quota deadlines) comes from `now`: for tests and replays. [`KIND`] uses the system
/// clock.
pub fn connector_with_clock(
    ctx: BuildContext,
    now: Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>,
) -> Result<Arc<dyn Connector>, Vec<SettingsError>> {
    let settings = Settings::parse(&ctx.settings, ctx.base_url.as_ref())?;
    let http = HttpClient::new(KIND_NAME, &ctx.instance, &ctx.http)
        .map_err(|e| vec![SettingsError::new("", e.to_string())])?;
    Ok(Arc::new(YandexDirect {
        streams: streams::Streams::new(api::Api::new(http, settings, &ctx.instance, now)),
    }))
}

/// One Yandex Direct token and the accounts it pulls.
pub struct YandexDirect {
    streams: streams::Streams,
}

#[async_trait]
impl Connector for YandexDirect {
    async fn fetch_page(&self, req: PageRequest<'_>) -> Result<Page, ConnectorError> {
        match req.stream {
            "campaigns" => self.streams.campaigns_page(&req).await,
            "spend" => self.streams.spend_page(&req).await,
            other => Err(ConnectorError::Invalid(format!(
                "yandex_direct has no stream {other:?}"
            ))),
        }
    }

    async fn check(&self) -> Result<String, ConnectorError> {
        self.streams.check().await
    }
}
