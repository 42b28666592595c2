//! Configuration: TOML files under `config/`, overridden by `OKNO__SECTION__KEY` environment
//! variables, with secrets from `${ENV}` references or `<key>_file` paths.
//!
//! Loading is pure apart from reading the file, secret files and the environment: connectors are
//! built (which creates their HTTP clients) but nothing is called. Every problem found is
//! reported at once, each naming the file, the key path and a fix.

pub mod budgets;
pub mod export;
pub mod people;
mod secrets;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use okno_connector::settings::closest;
use okno_connector::{BuildContext, Connector, ConnectorKind, HttpOptions};
use serde::Deserialize;
use url::Url;

use crate::registry;

/// Default store: an SQLite file under `./data/`, created on first use.
pub const DEFAULT_STORE_URL: &str = "sqlite://data/okno.db";
/// Default schedule: every 15 minutes.
pub const DEFAULT_SCHEDULE: &str = "*/15 * * * *";
/// How far back a first backfill reaches when `start_date` is not set.
pub const DEFAULT_BACKFILL_DAYS: i64 = 365;

/// One problem in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    pub file: PathBuf,
    /// Key path, e.g. `connector[0].settings.subdomain`; empty for the file as a whole.
    pub key: String,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "\n    hint: {h}")?;
        }
        Ok(())
    }
}

/// Every problem found in a configuration.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    pub issues: Vec<ConfigIssue>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.issues.len();
        writeln!(
            f,
            "{n} problem{} in the configuration:",
            if n == 1 { "" } else { "s" }
        )?;
        for issue in &self.issues {
            writeln!(f, "  - {issue}")?;
        }
        Ok(())
    }
}

/// `[store]`.
#[derive(Clone)]
pub struct StoreConfig {
    /// `sqlite://path` or `postgres://user@host/db`. May hold a password: show it only through
    /// [`StoreConfig::shown_url`].
    pub url: String,
    pub max_connections: u32,
    /// How long a process's claim on an instance lasts without renewal: a replica that dies is
    /// replaced within about this long.
    pub lease_ttl: Duration,
}

impl StoreConfig {
    /// The URL with any password replaced by `***`.
    pub fn shown_url(&self) -> String {
        crate::store::redact_url(&self.url)
    }
}

impl fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreConfig")
            .field("url", &self.shown_url())
            .field("max_connections", &self.max_connections)
            .field("lease_ttl", &self.lease_ttl)
            .finish()
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// `[log]`.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// A tracing filter: `info`, or `okno=debug,info`.
    pub level: String,
    pub format: LogFormat,
}

/// One `[[connector]]` block, validated and built.
#[derive(Clone)]
pub struct Instance {
    pub id: String,
    pub kind: &'static ConnectorKind,
    pub schedule: cron::Schedule,
    pub schedule_text: String,
    /// Streams to pull, in order.
    pub streams: Vec<String>,
    pub enabled: bool,
    /// Where a first backfill starts.
    pub start: DateTime<Utc>,
    pub connector: Arc<dyn Connector>,
}

impl fmt::Debug for Instance {
    // Settings are never kept after building, so nothing secret can be printed from here.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Instance")
            .field("id", &self.id)
            .field("kind", &self.kind.kind)
            .field("schedule", &self.schedule_text)
            .field("streams", &self.streams)
            .field("enabled", &self.enabled)
            .field("start", &self.start)
            .finish_non_exhaustive()
    }
}

/// `[report]`: how figures are stated (FIGURES.md, "Conventions").
#[derive(Debug, Clone, PartialEq)]
pub struct ReportConfig {
    /// Every amount is converted into this currency at the rate of its own day.
    pub currency: okno_connector::Currency,
    /// Days, weeks and months of reports are counted in this zone.
    pub timezone: okno_connector::chrono_tz::Tz,
    /// Whether spend is taken with VAT where a platform reports it both ways.
    pub spend_includes_vat: bool,
    /// Gross margin for ROMI (0 to 1), unless a product has its own.
    pub gross_margin: Option<okno_connector::rust_decimal::Decimal>,
    /// Gross margin per product name, as the CRM spells the product.
    pub product_margin: BTreeMap<String, okno_connector::rust_decimal::Decimal>,
    /// VAT rates by the day they start, oldest first: spend a platform reported with VAT is
    /// divided by (1 + the rate of its day) unless `spend_includes_vat`.
    pub vat: Vec<VatRate>,
}

/// `[[report.vat]]`: a VAT rate in force from `from` until the next entry's `from`.
#[derive(Debug, Clone, PartialEq)]
pub struct VatRate {
    pub from: chrono::NaiveDate,
    /// 0.22 for 22 %.
    pub rate: okno_connector::rust_decimal::Decimal,
}

impl VatRate {
    /// Russia: 20 % from 2019-01-01, 22 % from 2026-01-01.
    pub fn russian_default() -> Vec<VatRate> {
        use okno_connector::rust_decimal::Decimal;
        let day = |y, m, d| {
            chrono::NaiveDate::from_ymd_opt(y, m, d)
                .unwrap_or_else(|| unreachable!("a valid calendar day"))
        };
        vec![
            VatRate {
                from: day(2019, 1, 1),
                rate: Decimal::new(20, 2),
            },
            VatRate {
                from: day(2026, 1, 1),
                rate: Decimal::new(22, 2),
            },
        ]
    }

    /// The rate in force on `day` among `rates` (oldest first); `None` before the first.
    pub fn on(
        rates: &[VatRate],
        day: chrono::NaiveDate,
    ) -> Option<okno_connector::rust_decimal::Decimal> {
        rates.iter().rev().find(|r| r.from <= day).map(|r| r.rate)
    }
}

