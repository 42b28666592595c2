//! The advertising budget report (FIGURES.md, "Budget"): per budget line of a period, plan
//! against actual spend, pacing and its forecast, leads and CPL against the line's target, and
//! the alerts that follow; subtotals per funding source and kind; and, per ad account, the
//! runway of the planned money at the last week's burn.
//!
//! Lines come from `budgets.toml` and from `okno import budget` (the `budget_line` table); an id
//! in both is an error naming both. Spend and leads are read through the ROI report
//! ([`super::roi::roi`]), so both reports always agree on what a campaign or channel spent.
//!
//! How the figures are made, per line shown in a report period:
//! - **days**: the line's days within the period; a line partly in the period counts only those
//!   days, and its plan is prorated by days (`amount × days in period / days of the line`).
//! - **plan** is converted into the reporting currency at the rate of the line's first day (so
//!   a plan does not move with the rate while it runs); target CPL and planned discount too.
//! - **elapsed** days run from the first day through `today` (in the report zone, today
//!   included), or through the last day once it has passed; **actual** is the spend of the
//!   line's channel or campaign over the elapsed days.
//! - **burn** = actual / elapsed days; **forecast** = actual + burn × remaining days; both n/a
//!   before the line starts.
//! - **overhead** lines have no spend to measure: their actual is the plan prorated by elapsed
//!   days, so they pace exactly on plan and never raise an overspend alert.
//! - **alerts**: `overspend` when the forecast passes plan by more than `[budget]
//!   overspend_alert_pct` (on a zero plan, any forecast spend); `cpl` when the line's CPL
//!   (actual / leads) passes its `target_cpl` — or, with no lead yet, once the actual passes
//!   one target CPL.
//!
//! Ratios with a zero denominator are `None` ("n/a").

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use chrono::NaiveDate;
use okno_connector::rust_decimal::Decimal;
use okno_connector::Currency;

use super::roi::{self, By, Period, RoiError};
use super::table::{self, int, money, money_opt, text, Column, Kind, Table};
use crate::config::budgets::{BudgetLine, Funding, LineKind, Scope};
use crate::config::Config;
use crate::fx::{MissingRate, Rates};
use crate::store::{BudgetLinesWritten, Store, StoreError};

/// Why the budget could not be reported.
#[derive(Debug, thiserror::Error)]
pub enum BudgetError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Roi(#[from] RoiError),
    #[error("{} exchange rate(s) missing to convert budget lines:\n{}", .0.len(), .0.iter().take(20).map(|m| format!("  {m}")).collect::<Vec<_>>().join("\n"))]
    MissingRates(Vec<MissingRate>),
    #[error("line id(s) {} already imported under another --source; nothing imported", .0.iter().map(|(id, s)| format!("{id:?} (import {s:?})")).collect::<Vec<_>>().join(", "))]
    TakenIds(Vec<(String, String)>),
    #[error("budget line {id:?} is both in {} and in the import {import:?}; rename one, or drop the file's line (or re-import with --replace without it)", file.display())]
    DuplicateLine {
        id: String,
        file: PathBuf,
        /// The import's `--source`.
        import: String,
    },
}

/// Where a line is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// `budgets.toml`.
    File,
    /// `okno import budget --source <name>`.
    Import(String),
}

impl Origin {
    fn label(&self) -> String {
        match self {
            Origin::File => "budgets.toml".into(),
            Origin::Import(s) => format!("import {s}"),
        }
    }
}

/// Every budget line: those of `budgets.toml`, then the imported ones, by id.
pub async fn all_lines(
    store: &Store,
    config: &Config,
) -> Result<Vec<(BudgetLine, Origin)>, BudgetError> {
    let mut out: Vec<(BudgetLine, Origin)> = config
        .budgets
        .lines
        .iter()
        .map(|l| (l.clone(), Origin::File))
        .collect();
    let in_file: BTreeSet<&str> = config.budgets.lines.iter().map(|l| l.id.as_str()).collect();
    for s in store.budget_lines().await? {
        if in_file.contains(s.line.id.as_str()) {
            return Err(BudgetError::DuplicateLine {
                id: s.line.id.clone(),
                file: budgets_file(config),
                import: s.source,
            });
        }
        out.push((s.line, Origin::Import(s.source)));
    }
    out.sort_by(|a, b| a.0.id.cmp(&b.0.id));
    Ok(out)
}

