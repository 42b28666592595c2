//! # Bank of Russia exchange rates connector
//!
//! The official rouble rates the Central Bank of Russia sets every business day, as
//! [`okno_connector::FxRate`] records (`base` RUB, `rate` = roubles per **one** unit of the
//! currency, exact), so spend and deal amounts in other currencies can be converted on the day
//! they belong to.
//!
//! - **API**: the bank's public XML service, `GET https://www.cbr.ru/scripts/XML_daily.asp
//!   ?date_req=DD/MM/YYYY` (cbr.ru/development/sxml, "Example 1"). No key, no account. The
//!   answer is XML declared `encoding="windows-1251"`:
//!   `<ValCurs Date="dd.mm.yyyy" name="Foreign Currency Market">` holding one
//!   `<Valute ID="R01235">` per currency with `NumCode`, `CharCode` (ISO 4217), `Nominal`,
//!   `Name`, `Value` (roubles per `Nominal` units, decimal **comma**: `92,5058`) and, in current
//!   answers, `VunitRate` (roubles per one unit, trailing zeros dropped: `0,0034423`). The
//!   English variant `XML_daily_eng.asp` has the same shape with English names; names are not
//!   used, so the Russian one is asked. A request the bank cannot serve answers HTTP 200 with
//!   `<ValCurs>Error in parameters</ValCurs>` (declared UTF-8), reported as a permanent error
//!   quoting it. The body is decoded with `encoding_rs` in the encoding its declaration names
//!   (see [`daily`]) and read with `quick-xml`; a body that is not that document (an HTML page,
//!   a truncated answer) is a [`ConnectorError::Decode`] and the cursor stays where it was.
//! - **Auth**: none. The SDK client sends okno's `User-Agent` on every request.
//! - **Rate limits**: none published; the site answers 403 (and 429) to clients it considers
//!   aggressive, and some networks outside Russia get 403 for everything. Every request spends
//!   from the bucket `daily`, 30 per minute by default (one request every two seconds; the SDK
//!   allows no burst above one per second's worth). A 429 is retried by the SDK client with its
//!   backoff; a **403 is not retried**: it becomes [`ConnectorError::Quota`] with `until` one
//!   hour ahead, so the engine shows the wait in `okno status` and schedules nothing before.
//! - **Stream `rates`** (default): one request and one page per Moscow day. The cursor is
//!   `{"through": D, "pass": {"next": N, "to": T}}`: `through` is the last day pulled for good,
//!   `pass` the days of the run under way (planned at its first page, cleared after its last,
//!   so a crash resumes at the next day of the same pass). A run pulls from the day before
//!   `through` (the last two days again: the bank occasionally corrects a set) or, on the first
//!   run, from `start_date` as a Moscow day (never before 1 July 1992), through **tomorrow in
//!   Moscow**: the bank sets the next day's rates in the afternoon.
//! - **Which day a rate is recorded under**: the `ValCurs Date` attribute is the day a set is
//!   in force from; the bank answers a day without a set of its own (weekends, holidays: a
//!   Sunday or Monday request returns Saturday's set) with the last set before it. Every
//!   requested day is recorded with the set in force on it, so a report finds a rate for any
//!   spend date without looking back: a Sunday gets Saturday's rates under Sunday's date. The
//!   exception is a day after today (tomorrow) answered with an earlier set: its own set is not
//!   published yet (the bank answers with today's), so nothing is stored under it and `through`
//!   does not move past it; the next run asks again. A tomorrow answered with a set dated
//!   tomorrow is stored. A set dated *after* the requested day (before the bank's first rates)
//!   records nothing for that day.
//! - **Rates**: `VunitRate` when present (the exact per-unit rate the bank publishes); older
//!   answers without it give `Value / Nominal`, computed in decimal (the nominals are powers of
//!   ten, so the quotient is exact: `17,3926` per 100 KZT is `0.173926`). Never a float.
//!   `currencies` keeps only the listed codes. A `Valute` with a malformed `CharCode`,
//!   `Nominal`, `Value` or `VunitRate` is left out of that day with a warning naming it, and the
//!   rest of the day is kept.
//! - **Settings**: `currencies` (optional). The host is `https://www.cbr.ru/` unless the block
//!   sets `base_url`; the request path `scripts/XML_daily.asp` is joined to it.
//! - `check()` asks for today's (Moscow) set and says how many rates it holds.
//!
//! ## What the public sources leave open, and how this code copes
//!
//! - The bank documents no rate limit and no block duration: 30 requests per minute is a
//!   guess that keeps a first backfill of a year near twelve minutes; the one-hour wait after a
//!   403 is a choice, not a documented figure. The 403 page's body is not read.
//! - Whether a 429 carries `Retry-After`: the SDK honours it when present, else backs off.
//! - Since when answers carry `VunitRate`: both shapes are read; when both numbers are there,
//!   `VunitRate` wins (it is the figure the bank publishes per unit).
//! - The bank's answer for days before its first rates: 1 July 1992 is
//!   the earliest day asked for, and a set dated after the requested day records nothing.
//! - A `Nominal` that is not a power of ten (none seen) would make `Value / Nominal` round at
//!   28 significant digits; only an answer without `VunitRate` could hit it.
//! - Whether the site rejects some `User-Agent`s (a third-party client once added a browser's):
//!   okno sends its own; a refusal shows up as the 403 above.
//! - Holidays are not listed anywhere machine-readable: the rule above needs no calendar, since
//!   the bank's answer itself says which set is in force.

