//! Pure mapping of Graph API JSON into okno's records.

use chrono::NaiveDate;
use okno_connector::chrono_tz::Tz;
use okno_connector::rust_decimal::Decimal;
use okno_connector::{spend, AdAccount, AdSpend, Campaign, ConnectorError, Currency};
use serde_json::value::RawValue;

use crate::model;

/// The text of a JSON number or numeric string, without quotes.
fn number_text(raw: &RawValue) -> Result<std::borrow::Cow<'_, str>, String> {
    let t = raw.get().trim();
    if t.starts_with('"') {
        let s: String = serde_json::from_str(t).map_err(|e| e.to_string())?;
        Ok(std::borrow::Cow::Owned(s.trim().to_string()))
    } else {
        Ok(std::borrow::Cow::Borrowed(t))
    }
}

/// A decimal from its text exactly (`"1234.56"`, `1234.56`, `"1e2"`), never through a float.
pub(crate) fn decimal(raw: &RawValue) -> Result<Decimal, String> {
    let text = number_text(raw)?;
    text.parse::<Decimal>()
        .or_else(|_| Decimal::from_scientific(&text))
        .map_err(|_| format!("{} is not a decimal number", raw.get()))
}

/// A whole count from its text (`"1234"`, `1234`).
pub(crate) fn integer(raw: &RawValue) -> Result<i64, String> {
    let text = number_text(raw)?;
    text.parse::<i64>()
        .map_err(|_| format!("{} is not a whole number", raw.get()))
}

fn owned(raw: &RawValue) -> Box<RawValue> {
    // A RawValue is valid JSON by construction, so re-boxing it cannot fail.
    RawValue::from_string(raw.get().to_string())
        .unwrap_or_else(|_| unreachable!("RawValue holds valid JSON"))
}

/// The account record from `GET /{v}/act_{id}`, with its zone checked.
pub(crate) fn ad_account(
    account_id: &str,
    raw: &RawValue,
    endpoint: &'static str,
) -> Result<(AdAccount, Tz), ConnectorError> {
    let a: model::Account =
        serde_json::from_str(raw.get()).map_err(|e| ConnectorError::decode(endpoint, e))?;
    if let Some(id) = a.id.as_deref() {
        if id != account_id {
            return Err(ConnectorError::decode(
                endpoint,
                format!("asked for {account_id}, Meta answered for {id}"),
            ));
        }
    }
    let currency: Currency = a
        .currency
        .parse()
        .map_err(|e| ConnectorError::decode(endpoint, format!("{account_id}: {e}")))?;
    let tz = spend::time_zone(&a.timezone_name, endpoint)?;
    Ok((
        AdAccount {
            account_id: account_id.to_string(),
            name: a.name.filter(|n| !n.is_empty()),
            currency,
            time_zone: a.timezone_name,
            raw: owned(raw),
        },
        tz,
    ))
}

/// One campaign of an account. The status is `effective_status` (what Meta is actually doing
/// with the campaign: ACTIVE, PAUSED, WITH_ISSUES...), else the configured `status`.
pub(crate) fn campaign(
    account_id: &str,
    raw: &RawValue,
    channel: &str,
    endpoint: &'static str,
) -> Result<Campaign, ConnectorError> {
    let c: model::Campaign =
        serde_json::from_str(raw.get()).map_err(|e| ConnectorError::decode(endpoint, e))?;
    Ok(Campaign {
        account_id: account_id.to_string(),
        name: c.name.unwrap_or_else(|| c.id.clone()),
        campaign_id: c.id,
        status: c.effective_status.or(c.status),
        channel: channel.to_string(),
        // Meta has no campaign-level tracking template that names utm_campaign; URL tags live
        // on ads (`url_tags`) and are not read.
        utm_campaign: None,
        raw: owned(raw),
    })
}

/// What an insights row needs besides itself.
pub(crate) struct RowContext<'a> {
    pub(crate) account_id: &'a str,
    pub(crate) currency: Currency,
    pub(crate) from: NaiveDate,
    pub(crate) to: NaiveDate,
    pub(crate) conversion_actions: &'a [String],
}

