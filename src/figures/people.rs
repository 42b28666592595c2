//! Figures per specialist and per team (FIGURES.md, "People and teams").
//!
//! A person is one human across tools: tickets and tasks name vendor accounts, which
//! `person_identity` maps to a person (same e-mail, or `people.toml` accounts). An account no
//! identity row knows yet is still counted, under a person `people.toml` assigns it to or else
//! under its own `<instance>:<user id>`, so no work vanishes.
//!
//! Per person, for a period of days in the `[report]` zone:
//! - tickets solved: solved or closed, assigned to the person, solved (by the ticket metrics)
//!   in the period; medians of first-reply and full-resolution time over those tickets, in
//!   calendar minutes with business minutes beside;
//! - tasks done: done category, assigned, done in the period; median lead time (done −
//!   created) in hours;
//! - work in progress now: tasks in progress plus unsolved tickets (new, open, pending, on hold)
//!   assigned, whatever the period;
//! - leads, won and revenue of the channels the person owns (`[[person]] channels`), from the
//!   ROI report by channel.
//!
//! Per team: spend, leads, CPL, won, revenue and ROI of the channels it owns, plus the sums of
//! its members' tickets solved, tasks done and work in progress. A median of nothing is `None`
//! ("n/a"), never zero.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use okno_connector::chrono_tz::Tz;
use okno_connector::rust_decimal::{Decimal, RoundingStrategy};
use okno_connector::Currency;

use super::roi::{roi, By, Figures, Period, RoiError};
use super::table::{self, int, money, money_opt, text, Cell, Column, Kind, Table};
/// Channel → owning team, for grouping ROI rows by team.
pub use crate::config::people::channel_teams;
use crate::config::people::People;
use crate::config::Config;
use crate::store::{Assignee, Store, StoreError};

/// Why a people or teams report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PeopleError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The channel figures come from the ROI report, with its failures (a missing rate).
    #[error(transparent)]
    Roi(#[from] RoiError),
    /// Budget adherence comes from the budget report, with its failures.
    #[error(transparent)]
    Budget(#[from] super::budget::BudgetError),
}

/// One person's figures for a period.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonFigures {
    /// `email:<address>`, `people.toml:<name>`, or `<instance>:<user id>` for an account that is
    /// its own person.
    pub person_id: String,
    pub name: String,
    /// Names of the teams the person is a member of.
    pub teams: Vec<String>,
    /// Channels the person owns (`[[person]] channels`).
    pub channels: Vec<String>,
    pub tickets_solved: i64,
    pub reply_median_minutes: Option<Decimal>,
    pub reply_median_business_minutes: Option<Decimal>,
    pub resolution_median_minutes: Option<Decimal>,
    pub resolution_median_business_minutes: Option<Decimal>,
    pub tasks_done: i64,
    pub lead_time_median_hours: Option<Decimal>,
    /// Unsolved tickets assigned now.
    pub wip_tickets: i64,
    /// Tasks in progress now.
    pub wip_tasks: i64,
    /// Leads, won and revenue of `channels`; `None` when the person owns none.
    pub channel_figures: Option<Figures>,
}

impl PersonFigures {
    /// Work in progress now: tasks in progress plus unsolved tickets.
    pub fn wip(&self) -> i64 {
        self.wip_tickets + self.wip_tasks
    }
}

/// One team's figures for a period.
#[derive(Debug, Clone, PartialEq)]
pub struct TeamFigures {
    pub name: String,
    pub group: Option<String>,
    /// Member names, in file order.
    pub members: Vec<String>,
    pub channels: Vec<String>,
    /// Spend, leads, won and revenue of `channels` (ratios through [`Figures`]); `None` when
    /// the team owns no channel.
    pub channel_figures: Option<Figures>,
    pub tickets_solved: i64,
    pub tasks_done: i64,
    pub wip: i64,
    /// Plan of the media budget lines of the team's channels (channel lines, and campaign
    /// lines of campaigns on those channels) for the period; `None` when none is planned.
    pub budget_plan: Option<Decimal>,
    /// Their actual spend so far / that plan (the budget report's utilisation, summed).
    pub budget_utilisation: Option<Decimal>,
}

/// Figures of every person in `people.toml`, every team member and everyone with work.
#[derive(Debug, Clone, PartialEq)]
pub struct PeopleReport {
    pub currency: Currency,
    pub timezone: String,
    pub period: Period,
    /// By name, then person id.
    pub rows: Vec<PersonFigures>,
}

