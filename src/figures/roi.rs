//! Return on ad spend (FIGURES.md, "The figures") per campaign, channel, product, segment or
//! region and per day, ISO week, month, quarter or year: spend, impressions, clicks, leads (by
//! creation day), won deals and revenue (by won day), the cohort view (of the leads created in
//! a bucket, those won so far and their revenue), and CPL, CAC, conversion, average deal, ROI,
//! ROMI (per-product margins), ДРР (spend / revenue) and, on the total, fully loaded ROI
//! (overhead budget lines added to spend).
//!
//! Sums are taken in the database (spend in millionths, leads from the lead facts); amounts in
//! another currency than the reporting one are converted at the rate of their own day, and a
//! missing rate fails the report naming it. Spend a platform reported with VAT is taken net of
//! the VAT rate of its day unless `[report] spend_includes_vat`. Ratios with a zero
//! denominator are `None` ("n/a"), never zero or infinity. Spend cannot be split by product,
//! segment or region: rows by those carry no spend and `None` for every spend-based ratio,
//! while the total keeps all spend.

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use okno_connector::rust_decimal::Decimal;
use okno_connector::Currency;

use super::table::{self, int, money, money_opt, text, Cell, Column, Kind, Table};
use crate::config::budgets::LineKind;
use crate::config::{Config, VatRate};
use crate::fx::{MissingRate, Rates};
use crate::store::{LeadSum, SpendSum, Store, StoreError, Sums};

/// What rows group by. Spend follows a row only where the dimension is one spend has
/// (campaign, channel); see [`By::splits_spend`]. Every key is made in [`By::spend_key`] and
/// `By::lead_key`, so a dimension derived from the channel (a team, through the people
/// configuration's channel → team map) is a variant there and splits spend like `Channel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    Campaign,
    Channel,
    /// The won deal's product (else the lead's).
    Product,
    Segment,
    Region,
}

impl By {
    /// `campaign`, `channel`, `product`, `segment` or `region`.
    pub fn as_str(self) -> &'static str {
        match self {
            By::Campaign => "campaign",
            By::Channel => "channel",
            By::Product => "product",
            By::Segment => "segment",
            By::Region => "region",
        }
    }

    /// Whether spend can be counted per row. A dimension derived from the channel (a team
    /// owning channels) splits spend too; product, segment and region do not.
    pub fn splits_spend(self) -> bool {
        matches!(self, By::Campaign | By::Channel)
    }

    /// Whether the row of a lead sum has no spend of its own: every row where spend does not
    /// split, and the rows of leads placed on no campaign (by campaign) or no channel (by
    /// channel) — nothing was spent on them that can be told, so CPL there is n/a, not 0.
    fn lead_row_spend_unknown(self, l: &LeadSum) -> bool {
        match self {
            By::Campaign => l.campaign_source.is_none() || l.campaign_id.is_none(),
            By::Channel => l.channel.is_none(),
            By::Product | By::Segment | By::Region => true,
        }
    }

    /// The row key of a spend sum; `None` where spend does not split by this dimension.
    fn spend_key(self, source: &str, campaign_id: &str, channel: &str) -> Option<String> {
        match self {
            By::Campaign => Some(format!("{source}:{campaign_id}")),
            By::Channel => Some(channel.to_string()),
            By::Product | By::Segment | By::Region => None,
        }
    }

    /// The row key of a lead sum.
    fn lead_key(self, l: &LeadSum) -> String {
        let or_none = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".into());
        match (
            self,
            l.campaign_source.as_deref().zip(l.campaign_id.as_deref()),
            &l.channel,
        ) {
            (By::Campaign, Some((s, c)), _) => format!("{s}:{c}"),
            (By::Campaign, None, Some(ch)) => format!("channel {ch}"),
            (By::Channel, _, Some(ch)) => ch.clone(),
            (By::Campaign | By::Channel, _, None) => "unattributed".into(),
            (By::Product, _, _) => or_none(&l.product),
            (By::Segment, _, _) => or_none(&l.segment),
            (By::Region, _, _) => or_none(&l.region),
        }
    }
}

