//! Pure functions from VK Ads JSON to okno's records. Every number is parsed from its text, so
//! `"1234.56"` and `1234.56` both become exactly 1234.56 — never through a float.

use chrono::NaiveDate;
use okno_connector::rust_decimal::Decimal;
use okno_connector::{AdAccount, AdSpend, Campaign, ConnectorError, Currency};
use serde_json::value::RawValue;

use crate::model::{ListItem, StatRow, User};

/// The text of a JSON scalar: a string's contents or a number's digits; `None` for null or "".
pub(crate) fn scalar_text(raw: &RawValue) -> Option<String> {
    let t = raw.get().trim();
    if t == "null" {
        return None;
    }
    let text = if t.starts_with('"') {
        serde_json::from_str::<String>(t).ok()?
    } else {
        t.to_string()
    };
    let text = text.trim().to_string();
    (!text.is_empty()).then_some(text)
}

/// An exact decimal from a JSON number or numeric string.
pub(crate) fn decimal(
    raw: Option<&RawValue>,
    what: &str,
    endpoint: &'static str,
) -> Result<Option<Decimal>, ConnectorError> {
    let Some(text) = raw.and_then(scalar_text) else {
        return Ok(None);
    };
    let parsed = if text.contains(['e', 'E']) {
        Decimal::from_scientific(&text)
    } else {
        Decimal::from_str_exact(&text)
    };
    parsed.map(|d| Some(d.normalize())).map_err(|e| {
        ConnectorError::decode(endpoint, format!("{what} {text:?} is not a decimal: {e}"))
    })
}

/// A whole number from a JSON number or numeric string (`"12"`, `12`, `12.0`).
pub(crate) fn integer(
    raw: Option<&RawValue>,
    what: &str,
    endpoint: &'static str,
) -> Result<Option<i64>, ConnectorError> {
    let Some(d) = decimal(raw, what, endpoint)? else {
        return Ok(None);
    };
    if !d.fract().is_zero() {
        return Err(ConnectorError::decode(
            endpoint,
            format!("{what} {d} is not a whole number"),
        ));
    }
    i64::try_from(d)
        .map(Some)
        .map_err(|_| ConnectorError::decode(endpoint, format!("{what} {d} is out of range")))
}

/// An id sent as a number or a string.
pub(crate) fn id_text(raw: &RawValue, endpoint: &'static str) -> Result<String, ConnectorError> {
    scalar_text(raw)
        .filter(|t| {
            t.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        })
        .ok_or_else(|| ConnectorError::decode(endpoint, format!("id {} is not an id", raw.get())))
}

/// The account behind the token, from `/api/v2/user.json`.
pub(crate) fn account(
    raw: &RawValue,
    currency_override: Option<Currency>,
    time_zone: &str,
) -> Result<AdAccount, ConnectorError> {
    const EP: &str = "user";
    let user: User = serde_json::from_str(raw.get()).map_err(|e| ConnectorError::decode(EP, e))?;
    let account_id = match user.id.as_deref() {
        Some(id) => id_text(id, EP)?,
        None => return Err(ConnectorError::decode(EP, "the user has no id")),
    };
    let currency = match currency_override {
        Some(c) => c,
        None => {
            let text = user
                .account
                .as_ref()
                .and_then(|a| a.currency.clone())
                .or(user.currency.clone())
                .filter(|c| !c.trim().is_empty());
            match text {
                Some(c) => c.parse::<Currency>().map_err(|e| ConnectorError::decode(EP, e))?,
                None => {
                    return Err(ConnectorError::Decode {
                        endpoint: EP,
                        message: "the account's currency is not in the answer; set `currency = \"RUB\"` (or the account's currency) in the settings".into(),
                    })
                }
            }
        }
    };
    let name = user
        .additional_info
        .and_then(|a| a.client_name)
        .filter(|n| !n.trim().is_empty())
        .or(user.username);
    Ok(AdAccount {
        account_id,
        name,
        currency,
        time_zone: time_zone.to_string(),
        raw: raw.to_owned(),
    })
}

/// One listed ad plan / campaign.
pub(crate) fn campaign(
    raw: &RawValue,
    account_id: &str,
    channel: &str,
    endpoint: &'static str,
) -> Result<Campaign, ConnectorError> {
    let item: ListItem =
        serde_json::from_str(raw.get()).map_err(|e| ConnectorError::decode(endpoint, e))?;
    let campaign_id = id_text(&item.id, endpoint)?;
    Ok(Campaign {
        account_id: account_id.to_string(),
        name: item.name.unwrap_or_else(|| campaign_id.clone()),
        campaign_id,
        status: item.status,
        channel: channel.to_string(),
        // VK Ads has no utm_campaign of its own: UTM marks live in each ad's URL.
        utm_campaign: None,
        raw: raw.to_owned(),
    })
}