/// Stores the lines of a budget import (`okno import budget`): refused, with nothing written,
/// when an id is also in `budgets.toml` or belongs to another import's source.
pub async fn import_lines(
    store: &Store,
    config: &Config,
    source: &str,
    lines: &[BudgetLine],
    replace: bool,
) -> Result<BudgetLinesWritten, BudgetError> {
    if let Some(l) = lines
        .iter()
        .find(|l| config.budgets.lines.iter().any(|b| b.id == l.id))
    {
        return Err(BudgetError::DuplicateLine {
            id: l.id.clone(),
            file: budgets_file(config),
            import: source.to_string(),
        });
    }
    let out = store.import_budget_lines(source, lines, replace).await?;
    if !out.taken.is_empty() {
        return Err(BudgetError::TakenIds(out.taken));
    }
    Ok(out)
}

fn budgets_file(config: &Config) -> PathBuf {
    config.budgets.file.clone().unwrap_or_else(|| {
        config
            .path
            .parent()
            .unwrap_or_else(|| std::path::Path::new("."))
            .join(crate::config::budgets::FILE_NAME)
    })
}

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AlertKind {
    /// The forecast passes plan by more than the threshold.
    Overspend,
    /// The line's CPL passes its target.
    Cpl,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Overspend => "overspend",
            AlertKind::Cpl => "cpl",
        }
    }
}

/// One line's figures in the report period, in the reporting currency.
#[derive(Debug, Clone, PartialEq)]
pub struct LineFigures {
    pub id: String,
    pub origin: Origin,
    /// `channel <name>`, `campaign <instance:id>` or `everything`.
    pub scope: String,
    pub funding: Funding,
    pub kind: LineKind,
    /// The line's days within the period, both included.
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub total_days: i64,
    pub elapsed_days: i64,
    pub plan: Decimal,
    pub actual: Decimal,
    /// Leads of the line's channel or campaign over the elapsed days; `None` for overhead.
    pub leads: Option<i64>,
    pub target_cpl: Option<Decimal>,
    pub planned_discount: Option<Decimal>,
    pub alerts: Vec<AlertKind>,
}

fn ratio(a: Decimal, b: Decimal) -> Option<Decimal> {
    if b.is_zero() {
        None
    } else {
        a.checked_div(b)
    }
}

impl LineFigures {
    pub fn remaining_days(&self) -> i64 {
        self.total_days - self.elapsed_days
    }

    /// actual − plan.
    pub fn variance(&self) -> Decimal {
        self.actual - self.plan
    }

    /// actual / plan.
    pub fn utilisation(&self) -> Option<Decimal> {
        ratio(self.actual, self.plan)
    }

    /// plan − actual.
    pub fn remaining(&self) -> Decimal {
        self.plan - self.actual
    }

    /// Spend per elapsed day.
    pub fn burn_per_day(&self) -> Option<Decimal> {
        ratio(self.actual, self.elapsed_days.into())
    }

    /// actual + burn × remaining days.
    pub fn forecast(&self) -> Option<Decimal> {
        Some(self.actual + self.burn_per_day()? * Decimal::from(self.remaining_days()))
    }

    /// forecast / plan.
    pub fn forecast_vs_plan(&self) -> Option<Decimal> {
        ratio(self.forecast()?, self.plan)
    }

    /// actual / leads.
    pub fn cpl(&self) -> Option<Decimal> {
        ratio(self.actual, self.leads?.into())
    }
}