/// The size of a row's time bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Grain {
    Day,
    /// ISO 8601 week (Monday to Sunday; the week belongs to the year of its Thursday).
    Week,
    #[default]
    Month,
    Quarter,
    Year,
}

impl Grain {
    pub fn as_str(self) -> &'static str {
        match self {
            Grain::Day => "day",
            Grain::Week => "week",
            Grain::Month => "month",
            Grain::Quarter => "quarter",
            Grain::Year => "year",
        }
    }

    /// The bucket of a day: `2026-10-05`, `2026-W41`, `2026-10`, `2026-Q4` or `2026`.
    pub fn label(self, day: NaiveDate) -> String {
        match self {
            Grain::Day => day.format("%Y-%m-%d").to_string(),
            Grain::Week => {
                let w = day.iso_week();
                format!("{}-W{:02}", w.year(), w.week())
            }
            Grain::Month => format!("{}-{:02}", day.year(), day.month()),
            Grain::Quarter => format!("{}-Q{}", day.year(), (day.month() - 1) / 3 + 1),
            Grain::Year => day.year().to_string(),
        }
    }

    /// Whether buckets are whole months (so monthly sums suffice).
    fn months_suffice(self) -> bool {
        matches!(self, Grain::Month | Grain::Quarter | Grain::Year)
    }
}

/// A first and a last day, both included.
pub type Days = (NaiveDate, NaiveDate);

/// The days a report covers, both included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

fn month_end(year: i32, month: u32) -> Option<NaiveDate> {
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    };
    next.and_then(|d| d.pred_opt())
}

impl Period {
    /// `2026` (a year), `2026-Q4`, `2026-10` (a month), `2026-W44` (an ISO week),
    /// `2026-10-05` (a day) or `2026-10-01..2026-12-31`.
    pub fn parse(text: &str) -> Result<Period, String> {
        let t = text.trim();
        let bad = || {
            format!(
                "{t:?} is not a period: write 2026, 2026-Q4, 2026-10, 2026-W44, 2026-10-05 or \
                 2026-10-01..2026-12-31"
            )
        };
        let day = |s: &str| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| bad());
        if let Some((a, b)) = t.split_once("..") {
            let (from, to) = (day(a)?, day(b)?);
            return if from <= to {
                Ok(Period { from, to })
            } else {
                Err(bad())
            };
        }
        if let Ok(year) = t.parse::<i32>() {
            let from = NaiveDate::from_ymd_opt(year, 1, 1).ok_or_else(bad)?;
            let to = NaiveDate::from_ymd_opt(year, 12, 31).ok_or_else(bad)?;
            return Ok(Period { from, to });
        }
        if let Some((y, q)) = t.split_once("-Q").or_else(|| t.split_once("-q")) {
            let year: i32 = y.parse().map_err(|_| bad())?;
            let q: u32 = q
                .parse()
                .ok()
                .filter(|q| (1..=4).contains(q))
                .ok_or_else(bad)?;
            let from = NaiveDate::from_ymd_opt(year, q * 3 - 2, 1).ok_or_else(bad)?;
            let to = month_end(year, q * 3).ok_or_else(bad)?;
            return Ok(Period { from, to });
        }
        if let Some((y, w)) = t.split_once("-W").or_else(|| t.split_once("-w")) {
            let year: i32 = y.parse().map_err(|_| bad())?;
            let week: u32 = w.parse().map_err(|_| bad())?;
            let from = NaiveDate::from_isoywd_opt(year, week, Weekday::Mon).ok_or_else(bad)?;
            return Ok(Period {
                from,
                to: from + Duration::days(6),
            });
        }
        if t.len() == 10 {
            let d = day(t)?;
            return Ok(Period { from: d, to: d });
        }
        let from = NaiveDate::parse_from_str(&format!("{t}-01"), "%Y-%m-%d").map_err(|_| bad())?;
        let to = month_end(from.year(), from.month()).ok_or_else(bad)?;
        Ok(Period { from, to })
    }

    /// The whole months inside the period, as (first day, last day), and the days outside
    /// them at either edge.
    pub fn split_months(&self) -> (Option<Days>, Vec<Days>) {
        let first = if self.from.day() == 1 {
            Some(self.from)
        } else {
            month_end(self.from.year(), self.from.month()).and_then(|d| d.succ_opt())
        };
        let last = if self.to.succ_opt().is_some_and(|n| n.day() == 1) {
            Some(self.to)
        } else {
            NaiveDate::from_ymd_opt(self.to.year(), self.to.month(), 1).and_then(|d| d.pred_opt())
        };
        match first.zip(last).filter(|(a, b)| a < b) {
            Some((a, b)) => {
                let mut edges = Vec::new();
                if self.from < a {
                    edges.push((self.from, a - Duration::days(1)));
                }
                if b < self.to {
                    edges.push((b + Duration::days(1), self.to));
                }
                (Some((a, b)), edges)
            }
            None => (None, vec![(self.from, self.to)]),
        }
    }

    /// Days of the period, both ends included.
    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }
}

