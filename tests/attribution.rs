//! Attribution over the store, on SQLite and PostgreSQL alike: every lead ends up with a
//! campaign, a channel, or in the unattributed bucket with its reason; figures worked out by
//! hand below.

mod common;

use std::str::FromStr;

use chrono::{NaiveDate, TimeZone, Utc};
use okno::figures::attribution::{Field, Matcher, Reason, Rule, Target};
use okno_connector::rust_decimal::Decimal;
use okno_connector::serde_json::value::RawValue;
use okno_connector::{
    Campaign, ClickId, ClickKind, Currency, Lead, LeadEntity, Marks, Record, StageCategory,
};

struct L {
    id: &'static str,
    entity: LeadEntity,
    won: Option<(&'static str, &'static str)>,
    utm_source: Option<&'static str>,
    utm_medium: Option<&'static str>,
    utm_campaign: Option<&'static str>,
    gclid: Option<&'static str>,
    converted_to: Option<&'static str>,
}

const NONE: L = L {
    id: "",
    entity: LeadEntity::Lead,
    won: None,
    utm_source: None,
    utm_medium: None,
    utm_campaign: None,
    gclid: None,
    converted_to: None,
};

fn lead(l: L) -> Record {
    let at = Utc.with_ymd_and_hms(2026, 11, 10, 9, 0, 0).unwrap();
    Record::Lead(Box::new(Lead {
        lead_id: l.id.into(),
        entity: l.entity,
        name: Some(format!("lead {}", l.id)),
        created_at: at,
        updated_at: at,
        pipeline_id: None,
        stage_id: None,
        stage_name: None,
        stage_category: if l.won.is_some() {
            StageCategory::Won
        } else {
            StageCategory::Open
        },
        amount: l.won.map(|(a, _)| Decimal::from_str(a).unwrap()),
        discount: l.won.map(|(_, d)| Decimal::from_str(d).unwrap()),
        currency: Some(Currency::from_str("RUB").unwrap()),
        exchange_rate: None,
        closed_at: l.won.map(|_| at),
        owner_id: None,
        lead_source: None,
        marks: Marks {
            utm_source: l.utm_source.map(str::to_string),
            utm_medium: l.utm_medium.map(str::to_string),
            utm_campaign: l.utm_campaign.map(str::to_string),
            gclid: l.gclid.map(str::to_string),
            ..Marks::default()
        },
        product: None,
        segment: None,
        region: None,
        converted_deal_id: l.converted_to.map(str::to_string),
        deleted_at: None,
        raw: RawValue::from_string(format!("{{\"id\":\"{}\"}}", l.id)).unwrap(),
    }))
}

fn campaign(id: &str, name: &str, channel: &str, utm: Option<&str>) -> Record {
    Record::Campaign(Campaign {
        account_id: "acc".into(),
        campaign_id: id.into(),
        name: name.into(),
        status: None,
        channel: channel.into(),
        utm_campaign: utm.map(str::to_string),
        raw: RawValue::from_string("{}".into()).unwrap(),
    })
}

store_test!(async fn every_lead_is_attributed_or_unattributed_with_its_reason(store) {
    store.commit_page("direct", "campaigns", &[campaign("70000012", "Brand Search", "yandex_direct", None)], None).await.unwrap();
    let click = Record::ClickId(ClickId {
        click_id: "G1".into(),
        kind: ClickKind::Gclid,
        account_id: "acc".into(),
        campaign_id: "20871234".into(),
        date: NaiveDate::from_ymd_opt(2026, 11, 9).unwrap(),
    });
    store.commit_page("gads", "campaigns", &[campaign("20871234", "Autumn Sale", "google_ads", Some("autumn_sale_2026")), click], None).await.unwrap();

    let amo = vec![
        // Name in another case → Brand Search; won 10,000 − 1,000 discount = 9,000.
        lead(L { id: "1", won: Some(("10000", "1000")), utm_campaign: Some("brand search"), ..NONE }),
        // A resolved gclid wins over the conflicting utm_campaign → Autumn Sale.
        lead(L { id: "2", gclid: Some("G1"), utm_campaign: Some("Brand Search"), ..NONE }),
        // Campaign id → Brand Search; won 5,000, no discount.
        lead(L { id: "3", won: Some(("5000", "0")), utm_campaign: Some("70000012"), ..NONE }),
        // Source and medium only → the rule's channel.
        lead(L { id: "4", utm_source: Some("yandex"), utm_medium: Some("organic"), ..NONE }),
        // Nothing at all → unattributed.
        lead(L { id: "5", ..NONE }),
        // A campaign nobody has → unattributed, still counting its 3,000 of revenue.
        lead(L { id: "6", won: Some(("3000", "0")), utm_campaign: Some("black_friday"), ..NONE }),
        lead(L { id: "7", utm_campaign: Some("brand search"), ..NONE }),
    ];
    store.commit_page("amo", "leads", &amo, None).await.unwrap();
    let gone = Record::Deleted(okno_connector::Deleted { kind: okno_connector::DeletedKind::Lead(LeadEntity::Lead), id: "7".into(), deleted_at: Utc::now() });
    store.commit_page("amo", "leads", &[gone], None).await.unwrap();
    // Zoho: a lead converted into a won deal is one lead, won with the deal's amount; a deal no
    // lead converted into is a lead of its own.
    let zoho = vec![
        lead(L { id: "Z1", utm_campaign: Some("AUTUMN_SALE_2026"), converted_to: Some("D1"), ..NONE }),
        lead(L { id: "D1", entity: LeadEntity::Deal, won: Some(("20000", "0")), ..NONE }),
        lead(L { id: "D2", entity: LeadEntity::Deal, ..NONE }),
    ];
    store.commit_page("zoho", "leads", &zoho, None).await.unwrap();

    let rules = vec![Rule {
        field: Field::Medium,
        matcher: Matcher::Exact("organic".into()),
        target: Target::Channel("organic".into()),
    }];
    let report = okno::figures::attribution_report(&store, &rules).await.unwrap();
    let rows: Vec<(&str, &str, u64, u64, String)> = report
        .buckets
        .iter()
        .map(|b| {
            let rub = b.revenue.get("RUB").map(|d| d.normalize().to_string()).unwrap_or_default();
            (b.target.as_str(), b.via.as_str(), b.leads, b.won, rub)
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("direct:70000012", "campaign_id+campaign_name", 2, 2, "14000".to_string()),
            ("gads:20871234", "gclid+platform_utm", 2, 1, "20000".to_string()),
            ("channel organic", "rule[0]", 1, 0, String::new()),
            ("unattributed", "", 3, 1, "3000".to_string()),
        ]
    );
    // 8 leads in all: 7 amoCRM rows less the deleted one, plus Zoho's lead+deal pair and lone deal.
    assert_eq!(report.buckets.iter().map(|b| b.leads).sum::<u64>(), 8);
    let reasons: Vec<(&str, &Reason)> = report.unmatched.iter().map(|u| (u.lead_id.as_str(), &u.reason)).collect();
    assert_eq!(
        reasons,
        [
            ("5", &Reason::NoMarks),
            ("6", &Reason::NoCampaign { utm_campaign: "black_friday".into() }),
            ("D2", &Reason::NoMarks),
        ]
    );
});

store_test!(async fn an_empty_store_still_shows_the_unattributed_bucket(store) {
    let report = okno::figures::attribution_report(&store, &[]).await.unwrap();
    assert_eq!(report.buckets.len(), 1);
    assert_eq!((report.buckets[0].target.as_str(), report.buckets[0].leads), ("unattributed", 0));
});