/// What a day row says, before it becomes an [`AdSpend`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DayRow {
    pub(crate) date: NaiveDate,
    pub(crate) cost: Decimal,
    pub(crate) impressions: Option<i64>,
    pub(crate) clicks: Option<i64>,
    pub(crate) conversions: Option<Decimal>,
}

impl DayRow {
    /// A day without spend, impressions, clicks or goals (VK may list or omit those).
    pub(crate) fn is_empty(&self) -> bool {
        self.cost.is_zero()
            && self.impressions.unwrap_or(0) == 0
            && self.clicks.unwrap_or(0) == 0
            && self.conversions.is_none_or(|c| c.is_zero())
    }
}

/// Parses one `rows[]` entry: `date` and `base.{spent, shows, clicks, goals}`; goals fall back
/// to `base.vk.goals`.
pub(crate) fn day_row(raw: &RawValue, endpoint: &'static str) -> Result<DayRow, ConnectorError> {
    let row: StatRow =
        serde_json::from_str(raw.get()).map_err(|e| ConnectorError::decode(endpoint, e))?;
    let date = NaiveDate::parse_from_str(row.date.trim(), "%Y-%m-%d").map_err(|_| {
        ConnectorError::decode(endpoint, format!("date {:?} is not YYYY-MM-DD", row.date))
    })?;
    let Some(base) = row.base else {
        return Ok(DayRow {
            date,
            cost: Decimal::ZERO,
            impressions: None,
            clicks: None,
            conversions: None,
        });
    };
    let goals = match decimal(base.goals.as_deref(), "base.goals", endpoint)? {
        Some(g) => Some(g),
        None => decimal(
            base.vk.as_ref().and_then(|v| v.goals.as_deref()),
            "base.vk.goals",
            endpoint,
        )?,
    };
    Ok(DayRow {
        date,
        cost: decimal(base.spent.as_deref(), "base.spent", endpoint)?.unwrap_or(Decimal::ZERO),
        impressions: integer(base.shows.as_deref(), "base.shows", endpoint)?,
        clicks: integer(base.clicks.as_deref(), "base.clicks", endpoint)?,
        conversions: goals,
    })
}

/// The spend row of one campaign-day.
pub(crate) fn ad_spend(
    row: DayRow,
    raw: &RawValue,
    account_id: &str,
    campaign_id: &str,
    currency: Currency,
) -> AdSpend {
    AdSpend {
        account_id: account_id.to_string(),
        campaign_id: campaign_id.to_string(),
        date: row.date,
        cost: row.cost,
        currency,
        // VK Ads reports spend without VAT, but does not say so in the answer.
        vat_included: None,
        impressions: row.impressions,
        clicks: row.clicks,
        conversions: row.conversions,
        raw: raw.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use okno_connector::testkit::raw_json as raw;

    #[test]
    fn decimals_are_exact_from_strings_numbers_and_exponents() {
        let d = |s: &str| {
            decimal(Some(&raw(s)), "x", "t")
                .expect("parses")
                .expect("some")
        };
        assert_eq!(d("\"1234.56\""), Decimal::new(123_456, 2));
        assert_eq!(d("0.1"), Decimal::new(1, 1));
        assert_eq!(d("\"1e2\""), Decimal::new(100, 0));
        assert_eq!(
            d("\"33.333333333333\""),
            Decimal::new(33_333_333_333_333, 12)
        );
        assert_eq!(decimal(Some(&raw("null")), "x", "t").expect("ok"), None);
        assert_eq!(decimal(Some(&raw("\"\"")), "x", "t").expect("ok"), None);
        assert!(decimal(Some(&raw("\"12,5\"")), "x", "t").is_err());
    }

    #[test]
    fn integers_accept_strings_and_refuse_fractions() {
        let i = |s: &str| integer(Some(&raw(s)), "x", "t");
        assert_eq!(i("\"12\"").expect("ok"), Some(12));
        assert_eq!(i("12.0").expect("ok"), Some(12));
        assert!(i("1.5").is_err());
    }

    #[test]
    fn goals_fall_back_to_the_vk_block() {
        let r = raw(
            r#"{"date": "2026-11-03", "base": {"spent": "10.5", "shows": 3, "clicks": "1", "vk": {"goals": "2"}}}"#,
        );
        let row = day_row(&r, "t").expect("row");
        assert_eq!(row.conversions, Some(Decimal::new(2, 0)));
        assert_eq!(row.cost, Decimal::new(105, 1));
        let empty = raw(
            r#"{"date": "2026-11-03", "base": {"spent": "0.00", "shows": 0, "clicks": 0, "goals": 0}}"#,
        );
        assert!(day_row(&empty, "t").expect("row").is_empty());
    }
}