/// What to report: the period, the size of its buckets and what rows group by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub period: Period,
    pub grain: Grain,
    pub by: By,
}

/// The sums of one row (or of the whole report), in the reporting currency.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    /// Net of VAT unless `[report] spend_includes_vat`.
    pub spend: Decimal,
    pub impressions: i64,
    pub clicks: i64,
    pub leads: i64,
    pub won: i64,
    pub revenue: Decimal,
    /// Some spend is of days the platform may still restate.
    pub provisional: bool,
    /// The row's dimension does not split spend (product, segment, region), or its leads are on
    /// no campaign or channel (unattributed): spend is not known here, and spend-based figures
    /// are `None`.
    pub spend_unknown: bool,
    /// Of the leads created in the bucket, those won by now (cohort view).
    pub won_cohort: i64,
    /// Their revenue.
    pub revenue_cohort: Decimal,
    /// Σ revenue × margin of its product (else `gross_margin`), for ROMI.
    pub gross_profit: Decimal,
    /// Some won revenue has no margin configured: ROMI is `None`.
    pub margin_missing: bool,
}

fn ratio(a: Decimal, b: Decimal) -> Option<Decimal> {
    if b.is_zero() {
        None
    } else {
        a.checked_div(b)
    }
}

impl Figures {
    fn add(&mut self, o: &Figures) {
        self.spend += o.spend;
        self.impressions += o.impressions;
        self.clicks += o.clicks;
        self.leads += o.leads;
        self.won += o.won;
        self.revenue += o.revenue;
        self.provisional |= o.provisional;
        self.won_cohort += o.won_cohort;
        self.revenue_cohort += o.revenue_cohort;
        self.gross_profit += o.gross_profit;
        self.margin_missing |= o.margin_missing;
    }

    /// The spend, where this row knows it.
    fn known_spend(&self) -> Option<Decimal> {
        (!self.spend_unknown).then_some(self.spend)
    }

    /// Spend per lead.
    pub fn cpl(&self) -> Option<Decimal> {
        ratio(self.known_spend()?, self.leads.into())
    }

    /// Spend per won deal.
    pub fn cac(&self) -> Option<Decimal> {
        ratio(self.known_spend()?, self.won.into())
    }

    /// Won per lead (period view).
    pub fn conversion(&self) -> Option<Decimal> {
        ratio(self.won.into(), self.leads.into())
    }

    /// Won so far per lead created in the bucket (cohort view).
    pub fn conversion_cohort(&self) -> Option<Decimal> {
        ratio(self.won_cohort.into(), self.leads.into())
    }