/// An alert raised by a line.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub line: String,
    pub kind: AlertKind,
    /// One sentence with the figures, in the reporting currency.
    pub message: String,
}

/// Sums of a group of lines (a funding source, a kind, or all).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Subtotal {
    pub plan: Decimal,
    pub actual: Decimal,
    /// `None` when a line of the group has no forecast yet.
    pub forecast: Option<Decimal>,
    pub leads: Option<i64>,
}

/// Per ad account: the last week's burn and how long the planned money lasts at it.
#[derive(Debug, Clone, PartialEq)]
pub struct Runway {
    pub source: String,
    pub account_id: String,
    /// Spend of the 7 days before `today`, divided by 7, in the reporting currency.
    pub average_daily_spend_7d: Decimal,
    /// The lines running today that measure this account's channel or campaigns.
    pub lines: Vec<String>,
    /// Their remaining plan (never below zero per line); `None` when no line covers the account.
    pub remaining_plan: Option<Decimal>,
}

impl Runway {
    /// Days the remaining plan lasts at the average daily spend.
    pub fn days(&self) -> Option<Decimal> {
        ratio(self.remaining_plan?, self.average_daily_spend_7d)
    }
}

/// The report.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetReport {
    pub currency: Currency,
    pub timezone: String,
    pub period: Period,
    pub today: NaiveDate,
    pub overspend_alert_pct: Decimal,
    pub lines: Vec<LineFigures>,
    pub runway: Vec<Runway>,
}

/// The month holding `day`, as a report period.
pub fn month_of(day: NaiveDate) -> Period {
    use chrono::Datelike;
    let from = day.with_day(1).unwrap_or(day);
    let to = Period::parse(&from.format("%Y-%m").to_string())
        .map(|p| p.to)
        .unwrap_or(day);
    Period { from, to }
}

fn days(from: NaiveDate, to: NaiveDate) -> i64 {
    (to - from).num_days() + 1
}