/// One day of one campaign. `date_start` is the account-zone day Meta reports it for; rows
/// spanning several days or outside the requested range are refused, since stored under one
/// day they would be wrong.
pub(crate) fn spend_row(
    raw: &RawValue,
    ctx: &RowContext<'_>,
    endpoint: &'static str,
) -> Result<AdSpend, ConnectorError> {
    let row: model::InsightRow<'_> =
        serde_json::from_str(raw.get()).map_err(|e| ConnectorError::decode(endpoint, e))?;
    let bad = |what: String| {
        ConnectorError::decode(
            endpoint,
            format!(
                "{} campaign {} on {}: {what}",
                ctx.account_id, row.campaign_id, row.date_start
            ),
        )
    };
    let date: NaiveDate = row
        .date_start
        .parse()
        .map_err(|_| bad(format!("date_start {:?} is not a date", row.date_start)))?;
    if row.date_stop != row.date_start {
        return Err(bad(format!(
            "the row spans {}..{}, not one day (time_increment=1 ignored?)",
            row.date_start, row.date_stop
        )));
    }
    if date < ctx.from || date > ctx.to {
        return Err(bad(format!(
            "outside the requested {}..{} (time_range ignored?)",
            ctx.from, ctx.to
        )));
    }
    let cost = match row.spend {
        Some(s) => decimal(s).map_err(|e| bad(format!("spend {e}")))?,
        // Meta leaves out a metric it has nothing for; no spend is zero spend.
        None => Decimal::ZERO,
    };
    let impressions = row
        .impressions
        .map(integer)
        .transpose()
        .map_err(|e| bad(format!("impressions {e}")))?;
    let clicks = row
        .clicks
        .map(integer)
        .transpose()
        .map_err(|e| bad(format!("clicks {e}")))?;
    let mut conversions = Decimal::ZERO;
    for a in row.actions.iter().flatten() {
        if ctx.conversion_actions.contains(&a.action_type) {
            conversions +=
                decimal(a.value).map_err(|e| bad(format!("action {} value {e}", a.action_type)))?;
        }
    }
    Ok(AdSpend {
        account_id: ctx.account_id.to_string(),
        campaign_id: row.campaign_id.clone(),
        date,
        cost,
        currency: ctx.currency,
        vat_included: None,
        impressions,
        clicks,
        conversions: Some(conversions),
        raw: owned(raw),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use okno_connector::testkit::raw_json as raw;

    #[test]
    fn numbers_are_parsed_from_their_text() {
        assert_eq!(
            decimal(&raw("\"1234.56\"")).unwrap(),
            Decimal::new(123_456, 2)
        );
        assert_eq!(decimal(&raw("0.1")).unwrap(), Decimal::new(1, 1));
        assert_eq!(decimal(&raw("\"1e2\"")).unwrap(), Decimal::new(100, 0));
        assert!(decimal(&raw("\"12,5\"")).is_err());
        assert_eq!(integer(&raw("\"98765\"")).unwrap(), 98_765);
        assert!(integer(&raw("\"1.5\"")).is_err());
    }

    fn ctx(actions: &[String]) -> RowContext<'_> {
        RowContext {
            account_id: "act_1",
            currency: "USD".parse().unwrap(),
            from: "2026-11-01".parse().unwrap(),
            to: "2026-11-02".parse().unwrap(),
            conversion_actions: actions,
        }
    }

    #[test]
    fn rows_outside_the_range_or_over_several_days_are_refused() {
        let actions = vec!["lead".to_string()];
        let ok = raw(
            r#"{"campaign_id":"9","spend":"0.10","date_start":"2026-11-02","date_stop":"2026-11-02"}"#,
        );
        let s = spend_row(&ok, &ctx(&actions), "x").unwrap();
        assert_eq!(s.cost, Decimal::new(10, 2));
        assert_eq!(s.conversions, Some(Decimal::ZERO));
        assert_eq!(s.impressions, None);
        let late = raw(
            r#"{"campaign_id":"9","spend":"1","date_start":"2026-11-03","date_stop":"2026-11-03"}"#,
        );
        assert!(spend_row(&late, &ctx(&actions), "x").is_err());
        let two = raw(
            r#"{"campaign_id":"9","spend":"1","date_start":"2026-11-01","date_stop":"2026-11-02"}"#,
        );
        assert!(spend_row(&two, &ctx(&actions), "x").is_err());
    }
}
