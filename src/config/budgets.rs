//! `budgets.toml`: the advertising budget (the living "advertising fund"), reviewable in git
//! beside the main configuration. Each line plans an amount for a period and a channel or a
//! campaign, says who funds it, and may set a target CPL and planned discounts; overhead lines
//! (tool seats, agency fees) let a fully loaded ROI stand beside the media-only one.
//!
//! ```toml
//! [budget]
//! overspend_alert_pct = 10                      # alert when the forecast passes plan by this much
//! alert_webhook = "https://hooks.example/okno"  # optional: alerts are POSTed here as JSON
//! check_schedule = "0 * * * *"                  # when `okno run` checks for alerts (cron)
//!
//! [[line]]
//! id = "2026-11-direct"
//! period = "2026-11"                # a month, or from = "2026-11-01" and to = "2026-11-15"
//! channel = "yandex_direct"         # or campaign = "direct:70000012"
//! amount = "450000.00"
//! currency = "RUB"
//! funding = "internal"              # internal, partner or client
//! target_cpl = "1500"
//! planned_discount = "20000"
//! kind = "media"                    # media (default) or overhead
//! note = "Search, brand and competitors"
//! ```
//!
//! Amounts are strings so they stay exact. The file is the source of truth: it is read at every
//! start, and `okno validate` names the line, key and fix of every mistake.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};
use okno_connector::rust_decimal::Decimal;
use okno_connector::Currency;
use serde::Deserialize;

use super::ConfigIssue;

/// File name looked for beside the main configuration file.
pub const FILE_NAME: &str = "budgets.toml";

/// Who pays for a budget line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Funding {
    Internal,
    /// A partner programme (a platform's co-marketing money, a vendor's MDF).
    Partner,
    /// The client co-funds (agencies).
    Client,
}

impl Funding {
    pub fn as_str(self) -> &'static str {
        match self {
            Funding::Internal => "internal",
            Funding::Partner => "partner",
            Funding::Client => "client",
        }
    }
}

/// Whether a line is spend on media or overhead around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    Media,
    /// Tool subscriptions, agency fees: counted only in fully loaded figures.
    Overhead,
}

/// What a line plans for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Channel(String),
    /// `instance:campaign_id`.
    Campaign {
        source: String,
        campaign_id: String,
    },
    /// Overhead lines need no channel.
    Everything,
}

/// One budget line.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetLine {
    pub id: String,
    /// First and last day of the period, both included.
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub scope: Scope,
    pub amount: Decimal,
    pub currency: Currency,
    pub funding: Funding,
    pub target_cpl: Option<Decimal>,
    pub planned_discount: Option<Decimal>,
    pub kind: LineKind,
    pub note: Option<String>,
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Budgets {
    pub file: Option<PathBuf>,
    /// Alert when a line's forecast passes its plan by more than this percentage.
    pub overspend_alert_pct: Decimal,
    /// Where alerts are POSTed as JSON, when set.
    pub alert_webhook: Option<AlertWebhook>,
    /// When `okno run` checks the budget for alerts; `None` is [`DEFAULT_CHECK_SCHEDULE`].
    pub check_schedule: Option<cron::Schedule>,
    pub lines: Vec<BudgetLine>,
}

/// The alert webhook's URL. It may carry a token (`?token=...`), so `Debug` shows only its
/// scheme and host, and okno logs only [`AlertWebhook::host`].
#[derive(Clone, PartialEq, Eq)]
pub struct AlertWebhook(url::Url);

impl AlertWebhook {
    /// The whole URL, to send to; never to print.
    pub fn url(&self) -> &url::Url {
        &self.0
    }

    pub fn host(&self) -> &str {
        self.0.host_str().unwrap_or("?")
    }
}

impl std::fmt::Debug for AlertWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AlertWebhook({}://{}/…)", self.0.scheme(), self.host())
    }
}