/// Builds the report for `period` as of `today` (a day of the report zone: the CLI passes the
/// current one, tests a fixed one).
pub async fn budget(
    store: &Store,
    config: &Config,
    period: &Period,
    today: NaiveDate,
) -> Result<BudgetReport, BudgetError> {
    let rep = config.report.currency;
    let lines = all_lines(store, config).await?;
    let rates = if lines.iter().any(|(l, _)| l.currency != rep) {
        Rates::load(store).await?
    } else {
        Rates::default()
    };
    let mut missing = Vec::new();
    // (from, through, by) → the ROI rows of those days, fetched once per distinct range.
    let mut measured: BTreeMap<(NaiveDate, NaiveDate, bool), Vec<roi::Row>> = BTreeMap::new();
    let mut out = Vec::new();
    for (line, origin) in lines {
        let from = line.from.max(period.from);
        let to = line.to.min(period.to);
        if from > to {
            continue;
        }
        let total_days = days(from, to);
        let elapsed_days = if today < from {
            0
        } else {
            days(from, today.min(to))
        };
        let rate = match rates.rate(line.from, line.currency, rep) {
            Ok(r) => r,
            Err(m) => {
                if !missing.contains(&m) {
                    missing.push(m);
                }
                Decimal::ZERO
            }
        };
        let plan = line.amount * rate * Decimal::from(total_days)
            / Decimal::from(days(line.from, line.to));
        // What the line measures: (ROI grouping, row key); overhead measures nothing.
        let measures = match (&line.scope, line.kind) {
            (_, LineKind::Overhead) | (Scope::Everything, _) => None,
            (
                Scope::Campaign {
                    source,
                    campaign_id,
                },
                LineKind::Media,
            ) => Some((By::Campaign, format!("{source}:{campaign_id}"))),
            (Scope::Channel(c), LineKind::Media) => Some((By::Channel, c.clone())),
        };
        let (actual, leads) = match measures {
            None => (
                plan * Decimal::from(elapsed_days) / Decimal::from(total_days),
                None,
            ),
            Some((by, key)) => {
                let (mut spend, mut leads) = (Decimal::ZERO, 0i64);
                if elapsed_days > 0 {
                    let through = today.min(to);
                    let rows = match measured.entry((from, through, by == By::Campaign)) {
                        std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                        std::collections::btree_map::Entry::Vacant(e) => {
                            let p = Period { from, to: through };
                            e.insert(roi::roi(store, config, &p, by).await?.rows)
                        }
                    };
                    for r in rows.iter().filter(|r| r.key == key) {
                        spend += r.figures.spend;
                        leads += r.figures.leads;
                    }
                }
                (spend, Some(leads))
            }
        };
        let scope = scope_text(&line.scope);
        out.push(LineFigures {
            id: line.id,
            origin,
            scope,
            funding: line.funding,
            kind: line.kind,
            from,
            to,
            total_days,
            elapsed_days,
            plan,
            actual,
            leads,
            target_cpl: line.target_cpl.map(|t| t * rate),
            planned_discount: line.planned_discount.map(|d| d * rate),
            alerts: Vec::new(),
        });
    }
    if !missing.is_empty() {
        missing.sort_by_key(|m| (m.date, m.from.to_string()));
        return Err(BudgetError::MissingRates(missing));
    }
    let pct = config.budgets.overspend_alert_pct;
    for l in &mut out {
        let limit = l.plan * (Decimal::ONE + pct / Decimal::from(100));
        if l.kind == LineKind::Media && l.forecast().is_some_and(|f| f > limit) {
            l.alerts.push(AlertKind::Overspend);
        }
        // With no lead yet, spend past one target CPL already means the first lead will cost
        // more than the target: CPL is n/a, but the alert holds.
        if let (Some(leads), Some(target)) = (l.leads, l.target_cpl) {
            if l.actual > target * Decimal::from(leads.max(1)) {
                l.alerts.push(AlertKind::Cpl);
            }
        }
    }
    let runway = runway(store, config, &out, today).await?;
    Ok(BudgetReport {
        currency: rep,
        timezone: config.report.timezone.name().to_string(),
        period: period.clone(),
        today,
        overspend_alert_pct: pct,
        lines: out,
        runway,
    })
}

fn scope_text(scope: &Scope) -> String {
    match scope {
        Scope::Channel(c) => format!("channel {c}"),
        Scope::Campaign {
            source,
            campaign_id,
        } => format!("campaign {source}:{campaign_id}"),
        Scope::Everything => "everything".into(),
    }
}