    pub fn average_deal(&self) -> Option<Decimal> {
        ratio(self.revenue, self.won.into())
    }

    /// (revenue − spend) / spend.
    pub fn roi(&self) -> Option<Decimal> {
        let spend = self.known_spend()?;
        ratio(self.revenue - spend, spend)
    }

    /// (revenue × margin − spend) / spend, one margin for all revenue.
    pub fn romi(&self, margin: Option<Decimal>) -> Option<Decimal> {
        let spend = self.known_spend()?;
        ratio(self.revenue * margin? - spend, spend)
    }

    /// (Σ revenue × its product's margin − spend) / spend; `None` when some revenue has no
    /// margin.
    pub fn romi_by_product(&self) -> Option<Decimal> {
        if self.margin_missing {
            return None;
        }
        let spend = self.known_spend()?;
        ratio(self.gross_profit - spend, spend)
    }

    /// ДРР: spend / revenue.
    pub fn cost_revenue_ratio(&self) -> Option<Decimal> {
        ratio(self.known_spend()?, self.revenue)
    }

    /// ROI with `overhead` added to spend.
    pub fn fully_loaded_roi(&self, overhead: Decimal) -> Option<Decimal> {
        let cost = self.known_spend()? + overhead;
        ratio(self.revenue - cost, cost)
    }
}

/// One row: a key (`source:campaign_id`, `channel <name>` when grouping by campaign, a channel,
/// a product/segment/region or `none`, or `unattributed`) in one bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub key: String,
    pub channel: Option<String>,
    /// The bucket label ([`Grain::label`]): `YYYY-MM` with the default grain.
    pub month: String,
    pub figures: Figures,
}

/// Overhead budget lines counted in fully loaded ROI.
#[derive(Debug, Clone, PartialEq)]
pub struct Overhead {
    /// Prorated and converted, in the reporting currency.
    pub amount: Decimal,
    /// `id: share` of each line that overlapped the period.
    pub lines: Vec<String>,
}

/// The report: rows by key and bucket, and the total.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub currency: Currency,
    pub timezone: String,
    pub period: Period,
    pub grain: Grain,
    pub by: By,
    /// What the rows are, as titles and JSON say it: `by`'s name, or `team` once regrouped.
    pub rows_are: &'static str,
    pub rows: Vec<Row>,
    pub total: Figures,
    pub margin: Option<Decimal>,
    pub overhead: Overhead,
    /// Spend is net of VAT where a platform reported it with VAT.
    pub spend_net_of_vat: bool,
}

impl Report {
    /// A report by channel regrouped by the teams owning the channels (`channel → team`, from
    /// people.toml): each team's rows are the sums of its channels' per bucket; channels no team
    /// owns go to `no team`, unattributed leads stay `unattributed`. The total is unchanged.
    pub fn by_team(mut self, teams: &std::collections::BTreeMap<String, String>) -> Report {
        debug_assert_eq!(self.by, By::Channel);
        let mut rows: BTreeMap<(String, String), Row> = BTreeMap::new();
        for r in std::mem::take(&mut self.rows) {
            let team = match teams.get(&r.key) {
                Some(team) => team.clone(),
                None if r.key == "unattributed" => r.key.clone(),
                None => "no team".to_string(),
            };
            rows.entry((team.clone(), r.month.clone()))
                .or_insert_with(|| Row {
                    key: team,
                    channel: None,
                    month: r.month.clone(),
                    // Unattributed leads keep their unknown spend; channels' spend is known.
                    figures: Figures {
                        spend_unknown: r.figures.spend_unknown,
                        ..Figures::default()
                    },
                })
                .figures
                .add(&r.figures);
        }
        self.rows = rows.into_values().collect();
        self.rows_are = "team";
        self
    }
}

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum RoiError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{} exchange rate(s) missing, so the report would be wrong:\n{}", .0.len(), .0.iter().take(20).map(|m| format!("  {m}")).collect::<Vec<_>>().join("\n"))]
    MissingRates(Vec<MissingRate>),
    #[error("spend of {0} includes VAT but no [[report.vat]] rate starts on or before that day: add one (from = \"YYYY-MM-DD\", rate = \"0.20\") to the configuration file")]
    NoVatRate(NaiveDate),
}