/// Figures of every `[[team]]`, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct TeamsReport {
    pub currency: Currency,
    pub timezone: String,
    pub period: Period,
    pub rows: Vec<TeamFigures>,
    /// Channels with spend or leads in the period that no team owns.
    pub unowned_channels: Vec<String>,
}

/// The instant a day starts in `tz`. Where a clock change skips midnight, the day starts at
/// the first instant it has.
fn day_start(day: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let midnight = day.and_time(NaiveTime::MIN);
    (0..=2)
        .find_map(|h| {
            tz.from_local_datetime(&(midnight + Duration::hours(h)))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&midnight))
}

/// The UTC instants `period` covers in `tz`: from its first day's start to the start of the day
/// after its last (excluded).
pub fn period_bounds(period: &Period, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
    let after = period.to.succ_opt().unwrap_or(period.to);
    (day_start(period.from, tz), day_start(after, tz))
}

/// The middle value, or the mean of the two middle values of an even count; `None` for none.
pub fn median(mut values: Vec<i64>) -> Option<Decimal> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let n = values.len();
    Some(if n % 2 == 1 {
        Decimal::from(values[n / 2])
    } else {
        (Decimal::from(values[n / 2 - 1]) + Decimal::from(values[n / 2])) / Decimal::TWO
    })
}

/// What is summed for one person before medians are taken.
#[derive(Default)]
struct Work {
    /// Name the store gives the person or account.
    name: Option<String>,
    tickets_solved: i64,
    reply: Vec<i64>,
    reply_business: Vec<i64>,
    resolution: Vec<i64>,
    resolution_business: Vec<i64>,
    tasks_done: i64,
    lead_seconds: Vec<i64>,
    wip_tickets: i64,
    wip_tasks: i64,
}

/// The person an assignee stands for, and the name the store knows them by.
fn person_of(a: &Assignee, people: &People) -> (String, Option<String>) {
    if let Some(id) = &a.person_id {
        return (id.clone(), a.name.clone());
    }
    // The account's identity has not been synced yet: people.toml may still place it.
    if let Some(p) = people.person_of(&a.source, &a.user_id) {
        return (p.person_id.clone(), Some(p.name.clone()));
    }
    (format!("{}:{}", a.source, a.user_id), None)
}

/// Spend, leads, won and revenue per channel over the period, from the ROI report.
async fn channel_sums(
    store: &Store,
    config: &Config,
    period: &Period,
) -> Result<BTreeMap<String, Figures>, RoiError> {
    let report = roi(store, config, period, By::Channel).await?;
    let mut out: BTreeMap<String, Figures> = BTreeMap::new();
    for r in &report.rows {
        let f = out.entry(r.key.clone()).or_default();
        f.spend += r.figures.spend;
        f.leads += r.figures.leads;
        f.won += r.figures.won;
        f.revenue += r.figures.revenue;
    }
    Ok(out)
}

/// The sum of `channels`' figures.
fn sum_channels(sums: &BTreeMap<String, Figures>, channels: &[String]) -> Figures {
    let mut f = Figures::default();
    for c in channels {
        if let Some(s) = sums.get(c) {
            f.spend += s.spend;
            f.leads += s.leads;
            f.won += s.won;
            f.revenue += s.revenue;
        }
    }
    f
}

/// Every person's figures for `period`.
pub async fn people(
    store: &Store,
    config: &Config,
    period: &Period,
) -> Result<PeopleReport, PeopleError> {
    let sums = if config.people.people.iter().any(|p| !p.channels.is_empty()) {
        channel_sums(store, config, period).await?
    } else {
        BTreeMap::new()
    };
    people_with(store, config, period, &sums).await
}