/// Per ad account: the 7 days before `today`, and the remaining plan of the media lines
/// running today whose channel or campaign the account holds.
async fn runway(
    store: &Store,
    config: &Config,
    lines: &[LineFigures],
    today: NaiveDate,
) -> Result<Vec<Runway>, BudgetError> {
    let rep = config.report.currency;
    // (source, account) → its campaigns as `source:id` and its channels.
    let mut accounts: BTreeMap<(String, String), (BTreeSet<String>, BTreeSet<String>)> =
        BTreeMap::new();
    for a in store.account_campaigns().await? {
        let e = accounts
            .entry((a.source.clone(), a.account_id.clone()))
            .or_default();
        if let Some(c) = &a.campaign_id {
            e.0.insert(format!("campaign {}:{c}", a.source));
        }
        // Spend without a campaign channel counts for the instance, as in the ROI report.
        e.1.insert(format!(
            "channel {}",
            a.channel.clone().unwrap_or_else(|| a.source.clone())
        ));
    }
    if accounts.is_empty() {
        return Ok(Vec::new());
    }
    let (week_from, week_to) = (
        today - chrono::Duration::days(7),
        today - chrono::Duration::days(1),
    );
    let spend = store.account_spend_days(week_from, week_to).await?;
    let rates = if spend.iter().any(|s| s.currency != rep.as_str()) {
        Rates::load(store).await?
    } else {
        Rates::default()
    };
    let mut week: BTreeMap<(String, String), Decimal> = BTreeMap::new();
    let mut missing = Vec::new();
    for s in &spend {
        let amount = Decimal::new(s.micros, 6);
        let converted = match s.currency.parse::<Currency>() {
            Ok(c) => match rates.convert(amount, c, rep, s.day) {
                Ok(v) => v,
                Err(m) => {
                    if !missing.contains(&m) {
                        missing.push(m);
                    }
                    Decimal::ZERO
                }
            },
            Err(_) => Decimal::ZERO,
        };
        *week
            .entry((s.source.clone(), s.account_id.clone()))
            .or_default() += converted;
    }
    if !missing.is_empty() {
        return Err(BudgetError::MissingRates(missing));
    }
    let running: Vec<&LineFigures> = lines
        .iter()
        .filter(|l| l.kind == LineKind::Media && l.from <= today && today <= l.to)
        .collect();
    Ok(accounts
        .into_iter()
        .map(|((source, account_id), (campaigns, channels))| {
            let covering: Vec<&&LineFigures> = running
                .iter()
                .filter(|l| campaigns.contains(&l.scope) || channels.contains(&l.scope))
                .collect();
            let remaining_plan = if covering.is_empty() {
                None
            } else {
                Some(
                    covering
                        .iter()
                        .map(|l| l.remaining().max(Decimal::ZERO))
                        .sum(),
                )
            };
            let spent = week
                .get(&(source.clone(), account_id.clone()))
                .copied()
                .unwrap_or_default();
            Runway {
                average_daily_spend_7d: spent / Decimal::from(7),
                lines: covering.iter().map(|l| l.id.clone()).collect(),
                remaining_plan,
                source,
                account_id,
            }
        })
        .collect())
}

impl BudgetReport {
    /// The alerts of every line, in line order.
    pub fn alerts(&self) -> Vec<Alert> {
        let mut out = Vec::new();
        for l in &self.lines {
            for kind in &l.alerts {
                let message = match kind {
                    AlertKind::Overspend => format!(
                        "budget line {}: forecast {} {cur} is {} of plan {} {cur} (alert above {} %); actual {} after {} of {} days",
                        l.id,
                        money(l.forecast().unwrap_or_default()),
                        percent(l.forecast_vs_plan()),
                        money(l.plan),
                        self.overspend_alert_pct,
                        money(l.actual),
                        l.elapsed_days,
                        l.total_days,
                        cur = self.currency,
                    ),
                    AlertKind::Cpl => match l.cpl() {
                        Some(cpl) => format!(
                            "budget line {}: CPL {} {cur} is above its target {} {cur} ({} leads for {} {cur})",
                            l.id,
                            money(cpl),
                            money(l.target_cpl.unwrap_or_default()),
                            l.leads.unwrap_or_default(),
                            money(l.actual),
                            cur = self.currency,
                        ),
                        None => format!(
                            "budget line {}: no lead yet for {} {cur}, more than its target CPL {} {cur}",
                            l.id,
                            money(l.actual),
                            money(l.target_cpl.unwrap_or_default()),
                            cur = self.currency,
                        ),
                    },
                };
                out.push(Alert {
                    line: l.id.clone(),
                    kind: *kind,
                    message,
                });
            }
        }
        out
    }

    /// Sums of the lines `keep` selects.
    pub fn subtotal(&self, keep: impl Fn(&LineFigures) -> bool) -> Subtotal {
        let mut s = Subtotal {
            forecast: Some(Decimal::ZERO),
            ..Subtotal::default()
        };
        for l in self.lines.iter().filter(|l| keep(l)) {
            s.plan += l.plan;
            s.actual += l.actual;
            s.forecast = s.forecast.zip(l.forecast()).map(|(a, b)| a + b);
            if let Some(n) = l.leads {
                s.leads = Some(s.leads.unwrap_or_default() + n);
            }
        }
        s
    }