impl Default for ReportConfig {
    fn default() -> Self {
        ReportConfig {
            currency: okno_connector::Currency::from_str("RUB")
                .unwrap_or_else(|_| unreachable!("RUB is a currency code")),
            timezone: okno_connector::chrono_tz::Europe::Moscow,
            spend_includes_vat: false,
            gross_margin: None,
            product_margin: BTreeMap::new(),
            vat: VatRate::russian_default(),
        }
    }
}

#[derive(Deserialize, Default)]
struct RawReport {
    currency: Option<String>,
    timezone: Option<String>,
    spend_includes_vat: Option<bool>,
    gross_margin: Option<serde_json::Value>,
    #[serde(default)]
    product_margin: BTreeMap<String, serde_json::Value>,
    vat: Option<Vec<serde_json::Value>>,
}

const REPORT_KEYS: &[&str] = &[
    "currency",
    "timezone",
    "spend_includes_vat",
    "gross_margin",
    "product_margin",
    "vat",
];

/// `[[report.vat]]` entries: each `from = "YYYY-MM-DD"` and `rate = "0.22"` (a string from 0 to
/// 1), no two on the same day; sorted oldest first.
fn vat_rates(entries: &[serde_json::Value], issues: &mut Issues) -> Vec<VatRate> {
    use okno_connector::rust_decimal::Decimal;
    let mut out: Vec<VatRate> = Vec::new();
    let fix = || Some("e.g. [[report.vat]] from = \"2026-01-01\" rate = \"0.22\"".to_string());
    for (i, e) in entries.iter().enumerate() {
        let key = format!("report.vat[{i}]");
        let Some(obj) = e.as_object() else {
            issues.push(key, "is not a table with from and rate", fix());
            continue;
        };
        for k in obj
            .keys()
            .filter(|k| !["from", "rate"].contains(&k.as_str()))
        {
            issues.push(format!("{key}.{k}"), "unknown key", fix());
        }
        let from = obj
            .get("from")
            .and_then(|v| v.as_str())
            .and_then(|t| chrono::NaiveDate::parse_from_str(t.trim(), "%Y-%m-%d").ok());
        let rate = obj
            .get("rate")
            .and_then(|v| v.as_str())
            .and_then(|t| t.trim().parse::<Decimal>().ok())
            .filter(|r| *r >= Decimal::ZERO && *r < Decimal::ONE);
        if from.is_none() {
            issues.push(
                format!("{key}.from"),
                "must be the first day of the rate as \"YYYY-MM-DD\"",
                fix(),
            );
        }
        if rate.is_none() {
            issues.push(
                format!("{key}.rate"),
                "must be a rate from 0 to 1 written as a string",
                fix(),
            );
        }
        if let (Some(from), Some(rate)) = (from, rate) {
            if out.iter().any(|r| r.from == from) {
                issues.push(
                    format!("{key}.from"),
                    format!("{from} is the start of another rate too"),
                    Some("keep one [[report.vat]] per starting day".into()),
                );
            } else {
                out.push(VatRate { from, rate });
            }
        }
    }
    out.sort_by_key(|r| r.from);
    out
}

/// A margin written as a string from 0 to 1 ("0.35"), so it stays exact.
fn margin(
    value: &serde_json::Value,
    key: &str,
    issues: &mut Issues,
) -> Option<okno_connector::rust_decimal::Decimal> {
    use okno_connector::rust_decimal::Decimal;
    let parsed = match value {
        serde_json::Value::String(t) => t.trim().parse::<Decimal>().ok(),
        _ => None,
    };
    match parsed {
        Some(m) if m >= Decimal::ZERO && m <= Decimal::ONE => Some(m),
        _ => {
            issues.push(
                key.to_string(),
                format!("{value} is not a margin from 0 to 1 written as a string"),
                Some("e.g. gross_margin = \"0.35\" for 35 %".into()),
            );
            None
        }
    }
}

fn report_section(tree: &serde_json::Value, issues: &mut Issues) -> ReportConfig {
    let mut out = ReportConfig::default();
    let Some(value) = tree.get("report") else {
        return out;
    };
    let Some(raw) = section::<RawReport>(value, "report", REPORT_KEYS, issues) else {
        return out;
    };
    if let Some(c) = raw.currency {
        match c.parse() {
            Ok(c) => out.currency = c,
            Err(e) => issues.push("report.currency", e.to_string(), None),
        }
    }
    if let Some(tz) = raw.timezone {
        match tz.parse() {
            Ok(tz) => out.timezone = tz,
            Err(_) => issues.push(
                "report.timezone",
                format!("{tz:?} is not an IANA time zone"),
                Some("e.g. timezone = \"Europe/Moscow\"".into()),
            ),
        }
    }
    out.spend_includes_vat = raw.spend_includes_vat.unwrap_or(false);
    out.gross_margin = raw
        .gross_margin
        .as_ref()
        .and_then(|v| margin(v, "report.gross_margin", issues));
    for (product, v) in &raw.product_margin {
        if let Some(m) = margin(v, &format!("report.product_margin.{product}"), issues) {
            out.product_margin.insert(product.clone(), m);
        }
    }
    if let Some(entries) = &raw.vat {
        out.vat = vat_rates(entries, issues);
    }
    out
}

