//! Pure functions from Google Ads result rows to okno's records.

use okno_connector::{AdAccount, AdSpend, Campaign, ClickId, ClickKind, ConnectorError, Currency};
use serde_json::value::RawValue;

use crate::model::{self, CampaignRow, ClickRow, CustomerRow, SpendRow};

fn decode<'a, T: serde::Deserialize<'a>>(
    endpoint: &'static str,
    raw: &'a RawValue,
) -> Result<T, ConnectorError> {
    serde_json::from_str(raw.get()).map_err(|e| {
        ConnectorError::decode(
            endpoint,
            format!("a result row has an unexpected shape: {e}"),
        )
    })
}

fn bad(endpoint: &'static str, what: String) -> ConnectorError {
    ConnectorError::decode(endpoint, what)
}

/// The `customer` row: currency, IANA time zone and name of the account.
pub(crate) fn account(
    endpoint: &'static str,
    customer_id: &str,
    raw: &RawValue,
) -> Result<AdAccount, ConnectorError> {
    let row: CustomerRow = decode(endpoint, raw)?;
    let c = row.customer;
    let currency: Currency = c
        .currency_code
        .as_deref()
        .ok_or_else(|| {
            bad(
                endpoint,
                format!("customer {customer_id} has no currencyCode"),
            )
        })?
        .parse()
        .map_err(|e| bad(endpoint, format!("customer {customer_id}: {e}")))?;
    let time_zone = c
        .time_zone
        .as_deref()
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| bad(endpoint, format!("customer {customer_id} has no timeZone")))?
        .to_string();
    okno_connector::spend::time_zone(&time_zone, endpoint)?;
    let account_id = match c.id {
        Some(id) => model::id_text(id).map_err(|e| bad(endpoint, e))?,
        None => customer_id.to_string(),
    };
    Ok(AdAccount {
        account_id,
        name: c
            .descriptive_name
            .map(|n| n.into_owned())
            .filter(|n| !n.is_empty()),
        currency,
        time_zone,
        raw: raw.to_owned(),
    })
}

/// The `utm_campaign` a campaign's own tracking settings set, when they set a real one: a
/// literal value, or `{campaignid}` (ValueTrack), which Google replaces with the campaign id.
/// Other placeholders (`{_custom}`, `{campaignname}`...) are not known here and give `None`.
pub(crate) fn utm_campaign(
    final_url_suffix: Option<&str>,
    tracking_url_template: Option<&str>,
    campaign_id: &str,
) -> Option<String> {
    let from_query = |query: &str| -> Option<String> {
        let (_, value) = url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k.eq_ignore_ascii_case("utm_campaign"))?;
        let value = value.trim();
        if value.eq_ignore_ascii_case("{campaignid}") {
            return Some(campaign_id.to_string());
        }
        (!value.is_empty() && !value.contains('{')).then(|| value.to_string())
    };
    if let Some(v) = final_url_suffix.and_then(|s| from_query(s.trim_start_matches(['?', '&']))) {
        return Some(v);
    }
    let template = tracking_url_template?;
    let (_, query) = template.split_once('?')?;
    from_query(query.split('#').next().unwrap_or(query))
}

pub(crate) fn campaign(
    endpoint: &'static str,
    account_id: &str,
    channel: &str,
    raw: &RawValue,
) -> Result<Campaign, ConnectorError> {
    let row: CampaignRow = decode(endpoint, raw)?;
    let c = row.campaign;
    let campaign_id = model::id_text(c.id).map_err(|e| bad(endpoint, e))?;
    let utm = utm_campaign(
        c.final_url_suffix.as_deref(),
        c.tracking_url_template.as_deref(),
        &campaign_id,
    );
    Ok(Campaign {
        account_id: account_id.to_string(),
        name: c.name.map(|n| n.into_owned()).unwrap_or_default(),
        status: c.status.map(|s| s.into_owned()),
        channel: channel.to_string(),
        utm_campaign: utm,
        campaign_id,
        raw: raw.to_owned(),
    })
}

/// One campaign-day of spend. Metrics Google leaves out are zero (proto3 JSON omits fields at
/// their default value).
pub(crate) fn spend(
    endpoint: &'static str,
    account_id: &str,
    currency: Currency,
    raw: &RawValue,
) -> Result<AdSpend, ConnectorError> {
    let row: SpendRow = decode(endpoint, raw)?;
    let campaign_id = model::id_text(row.campaign.id).map_err(|e| bad(endpoint, e))?;
    let date = model::date(&row.segments.date).map_err(|e| bad(endpoint, e))?;
    let m = row.metrics.unwrap_or_default();
    let int = |v: Option<&RawValue>, name: &str| -> Result<i64, ConnectorError> {
        match v {
            None => Ok(0),
            Some(r) => model::int64(r).map_err(|e| {
                bad(
                    endpoint,
                    format!("campaign {campaign_id} on {date}: metrics.{name}: {e}"),
                )
            }),
        }
    };
    let cost = model::micros(int(m.cost_micros, "costMicros")?);
    let impressions = int(m.impressions, "impressions")?;
    let clicks = int(m.clicks, "clicks")?;
    let conversions = match m.conversions {
        None => Some(rust_decimal::Decimal::ZERO),
        Some(r) => model::double(r).map_err(|e| {
            bad(
                endpoint,
                format!("campaign {campaign_id} on {date}: metrics.conversions: {e}"),
            )
        })?,
    };
    Ok(AdSpend {
        account_id: account_id.to_string(),
        campaign_id,
        date,
        cost,
        currency,
        vat_included: None,
        impressions: Some(impressions),
        clicks: Some(clicks),
        conversions,
        raw: raw.to_owned(),
    })
}

/// One click of `click_view`; `None` for rows without a gclid (App campaigns have none).
pub(crate) fn click(
    endpoint: &'static str,
    account_id: &str,
    raw: &RawValue,
) -> Result<Option<ClickId>, ConnectorError> {
    let row: ClickRow = decode(endpoint, raw)?;
    let Some(gclid) = row
        .click_view
        .and_then(|c| c.gclid)
        .filter(|g| !g.trim().is_empty())
    else {
        return Ok(None);
    };
    Ok(Some(ClickId {
        click_id: gclid.into_owned(),
        kind: ClickKind::Gclid,
        account_id: account_id.to_string(),
        campaign_id: model::id_text(row.campaign.id).map_err(|e| bad(endpoint, e))?,
        date: model::date(&row.segments.date).map_err(|e| bad(endpoint, e))?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utm_campaign_is_read_only_when_real() {
        assert_eq!(
            utm_campaign(
                Some("utm_source=google&utm_campaign=winter%20sale"),
                None,
                "1"
            ),
            Some("winter sale".into())
        );
        assert_eq!(
            utm_campaign(None, Some("{lpurl}?utm_campaign={campaignid}&x=1"), "42"),
            Some("42".into())
        );
        assert_eq!(
            utm_campaign(Some("utm_campaign={_campaign}"), None, "42"),
            None
        );
        assert_eq!(
            utm_campaign(Some("utm_source=google"), Some("{lpurl}"), "42"),
            None
        );
        assert_eq!(utm_campaign(None, None, "42"), None);
    }
}