/// [`people`] with the channel sums already taken (the teams report needs them too).
async fn people_with(
    store: &Store,
    config: &Config,
    period: &Period,
    sums: &BTreeMap<String, Figures>,
) -> Result<PeopleReport, PeopleError> {
    let dir = &config.people;
    let (from, to) = period_bounds(period, config.report.timezone);
    let mut work: BTreeMap<String, Work> = BTreeMap::new();
    fn entry<'w>(work: &'w mut BTreeMap<String, Work>, a: &Assignee, dir: &People) -> &'w mut Work {
        let (id, name) = person_of(a, dir);
        let w = work.entry(id).or_default();
        if w.name.is_none() {
            w.name = name;
        }
        w
    }
    for t in store.solved_tickets(from, to).await? {
        let w = entry(&mut work, &t.assignee, dir);
        w.tickets_solved += 1;
        w.reply.extend(t.reply_minutes_calendar);
        w.reply_business.extend(t.reply_minutes_business);
        w.resolution.extend(t.resolution_minutes_calendar);
        w.resolution_business.extend(t.resolution_minutes_business);
    }
    for t in store.done_tasks(from, to).await? {
        let w = entry(&mut work, &t.assignee, dir);
        w.tasks_done += 1;
        w.lead_seconds
            .push((t.done_at - t.created_at).num_seconds());
    }
    for o in store.open_work().await? {
        let w = entry(&mut work, &o.assignee, dir);
        w.wip_tickets += o.tickets;
        w.wip_tasks += o.tasks;
    }
    // Everyone listed is shown, with or without work.
    for id in dir
        .people
        .iter()
        .map(|p| &p.person_id)
        .chain(dir.teams.iter().flat_map(|t| &t.members))
    {
        work.entry(id.clone()).or_default();
    }
    let mut rows = Vec::with_capacity(work.len());
    for (id, w) in work {
        let listed = dir.person(&id);
        let name = match (listed, w.name) {
            (Some(p), _) => p.name.clone(),
            (None, Some(n)) => n,
            (None, None) => store.person_name(&id).await?.unwrap_or_else(|| id.clone()),
        };
        let channels = listed.map(|p| p.channels.clone()).unwrap_or_default();
        let channel_figures = (!channels.is_empty()).then(|| sum_channels(sums, &channels));
        rows.push(PersonFigures {
            teams: dir
                .teams
                .iter()
                .filter(|t| t.members.contains(&id))
                .map(|t| t.name.clone())
                .collect(),
            person_id: id,
            name,
            channels,
            tickets_solved: w.tickets_solved,
            reply_median_minutes: median(w.reply),
            reply_median_business_minutes: median(w.reply_business),
            resolution_median_minutes: median(w.resolution),
            resolution_median_business_minutes: median(w.resolution_business),
            tasks_done: w.tasks_done,
            lead_time_median_hours: median(w.lead_seconds).map(|s| s / Decimal::from(3600)),
            wip_tickets: w.wip_tickets,
            wip_tasks: w.wip_tasks,
            channel_figures,
        });
    }
    rows.sort_by(|a, b| (&a.name, &a.person_id).cmp(&(&b.name, &b.person_id)));
    Ok(PeopleReport {
        currency: config.report.currency,
        timezone: config.report.timezone.name().to_string(),
        period: period.clone(),
        rows,
    })
}

/// Every team's figures for `period`.
/// Plan and actual of each channel's media budget lines in `period`, measured to today.
async fn team_budgets(
    store: &Store,
    config: &Config,
    period: &Period,
) -> Result<BTreeMap<String, (Decimal, Decimal)>, PeopleError> {
    use crate::config::budgets::LineKind;
    let today = crate::budget_check::today(config);
    let report = super::budget::budget(store, config, period, today).await?;
    if report.lines.is_empty() {
        return Ok(BTreeMap::new());
    }
    // Campaign lines count for their campaign's channel.
    let channel_of: BTreeMap<String, String> = store
        .known_campaigns()
        .await?
        .into_iter()
        .map(|c| (c.key.to_string(), c.channel))
        .collect();
    let mut out: BTreeMap<String, (Decimal, Decimal)> = BTreeMap::new();
    for line in report.lines.iter().filter(|l| l.kind == LineKind::Media) {
        let channel = if let Some(ch) = line.scope.strip_prefix("channel ") {
            Some(ch.to_string())
        } else if let Some(key) = line.scope.strip_prefix("campaign ") {
            channel_of.get(key).cloned()
        } else {
            None
        };
        if let Some(ch) = channel {
            let e = out.entry(ch).or_default();
            e.0 += line.plan;
            e.1 += line.actual;
        }
    }
    Ok(out)
}

impl TeamFigures {
    fn with_budget(
        mut self,
        budgets: &BTreeMap<String, (Decimal, Decimal)>,
        channels: &[String],
    ) -> Self {
        let lines: Vec<&(Decimal, Decimal)> =
            channels.iter().filter_map(|c| budgets.get(c)).collect();
        if !lines.is_empty() {
            let plan: Decimal = lines.iter().map(|(p, _)| *p).sum();
            let actual: Decimal = lines.iter().map(|(_, a)| *a).sum();
            self.budget_plan = Some(plan);
            self.budget_utilisation = (!plan.is_zero()).then(|| actual / plan);
        }
        self
    }
}

