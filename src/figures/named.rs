//! Reports by name, for what asks for them by name: nightly exports (`[[export]] reports`) and
//! the HTTP API. Each name is one table over one period; the CLI's `okno report <name>` gives
//! the same tables.

use chrono::NaiveDate;

use super::roi::{self, By, Period, RoiError};
use super::table::Table;
use crate::config::Config;
use crate::store::{Store, StoreError};

/// Every report a name can ask for, with what it holds.
pub const REPORTS: &[(&str, &str)] = &[
    (
        "roi_by_campaign",
        "spend, leads, won, revenue and the ratios per campaign and month",
    ),
    (
        "roi_by_channel",
        "the same per channel (ad platform or configured channel) and month",
    ),
    (
        "unattributed",
        "the leads created in the period that no rule placed, with the reason",
    ),
    (
        "anomalies",
        "campaigns far above their channel's median CPL, segments with leads and no sale",
    ),
    (
        "budget",
        "plan against actual per budget line, pacing forecast, CPL against target, alerts",
    ),
    (
        "budget_runway",
        "per ad account: average daily spend of the last 7 days and the days the plan lasts",
    ),
    (
        "people",
        "per person: tickets solved, reply and resolution medians, tasks done, lead time, work in progress",
    ),
    (
        "teams",
        "per team: its channels' spend, leads, CPL, won, revenue and ROI, and its members' work",
    ),
];

/// Why a named report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("no report {0:?}; reports: {names}", names = names())]
    Unknown(String),
    #[error(transparent)]
    Roi(#[from] RoiError),
    #[error(transparent)]
    Budget(#[from] super::budget::BudgetError),
    #[error(transparent)]
    People(#[from] super::people::PeopleError),
}

impl From<StoreError> for ReportError {
    fn from(e: StoreError) -> ReportError {
        ReportError::Roi(RoiError::Store(e))
    }
}

impl ReportError {
    /// The store failed (rather than the data lacking something, such as a rate).
    pub fn is_store_failure(&self) -> bool {
        use super::budget::BudgetError as B;
        use super::people::PeopleError as P;
        matches!(
            self,
            ReportError::Roi(RoiError::Store(_))
                | ReportError::Budget(B::Store(_) | B::Roi(RoiError::Store(_)))
                | ReportError::People(
                    P::Store(_)
                        | P::Roi(RoiError::Store(_))
                        | P::Budget(B::Store(_) | B::Roi(RoiError::Store(_)))
                )
        )
    }
}

/// The names, comma-separated, for messages.
pub fn names() -> String {
    REPORTS
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether `name` is a report.
pub fn exists(name: &str) -> bool {
    REPORTS.iter().any(|(n, _)| *n == name)
}

/// The report `name` over `period`; budget pacing is measured to `as_of` (today, or the night
/// an export covers).
pub async fn table(
    store: &Store,
    config: &Config,
    name: &str,
    period: &Period,
    as_of: NaiveDate,
) -> Result<Table, ReportError> {
    Ok(match name {
        "roi_by_campaign" => roi::roi(store, config, period, By::Campaign).await?.table(),
        "roi_by_channel" => roi::roi(store, config, period, By::Channel).await?.table(),
        "unattributed" => super::unattributed(store, config, period).await?,
        "anomalies" => super::anomaly::anomalies(store, config, period)
            .await?
            .table(),
        "budget" => super::budget::budget(store, config, period, as_of)
            .await?
            .table(),
        "budget_runway" => super::budget::budget(store, config, period, as_of)
            .await?
            .runway_table(),
        "people" => super::people::people(store, config, period).await?.table(),
        "teams" => super::people::teams(store, config, period).await?.table(),
        other => return Err(ReportError::Unknown(other.to_string())),
    })
}
