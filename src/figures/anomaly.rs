//! Anomalies worth a human look (the figures issue): campaigns whose cost per lead is far above
//! their channel's usual, campaigns that spent like that and brought no lead, and segments with
//! many leads and no sale — the launch into a new segment that skipped product testing.
//!
//! A channel's usual CPL is the median CPL of its campaigns with leads in the period, and only
//! when there are `[anomalies] min_campaigns` of them (two campaigns make no norm). A campaign is
//! flagged when its CPL passes `cpl_factor` × that median; one with no lead, when its spend
//! passes `cpl_factor` × the median (it paid for that many usual leads and got none). Segments
//! count the leads created in the period and their sales so far (the cohort), so a segment is
//! not flagged merely because its deals close next month.

use std::collections::BTreeMap;

use okno_connector::rust_decimal::Decimal;

use super::roi::{self, By, Figures, Period, RoiError};
use super::table::{self, text, Column, Kind, Table};
use crate::config::Config;
use crate::store::Store;

/// What is odd.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Flag {
    /// CPL above `cpl_factor` × the channel's median.
    CplOutlier,
    /// Spend above `cpl_factor` × the channel's median CPL, and no lead.
    SpendWithoutLeads,
    /// At least `segment_min_leads` leads and none won.
    SegmentWithoutSales,
}

impl Flag {
    pub fn label(self) -> &'static str {
        match self {
            Flag::CplOutlier => "cpl_outlier",
            Flag::SpendWithoutLeads => "spend_without_leads",
            Flag::SegmentWithoutSales => "segment_without_sales",
        }
    }
}

/// One flagged campaign or segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Anomaly {
    pub flag: Flag,
    /// `source:campaign_id`, or the segment's name.
    pub subject: String,
    pub channel: Option<String>,
    /// The campaign's CPL (spend when it has no lead); the segment's leads.
    pub value: Decimal,
    /// What it was compared with: `cpl_factor` × the median CPL; the lead threshold.
    pub limit: Decimal,
    /// The channel's median CPL, for campaigns.
    pub median: Option<Decimal>,
}

/// The anomalies of a period, most striking first within each flag.
#[derive(Debug, Clone, PartialEq)]
pub struct Anomalies {
    pub period: Period,
    pub currency: String,
    pub timezone: String,
    pub found: Vec<Anomaly>,
}

/// The median of `values` (sorted here); `None` for none.
fn median(mut values: Vec<Decimal>) -> Option<Decimal> {
    values.sort_unstable();
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / Decimal::TWO),
    }
}

/// Flags the campaigns and segments of `period`.
pub async fn anomalies(
    store: &Store,
    config: &Config,
    period: &Period,
) -> Result<Anomalies, RoiError> {
    let report = roi::roi(store, config, period, By::Campaign).await?;
    let settings = &config.anomalies;
    // The period's figures per campaign (rows are per campaign and month).
    let mut campaigns: BTreeMap<&str, (Option<&str>, Figures)> = BTreeMap::new();
    for row in &report.rows {
        if row.key == "unattributed" || row.key.starts_with("channel ") {
            continue;
        }
        let entry = campaigns
            .entry(row.key.as_str())
            .or_insert_with(|| (row.channel.as_deref(), Figures::default()));
        entry.1.spend += row.figures.spend;
        entry.1.leads += row.figures.leads;
    }
    let mut cpls: BTreeMap<Option<&str>, Vec<Decimal>> = BTreeMap::new();
    for (channel, f) in campaigns.values() {
        if let Some(cpl) = f.cpl() {
            cpls.entry(*channel).or_default().push(cpl);
        }
    }
    let medians: BTreeMap<Option<&str>, Decimal> = cpls
        .into_iter()
        .filter(|(_, v)| v.len() >= settings.min_campaigns as usize)
        .filter_map(|(ch, v)| Some((ch, median(v)?)))
        .collect();
    let mut found = Vec::new();
    for (key, (channel, f)) in &campaigns {
        let Some(&median) = medians.get(channel) else {
            continue;
        };
        let limit = median * settings.cpl_factor;
        let (flag, value) = match f.cpl() {
            Some(cpl) => (Flag::CplOutlier, cpl),
            None => (Flag::SpendWithoutLeads, f.spend),
        };
        if value > limit {
            found.push(Anomaly {
                flag,
                subject: key.to_string(),
                channel: channel.map(str::to_string),
                value,
                limit,
                median: Some(median),
            });
        }
    }
    let threshold = i64::from(settings.segment_min_leads);
    for (segment, leads, won) in store.segment_outcomes(period.from, period.to).await? {
        if leads >= threshold && won == 0 {
            found.push(Anomaly {
                flag: Flag::SegmentWithoutSales,
                subject: segment,
                channel: None,
                value: leads.into(),
                limit: threshold.into(),
                median: None,
            });
        }
    }
    // Within a flag, the furthest past its limit first.
    found.sort_by(|a, b| {
        a.flag
            .cmp(&b.flag)
            .then_with(|| (b.value - b.limit).cmp(&(a.value - a.limit)))
            .then_with(|| a.subject.cmp(&b.subject))
    });
    Ok(Anomalies {
        period: period.clone(),
        currency: report.currency.to_string(),
        timezone: report.timezone,
        found,
    })
}

impl Anomalies {
    pub fn table(&self) -> Table {
        let mut t = Table::new(
            format!(
                "Anomalies {} to {}, {} in {} (value: the campaign's CPL, its spend when it has no lead, or the segment's leads)",
                self.period.from, self.period.to, self.currency, self.timezone
            ),
            vec![
                Column::new("flag", Kind::Text),
                Column::new("subject", Kind::Text),
                Column::new("channel", Kind::Text),
                Column::new("value", Kind::Decimal),
                Column::new("limit", Kind::Decimal),
                Column::new("channel_median_cpl", Kind::Decimal),
            ],
        )
        .meta("report", "anomalies")
        .meta("currency", self.currency.clone())
        .meta("timezone", self.timezone.clone())
        .meta("from", self.period.from.to_string())
        .meta("to", self.period.to.to_string());
        for a in &self.found {
            let number = |d: Decimal| match a.flag {
                Flag::SegmentWithoutSales => d.to_string(),
                _ => table::money(d),
            };
            t.push(vec![
                text(a.flag.label()),
                text(&a.subject),
                a.channel.clone(),
                Some(number(a.value)),
                Some(number(a.limit)),
                table::money_opt(a.median),
            ]);
        }
        if self.found.is_empty() {
            t.notes.push("nothing flagged".into());
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_and_even_counts() {
        let d = |n: i64| Decimal::from(n);
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![d(5), d(1), d(3)]), Some(d(3)));
        assert_eq!(
            median(vec![d(4), d(1), d(3), d(2)]),
            Some(Decimal::new(25, 1))
        );
    }
}