pub async fn teams(
    store: &Store,
    config: &Config,
    period: &Period,
) -> Result<TeamsReport, PeopleError> {
    let dir = &config.people;
    let owns = |channels: &[String]| !channels.is_empty();
    let sums = if dir.teams.iter().any(|t| owns(&t.channels))
        || dir.people.iter().any(|p| owns(&p.channels))
    {
        channel_sums(store, config, period).await?
    } else {
        BTreeMap::new()
    };
    let people_report = people_with(store, config, period, &sums).await?;
    let budgets = team_budgets(store, config, period).await?;
    let by_id: BTreeMap<&str, &PersonFigures> = people_report
        .rows
        .iter()
        .map(|p| (p.person_id.as_str(), p))
        .collect();
    let owned: BTreeSet<&str> = dir
        .teams
        .iter()
        .flat_map(|t| t.channels.iter().map(String::as_str))
        .collect();
    let unowned_channels = sums
        .iter()
        .filter(|(c, f)| {
            c.as_str() != "unattributed"
                && !owned.contains(c.as_str())
                && (f.leads > 0 || !f.spend.is_zero())
        })
        .map(|(c, _)| c.clone())
        .collect();
    let rows = dir
        .teams
        .iter()
        .map(|t| {
            let members: Vec<&PersonFigures> = t
                .members
                .iter()
                .filter_map(|m| by_id.get(m.as_str()).copied())
                .collect();
            TeamFigures {
                name: t.name.clone(),
                group: t.group.clone(),
                members: members.iter().map(|p| p.name.clone()).collect(),
                channels: t.channels.clone(),
                channel_figures: (!t.channels.is_empty()).then(|| sum_channels(&sums, &t.channels)),
                tickets_solved: members.iter().map(|p| p.tickets_solved).sum(),
                tasks_done: members.iter().map(|p| p.tasks_done).sum(),
                wip: members.iter().map(|p| p.wip()).sum(),
                budget_plan: None,
                budget_utilisation: None,
            }
            .with_budget(&budgets, &t.channels)
        })
        .collect();
    Ok(TeamsReport {
        currency: people_report.currency,
        timezone: people_report.timezone,
        period: people_report.period,
        rows,
        unowned_channels,
    })
}

/// Minutes as presented: medians of whole minutes are whole or halves, so one place.
fn minutes(d: Option<Decimal>) -> Cell {
    d.map(|d| {
        format!(
            "{:.1}",
            d.round_dp_with_strategy(1, RoundingStrategy::MidpointAwayFromZero)
        )
    })
}

/// Hours as presented: 0.01, half up.
fn hours(d: Option<Decimal>) -> Cell {
    d.map(|d| {
        format!(
            "{:.2}",
            d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
        )
    })
}

fn with_meta(t: Table, report: &str, currency: Currency, tz: &str, period: &Period) -> Table {
    t.meta("report", report)
        .meta("currency", currency.to_string())
        .meta("timezone", tz.to_string())
        .meta("from", period.from.to_string())
        .meta("to", period.to.to_string())
}

impl PeopleReport {
    /// One row per person.
    pub fn table(&self) -> Table {
        let mut t = with_meta(
            Table::new(
                format!(
                    "People {} to {}, {} in {} (medians of tickets solved and tasks done in the period; WIP is now)",
                    self.period.from, self.period.to, self.currency, self.timezone
                ),
                vec![
                    Column::new("person", Kind::Text),
                    Column::new("person_id", Kind::Text).wide(),
                    Column::new("teams", Kind::Text).wide(),
                    Column::new("tickets_solved", Kind::Int),
                    Column::new("reply_median_min", Kind::Decimal),
                    Column::new("reply_median_business_min", Kind::Decimal),
                    Column::new("resolution_median_min", Kind::Decimal),
                    Column::new("resolution_median_business_min", Kind::Decimal),
                    Column::new("tasks_done", Kind::Int),
                    Column::new("lead_time_median_h", Kind::Decimal),
                    Column::new("wip", Kind::Int),
                    Column::new("wip_tickets", Kind::Int).wide(),
                    Column::new("wip_tasks", Kind::Int).wide(),
                    Column::new("channels", Kind::Text).wide(),
                    Column::new("leads", Kind::Int),
                    Column::new("won", Kind::Int),
                    Column::new("revenue", Kind::Decimal),
                ],
            ),
            "people",
            self.currency,
            &self.timezone,
            &self.period,
        );
        for p in &self.rows {
            let f = p.channel_figures.as_ref();
            t.push(vec![
                text(&p.name),
                text(&p.person_id),
                text(p.teams.join(", ")),
                int(p.tickets_solved),
                minutes(p.reply_median_minutes),
                minutes(p.reply_median_business_minutes),
                minutes(p.resolution_median_minutes),
                minutes(p.resolution_median_business_minutes),
                int(p.tasks_done),
                hours(p.lead_time_median_hours),
                int(p.wip()),
                int(p.wip_tickets),
                int(p.wip_tasks),
                text(p.channels.join(", ")),
                f.and_then(|f| int(f.leads)),
                f.and_then(|f| int(f.won)),
                f.map(|f| money(f.revenue)),
            ]);
        }
        t.notes.push(
            "n/a: no tickets or tasks to take a median of, or no channels owned ([[person]] channels in people.toml)".into(),
        );
        t
    }
}