/// `[anomalies]`: thresholds of `okno report anomalies`.
#[derive(Debug, Clone, PartialEq)]
pub struct AnomalyConfig {
    /// A campaign is flagged when its CPL passes this many times its channel's median CPL (and
    /// when it spent that many median leads' worth with no lead at all).
    pub cpl_factor: okno_connector::rust_decimal::Decimal,
    /// A channel's median means something from this many campaigns with leads.
    pub min_campaigns: u32,
    /// A segment with at least this many leads of the period and no sale among them is flagged.
    pub segment_min_leads: u32,
}

impl Default for AnomalyConfig {
    fn default() -> Self {
        AnomalyConfig {
            cpl_factor: okno_connector::rust_decimal::Decimal::TWO,
            min_campaigns: 3,
            segment_min_leads: 100,
        }
    }
}

#[derive(Deserialize)]
struct RawAnomalies {
    cpl_factor: Option<serde_json::Value>,
    min_campaigns: Option<u32>,
    segment_min_leads: Option<u32>,
}

const ANOMALY_KEYS: &[&str] = &["cpl_factor", "min_campaigns", "segment_min_leads"];

fn anomalies_section(tree: &serde_json::Value, issues: &mut Issues) -> AnomalyConfig {
    use okno_connector::rust_decimal::Decimal;
    let mut out = AnomalyConfig::default();
    let Some(value) = tree.get("anomalies") else {
        return out;
    };
    let Some(raw) = section::<RawAnomalies>(value, "anomalies", ANOMALY_KEYS, issues) else {
        return out;
    };
    if let Some(v) = raw.cpl_factor {
        match v.as_str().and_then(|t| t.trim().parse::<Decimal>().ok()) {
            Some(k) if k > Decimal::ONE => out.cpl_factor = k,
            _ => issues.push(
                "anomalies.cpl_factor",
                format!("{v} is not a factor above 1 written as a string"),
                Some(
                    "e.g. cpl_factor = \"2.5\" flags CPLs above 2.5 × the channel's median".into(),
                ),
            ),
        }
    }
    match raw.min_campaigns {
        Some(n) if n < 2 => issues.push(
            "anomalies.min_campaigns",
            format!("{n} campaigns make no median to compare with"),
            Some("use 2 or more; default 3".into()),
        ),
        Some(n) => out.min_campaigns = n,
        None => {}
    }
    match raw.segment_min_leads {
        Some(0) => issues.push(
            "anomalies.segment_min_leads",
            "0 would flag every segment without a sale, even one with no leads",
            Some("e.g. segment_min_leads = 100".into()),
        ),
        Some(n) => out.segment_min_leads = n,
        None => {}
    }
    out
}

/// `[server]`: the HTTP listener for webhooks and health checks. Off when absent.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: std::net::SocketAddr,
    /// Larger webhook bodies are refused with 413.
    pub max_body_bytes: usize,
    /// Time allowed to store a delivery before answering 503 (nothing acknowledged).
    pub request_timeout: Duration,
    /// Deliveries accepted per second per connector instance; more get 429.
    pub webhook_rate_per_sec: u32,
    /// Attempts at processing a delivery before it is parked as dead.
    pub webhook_max_attempts: u32,
    /// When set, `GET /metrics` requires `Authorization: Bearer <token>`.
    pub metrics_token: Option<okno_connector::SecretString>,
    /// When set, the report API (`/api/v1/...`) requires `Authorization: Bearer <token>`.
    pub api_token: Option<okno_connector::SecretString>,
    /// Processed deliveries (bodies included) are deleted after this many days.
    pub webhook_retention_days: u32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_body_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(10),
            webhook_rate_per_sec: 200,
            webhook_max_attempts: 8,
            metrics_token: None,
            api_token: None,
            webhook_retention_days: 30,
        }
    }
}

/// The whole configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub store: StoreConfig,
    pub log: LogConfig,
    pub server: Option<ServerConfig>,
    pub connectors: Vec<Instance>,
    /// Shared by every connector; attached to the store by [`crate::store::Store::attach_tokens`]
    /// once the store is open.
    pub tokens: okno_connector::TokenVault,
    /// `people.toml` beside the configuration file (empty when there is none).
    pub people: std::sync::Arc<people::People>,
    /// `[[fx]]` blocks: exchange rates fixed by hand for a range of days.
    pub fx: Vec<FixedRate>,
    /// `[[attribution.rule]]`s, in file order.
    pub attribution: Vec<crate::figures::attribution::Rule>,
    pub report: ReportConfig,
    /// `[anomalies]`: when a figure is worth a human look.
    pub anomalies: AnomalyConfig,
    /// `[[export]]` blocks: nightly report files.
    pub exports: Vec<export::Export>,
    /// `budgets.toml` beside the configuration file (no lines when there is none).
    pub budgets: std::sync::Arc<budgets::Budgets>,
}

/// One `[[fx]]` block: one unit of `currency` is worth `rate` units of `base` on every day
/// from `from` to `to`. Written into `fx_rate` at start (origin `config`), where a rate from
/// another origin for the same day is replaced.
#[derive(Debug, Clone, PartialEq)]
pub struct FixedRate {
    pub currency: okno_connector::Currency,
    pub base: okno_connector::Currency,
    pub rate: okno_connector::rust_decimal::Decimal,
    pub from: chrono::NaiveDate,
    pub to: chrono::NaiveDate,
}

impl FixedRate {
    /// The block as one rate record per day.
    pub fn records(&self) -> impl Iterator<Item = okno_connector::Record> + '_ {
        self.from
            .iter_days()
            .take_while(|d| *d <= self.to)
            .map(|date| {
                okno_connector::Record::FxRate(okno_connector::FxRate {
                    date,
                    currency: self.currency,
                    base: self.base,
                    rate: self.rate,
                })
            })
    }
}

