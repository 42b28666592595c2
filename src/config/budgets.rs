//! `budgets.toml`: the advertising budget (the living "advertising fund"), reviewable in git
//! beside the main configuration. Each line plans an amount for a period and a channel or a
//! campaign, says who funds it, and may set a target CPL and planned discounts; overhead lines
//! (tool seats, agency fees) let a fully loaded ROI stand beside the media-only one.
//!
//! ```toml
//! [budget]
//! overspend_alert_pct = 10                      # alert when the forecast passes plan by this much
//! alert_webhook = "https://hooks.example/okno"  # optional: alerts are POSTed here as JSON
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
    pub alert_webhook: Option<url::Url>,
    pub lines: Vec<BudgetLine>,
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
            Ok(url) if matches!(url.scheme(), "http" | "https") => out.alert_webhook = Some(url),
            _ => issues.push(issue(
                "budget.alert_webhook".into(),
                format!("{u:?} is not an http(s) URL"),
                None,
            )),
        }
    }
    let mut ids = BTreeSet::new();
    for (i, l) in raw.line.into_iter().enumerate() {
        let key = |k: &str| format!("line[{i}].{k}");
        let before = issues.len();
        let id = l.id.trim().to_string();
        if id.is_empty() {
            issues.push(issue(key("id"), "is empty".into(), None));
        } else if !ids.insert(id.clone()) {
            issues.push(issue(
                key("id"),
                format!("{id:?} is used by an earlier line"),
                Some("every line needs an id of its own"),
            ));
        }
        let day = |k: &str, t: &str, issues: &mut Vec<ConfigIssue>| match NaiveDate::parse_from_str(
            t.trim(),
            "%Y-%m-%d",
        ) {
            Ok(d) => Some(d),
            Err(_) => {
                issues.push(issue(
                    key(k),
                    format!("{t:?} is not a date"),
                    Some("e.g. \"2026-11-01\""),
                ));
                None
            }
        };
        let period = match (&l.period, &l.from, &l.to) {
            (Some(p), None, None) => month(p).or_else(|| {
                issues.push(issue(
                    key("period"),
                    format!("{p:?} is not a month"),
                    Some("e.g. period = \"2026-11\", or from and to for other ranges"),
                ));
                None
            }),
            (None, Some(f), Some(t)) => {
                match (day("from", f, &mut issues), day("to", t, &mut issues)) {
                    (Some(f), Some(t)) if f <= t => Some((f, t)),
                    (Some(_), Some(_)) => {
                        issues.push(issue(key("to"), "is before `from`".into(), None));
                        None
                    }
                    _ => None,
                }
            }
            _ => {
                issues.push(issue(
                    key("period"),
                    "needs either period = \"YYYY-MM\" or both from and to".into(),
                    None,
                ));
                None
            }
        };
        let kind = match l.kind.as_deref() {
            None | Some("media") => Some(LineKind::Media),
            Some("overhead") => Some(LineKind::Overhead),
            Some(other) => {
                issues.push(issue(
                    key("kind"),
                    format!("{other:?} is not a kind of line"),
                    Some("media or overhead"),
                ));
                None
            }
        };
        let scope = match (&l.channel, &l.campaign) {
            (Some(c), None) if !c.trim().is_empty() => Some(Scope::Channel(c.trim().to_string())),
            (None, Some(c)) => match c.split_once(':') {
                Some((inst, cid)) if instances.contains(inst) && !cid.is_empty() => {
                    Some(Scope::Campaign {
                        source: inst.to_string(),
                        campaign_id: cid.to_string(),
                    })
                }
                _ => {
                    issues.push(issue(
                        key("campaign"),
                        format!(
                            "{c:?} is not <instance id>:<campaign id> of a configured instance"
                        ),
                        Some("e.g. campaign = \"direct:70000012\""),
                    ));
                    None
                }
            },
            (None, None) if kind == Some(LineKind::Overhead) => Some(Scope::Everything),
            _ => {
                issues.push(issue(
                    format!("line[{i}]"),
                    "needs exactly one of `channel` or `campaign`".into(),
                    Some("overhead lines may have neither"),
                ));
                None
            }
        };
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
        let amount = money("amount", &l.amount, &mut issues);
        let target_cpl = l
            .target_cpl
            .as_ref()
            .and_then(|v| money("target_cpl", v, &mut issues));
        let planned_discount = l
            .planned_discount
            .as_ref()
            .and_then(|v| money("planned_discount", v, &mut issues));
        let currency = match l.currency.parse::<Currency>() {
            Ok(c) => Some(c),
            Err(e) => {
                issues.push(issue(key("currency"), e.to_string(), None));
                None
            }
        };
        let funding = match l.funding.as_deref() {
            None | Some("internal") => Some(Funding::Internal),
            Some("partner") => Some(Funding::Partner),
            Some("client") => Some(Funding::Client),
            Some(other) => {
                issues.push(issue(
                    key("funding"),
                    format!("{other:?} is not a funding source"),
                    Some("internal, partner or client"),
                ));
                None
            }
        };
        if issues.len() > before {
            continue;
        }
        if let (
            Some((from, to)),
            Some(scope),
            Some(amount),
            Some(currency),
            Some(funding),
            Some(kind),
        ) = (period, scope, amount, currency, funding, kind)
        {
            out.lines.push(BudgetLine {
                id,
                from,
                to,
                scope,
                amount,
                currency,
                funding,
                target_cpl,
                planned_discount,
                kind,
                note: l.note.filter(|n| !n.trim().is_empty()),
            });
        }
    }
    if issues.is_empty() {
        Ok(out)
    } else {
        Err(issues)
    }
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