impl TeamsReport {
    /// One row per team.
    pub fn table(&self) -> Table {
        let mut t = with_meta(
            Table::new(
                format!(
                    "Teams {} to {}, {} in {}, last-touch attribution (work figures are the members' sums; WIP is now)",
                    self.period.from, self.period.to, self.currency, self.timezone
                ),
                vec![
                    Column::new("team", Kind::Text),
                    Column::new("group", Kind::Text),
                    Column::new("members", Kind::Text).wide(),
                    Column::new("channels", Kind::Text).wide(),
                    Column::new("spend", Kind::Decimal),
                    Column::new("leads", Kind::Int),
                    Column::new("cpl", Kind::Decimal),
                    Column::new("won", Kind::Int),
                    Column::new("revenue", Kind::Decimal),
                    Column::new("roi", Kind::Decimal),
                    Column::new("tickets_solved", Kind::Int),
                    Column::new("tasks_done", Kind::Int),
                    Column::new("wip", Kind::Int),
                    Column::new("budget_plan", Kind::Decimal).wide(),
                    Column::new("budget_utilisation", Kind::Decimal),
                ],
            ),
            "teams",
            self.currency,
            &self.timezone,
            &self.period,
        )
        .meta("attribution", "last touch");
        for r in &self.rows {
            let f = r.channel_figures.as_ref();
            t.push(vec![
                text(&r.name),
                r.group.clone(),
                text(r.members.join(", ")),
                text(r.channels.join(", ")),
                f.map(|f| money(f.spend)),
                f.and_then(|f| int(f.leads)),
                f.and_then(|f| money_opt(f.cpl())),
                f.and_then(|f| int(f.won)),
                f.map(|f| money(f.revenue)),
                f.and_then(|f| table::ratio(f.roi())),
                int(r.tickets_solved),
                int(r.tasks_done),
                int(r.wip),
                table::money_opt(r.budget_plan),
                table::ratio(r.budget_utilisation),
            ]);
        }
        if !self.unowned_channels.is_empty() {
            t.notes.push(format!(
                "channels with spend or leads that no team owns: {} (add them to a [[team]] channels in people.toml)",
                self.unowned_channels.join(", ")
            ));
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn medians_of_odd_and_even_counts_and_of_nothing() {
        assert_eq!(median(vec![30, 10, 20]), Some(d("20")));
        // 10 20 | 45 60 → (20 + 45) / 2.
        assert_eq!(median(vec![60, 10, 45, 20]), Some(d("32.5")));
        assert_eq!(median(vec![]), None);
        assert_eq!(minutes(Some(d("32.5"))), Some("32.5".into()));
        assert_eq!(hours(Some(d("1.005"))), Some("1.01".into()));
    }

    #[test]
    fn a_period_is_bounded_by_midnights_of_the_report_zone() {
        let p = Period::parse("2026-11").unwrap();
        let (from, to) = period_bounds(&p, okno_connector::chrono_tz::Europe::Moscow);
        // Moscow is UTC+3 all year.
        assert_eq!(from.to_rfc3339(), "2026-10-31T21:00:00+00:00");
        assert_eq!(to.to_rfc3339(), "2026-11-30T21:00:00+00:00");
        // Where a clock change skips midnight (Santiago, 2026-09-06), the day starts at 01:00.
        let p = Period::parse("2026-09-06..2026-09-06").unwrap();
        let (from, _) = period_bounds(&p, okno_connector::chrono_tz::America::Santiago);
        assert_eq!(from.to_rfc3339(), "2026-09-06T04:00:00+00:00");
    }
}