    /// One row per line, then subtotals per funding source and kind, then the total.
    pub fn table(&self) -> Table {
        let mut t = Table::new(
            format!(
                "Budget {} to {}, {} in {}, as of {} (plan prorated to the period's days; overhead actual = plan prorated by elapsed days)",
                self.period.from, self.period.to, self.currency, self.timezone, self.today
            ),
            vec![
                Column::new("line", Kind::Text),
                Column::new("source", Kind::Text).wide(),
                Column::new("scope", Kind::Text).wide(),
                Column::new("funding", Kind::Text),
                Column::new("kind", Kind::Text),
                Column::new("from", Kind::Text).wide(),
                Column::new("to", Kind::Text).wide(),
                Column::new("plan", Kind::Decimal),
                Column::new("actual", Kind::Decimal),
                Column::new("variance", Kind::Decimal),
                Column::new("utilisation", Kind::Decimal),
                Column::new("remaining", Kind::Decimal),
                Column::new("elapsed_days", Kind::Int),
                Column::new("total_days", Kind::Int),
                Column::new("burn_per_day", Kind::Decimal),
                Column::new("forecast", Kind::Decimal),
                Column::new("forecast_vs_plan", Kind::Decimal),
                Column::new("leads", Kind::Int),
                Column::new("cpl", Kind::Decimal),
                Column::new("target_cpl", Kind::Decimal),
                Column::new("planned_discount", Kind::Decimal).wide(),
                Column::new("alerts", Kind::Text),
            ],
        )
        .meta("report", "budget")
        .meta("currency", self.currency.to_string())
        .meta("timezone", self.timezone.clone())
        .meta("from", self.period.from.to_string())
        .meta("to", self.period.to.to_string())
        .meta("today", self.today.to_string())
        .meta(
            "overspend_alert_pct",
            self.overspend_alert_pct.to_string(),
        );
        for l in &self.lines {
            t.push(vec![
                text(&l.id),
                text(l.origin.label()),
                text(&l.scope),
                text(l.funding.as_str()),
                text(kind_str(l.kind)),
                text(l.from.to_string()),
                text(l.to.to_string()),
                Some(money(l.plan)),
                Some(money(l.actual)),
                Some(money(l.variance())),
                table::ratio(l.utilisation()),
                Some(money(l.remaining())),
                int(l.elapsed_days),
                int(l.total_days),
                money_opt(l.burn_per_day()),
                money_opt(l.forecast()),
                table::ratio(l.forecast_vs_plan()),
                l.leads.and_then(int),
                money_opt(l.cpl()),
                money_opt(l.target_cpl),
                money_opt(l.planned_discount),
                text(
                    l.alerts
                        .iter()
                        .map(|a| a.as_str())
                        .collect::<Vec<_>>()
                        .join(","),
                ),
            ]);
        }
        let mut groups: Vec<(String, Subtotal)> = Vec::new();
        for f in [Funding::Internal, Funding::Partner, Funding::Client] {
            if self.lines.iter().any(|l| l.funding == f) {
                groups.push((
                    format!("funding {}", f.as_str()),
                    self.subtotal(|l| l.funding == f),
                ));
            }
        }
        for k in [LineKind::Media, LineKind::Overhead] {
            if self.lines.iter().any(|l| l.kind == k) {
                groups.push((
                    format!("kind {}", kind_str(k)),
                    self.subtotal(|l| l.kind == k),
                ));
            }
        }
        groups.push(("total".into(), self.subtotal(|_| true)));
        for (label, s) in &groups {
            t.push(vec![
                text(label),
                text(""),
                text(""),
                text(""),
                text(""),
                text(""),
                text(""),
                Some(money(s.plan)),
                Some(money(s.actual)),
                Some(money(s.actual - s.plan)),
                table::ratio(ratio(s.actual, s.plan)),
                Some(money(s.plan - s.actual)),
                None,
                None,
                None,
                money_opt(s.forecast),
                table::ratio(s.forecast.and_then(|f| ratio(f, s.plan))),
                s.leads.and_then(int),
                money_opt(s.leads.and_then(|n| ratio(s.actual, n.into()))),
                None,
                None,
                text(""),
            ]);
        }
        for a in self.alerts() {
            t.notes
                .push(format!("ALERT {}: {}", a.kind.as_str(), a.message));
        }
        t
    }