/// Builds the report for `period` by month, refreshing the lead facts first.
pub async fn roi(
    store: &Store,
    config: &Config,
    period: &Period,
    by: By,
) -> Result<Report, RoiError> {
    roi_query(
        store,
        config,
        &Query {
            period: period.clone(),
            grain: Grain::Month,
            by,
        },
    )
    .await
}

/// Converts amounts into the reporting currency, collecting every missing rate.
struct Converter {
    rep: Currency,
    rates: Option<Rates>,
    missing: Vec<MissingRate>,
}

impl Converter {
    async fn convert(
        &mut self,
        store: &Store,
        amount: Decimal,
        currency: &str,
        day: Option<NaiveDate>,
    ) -> Result<Decimal, StoreError> {
        let Some(day) = day else {
            return Ok(amount);
        };
        let Ok(from) = currency.parse::<Currency>() else {
            let m = MissingRate {
                from: self.rep,
                to: self.rep,
                date: day,
            };
            if !self.missing.contains(&m) {
                self.missing.push(m);
            }
            return Ok(Decimal::ZERO);
        };
        if from == self.rep {
            return Ok(amount);
        }
        if self.rates.is_none() {
            self.rates = Some(Rates::load(store).await?);
        }
        let Some(rates) = &self.rates else {
            return Ok(Decimal::ZERO);
        };
        Ok(match rates.convert(amount, from, self.rep, day) {
            Ok(v) => v,
            Err(m) => {
                if !self.missing.contains(&m) {
                    self.missing.push(m);
                }
                Decimal::ZERO
            }
        })
    }
}

/// The bucket of a sum's label: a day (`YYYY-MM-DD`) or a whole month (`YYYY-MM`, only read
/// when the grain is a month or longer, so its first day labels it right).
fn bucket_of(grain: Grain, label: &str) -> String {
    if grain == Grain::Month && label.len() == 7 {
        return label.to_string();
    }
    let day = if label.len() == 7 {
        NaiveDate::parse_from_str(&format!("{label}-01"), "%Y-%m-%d")
    } else {
        NaiveDate::parse_from_str(label, "%Y-%m-%d")
    };
    match day {
        Ok(d) => grain.label(d),
        Err(_) => label.to_string(),
    }
}

/// The margin of a won lead's product: its own, else `gross_margin`.
fn margin_of(config: &Config, product: Option<&str>) -> Option<Decimal> {
    product
        .and_then(|p| config.report.product_margin.get(p).copied())
        .or(config.report.gross_margin)
}

/// Overhead budget lines overlapping `period`, each prorated by the days it overlaps (amount ×
/// overlap days / line days) and converted at the rate of the last overlapping day.
async fn overhead(
    store: &Store,
    config: &Config,
    period: &Period,
    conv: &mut Converter,
) -> Result<Overhead, StoreError> {
    let mut out = Overhead {
        amount: Decimal::ZERO,
        lines: Vec::new(),
    };
    for line in config
        .budgets
        .lines
        .iter()
        .filter(|l| l.kind == LineKind::Overhead)
    {
        let from = line.from.max(period.from);
        let to = line.to.min(period.to);
        if from > to {
            continue;
        }
        let overlap = (to - from).num_days() + 1;
        let days = (line.to - line.from).num_days() + 1;
        let Some(share) = ratio(line.amount * Decimal::from(overlap), Decimal::from(days)) else {
            continue;
        };
        let amount = conv
            .convert(store, share, line.currency.as_str(), Some(to))
            .await?;
        out.amount += amount;
        out.lines.push(format!(
            "{}: {overlap}/{days} days of {} {}",
            line.id, line.amount, line.currency
        ));
    }
    Ok(out)
}

