//! Compact builders of the SDK's records for figure tests: accounts, campaigns, spend, rates
//! and leads with only what a figure reads.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use okno_connector::rust_decimal::Decimal;
use okno_connector::serde_json::value::RawValue;
use okno_connector::{
    AdAccount, AdSpend, Campaign, Currency, FxRate, Lead, LeadEntity, Marks, Record, StageCategory,
};

pub fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}
pub fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}
pub fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}
pub fn cur(s: &str) -> Currency {
    s.parse().unwrap()
}
fn raw() -> Box<RawValue> {
    RawValue::from_string("{}".into()).unwrap()
}

pub fn account(id: &str, currency: &str) -> Record {
    Record::AdAccount(AdAccount {
        account_id: id.into(),
        name: None,
        currency: cur(currency),
        time_zone: "Europe/Moscow".into(),
        raw: raw(),
    })
}

pub fn campaign(account: &str, id: &str, name: &str, channel: &str) -> Record {
    Record::Campaign(Campaign {
        account_id: account.into(),
        campaign_id: id.into(),
        name: name.into(),
        status: None,
        channel: channel.into(),
        utm_campaign: None,
        raw: raw(),
    })
}

/// A day's cost with 100 impressions and 10 clicks.
pub fn spend(account: &str, campaign: &str, date: &str, cost: &str, currency: &str) -> Record {
    Record::AdSpend(AdSpend {
        account_id: account.into(),
        campaign_id: campaign.into(),
        date: day(date),
        cost: dec(cost),
        currency: cur(currency),
        vat_included: None,
        impressions: Some(100),
        clicks: Some(10),
        conversions: None,
        raw: raw(),
    })
}

/// One unit of `currency` is `rate` roubles on `date`.
pub fn rub_rate(date: &str, currency: &str, rate: &str) -> Record {
    Record::FxRate(FxRate {
        date: day(date),
        currency: cur(currency),
        base: cur("RUB"),
        rate: dec(rate),
    })
}

/// The lead `record` in `segment`.
pub fn in_segment(mut record: Record, segment: &str) -> Record {
    if let Record::Lead(l) = &mut record {
        l.segment = Some(segment.into());
    }
    record
}

/// A lead created at `created` with `utm_campaign`; `won` = (closed at, amount, discount,
/// currency).
pub fn lead(
    id: &str,
    created: &str,
    utm_campaign: Option<&str>,
    won: Option<(&str, &str, &str, &str)>,
) -> Record {
    Record::Lead(Box::new(Lead {
        lead_id: id.into(),
        entity: LeadEntity::Lead,
        name: None,
        created_at: at(created),
        updated_at: at(created),
        pipeline_id: None,
        stage_id: None,
        stage_name: None,
        stage_category: if won.is_some() {
            StageCategory::Won
        } else {
            StageCategory::Open
        },
        amount: won.map(|w| dec(w.1)),
        discount: won.map(|w| dec(w.2)),
        currency: Some(cur(won.map_or("RUB", |w| w.3))),
        exchange_rate: None,
        closed_at: won.map(|w| at(w.0)),
        owner_id: None,
        lead_source: None,
        marks: Marks {
            utm_campaign: utm_campaign.map(str::to_string),
            ..Marks::default()
        },
        product: None,
        segment: None,
        region: None,
        converted_deal_id: None,
        deleted_at: None,
        raw: raw(),
    }))
}
