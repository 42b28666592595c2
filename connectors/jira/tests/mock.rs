//! The `mock` feature's generator, read through the connector: every issue arrives exactly once,
//! the cursor protocol terminates, a second run emits nothing, the generated fields map as
//! documented, and faults surface.

use okno_connector::testkit::MockVendor;
use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use chrono::DateTime;
use okno_connector::testkit::{drain, test_http_options};
use okno_connector::{BuildContext, Connector, Record, StatusCategory, TokenVault};
use okno_jira::mock::{self, IssuesMock, BASE_UPDATED_MS, FIRST_ID};
use rust_decimal::Decimal;
use url::Url;

/// The settings the generator documents for engine tests, parsed as the daemon would.
fn settings() -> serde_json::Value {
    let table: toml::Table = toml::from_str(mock::SETTINGS_TOML).expect("SETTINGS_TOML is TOML");
    serde_json::to_value(table).unwrap()
}

fn build(uri: &str) -> Arc<dyn Connector> {
    let ctx = BuildContext {
        instance: "jira".into(),
        settings: settings(),
        base_url: Some(Url::parse(uri).unwrap()),
        http: test_http_options(),
        tokens: TokenVault::new(),
    };
    (okno_jira::KIND.build)(ctx).unwrap_or_else(|e| panic!("{e:?}"))
}

fn start() -> chrono::DateTime<chrono::Utc> {
    DateTime::from_timestamp_millis(BASE_UPDATED_MS - 3_600_000).unwrap()
}

#[test]
fn the_documented_settings_name_the_generated_fields() {
    let s = settings();
    assert_eq!(s["campaign_field"], mock::CAMPAIGN_FIELD);
    assert_eq!(s["estimate_field"], mock::ESTIMATE_FIELD);
    assert!(s.get("time_zone").is_none(), "the zone comes from /myself");
}

#[tokio::test]
async fn a_full_sync_reads_every_generated_issue_exactly_once() {
    let total = 1_234;
    let jira = IssuesMock::new(total);
    let server = jira.start().await;
    let c = build(&server.uri());
    let (records, cursor) = drain(c.as_ref(), "issues", None, start()).await.unwrap();

    let ids: BTreeSet<u64> = records
        .iter()
        .filter_map(|r| match r {
            Record::Task(t) => Some(t.task_id.parse::<u64>().unwrap()),
            _ => None,
        })
        .collect();
    assert_eq!(ids.len() as u64, total);
    assert_eq!(records.len() as u64, total, "no issue twice");
    assert_eq!(ids.first(), Some(&FIRST_ID));
    assert_eq!(ids.last(), Some(&(FIRST_ID + total - 1)));
    assert!(jira.served.load(Ordering::SeqCst) >= 13);
    let cursor = cursor.unwrap();
    assert_eq!(
        cursor.0["since_ms"],
        serde_json::json!(mock::updated_ms(total - 1))
    );

    // The next run re-reads its five-minute overlap and emits nothing.
    let (again, _) = drain(c.as_ref(), "issues", Some(cursor), start())
        .await
        .unwrap();
    assert!(again.is_empty(), "{} re-emitted", again.len());

    // Spot checks of the mapping against the generator.
    for i in [0u64, 1, 2, 3, 7, 10, 1_233] {
        let id = (FIRST_ID + i).to_string();
        let Some(Record::Task(t)) = records
            .iter()
            .find(|r| matches!(r, Record::Task(t) if t.task_id == id))
        else {
            panic!("no issue {id}");
        };
        assert_eq!(t.key.as_deref(), Some(format!("MKT-{}", i + 1).as_str()));
        assert_eq!(t.status, mock::status_of(i));
        let category = match mock::status_of(i) {
            "Done" => StatusCategory::Done,
            "In Progress" => StatusCategory::InProgress,
            _ => StatusCategory::Todo,
        };
        assert_eq!(t.status_category, category);
        assert_eq!(t.updated_at.timestamp_millis(), mock::updated_ms(i));
        assert_eq!(t.created_at.timestamp_millis(), mock::created_ms(i));
        assert_eq!(
            t.started_at.map(|s| s.timestamp_millis()),
            mock::started_ms(i)
        );
        assert_eq!(t.done_at.map(|s| s.timestamp_millis()), mock::done_ms(i));
        assert_eq!(t.campaign.as_deref(), mock::campaign_of(i));
        assert_eq!(
            t.estimate,
            mock::estimate_of(i).map(|e| e.parse::<Decimal>().unwrap())
        );
        assert_eq!(t.project.as_deref(), Some(mock::PROJECT));
    }
}

#[tokio::test]
async fn users_and_fetching_by_id_answer_too() {
    let jira = IssuesMock::new(10);
    let server = jira.start().await;
    let c = build(&server.uri());
    let (users, _) = drain(c.as_ref(), "users", None, start()).await.unwrap();
    assert_eq!(users.len(), 3);
    let page = c
        .fetch_ids("issues", &[(FIRST_ID + 3).to_string(), "1".to_string()])
        .await
        .unwrap();
    assert_eq!(page.records.len(), 1);
    assert!(c.check().await.unwrap().contains(mock::TIME_ZONE));
}

#[tokio::test]
async fn injected_faults_surface_as_errors() {
    let jira = IssuesMock::new(300);
    let server = jira.start().await;
    let c = build(&server.uri());
    jira.faults.truncate_at_offset.store(0, Ordering::SeqCst);
    let err = drain(c.as_ref(), "issues", None, start())
        .await
        .unwrap_err();
    assert_eq!(err.class(), "decode");
    jira.faults.clear();
    jira.faults.fail_at_offset.store(0, Ordering::SeqCst);
    let err = drain(c.as_ref(), "issues", None, start())
        .await
        .unwrap_err();
    assert_eq!(err.class(), "transient");
}
