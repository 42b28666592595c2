//! Parsing the campaign-by-day TSV report into spend rows.
//!
//! The report is asked with `skipReportHeader` and `skipReportSummary`, but the column header is
//! kept and columns are mapped by name, so a reordered or extended report still parses. A title
//! line or a `Total rows:` line that arrives anyway is skipped. Money comes in micros
//! (`returnMoneyInMicros: true`, integers) and becomes an exact `Decimal` with scale 6; `--`
//! (Direct's "no value") is zero for cost and `None` for counts.

use chrono::NaiveDate;
use okno_connector::{AdSpend, ConnectorError, Currency};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::value::RawValue;

const ENDPOINT: &str = "reports";

/// What every row of one slice shares.
pub(crate) struct RowContext<'a> {
    pub(crate) account: &'a str,
    pub(crate) currency: Currency,
    pub(crate) vat_included: bool,
    pub(crate) from: NaiveDate,
    pub(crate) to: NaiveDate,
}

/// The raw JSON kept with each row: the TSV columns by name.
#[derive(Serialize)]
struct RawRow<'a> {
    #[serde(rename = "Date")]
    date: &'a str,
    #[serde(rename = "CampaignId")]
    campaign_id: &'a str,
    #[serde(rename = "CampaignName")]
    campaign_name: &'a str,
    #[serde(rename = "Impressions")]
    impressions: &'a str,
    #[serde(rename = "Clicks")]
    clicks: &'a str,
    #[serde(rename = "Cost")]
    cost: &'a str,
}

struct Columns {
    date: usize,
    campaign_id: usize,
    campaign_name: Option<usize>,
    impressions: Option<usize>,
    clicks: Option<usize>,
    cost: usize,
    width: usize,
}

impl Columns {
    fn from_header(line: &str) -> Option<Columns> {
        let names: Vec<&str> = line.split('\t').map(str::trim).collect();
        let find = |n: &str| names.iter().position(|c| *c == n);
        Some(Columns {
            date: find("Date")?,
            campaign_id: find("CampaignId")?,
            campaign_name: find("CampaignName"),
            impressions: find("Impressions"),
            clicks: find("Clicks"),
            cost: find("Cost")?,
            width: names.len(),
        })
    }
}

/// Parses a micros amount (`1234560000` → `1234.56`) exactly.
pub fn micros_to_decimal(text: &str) -> Option<Decimal> {
    let t = text.trim();
    if t == "--" || t.is_empty() {
        return Some(Decimal::ZERO);
    }
    let digits = t.strip_prefix('-').unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let micros: i64 = t.parse().ok()?;
    Some(Decimal::new(micros, 6).normalize())
}

fn count(text: &str) -> Result<Option<i64>, ()> {
    let t = text.trim();
    if t == "--" || t.is_empty() {
        return Ok(None);
    }
    t.parse::<i64>().map(Some).map_err(|_| ())
}

/// Every spend row of the report; a row outside the slice, a malformed number or a missing
/// column fails the page (its `SpendWindow` would otherwise zero days it did not cover).
pub(crate) fn parse(tsv: &str, ctx: &RowContext<'_>) -> Result<Vec<AdSpend>, ConnectorError> {
    let mut lines = tsv.lines().enumerate();
    let columns = loop {
        let Some((n, line)) = lines.next() else {
            // An empty body: no statistics at all for the period.
            return Ok(Vec::new());
        };
        if let Some(c) = Columns::from_header(line) {
            break c;
        }
        if n >= 1 {
            return Err(ConnectorError::decode(
                ENDPOINT,
                format!(
                    "no column header with Date, CampaignId and Cost in the report's first lines: {:?}",
                    line.chars().take(120).collect::<String>()
                ),
            ));
        }
    };
    let mut rows = Vec::new();
    for (n, line) in lines {
        if line.trim().is_empty() || line.starts_with("Total rows") {
            continue;
        }
        let cells: Vec<&str> = line.split('\t').collect();
        let bad =
            |what: String| ConnectorError::decode(ENDPOINT, format!("line {}: {what}", n + 1));
        if cells.len() < columns.width {
            return Err(bad(format!(
                "{} columns, the header has {}",
                cells.len(),
                columns.width
            )));
        }
        let cell = |i: Option<usize>| i.map(|i| cells[i]).unwrap_or("");
        let date_text = cells[columns.date];
        let date = NaiveDate::parse_from_str(date_text.trim(), "%Y-%m-%d")
            .map_err(|_| bad(format!("Date {date_text:?} is not a date")))?;
        if date < ctx.from || date > ctx.to {
            return Err(bad(format!(
                "Date {date} is outside the requested {}..{}",
                ctx.from, ctx.to
            )));
        }
        let campaign_id = cells[columns.campaign_id].trim();
        if campaign_id.is_empty() || !campaign_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(format!("CampaignId {campaign_id:?} is not an id")));
        }
        let cost_text = cells[columns.cost];
        let cost = micros_to_decimal(cost_text)
            .ok_or_else(|| bad(format!("Cost {cost_text:?} is not an amount in micros")))?;
        let impressions_text = cell(columns.impressions);
        let impressions = count(impressions_text)
            .map_err(|_| bad(format!("Impressions {impressions_text:?} is not a count")))?;
        let clicks_text = cell(columns.clicks);
        let clicks = count(clicks_text)
            .map_err(|_| bad(format!("Clicks {clicks_text:?} is not a count")))?;
        let raw = serde_json::to_string(&RawRow {
            date: date_text,
            campaign_id,
            campaign_name: cell(columns.campaign_name),
            impressions: impressions_text,
            clicks: clicks_text,
            cost: cost_text,
        })
        .and_then(RawValue::from_string)
        .map_err(|e| ConnectorError::decode(ENDPOINT, e))?;
        rows.push(AdSpend {
            account_id: ctx.account.to_string(),
            campaign_id: campaign_id.to_string(),
            date,
            cost,
            currency: ctx.currency,
            vat_included: Some(ctx.vat_included),
            impressions,
            clicks,
            conversions: None,
            raw,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micros_are_exact() {
        assert_eq!(
            micros_to_decimal("1234560000"),
            Some(Decimal::new(123456, 2))
        );
        assert_eq!(micros_to_decimal("1"), Some(Decimal::new(1, 6)));
        assert_eq!(micros_to_decimal("--"), Some(Decimal::ZERO));
        assert_eq!(micros_to_decimal("-2500000"), Some(Decimal::new(-25, 1)));
        assert_eq!(micros_to_decimal("12.5"), None);
        assert_eq!(micros_to_decimal("1e6"), None);
    }
}