/// The spend and lead sums of the query: monthly sums for the whole months of the period when
/// buckets are months or longer, daily sums for the days outside them (and for every day when
/// buckets are days or weeks).
async fn read_sums(
    store: &Store,
    config: &Config,
    q: &Query,
) -> Result<(Vec<SpendSum>, Vec<LeadSum>), StoreError> {
    let rep = config.report.currency.as_str();
    let net_of_vat = !config.report.spend_includes_vat;
    // A month has one VAT rate when every rate starts on a first of a month; otherwise spend
    // with VAT keeps its days.
    let vat_days = net_of_vat && config.report.vat.iter().any(|r| r.from.day() != 1);
    let (months, edges) = if q.grain.months_suffice() {
        q.period.split_months()
    } else {
        (None, vec![(q.period.from, q.period.to)])
    };
    let mut spend = Vec::new();
    let mut leads = Vec::new();
    if let Some((from, to)) = months {
        spend.extend(
            store
                .spend_sums(from, to, rep, Sums::WholeMonths, vat_days)
                .await?,
        );
        leads.extend(store.lead_sums(from, to, rep, Sums::WholeMonths).await?);
    }
    // Days outside whole months still sum to a month when buckets are months or longer.
    let part = if q.grain.months_suffice() {
        Sums::Months
    } else {
        Sums::Days
    };
    for (from, to) in edges {
        spend.extend(store.spend_sums(from, to, rep, part, vat_days).await?);
        leads.extend(store.lead_sums(from, to, rep, part).await?);
    }
    Ok((spend, leads))
}