impl Config {
    pub fn instance(&self, id: &str) -> Option<&Instance> {
        self.connectors.iter().find(|c| c.id == id)
    }
}

/// A loaded configuration and the warnings worth showing (e.g. literal secrets).
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<ConfigIssue>,
}

#[derive(Deserialize, Default)]
struct RawRoot {
    #[serde(default)]
    store: RawStore,
    #[serde(default)]
    log: RawLog,
    server: Option<RawServer>,
    /// Validated one by one below, so one bad block does not hide the others' problems.
    #[serde(default, rename = "connector")]
    _connectors: serde_json::Value,
    #[serde(default, rename = "fx")]
    _fx: serde_json::Value,
    #[serde(default, rename = "attribution")]
    _attribution: serde_json::Value,
    #[serde(default, rename = "report")]
    _report: serde_json::Value,
    #[serde(default, rename = "anomalies")]
    _anomalies: serde_json::Value,
    #[serde(default, rename = "export")]
    _export: serde_json::Value,
}

const ROOT_KEYS: &[&str] = &[
    "store",
    "log",
    "server",
    "connector",
    "fx",
    "attribution",
    "report",
    "anomalies",
    "export",
];

#[derive(Deserialize)]
struct RawAttribution {
    #[serde(default)]
    rule: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawRule {
    field: Option<String>,
    #[serde(rename = "match")]
    how: Option<String>,
    value: String,
    campaign: Option<String>,
    channel: Option<String>,
}

const RULE_KEYS: &[&str] = &["field", "match", "value", "campaign", "channel"];

/// `[[attribution.rule]]` blocks; `instances` are the connector ids a campaign target may name.
fn attribution_rules(
    tree: &serde_json::Value,
    instances: &BTreeSet<String>,
    issues: &mut Issues,
) -> Vec<crate::figures::attribution::Rule> {
    use crate::figures::attribution::{Field, Matcher, Rule, Target};
    let Some(value) = tree.get("attribution") else {
        return Vec::new();
    };
    let Some(raw) = section::<RawAttribution>(value, "attribution", &["rule"], issues) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, value) in raw.rule.iter().enumerate() {
        let prefix = format!("attribution.rule[{i}]");
        let Some(r) = section::<RawRule>(value, &prefix, RULE_KEYS, issues) else {
            continue;
        };
        let field_name = r.field.as_deref().unwrap_or("utm_campaign");
        let field = Field::parse(field_name);
        if field.is_none() {
            issues.push(
                format!("{prefix}.field"),
                format!("{field_name:?} is not a UTM field"),
                Some(format!("one of {}", Field::NAMES.join(", "))),
            );
        }
        let how = r.how.as_deref().unwrap_or("exact");
        let matcher = match how {
            "exact" => Some(Matcher::Exact(r.value.clone())),
            "any_case" => Some(Matcher::AnyCase(r.value.clone())),
            "prefix" => Some(Matcher::Prefix(r.value.clone())),
            "regex" => match regex::Regex::new(&r.value) {
                Ok(re) => Some(Matcher::Regex(re)),
                Err(e) => {
                    issues.push(
                        format!("{prefix}.value"),
                        format!("not a regular expression: {e}"),
                        None,
                    );
                    None
                }
            },
            other => {
                issues.push(
                    format!("{prefix}.match"),
                    format!("{other:?} is not a way to match"),
                    Some("exact, any_case, prefix or regex".into()),
                );
                None
            }
        };
        let target = match (&r.campaign, &r.channel) {
            (Some(c), None) => match c.split_once(':') {
                Some((inst, id)) if instances.contains(inst) && !id.is_empty() => {
                    Some(Target::Campaign {
                        source: inst.to_string(),
                        campaign_id: id.to_string(),
                    })
                }
                Some((inst, _)) if !instances.contains(inst) => {
                    issues.push(
                        format!("{prefix}.campaign"),
                        format!("{inst:?} is not a connector instance of this file"),
                        Some("write <instance id>:<campaign id>, e.g. \"direct:70000012\"".into()),
                    );
                    None
                }
                _ => {
                    issues.push(
                        format!("{prefix}.campaign"),
                        format!("{c:?} is not <instance id>:<campaign id>"),
                        Some("e.g. campaign = \"direct:70000012\"".into()),
                    );
                    None
                }
            },
            (None, Some(ch)) if !ch.trim().is_empty() => {
                Some(Target::Channel(ch.trim().to_string()))
            }
            _ => {
                issues.push(
                    prefix.clone(),
                    "needs exactly one of `campaign` or `channel`",
                    Some("campaign = \"direct:70000012\" or channel = \"seo\"".into()),
                );
                None
            }
        };
        if let (Some(field), Some(matcher), Some(target)) = (field, matcher, target) {
            out.push(Rule {
                field,
                matcher,
                target,
            });
        }
    }
    out
}

#[derive(Deserialize)]
struct RawFx {
    currency: String,
    base: Option<String>,
    /// A string, so the rate stays exact (a TOML float would not).
    rate: serde_json::Value,
    from: String,
    to: String,
}

const FX_KEYS: &[&str] = &["currency", "base", "rate", "from", "to"];

/// The longest range one `[[fx]]` block may cover (ten years of daily rows).
const FX_MAX_DAYS: i64 = 3660;

