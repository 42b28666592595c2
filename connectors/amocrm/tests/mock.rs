//! The `mock` feature's generator, read through the connector: every lead arrives, the cursor
//! protocol terminates, the generated custom fields map as documented, and faults surface.

use okno_connector::testkit::MockVendor;
use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use okno_amocrm::mock::{self, LeadsMock, BASE_UPDATED_AT, FIRST_ID};
use okno_connector::testkit::{drain, test_http_options};
use okno_connector::{
    BuildContext, Connector, Cursor, PageRequest, Record, StageCategory, TokenVault,
};
use rust_decimal::Decimal;
use serde_json::json;
use url::Url;

/// The settings the generator documents for engine tests, parsed as the daemon would.
fn settings() -> serde_json::Value {
    let table: toml::Table = toml::from_str(mock::SETTINGS_TOML).expect("SETTINGS_TOML is TOML");
    serde_json::to_value(table).unwrap()
}

fn build(uri: &str) -> Arc<dyn Connector> {
    let ctx = BuildContext {
        instance: "amo".into(),
        settings: settings(),
        base_url: Some(Url::parse(uri).unwrap()),
        http: test_http_options(),
        tokens: TokenVault::new(),
    };
    (okno_amocrm::KIND.build)(ctx).unwrap_or_else(|e| panic!("{e:?}"))
}

#[test]
fn the_documented_settings_name_the_generated_fields() {
    let s = settings();
    assert_eq!(s["long_lived_token"], "mock-long-lived-token");
    assert_eq!(s["fields"]["product"], mock::PRODUCT_FIELD);
    assert_eq!(s["fields"]["region"], mock::REGION_FIELD);
    assert_eq!(s["fields"]["segment"], mock::SEGMENT_FIELD);
    assert_eq!(s["fields"]["discount"], mock::DISCOUNT_FIELD);
}

#[tokio::test]
async fn a_full_sync_reads_every_generated_lead_once_at_least() {
    let total = 1_234;
    let export = LeadsMock::new(total);
    let server = export.start().await;
    let c = build(&server.uri());
    let start = Utc.timestamp_opt(BASE_UPDATED_AT - 3_600, 0).unwrap();
    let (records, cursor) = drain(c.as_ref(), "leads", None, start).await.unwrap();

    let ids: BTreeSet<u64> = records
        .iter()
        .filter_map(|r| match r {
            Record::Lead(l) => Some(l.lead_id.parse::<u64>().unwrap()),
            _ => None,
        })
        .collect();
    assert_eq!(ids.len() as u64, total);
    assert_eq!(ids.first(), Some(&FIRST_ID));
    assert_eq!(ids.last(), Some(&(FIRST_ID + total - 1)));
    // Each page re-reads the leads of its last second or two: a little, never a lot.
    assert!(records.len() < total as usize + 30, "{}", records.len());
    let last = LeadsMock::updated_at(total - 1);
    assert_eq!(cursor, Some(Cursor(json!({ "from": last - 1, "page": 1 }))));
    assert!(export.served.load(Ordering::SeqCst) >= 5);

    // The next run: the last second again (harmless), then nothing more.
    let page = c
        .fetch_page(PageRequest {
            stream: "leads",
            cursor: cursor.as_ref(),
            start,
        })
        .await
        .unwrap();
    assert!(!page.has_more);
    assert!(page.records.len() <= 4, "{}", page.records.len());

    // Spot checks of the mapping against the generator.
    for i in [0u64, 1, 2, 5, 7, 10] {
        let id = (FIRST_ID + i).to_string();
        let Some(Record::Lead(l)) = records
            .iter()
            .find(|r| matches!(r, Record::Lead(l) if l.lead_id == id))
        else {
            panic!("no lead {id}");
        };
        assert_eq!(l.product.as_deref(), Some(mock::product_of(i)));
        assert_eq!(l.amount, Some(Decimal::from(mock::price_of(i))));
        assert_eq!(
            l.discount,
            mock::discount_of(i).map(|d| d.parse::<Decimal>().unwrap())
        );
        assert_eq!(
            l.currency.map(|c| c.to_string()).as_deref(),
            Some(mock::CURRENCY)
        );
        let category = match mock::status_of(i) {
            142 => StageCategory::Won,
            143 => StageCategory::Lost,
            _ => StageCategory::Open,
        };
        assert_eq!(l.stage_category, category);
        assert!(l.stage_name.is_some());
        assert!(l.marks.utm_source.is_some() && l.marks.utm_campaign.is_some());
    }
}

#[tokio::test]
async fn the_other_default_streams_answer_too() {
    let export = LeadsMock::new(10);
    let server = export.start().await;
    let c = build(&server.uri());
    let start = Utc.timestamp_opt(BASE_UPDATED_AT, 0).unwrap();
    let (stages, _) = drain(c.as_ref(), "pipelines", None, start).await.unwrap();
    assert_eq!(stages.len(), 7);
    let (users, _) = drain(c.as_ref(), "users", None, start).await.unwrap();
    assert_eq!(users.len(), 3);
    let (deleted, cursor) = drain(c.as_ref(), "deleted_leads", None, start)
        .await
        .unwrap();
    assert!(deleted.is_empty());
    assert_eq!(
        cursor,
        Some(Cursor(json!({ "from": BASE_UPDATED_AT, "page": 1 })))
    );
    let page = c
        .fetch_ids("leads", &[(FIRST_ID + 3).to_string(), "1".to_string()])
        .await
        .unwrap();
    assert_eq!(page.records.len(), 1);
}

#[tokio::test]
async fn injected_faults_surface_as_errors() {
    let export = LeadsMock::new(600);
    let server = export.start().await;
    let c = build(&server.uri());
    let start = Utc.timestamp_opt(BASE_UPDATED_AT, 0).unwrap();
    export.faults.truncate_at_offset.store(0, Ordering::SeqCst);
    let err = drain(c.as_ref(), "leads", None, start).await.unwrap_err();
    assert_eq!(err.class(), "decode");
    export.faults.clear();
    export.faults.fail_at_offset.store(0, Ordering::SeqCst);
    let err = drain(c.as_ref(), "leads", None, start).await.unwrap_err();
    assert_eq!(err.class(), "transient");
}