impl Budgets {
    /// The cron schedule of the daemon's budget check.
    pub fn check_schedule(&self) -> cron::Schedule {
        self.check_schedule.clone().unwrap_or_else(|| {
            super::parse_schedule(DEFAULT_CHECK_SCHEDULE)
                .unwrap_or_else(|_| unreachable!("the default schedule is a cron expression"))
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    budget: RawBudget,
    #[serde(default)]
    line: Vec<RawLine>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawBudget {
    overspend_alert_pct: Option<u32>,
    alert_webhook: Option<String>,
    check_schedule: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLine {
    id: String,
    period: Option<String>,
    from: Option<String>,
    to: Option<String>,
    channel: Option<String>,
    campaign: Option<String>,
    amount: toml::Value,
    currency: String,
    funding: Option<String>,
    target_cpl: Option<toml::Value>,
    planned_discount: Option<toml::Value>,
    kind: Option<String>,
    note: Option<String>,
}

/// Default alert threshold: a forecast 10 % over plan.
pub const DEFAULT_OVERSPEND_PCT: u32 = 10;

/// Default `[budget] check_schedule`: at the top of every hour.
pub const DEFAULT_CHECK_SCHEDULE: &str = "0 * * * *";

/// Reads `budgets.toml` beside `config_path`, if there is one. `instances` are the configured
/// instance ids a campaign line may name.
pub fn load(config_path: &Path, instances: &BTreeSet<String>) -> Result<Budgets, Vec<ConfigIssue>> {
    let file = config_path
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join(FILE_NAME);
    let mut out = Budgets {
        overspend_alert_pct: Decimal::from(DEFAULT_OVERSPEND_PCT),
        ..Budgets::default()
    };
    if !file.exists() {
        return Ok(out);
    }
    let issue = |key: String, message: String, hint: Option<&str>| ConfigIssue {
        file: file.clone(),
        key,
        message,
        hint: hint.map(str::to_string),
    };
    let text = std::fs::read_to_string(&file)
        .map_err(|e| vec![issue(String::new(), format!("cannot read: {e}"), None)])?;
    let raw: RawFile = toml::from_str(&text).map_err(|e| {
        vec![issue(
            String::new(),
            e.message().to_string(),
            Some("a [budget] table and [[line]] blocks; see config/budgets.example.toml"),
        )]
    })?;
    out.file = Some(file.clone());
    let mut issues = Vec::new();
    if let Some(p) = raw.budget.overspend_alert_pct {
        out.overspend_alert_pct = Decimal::from(p);
    }
    if let Some(u) = raw.budget.alert_webhook.filter(|u| !u.trim().is_empty()) {
        match url::Url::parse(u.trim()) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => {
                out.alert_webhook = Some(AlertWebhook(url))
            }
            // The value is not repeated: it may carry a token.
            _ => issues.push(issue(
                "budget.alert_webhook".into(),
                "is not an http(s) URL".into(),
                Some("e.g. alert_webhook = \"https://hooks.example.com/okno\""),
            )),
        }
    }
    if let Some(text) = raw.budget.check_schedule {
        match super::parse_schedule(text.trim()) {
            Ok(s) => out.check_schedule = Some(s),
            Err(e) => issues.push(issue(
                "budget.check_schedule".into(),
                format!("{text:?} is not a cron expression: {e}"),
                Some("e.g. check_schedule = \"0 * * * *\" (hourly, the default)"),
            )),
        }
    }
    let mut ids = BTreeSet::new();
    for (i, l) in raw.line.into_iter().enumerate() {
        let key = |k: &str| format!("line[{i}].{k}");
        let before = issues.len();
        let id = l.id.trim().to_string();
        if !id.is_empty() && !ids.insert(id.clone()) {
            issues.push(issue(
                key("id"),
                format!("{id:?} is used by an earlier line"),
                Some("every line needs an id of its own"),
            ));
        }
        let money = |k: &str, v: &toml::Value, issues: &mut Vec<ConfigIssue>| match v {
            toml::Value::String(t) => match t.trim().parse::<Decimal>() {
                Ok(d) if !d.is_sign_negative() => Some(d),
                _ => {
                    issues.push(issue(
                        key(k),
                        format!("{t:?} is not an amount of at least 0"),
                        None,
                    ));
                    None
                }
            },
            other => {
                issues.push(issue(
                    key(k),
                    format!("{other} must be written as a string"),
                    Some("quoted, e.g. \"450000.00\": amounts stay exact"),
                ));
                None
            }
        };
        let draft = LineDraft {
            amount: money("amount", &l.amount, &mut issues),
            target_cpl: l
                .target_cpl
                .as_ref()
                .and_then(|v| money("target_cpl", v, &mut issues)),
            planned_discount: l
                .planned_discount
                .as_ref()
                .and_then(|v| money("planned_discount", v, &mut issues)),
            id,
            period: l.period,
            from: l.from,
            to: l.to,
            channel: l.channel,
            campaign: l.campaign,
            currency: Some(l.currency),
            funding: l.funding,
            kind: l.kind,
            note: l.note,
        };
        match check_line(draft, instances) {
            Ok(line) if issues.len() == before => out.lines.push(line),
            Ok(_) => {}
            Err(problems) => issues.extend(problems.into_iter().map(|p| {
                let k = if p.key.is_empty() {
                    format!("line[{i}]")
                } else {
                    key(p.key)
                };
                issue(k, p.message, p.hint)
            })),
        }
    }
    if issues.is_empty() {
        Ok(out)
    } else {
        Err(issues)
    }
}

/// A line's fields as written, amounts already read (TOML strings, or CSV cells with their
/// locale's decimal comma), before the checks every line passes wherever it comes from.
#[derive(Debug, Clone, Default)]
pub struct LineDraft {
    pub id: String,
    pub period: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub channel: Option<String>,
    pub campaign: Option<String>,
    pub amount: Option<Decimal>,
    pub currency: Option<String>,
    pub funding: Option<String>,
    pub target_cpl: Option<Decimal>,
    pub planned_discount: Option<Decimal>,
    pub kind: Option<String>,
    pub note: Option<String>,
}

/// One problem of a line: the key it is about (empty for the line as a whole), what is wrong
/// and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineProblem {
    pub key: &'static str,
    pub message: String,
    pub hint: Option<&'static str>,
}

/// Checks a line as `budgets.toml` and `okno import budget` both need it: an id, a month or a
/// from/to range, exactly one of channel or campaign (overhead may have neither), a currency, a
/// funding source and a kind. A missing amount is reported by whoever read it (`None` here
/// only fails the line). Every problem is returned, not the first.
pub fn check_line(
    l: LineDraft,
    instances: &BTreeSet<String>,
) -> Result<BudgetLine, Vec<LineProblem>> {
    let mut problems = Vec::new();
    let mut problem = |key: &'static str, message: String, hint: Option<&'static str>| {
        problems.push(LineProblem { key, message, hint })
    };
    let id = l.id.trim().to_string();
    if id.is_empty() {
        problem("id", "is empty".into(), None);
    }
    let day = |k: &'static str,
               t: &str,
               problem: &mut dyn FnMut(&'static str, String, Option<&'static str>)| {
        match NaiveDate::parse_from_str(t, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                problem(
                    k,
                    format!("{t:?} is not a date"),
                    Some("e.g. \"2026-11-01\""),
                );
                None
            }
        }
    };
    let period = match (text(&l.period), text(&l.from), text(&l.to)) {
        (Some(p), None, None) => month(p).or_else(|| {
            problem(
                "period",
                format!("{p:?} is not a month"),
                Some("e.g. period = \"2026-11\", or from and to for other ranges"),
            );
            None
        }),
        (None, Some(f), Some(t)) => {
            match (day("from", f, &mut problem), day("to", t, &mut problem)) {
                (Some(f), Some(t)) if f <= t => Some((f, t)),
                (Some(_), Some(_)) => {
                    problem("to", "is before `from`".into(), None);
                    None
                }
                _ => None,
            }
        }
        _ => {
            problem(
                "period",
                "needs either period = \"YYYY-MM\" or both from and to".into(),
                None,
            );
            None
        }
    };
    let kind = match text(&l.kind) {
        None | Some("media") => Some(LineKind::Media),
        Some("overhead") => Some(LineKind::Overhead),
        Some(other) => {
            problem(
                "kind",
                format!("{other:?} is not a kind of line"),
                Some("media or overhead"),
            );
            None
        }
    };
    let scope = match (text(&l.channel), text(&l.campaign)) {
        (Some(c), None) => Some(Scope::Channel(c.to_string())),
        (None, Some(c)) => match c.split_once(':') {
            Some((inst, cid)) if instances.contains(inst) && !cid.is_empty() => {
                Some(Scope::Campaign {
                    source: inst.to_string(),
                    campaign_id: cid.to_string(),
                })
            }
            _ => {
                problem(
                    "campaign",
                    format!("{c:?} is not <instance id>:<campaign id> of a configured instance"),
                    Some("e.g. campaign = \"direct:70000012\""),
                );
                None
            }
        },
        (None, None) if kind == Some(LineKind::Overhead) => Some(Scope::Everything),
        _ => {
            problem(
                "",
                "needs exactly one of `channel` or `campaign`".into(),
                Some("overhead lines may have neither"),
            );
            None
        }
    };
    let currency = match text(&l.currency) {
        Some(c) => match c.parse::<Currency>() {
            Ok(c) => Some(c),
            Err(e) => {
                problem("currency", e.to_string(), None);
                None
            }
        },
        None => {
            problem("currency", "is missing".into(), Some("e.g. \"RUB\""));
            None
        }
    };
    let funding = match text(&l.funding) {
        None | Some("internal") => Some(Funding::Internal),
        Some("partner") => Some(Funding::Partner),
        Some("client") => Some(Funding::Client),
        Some(other) => {
            problem(
                "funding",
                format!("{other:?} is not a funding source"),
                Some("internal, partner or client"),
            );
            None
        }
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    match (period, scope, l.amount, currency, funding, kind) {
        (
            Some((from, to)),
            Some(scope),
            Some(amount),
            Some(currency),
            Some(funding),
            Some(kind),
        ) => Ok(BudgetLine {
            id,
            from,
            to,
            scope,
            amount,
            currency,
            funding,
            target_cpl: l.target_cpl,
            planned_discount: l.planned_discount,
            kind,
            note: l.note.filter(|n| !n.trim().is_empty()),
        }),
        // The amount was missing or wrong; its reader reported it.
        _ => Err(Vec::new()),
    }
}

/// A field's text, trimmed; empty is absent.
fn text(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|t| !t.is_empty())
}

/// The first and last day of a `YYYY-MM` month.
fn month(text: &str) -> Option<(NaiveDate, NaiveDate)> {
    let first = NaiveDate::parse_from_str(&format!("{}-01", text.trim()), "%Y-%m-%d").ok()?;
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)?
    };
    Some((first, next.pred_opt()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_cover_their_days() {
        let (f, t) = month("2026-02").unwrap();
        assert_eq!(
            (f.to_string(), t.to_string()),
            ("2026-02-01".into(), "2026-02-28".into())
        );
        let (_, t) = month("2026-12").unwrap();
        assert_eq!(t.to_string(), "2026-12-31");
        assert!(month("2026-13").is_none());
        assert!(month("November").is_none());
    }
}