/// Builds the report `q` asks for, refreshing the lead facts first.
pub async fn roi_query(store: &Store, config: &Config, q: &Query) -> Result<Report, RoiError> {
    super::facts::refresh(store, config).await?;
    let rep = config.report.currency;
    let net_of_vat = !config.report.spend_includes_vat;
    let vat = &config.report.vat;
    let mut conv = Converter {
        rep,
        rates: None,
        missing: Vec::new(),
    };
    let (spend, leads) = read_sums(store, config, q).await?;

    let mut rows: HashMap<(String, String), Row> = HashMap::new();
    let mut total = Figures::default();
    fn row<'a>(
        rows: &'a mut HashMap<(String, String), Row>,
        key: String,
        channel: Option<&str>,
        bucket: String,
        spend_unknown: bool,
    ) -> &'a mut Row {
        rows.entry((key.clone(), bucket.clone()))
            .or_insert_with(|| Row {
                key,
                channel: channel.map(str::to_string),
                month: bucket,
                figures: Figures {
                    spend_unknown,
                    ..Figures::default()
                },
            })
    }
    for s in &spend {
        let gross = conv
            .convert(store, Decimal::new(s.micros, 6), &s.currency, s.day)
            .await?;
        let amount = if s.vat_included && net_of_vat {
            // A month's sum without a day has one VAT rate over the whole month.
            let day = match s.day {
                Some(d) => d,
                None => NaiveDate::parse_from_str(&format!("{}-01", &s.bucket[..7]), "%Y-%m-%d")
                    .unwrap_or(q.period.from),
            };
            let rate = VatRate::on(vat, day).ok_or(RoiError::NoVatRate(day))?;
            gross / (Decimal::ONE + rate)
        } else {
            gross
        };
        let bucket = bucket_of(q.grain, &s.bucket);
        let f = match q.by.spend_key(&s.source, &s.campaign_id, &s.channel) {
            Some(key) => &mut row(&mut rows, key, Some(&s.channel), bucket, false).figures,
            None => &mut total,
        };
        f.spend += amount;
        f.impressions += s.impressions;
        f.clicks += s.clicks;
        f.provisional |= s.provisional;
    }
    for l in &leads {
        // Revenue without a currency is in the reporting one.
        let (won_revenue, cohort_revenue) = match &l.currency {
            Some(c) => (
                conv.convert(store, Decimal::new(l.won_micros, 6), c, l.fx_day)
                    .await?,
                conv.convert(store, Decimal::new(l.cohort_micros, 6), c, l.fx_day)
                    .await?,
            ),
            None => (
                Decimal::new(l.won_micros, 6),
                Decimal::new(l.cohort_micros, 6),
            ),
        };
        let key = q.by.lead_key(l);
        let channel = match q.by {
            By::Campaign | By::Channel => l.channel.as_deref(),
            _ => None,
        };
        let bucket = bucket_of(q.grain, &l.bucket);
        let unknown = q.by.lead_row_spend_unknown(l);
        let f = &mut row(&mut rows, key, channel, bucket, unknown).figures;
        f.leads += l.leads;
        if l.won != 0 {
            f.won += l.won;
            f.revenue += won_revenue;
            match margin_of(config, l.product.as_deref()) {
                Some(m) => f.gross_profit += won_revenue * m,
                None => f.margin_missing = true,
            }
        }
        f.won_cohort += l.cohort;
        f.revenue_cohort += cohort_revenue;
    }
    let overhead = overhead(store, config, &q.period, &mut conv).await?;
    if !conv.missing.is_empty() {
        let mut missing = conv.missing;
        missing.sort_by_key(|m| (m.date, m.from.to_string()));
        return Err(RoiError::MissingRates(missing));
    }
    let mut rows: Vec<Row> = rows.into_values().collect();
    rows.sort_unstable_by(|a, b| (&a.key, &a.month).cmp(&(&b.key, &b.month)));
    for r in &rows {
        let spend_unknown = r.figures.spend_unknown;
        let mut f = r.figures.clone();
        if spend_unknown {
            f.spend = Decimal::ZERO;
        }
        total.add(&f);
    }
    total.spend_unknown = false;
    Ok(Report {
        currency: rep,
        timezone: config.report.timezone.name().to_string(),
        period: q.period.clone(),
        grain: q.grain,
        by: q.by,
        rows_are: q.by.as_str(),
        rows,
        total,
        margin: config.report.gross_margin,
        overhead,
        spend_net_of_vat: net_of_vat,
    })
}