mod api;
mod config;
pub mod daily;
#[cfg(feature = "mock")]
pub mod mock;

use std::collections::BTreeSet;
use std::sync::Arc;

use okno_connector::{
    async_trait, BuildContext, Connector, ConnectorError, ConnectorKind, Currency, HttpClient,
    Page, PageRequest, RateBucket, SettingsError, StreamSpec,
};
use url::Url;

pub use config::Settings;

/// The kind name in `[[connector]] kind = "cbr"`.
pub const KIND_NAME: &str = "cbr";

/// The host asked when the block sets no `base_url`.
pub const DEFAULT_BASE_URL: &str = "https://www.cbr.ru/";

/// The registry entry for `kind = "cbr"`.
pub static KIND: ConnectorKind = ConnectorKind {
    kind: KIND_NAME,
    summary: "Bank of Russia: official daily exchange rates (RUB per unit of each currency)",
    streams: &[StreamSpec {
        name: "rates",
        doc: "one XML_daily request per Moscow day, through tomorrow; weekends and holidays carry the set in force; resumes from {through, pass}, re-pulling the last 2 days",
        default: true,
    }],
    settings: config::SETTINGS,
    rate_buckets: &[RateBucket {
        name: api::BUCKET,
        per_minute: 30,
        doc: "every request to www.cbr.ru; the site publishes no limit and answers 403/429 to clients it finds aggressive",
    }],
    build,
};

fn build(ctx: BuildContext) -> Result<Arc<dyn Connector>, Vec<SettingsError>> {
    let settings = Settings::parse(&ctx.settings)?;
    let base = match &ctx.base_url {
        Some(url) => url.clone(),
        None => Url::parse(DEFAULT_BASE_URL)
            .map_err(|e| vec![SettingsError::new("base_url", e.to_string())])?,
    };
    let daily_url = daily_url(&base).map_err(|why| {
        vec![SettingsError::new("base_url", why).hint("an http(s) URL such as https://www.cbr.ru/")]
    })?;
    let http = HttpClient::new(KIND_NAME, &ctx.instance, &ctx.http)
        .map_err(|e| vec![SettingsError::new("", e.to_string())])?;
    let rub = "RUB"
        .parse::<Currency>()
        .map_err(|e| vec![SettingsError::new("", e.to_string())])?;
    Ok(Arc::new(Cbr {
        http,
        daily_url,
        currencies: settings.currencies,
        rub,
        instance: ctx.instance,
    }))
}

/// `<base>/scripts/XML_daily.asp`, keeping any path prefix of the base (a proxy's `/cbr/`).
fn daily_url(base: &Url) -> Result<Url, String> {
    if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
        return Err(format!("{base} is not an http(s) base URL"));
    }
    let mut base = base.clone();
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    base.set_query(None);
    base.join("scripts/XML_daily.asp")
        .map_err(|e| format!("cannot join the request path to {base}: {e}"))
}

/// One instance: the bank's rates, optionally for some currencies only.
pub struct Cbr {
    http: HttpClient,
    /// `…/scripts/XML_daily.asp`, without a query.
    daily_url: Url,
    currencies: Option<BTreeSet<Currency>>,
    rub: Currency,
    instance: String,
}

#[async_trait]
impl Connector for Cbr {
    async fn fetch_page(&self, req: PageRequest<'_>) -> Result<Page, ConnectorError> {
        match req.stream {
            "rates" => self.rates_page(req).await,
            other => Err(ConnectorError::Invalid(format!(
                "cbr has no stream {other:?} (it has: rates)"
            ))),
        }
    }

    async fn check(&self) -> Result<String, ConnectorError> {
        self.check_today().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_url_keeps_the_base_path() {
        let u = |s: &str| daily_url(&Url::parse(s).unwrap()).unwrap().to_string();
        assert_eq!(
            u("https://www.cbr.ru"),
            "https://www.cbr.ru/scripts/XML_daily.asp"
        );
        assert_eq!(
            u("http://127.0.0.1:4000/cbr?x=1"),
            "http://127.0.0.1:4000/cbr/scripts/XML_daily.asp"
        );
        assert!(daily_url(&Url::parse("ftp://example.com/").unwrap()).is_err());
    }

    #[test]
    fn the_kind_lists_its_stream_setting_and_bucket() {
        assert_eq!(KIND.kind, "cbr");
        assert!(KIND.stream("rates").is_some_and(|s| s.default));
        assert_eq!(KIND.settings.len(), 1);
        assert_eq!(KIND.rate_buckets[0].per_minute, 30);
    }
}