fn fixed_rates(tree: &serde_json::Value, issues: &mut Issues) -> Vec<FixedRate> {
    let items = match tree.get("fx") {
        None => return Vec::new(),
        Some(serde_json::Value::Array(items)) => items.clone(),
        Some(_) => {
            issues.push("fx", "must be a list of [[fx]] blocks", None);
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (i, value) in items.iter().enumerate() {
        let prefix = format!("fx[{i}]");
        let Some(raw) = section::<RawFx>(value, &prefix, FX_KEYS, issues) else {
            continue;
        };
        let currency = |issues: &mut Issues, key: &str, text: &str| match text.parse() {
            Ok(c) => Some(c),
            Err(e) => {
                issues.push(format!("{prefix}.{key}"), format!("{e}"), None);
                None
            }
        };
        let cur = currency(issues, "currency", &raw.currency);
        let base = currency(issues, "base", raw.base.as_deref().unwrap_or("RUB"));
        let rate = match &raw.rate {
            serde_json::Value::String(t) => {
                match t.trim().parse::<okno_connector::rust_decimal::Decimal>() {
                    Ok(r) if r > okno_connector::rust_decimal::Decimal::ZERO => Some(r),
                    _ => {
                        issues.push(
                            format!("{prefix}.rate"),
                            format!("{t:?} is not a positive number"),
                            Some("e.g. rate = \"92.50\"".into()),
                        );
                        None
                    }
                }
            }
            other => {
                issues.push(
                    format!("{prefix}.rate"),
                    format!("{other} must be written as a string"),
                    Some(format!("rate = \"{other}\": quoted, the rate is kept exactly (a TOML number is a float)")),
                );
                None
            }
        };
        let day =
            |issues: &mut Issues, key: &str, text: &str| match chrono::NaiveDate::parse_from_str(
                text, "%Y-%m-%d",
            ) {
                Ok(d) => Some(d),
                Err(_) => {
                    issues.push(
                        format!("{prefix}.{key}"),
                        format!("{text:?} is not a date"),
                        Some("e.g. 2026-11-01".into()),
                    );
                    None
                }
            };
        let from = day(issues, "from", &raw.from);
        let to = day(issues, "to", &raw.to);
        let (Some(currency), Some(base), Some(rate), Some(from), Some(to)) =
            (cur, base, rate, from, to)
        else {
            continue;
        };
        if currency == base {
            issues.push(
                format!("{prefix}.base"),
                format!("currency and base are both {currency}"),
                None,
            );
        } else if to < from || (to - from).num_days() > FX_MAX_DAYS {
            issues.push(
                format!("{prefix}.to"),
                format!("must be on or after `from` and at most {FX_MAX_DAYS} days after it"),
                None,
            );
        } else {
            out.push(FixedRate {
                currency,
                base,
                rate,
                from,
                to,
            });
        }
    }
    out
}

#[derive(Deserialize, Default)]
struct RawServer {
    listen: Option<String>,
    max_body_bytes: Option<usize>,
    request_timeout_secs: Option<u64>,
    webhook_rate_per_sec: Option<u32>,
    webhook_max_attempts: Option<u32>,
    metrics_token: Option<String>,
    api_token: Option<String>,
    webhook_retention_days: Option<u32>,
}

#[derive(Deserialize, Default)]
struct RawStore {
    url: Option<String>,
    max_connections: Option<u32>,
    lease_ttl_secs: Option<u64>,
}

#[derive(Deserialize, Default)]
struct RawLog {
    level: Option<String>,
    format: Option<LogFormat>,
}

#[derive(Deserialize)]
struct RawConnector {
    id: String,
    kind: String,
    schedule: Option<String>,
    base_url: Option<String>,
    start_date: Option<String>,
    streams: Option<Vec<String>>,
    enabled: Option<bool>,
    rate_limit: Option<BTreeMap<String, u32>>,
    timeout_secs: Option<u64>,
    max_attempts: Option<u32>,
    #[serde(default)]
    settings: serde_json::Value,
}

const CONNECTOR_KEYS: &[&str] = &[
    "id",
    "kind",
    "schedule",
    "base_url",
    "start_date",
    "streams",
    "enabled",
    "rate_limit",
    "timeout_secs",
    "max_attempts",
    "settings",
];

/// Collects issues against one file.
struct Issues {
    file: PathBuf,
    list: Vec<ConfigIssue>,
}

impl Issues {
    fn push(&mut self, key: impl Into<String>, message: impl Into<String>, hint: Option<String>) {
        self.list.push(ConfigIssue {
            file: self.file.clone(),
            key: key.into(),
            message: message.into(),
            hint,
        });
    }
}

/// Parses `text` as one section, reporting unknown keys (all of them) and the first type error.
fn section<T: serde::de::DeserializeOwned>(
    value: &serde_json::Value,
    prefix: &str,
    known: &[&str],
    issues: &mut Issues,
) -> Option<T> {
    match okno_connector::settings::parse::<T>(value, known) {
        Ok(v) => Some(v),
        Err(errs) => {
            let mut parsed_ok = true;
            for e in errs {
                let key = join_key(prefix, &e.key);
                if e.message != "unknown key" {
                    parsed_ok = false;
                }
                issues.push(key, e.message, e.hint);
            }
            // Unknown keys alone still leave a usable value; parse again ignoring them so the
            // rest of the section is validated too.
            if parsed_ok {
                serde_json::from_value(value.clone()).ok()
            } else {
                None
            }
        }
    }
}

fn join_key(prefix: &str, key: &str) -> String {
    match (prefix.is_empty(), key.is_empty()) {
        (true, _) => key.to_string(),
        (false, true) => prefix.to_string(),
        (false, false) => format!("{prefix}.{key}"),
    }
}

/// Loads and validates the configuration at `path` with `OKNO__*` environment overrides.
pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
    let env: Vec<(String, String)> = std::env::vars().collect();
    load_with_env(path, &env)
}

/// [`load`] with an explicit environment (tests pass their own).
pub fn load_with_env(path: &Path, env: &[(String, String)]) -> Result<Loaded, ConfigError> {
    let mut issues = Issues {
        file: path.to_path_buf(),
        list: Vec::new(),
    };
    let fail = |issues: Issues| ConfigError {
        issues: issues.list,
    };
    if !path.exists() {
        issues.push(
            "",
            "file not found",
            Some(
                "pass --config PATH or set OKNO_CONFIG; config/okno.example.toml shows every key"
                    .into(),
            ),
        );
        return Err(fail(issues));
    }
    let overrides: config::Map<String, String> = env
        .iter()
        .filter(|(k, _)| k.starts_with("OKNO__"))
        .cloned()
        .collect();
    let built = config::Config::builder()
        .add_source(config::File::from(path).format(config::FileFormat::Toml))
        .add_source(
            config::Environment::with_prefix("OKNO")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .source(Some(overrides)),
        )
        .build();
    let tree: serde_json::Value = match built.and_then(|c| c.try_deserialize()) {
        Ok(t) => t,
        Err(e) => {
            issues.push(
                "",
                e.to_string(),
                Some("check the TOML syntax at the line named".into()),
            );
            return Err(fail(issues));
        }
    };
    let mut warnings = Issues {
        file: path.to_path_buf(),
        list: Vec::new(),
    };
    let tree = secrets::substitute_env(tree, "", env, &mut issues);
    let root: RawRoot = section(&tree, "", ROOT_KEYS, &mut issues).unwrap_or_default();

    let store = StoreConfig {
        url: root
            .store
            .url
            .unwrap_or_else(|| DEFAULT_STORE_URL.to_string()),
        max_connections: root.store.max_connections.unwrap_or(8),
        lease_ttl: root
            .store
            .lease_ttl_secs
            .map_or(crate::sync::LEASE_TTL, Duration::from_secs),
    };
    if !(3..=3600).contains(&store.lease_ttl.as_secs()) {
        issues.push(
            "store.lease_ttl_secs",
            "must be from 3 to 3600",
            Some("60 suits most deployments; lower means faster failover and more renewals".into()),
        );
    }
    if let Err(reason) = check_store_url(&store.url) {
        issues.push(
            "store.url",
            format!("{} is not a store URL: {reason}", store.shown_url()),
            Some(format!(
                "e.g. url = \"{DEFAULT_STORE_URL}\" or \"postgres://okno:${{PGPASSWORD}}@db:5432/okno\" (percent-encode special characters in a password)"
            )),
        );
    }
    if store.max_connections == 0 {
        issues.push(
            "store.max_connections",
            "must be at least 1",
            Some("8 suits most deployments".into()),
        );
    }
    let log = LogConfig {
        level: root.log.level.unwrap_or_else(|| "info".into()),
        format: root.log.format.unwrap_or(LogFormat::Text),
    };
    if tracing_subscriber::EnvFilter::try_new(&log.level).is_err() {
        issues.push(
            "log.level",
            format!("{:?} is not a log filter", log.level),
            Some(
                "use error, warn, info, debug or trace, or a filter like \"okno=debug,info\""
                    .into(),
            ),
        );
    }

    let server = root.server.map(|raw| {
        let defaults = ServerConfig::default();
        let listen = match raw.listen.as_deref().map(str::parse) {
            None => defaults.listen,
            Some(Ok(addr)) => addr,
            Some(Err(_)) => {
                issues.push(
                    "server.listen",
                    format!(
                        "{:?} is not an address and port",
                        raw.listen.unwrap_or_default()
                    ),
                    Some("e.g. listen = \"0.0.0.0:8080\" or \"127.0.0.1:8080\"".into()),
                );
                defaults.listen
            }
        };
        let positive = |issues: &mut Issues, key: &str, v: Option<u64>| {
            if v == Some(0) {
                issues.push(format!("server.{key}"), "must be at least 1", None);
            }
        };
        positive(
            &mut issues,
            "max_body_bytes",
            raw.max_body_bytes.map(|v| v as u64),
        );
        positive(
            &mut issues,
            "request_timeout_secs",
            raw.request_timeout_secs,
        );
        if raw.request_timeout_secs.is_some_and(|t| t > 300) {
            issues.push(
                "server.request_timeout_secs",
                "must be at most 300",
                Some("senders give up after seconds (Zendesk ~10 s, amoCRM 2 s)".into()),
            );
        }
        positive(
            &mut issues,
            "webhook_rate_per_sec",
            raw.webhook_rate_per_sec.map(u64::from),
        );
        positive(
            &mut issues,
            "webhook_max_attempts",
            raw.webhook_max_attempts.map(u64::from),
        );
        ServerConfig {
            listen,
            max_body_bytes: raw.max_body_bytes.unwrap_or(defaults.max_body_bytes),
            request_timeout: raw
                .request_timeout_secs
                .map(Duration::from_secs)
                .unwrap_or(defaults.request_timeout),
            webhook_rate_per_sec: raw
                .webhook_rate_per_sec
                .unwrap_or(defaults.webhook_rate_per_sec),
            webhook_max_attempts: raw
                .webhook_max_attempts
                .unwrap_or(defaults.webhook_max_attempts),
            metrics_token: raw
                .metrics_token
                .filter(|t| !t.is_empty())
                .map(okno_connector::SecretString::from),
            api_token: raw
                .api_token
                .filter(|t| !t.is_empty())
                .map(okno_connector::SecretString::from),
            webhook_retention_days: raw
                .webhook_retention_days
                .unwrap_or(defaults.webhook_retention_days),
        }
    });

    let tree_connectors = match tree.get("connector") {
        None => Vec::new(),
        Some(serde_json::Value::Array(items)) => items.clone(),
        Some(_) => {
            // Typically an OKNO__CONNECTOR__... variable, which replaces the whole list.
            issues.push(
                "connector",
                "must be a list of [[connector]] blocks",
                Some("connector blocks cannot be overridden from the environment; use ${ENV} references inside them".into()),
            );
            Vec::new()
        }
    };
    let mut connectors = Vec::new();
    let mut ids = BTreeSet::new();
    let tokens = okno_connector::TokenVault::new();
    for (i, value) in tree_connectors.iter().enumerate() {
        let prefix = format!("connector[{i}]");
        let ctx = Ctx {
            env,
            tokens: &tokens,
        };
        if let Some(inst) = connector(value, &prefix, &mut ids, ctx, &mut issues, &mut warnings) {
            connectors.push(inst);
        }
    }
    let fx = fixed_rates(&tree, &mut issues);
    let attribution = attribution_rules(&tree, &ids, &mut issues);
    let report = report_section(&tree, &mut issues);
    let anomalies = anomalies_section(&tree, &mut issues);
    let exports = export::exports(&tree, report.timezone, &mut issues);
    // Every id seen, so a block with other problems does not add "no such instance" here.
    let people = match people::load(path, &ids) {
        Ok(p) => p,
        Err(found) => {
            issues.list.extend(found);
            people::People::default()
        }
    };
    let budgets = match budgets::load(path, &ids) {
        Ok(b) => b,
        Err(found) => {
            issues.list.extend(found);
            budgets::Budgets::default()
        }
    };
    if issues.list.is_empty() {
        Ok(Loaded {
            config: Config {
                path: path.to_path_buf(),
                store,
                log,
                server,
                connectors,
                tokens,
                people: std::sync::Arc::new(people),
                fx,
                attribution,
                report,
                anomalies,
                exports,
                budgets: std::sync::Arc::new(budgets),
            },
            warnings: warnings.list,
        })
    } else {
        Err(fail(issues))
    }
}

/// What every connector block is built with.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    env: &'a [(String, String)],
    tokens: &'a okno_connector::TokenVault,
}