impl Report {
    /// The report as presented: one row per key and bucket, then the total.
    pub fn table(&self) -> Table {
        let mut t = Table::new(
            format!(
                "ROI {} to {} by {} and {}, {} in {}, last-touch attribution (provisional = includes spend the platform may still restate)",
                self.period.from,
                self.period.to,
                self.rows_are,
                self.grain.as_str(),
                self.currency,
                self.timezone
            ),
            vec![
                Column::new("key", Kind::Text),
                Column::new("channel", Kind::Text).wide(),
                Column::new(self.grain.as_str(), Kind::Text),
                Column::new("spend", Kind::Decimal).sum(),
                Column::new("impressions", Kind::Int).sum().wide(),
                Column::new("clicks", Kind::Int).sum().wide(),
                Column::new("leads", Kind::Int).sum(),
                Column::new("won", Kind::Int).sum(),
                Column::new("revenue", Kind::Decimal).sum(),
                Column::new("cpl", Kind::Decimal),
                Column::new("cac", Kind::Decimal),
                Column::new("conversion", Kind::Decimal),
                Column::new("average_deal", Kind::Decimal).wide(),
                Column::new("roi", Kind::Decimal),
                Column::new("romi", Kind::Decimal),
                Column::new("cost_revenue_ratio", Kind::Decimal),
                Column::new("won_cohort", Kind::Int).wide(),
                Column::new("revenue_cohort", Kind::Decimal).wide(),
                Column::new("conversion_cohort", Kind::Decimal).wide(),
                Column::new("fully_loaded_roi", Kind::Decimal).wide(),
                Column::new("provisional", Kind::Bool),
            ],
        )
        .meta("report", "roi")
        .meta("currency", self.currency.to_string())
        .meta("timezone", self.timezone.clone())
        .meta("from", self.period.from.to_string())
        .meta("to", self.period.to.to_string())
        .meta("grain", self.grain.as_str())
        .meta("by", self.rows_are)
        .meta("attribution", "last touch")
        .meta(
            "spend_vat",
            if self.spend_net_of_vat {
                "excluded"
            } else {
                "as reported"
            },
        )
        .meta("overhead", money(self.overhead.amount));
        let cells = |key: &str, channel: &str, bucket: &str, f: &Figures, fully: Cell| {
            vec![
                text(key),
                text(channel),
                text(bucket),
                f.known_spend().map(money),
                int(f.impressions),
                int(f.clicks),
                int(f.leads),
                int(f.won),
                Some(money(f.revenue)),
                money_opt(f.cpl()),
                money_opt(f.cac()),
                table::ratio(f.conversion()),
                money_opt(f.average_deal()),
                table::ratio(f.roi()),
                table::ratio(f.romi_by_product()),
                table::ratio(f.cost_revenue_ratio()),
                int(f.won_cohort),
                Some(money(f.revenue_cohort)),
                table::ratio(f.conversion_cohort()),
                fully,
                text(f.provisional.to_string()),
            ]
        };
        for r in &self.rows {
            t.push(cells(
                &r.key,
                r.channel.as_deref().unwrap_or(""),
                &r.month,
                &r.figures,
                None,
            ));
        }
        t.push(cells(
            "total",
            "",
            "",
            &self.total,
            table::ratio(self.total.fully_loaded_roi(self.overhead.amount)),
        ));
        if !self.by.splits_spend() {
            t.notes.push(format!(
                "Spend cannot be split by {}: spend, CPL, CAC, ROI, ROMI and ДРР are n/a on the rows; the total has all spend.",
                self.by.as_str()
            ));
        }
        if !self.overhead.lines.is_empty() {
            t.notes.push(format!(
                "Fully loaded ROI adds overhead {} {} (prorated by days in the period, converted at the rate of the last overlapping day): {}.",
                money(self.overhead.amount),
                self.currency,
                self.overhead.lines.join("; ")
            ));
        }
        t.total = true;
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
    fn ratios_follow_figures_md_and_zero_denominators_are_none() {
        let f = Figures {
            spend: d("1000"),
            leads: 8,
            won: 2,
            revenue: d("3000"),
            ..Figures::default()
        };
        assert_eq!(f.cpl(), Some(d("125")));
        assert_eq!(f.cac(), Some(d("500")));
        assert_eq!(f.conversion(), Some(d("0.25")));
        assert_eq!(f.average_deal(), Some(d("1500")));
        assert_eq!(f.roi(), Some(d("2")));
        // ROMI with a 40 % margin: (3000 × 0.4 − 1000) / 1000 = 0.2.
        assert_eq!(f.romi(Some(d("0.4"))), Some(d("0.2")));
        assert_eq!(f.romi(None), None);
        let empty = Figures::default();
        assert_eq!(
            (empty.cpl(), empty.cac(), empty.conversion(), empty.roi()),
            (None, None, None, None)
        );
    }

    #[test]
    fn periods_are_months_years_or_ranges() {
        let p = Period::parse("2026-02").unwrap();
        assert_eq!(
            (p.from.to_string(), p.to.to_string()),
            ("2026-02-01".into(), "2026-02-28".into())
        );
        let p = Period::parse("2026").unwrap();
        assert_eq!(p.to.to_string(), "2026-12-31");
        let p = Period::parse("2026-10-15..2026-11-14").unwrap();
        assert_eq!(p.from.to_string(), "2026-10-15");
        assert!(Period::parse("2026-11-14..2026-10-15").is_err());
        assert!(Period::parse("October").is_err());
    }
}
