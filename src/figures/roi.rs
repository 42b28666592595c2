//! Return on ad spend per campaign or channel and month (FIGURES.md, "The figures"): spend,
//! impressions, clicks, leads (by creation day), won deals and revenue (by won day), and
//! CPL, CAC, conversion, average deal, ROI and ROMI. Sums are taken in the database (spend in
//! millionths, leads from the lead facts); amounts in another currency than the reporting one
//! are converted at the rate of their own day, and a missing rate fails the report naming it.
//! Ratios with a zero denominator are `None` ("n/a"), never zero or infinity.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use okno_connector::rust_decimal::Decimal;
use okno_connector::Currency;

use super::table::{self, int, money, money_opt, text, Column, Kind, Table};
use crate::config::Config;
use crate::fx::{MissingRate, Rates};
use crate::store::{Store, StoreError};

/// What rows group by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    Campaign,
    Channel,
}

/// The days a report covers, both included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Period {
    /// `2026-10` (a month), `2026` (a year) or `2026-10-01..2026-12-31`.
    pub fn parse(text: &str) -> Result<Period, String> {
        let t = text.trim();
        let bad =
            || format!("{t:?} is not a period: write 2026-10, 2026 or 2026-10-01..2026-12-31");
        if let Some((a, b)) = t.split_once("..") {
            let day = |s: &str| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| bad());
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
        let from = NaiveDate::parse_from_str(&format!("{t}-01"), "%Y-%m-%d").map_err(|_| bad())?;
        let next = if from.month() == 12 {
            NaiveDate::from_ymd_opt(from.year() + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(from.year(), from.month() + 1, 1)
        };
        let to = next.and_then(|d| d.pred_opt()).ok_or_else(bad)?;
        Ok(Period { from, to })
    }
}

/// The sums of one row (or of the whole report), in the reporting currency.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    pub spend: Decimal,
    pub impressions: i64,
    pub clicks: i64,
    pub leads: i64,
    pub won: i64,
    pub revenue: Decimal,
    /// Some spend is of days the platform may still restate.
    pub provisional: bool,
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
    }

    /// Spend per lead.
    pub fn cpl(&self) -> Option<Decimal> {
        ratio(self.spend, self.leads.into())
    }

    /// Spend per won deal.
    pub fn cac(&self) -> Option<Decimal> {
        ratio(self.spend, self.won.into())
    }

    /// Won per lead (period view).
    pub fn conversion(&self) -> Option<Decimal> {
        ratio(self.won.into(), self.leads.into())
    }

    pub fn average_deal(&self) -> Option<Decimal> {
        ratio(self.revenue, self.won.into())
    }

    /// (revenue − spend) / spend.
    pub fn roi(&self) -> Option<Decimal> {
        ratio(self.revenue - self.spend, self.spend)
    }

    /// (revenue × margin − spend) / spend.
    pub fn romi(&self, margin: Option<Decimal>) -> Option<Decimal> {
        ratio(self.revenue * margin? - self.spend, self.spend)
    }
}

/// One row: a campaign (`source:campaign_id`), a channel (`channel <name>` when grouping by
/// campaign), or `unattributed`, in one month.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub key: String,
    pub channel: Option<String>,
    /// `YYYY-MM`.
    pub month: String,
    pub figures: Figures,
}

/// The report: rows by key and month, and the total.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub currency: Currency,
    pub timezone: String,
    pub period: Period,
    pub rows: Vec<Row>,
    pub total: Figures,
    pub margin: Option<Decimal>,
}

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum RoiError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{} exchange rate(s) missing, so the report would be wrong:\n{}", .0.len(), .0.iter().take(20).map(|m| format!("  {m}")).collect::<Vec<_>>().join("\n"))]
    MissingRates(Vec<MissingRate>),
}

/// The row key of an attribution.
fn key_of(by: By, source: Option<&str>, campaign: Option<&str>, channel: Option<&str>) -> String {
    match (by, source.zip(campaign), channel) {
        (By::Campaign, Some((s, c)), _) => format!("{s}:{c}"),
        (By::Campaign, None, Some(ch)) => format!("channel {ch}"),
        (By::Channel, _, Some(ch)) => ch.to_string(),
        _ => "unattributed".to_string(),
    }
}