fn connector(
    value: &serde_json::Value,
    prefix: &str,
    ids: &mut BTreeSet<String>,
    ctx: Ctx<'_>,
    issues: &mut Issues,
    warnings: &mut Issues,
) -> Option<Instance> {
    let env = ctx.env;
    let raw: RawConnector = section(value, prefix, CONNECTOR_KEYS, issues)?;
    let before = issues.list.len();
    let key = |k: &str| format!("{prefix}.{k}");

    let id_ok = !raw.id.is_empty()
        && raw
            .id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !id_ok {
        issues.push(
            key("id"),
            format!("{:?} is not a valid instance id", raw.id),
            Some("use lower-case letters, digits, - and _ (it appears in URLs and in every row's source)".into()),
        );
    } else if !ids.insert(raw.id.clone()) {
        issues.push(
            key("id"),
            format!("{:?} is used by another connector", raw.id),
            Some("instance ids must be unique".into()),
        );
    }

    let Some(kind) = registry::find(&raw.kind) else {
        let names = registry::names();
        let hint = match closest(&raw.kind, &names) {
            Some(k) => format!("did you mean `{k}`? `okno connectors` lists every kind"),
            None => format!("known kinds: {}", names.join(", ")),
        };
        issues.push(
            key("kind"),
            format!("unknown kind {:?}", raw.kind),
            Some(hint),
        );
        return None;
    };

    let schedule_text = raw.schedule.unwrap_or_else(|| DEFAULT_SCHEDULE.to_string());
    let schedule = match parse_schedule(&schedule_text) {
        Ok(s) => Some(s),
        Err(e) => {
            issues.push(
                key("schedule"),
                format!("{schedule_text:?} is not a cron expression: {e}"),
                Some("five fields `minute hour day month weekday` (e.g. \"*/15 * * * *\"), or six with seconds first".into()),
            );
            None
        }
    };

    let base_url = match raw.base_url.as_deref().map(Url::parse) {
        None => None,
        Some(Ok(u)) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Some(u),
        Some(Ok(_)) | Some(Err(_)) => {
            issues.push(
                key("base_url"),
                format!(
                    "{:?} is not an http(s) URL",
                    raw.base_url.unwrap_or_default()
                ),
                Some("e.g. base_url = \"https://support.example.com\"".into()),
            );
            None
        }
    };

    let start = match raw.start_date.as_deref() {
        None => Some(Utc::now() - chrono::Duration::days(DEFAULT_BACKFILL_DAYS)),
        Some(s) => match parse_start(s) {
            Some(t) => Some(t),
            None => {
                issues.push(
                    key("start_date"),
                    format!("{s:?} is not a date"),
                    Some("use YYYY-MM-DD (midnight UTC) or an RFC 3339 instant".into()),
                );
                None
            }
        },
    };

    let all_streams: Vec<&str> = kind.streams.iter().map(|s| s.name).collect();
    let streams = raw.streams.unwrap_or_else(|| {
        kind.streams
            .iter()
            .filter(|s| s.default)
            .map(|s| s.name.to_string())
            .collect()
    });
    for (j, s) in streams.iter().enumerate() {
        if kind.stream(s).is_none() {
            issues.push(
                format!("{prefix}.streams[{j}]"),
                format!("{} has no stream {s:?}", kind.kind),
                Some(format!(
                    "streams of {}: {}",
                    kind.kind,
                    all_streams.join(", ")
                )),
            );
        }
    }

    let mut http = HttpOptions::with_buckets(kind.rate_buckets);
    for (bucket, per_minute) in raw.rate_limit.unwrap_or_default() {
        if kind.rate_buckets.iter().any(|b| b.name == bucket) {
            http.rate_limits.insert(bucket, per_minute);
        } else {
            let names: Vec<&str> = kind.rate_buckets.iter().map(|b| b.name).collect();
            issues.push(
                format!("{prefix}.rate_limit.{bucket}"),
                format!("{} has no rate-limit bucket {bucket:?}", kind.kind),
                Some(if names.is_empty() {
                    format!("{} has no request budgets to set", kind.kind)
                } else {
                    format!("buckets of {}: {}", kind.kind, names.join(", "))
                }),
            );
        }
    }
    match raw.timeout_secs {
        Some(0) => issues.push(key("timeout_secs"), "must be at least 1", None),
        Some(t) => http.timeout = Duration::from_secs(t),
        None => {}
    }
    match raw.max_attempts {
        Some(0) => issues.push(
            key("max_attempts"),
            "must be at least 1",
            Some("it counts the first try too".into()),
        ),
        Some(n) => http.retry.max_attempts = n,
        None => {}
    }

    // Settings are checked even when other keys of the block are wrong, so one run of
    // `validate` shows all of it; but not when their secrets could not be resolved, which would
    // only repeat the same problem as "missing credentials".
    let before_settings = issues.list.len();
    let settings =
        secrets::resolve_files(raw.settings, kind, &key("settings"), env, issues, warnings);
    if issues.list.len() > before_settings {
        return None;
    }
    let block_ok = issues.list.len() == before;
    let built = (kind.build)(BuildContext {
        instance: raw.id.clone(),
        settings,
        base_url,
        http,
        tokens: ctx.tokens.clone(),
    });
    match built {
        Ok(_) if !block_ok => None,
        Ok(connector) => Some(Instance {
            id: raw.id,
            kind,
            schedule: schedule?,
            schedule_text,
            streams,
            enabled: raw.enabled.unwrap_or(true),
            start: start?,
            connector,
        }),
        Err(errs) => {
            for e in errs {
                issues.push(join_key(&key("settings"), &e.key), e.message, e.hint);
            }
            None
        }
    }
}