    /// Per ad account: average daily spend of the last 7 days and the runway of the plan.
    pub fn runway_table(&self) -> Table {
        let mut t = Table::new(
            format!(
                "Runway of the plan as of {}: remaining plan of the lines running today / average daily spend of the 7 days before (no platform reports account balances yet)",
                self.today
            ),
            vec![
                Column::new("source", Kind::Text),
                Column::new("account", Kind::Text),
                Column::new("average_daily_spend_7d", Kind::Decimal),
                Column::new("lines", Kind::Text),
                Column::new("remaining_plan", Kind::Decimal),
                Column::new("runway_days", Kind::Decimal),
            ],
        )
        .meta("report", "budget_runway")
        .meta("currency", self.currency.to_string())
        .meta("today", self.today.to_string());
        for r in &self.runway {
            t.push(vec![
                text(&r.source),
                text(&r.account_id),
                Some(money(r.average_daily_spend_7d)),
                text(r.lines.join(",")),
                money_opt(r.remaining_plan),
                // Days, to one decimal place: a runway is read, not summed.
                r.days().map(|d| {
                    format!(
                        "{:.1}",
                        d.round_dp_with_strategy(
                            1,
                            okno_connector::rust_decimal::RoundingStrategy::MidpointAwayFromZero
                        )
                    )
                }),
            ]);
        }
        t
    }
}

fn kind_str(k: LineKind) -> &'static str {
    match k {
        LineKind::Media => "media",
        LineKind::Overhead => "overhead",
    }
}

/// A ratio as a percentage with two places, for messages.
fn percent(r: Option<Decimal>) -> String {
    match r {
        Some(r) => format!("{} %", money(r * Decimal::from(100))),
        None => "n/a".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }
    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn line(plan: &str, actual: &str, elapsed: i64, total: i64, leads: Option<i64>) -> LineFigures {
        LineFigures {
            id: "l".into(),
            origin: Origin::File,
            scope: "channel x".into(),
            funding: Funding::Internal,
            kind: LineKind::Media,
            from: day("2026-11-01"),
            to: day("2026-11-30"),
            total_days: total,
            elapsed_days: elapsed,
            plan: d(plan),
            actual: d(actual),
            leads,
            target_cpl: None,
            planned_discount: None,
            alerts: Vec::new(),
        }
    }

    #[test]
    fn pacing_follows_figures_md() {
        // 150,000 in 10 of 30 days: 15,000 a day; 150,000 + 15,000 × 20 = 450,000 = plan.
        let l = line("450000", "150000", 10, 30, Some(100));
        assert_eq!(l.burn_per_day(), Some(d("15000")));
        assert_eq!(l.forecast(), Some(d("450000")));
        assert_eq!(l.forecast_vs_plan(), Some(d("1")));
        assert_eq!(l.variance(), d("-300000"));
        assert_eq!(l.remaining(), d("300000"));
        assert_eq!(l.cpl(), Some(d("1500")));
    }

    #[test]
    fn zero_days_zero_plan_and_zero_leads_are_na() {
        let l = line("0", "0", 0, 30, Some(0));
        assert_eq!(
            (
                l.utilisation(),
                l.burn_per_day(),
                l.forecast(),
                l.forecast_vs_plan(),
                l.cpl()
            ),
            (None, None, None, None, None)
        );
    }

    #[test]
    fn months_hold_their_day() {
        let p = month_of(day("2026-02-14"));
        assert_eq!((p.from, p.to), (day("2026-02-01"), day("2026-02-28")));
    }
}