/// Builds the report for `period`, refreshing the lead facts first.
pub async fn roi(
    store: &Store,
    config: &Config,
    period: &Period,
    by: By,
) -> Result<Report, RoiError> {
    super::facts::refresh(store, config).await?;
    let rep = config.report.currency;
    let spend = store
        .spend_totals(period.from, period.to, rep.as_str())
        .await?;
    let leads = store
        .lead_totals(period.from, period.to, rep.as_str())
        .await?;
    let rates = if spend.iter().any(|s| s.day.is_some()) || leads.iter().any(|l| l.day.is_some()) {
        Rates::load(store).await?
    } else {
        Rates::default()
    };
    let mut missing = Vec::new();
    let mut convert = |micros: i64, currency: &str, day: Option<NaiveDate>| -> Decimal {
        let amount = Decimal::new(micros, 6);
        let Some(day) = day else {
            return amount;
        };
        let Ok(from) = currency.parse::<Currency>() else {
            missing.push(MissingRate {
                from: rep,
                to: rep,
                date: day,
            });
            return Decimal::ZERO;
        };
        match rates.convert(amount, from, rep, day) {
            Ok(v) => v,
            Err(m) => {
                if !missing.contains(&m) {
                    missing.push(m);
                }
                Decimal::ZERO
            }
        }
    };
    let mut rows: BTreeMap<(String, String), Row> = BTreeMap::new();
    fn row<'a>(
        rows: &'a mut BTreeMap<(String, String), Row>,
        key: String,
        channel: Option<&str>,
        month: &str,
    ) -> &'a mut Row {
        rows.entry((key.clone(), month.to_string()))
            .or_insert_with(|| Row {
                key,
                channel: channel.map(str::to_string),
                month: month.to_string(),
                figures: Figures::default(),
            })
    }
    for s in &spend {
        let amount = convert(s.micros, &s.currency, s.day);
        let key = key_of(by, Some(&s.source), Some(&s.campaign_id), Some(&s.channel));
        let f = &mut row(&mut rows, key, Some(&s.channel), &s.month).figures;
        f.spend += amount;
        f.impressions += s.impressions;
        f.clicks += s.clicks;
        f.provisional |= s.provisional;
    }
    for l in &leads {
        let revenue = match &l.currency {
            Some(c) if l.won > 0 => convert(l.micros, c, l.day),
            _ => Decimal::ZERO,
        };
        let key = key_of(
            by,
            l.campaign_source.as_deref(),
            l.campaign_id.as_deref(),
            l.channel.as_deref(),
        );
        let f = &mut row(&mut rows, key, l.channel.as_deref(), &l.month).figures;
        f.leads += l.leads;
        f.won += l.won;
        f.revenue += revenue;
    }
    if !missing.is_empty() {
        missing.sort_by_key(|m| (m.date, m.from.to_string()));
        return Err(RoiError::MissingRates(missing));
    }
    let rows: Vec<Row> = rows.into_values().collect();
    let mut total = Figures::default();
    for r in &rows {
        total.add(&r.figures);
    }
    Ok(Report {
        currency: rep,
        timezone: config.report.timezone.name().to_string(),
        period: period.clone(),
        rows,
        total,
        margin: config.report.gross_margin,
    })
}

impl Report {
    /// The report as presented: one row per key and month, then the total.
    pub fn table(&self) -> Table {
        let mut t = Table::new(
            format!(
                "ROI {} to {}, {} in {}, last-touch attribution (provisional = includes spend the platform may still restate)",
                self.period.from, self.period.to, self.currency, self.timezone
            ),
            vec![
                Column::new("key", Kind::Text),
                Column::new("channel", Kind::Text).wide(),
                Column::new("month", Kind::Text),
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
                Column::new("provisional", Kind::Bool),
            ],
        )
        .meta("report", "roi")
        .meta("currency", self.currency.to_string())
        .meta("timezone", self.timezone.clone())
        .meta("from", self.period.from.to_string())
        .meta("to", self.period.to.to_string())
        .meta("attribution", "last touch");
        let cells = |key: &str, channel: &str, month: &str, f: &Figures| {
            vec![
                text(key),
                text(channel),
                text(month),
                Some(money(f.spend)),
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
                table::ratio(f.romi(self.margin)),
                text(f.provisional.to_string()),
            ]
        };
        for r in &self.rows {
            t.push(cells(
                &r.key,
                r.channel.as_deref().unwrap_or(""),
                &r.month,
                &r.figures,
            ));
        }
        t.push(cells("total", "", "", &self.total));
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