/// Parses a cron expression. Five fields are a crontab line (`minute hour day month weekday`,
/// weekday 0 or 7 = Sunday, 1 = Monday); they get a leading seconds field and their weekday
/// numbers translated, because the `cron` crate counts weekdays from 1 = Sunday. Six or seven
/// fields are passed to the crate as they are (seconds first, weekday 1 = Sunday); weekday names
/// (`MON-FRI`) mean the same in both forms.
pub fn parse_schedule(text: &str) -> Result<cron::Schedule, String> {
    let fields: Vec<&str> = text.split_whitespace().collect();
    let full = if fields.len() == 5 {
        let weekday = crontab_weekdays(fields[4])?;
        format!(
            "0 {} {} {} {} {weekday}",
            fields[0], fields[1], fields[2], fields[3]
        )
    } else {
        text.to_string()
    };
    cron::Schedule::from_str(&full).map_err(|e| e.to_string())
}

/// Translates a crontab weekday field (0-7, Sunday = 0 or 7) to the `cron` crate's (1-7,
/// Sunday = 1), item by item: `1-5` becomes `2-6`, `5-7` becomes `6-7,1`.
fn crontab_weekdays(field: &str) -> Result<String, String> {
    let map = |n: &str| -> Result<u32, String> {
        let n: u32 = n
            .parse()
            .map_err(|_| format!("weekday {n:?} is not a number from 0 to 7"))?;
        if n > 7 {
            return Err(format!(
                "weekday {n} is out of range (0-7, Sunday is 0 or 7)"
            ));
        }
        Ok(n % 7 + 1)
    };
    let mut items = Vec::new();
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (item, None),
        };
        let has_letters = range.chars().any(|c| c.is_ascii_alphabetic());
        if range == "*" || range == "?" || has_letters {
            items.push(item.to_string());
            continue;
        }
        let step = step.map(|s| format!("/{s}")).unwrap_or_default();
        match range.split_once('-') {
            None => items.push(format!("{}{step}", map(range)?)),
            Some((a, b)) => {
                let (a, b_raw) = (map(a)?, b);
                if b_raw.trim() == "7" && a != 1 {
                    if !step.is_empty() {
                        return Err("write a stepped weekday range ending on Sunday with names, e.g. MON-SUN/2".into());
                    }
                    items.push(format!("{a}-7,1"));
                } else {
                    items.push(format!("{a}-{}{step}", map(b_raw)?));
                }
            }
        }
    }
    Ok(items.join(","))
}

/// Parses a store URL the way the store will, without connecting.
fn check_store_url(url: &str) -> Result<(), String> {
    if url.starts_with("sqlite:") {
        sqlx::sqlite::SqliteConnectOptions::from_str(url)
            .map(|_| ())
            .map_err(|e| e.to_string())
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        sqlx::postgres::PgConnectOptions::from_str(url)
            .map(|_| ())
            .map_err(|e| crate::store::redact_url(&e.to_string()))
    } else {
        Err("the scheme must be sqlite: or postgres:".into())
    }
}

fn parse_start(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    }
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}
