//! The `mock` stand-in end to end: an instance built from its `SETTINGS_TOML` drains both
//! streams, and every figure matches the generator.

use okno_connector::testkit::MockVendor;
use std::collections::BTreeMap;

use chrono::Utc;
use okno_connector::rust_decimal::Decimal;
use okno_connector::testkit::{drain, test_http_options};
use okno_connector::{BuildContext, Record, TokenVault};
use okno_meta_ads::mock::{self, MetaMock};
use url::Url;

#[tokio::test]
async fn an_instance_from_settings_toml_drains_both_streams_of_the_stand_in() {
    let generator = MetaMock::new(7);
    let server = generator.start().await;
    let settings: toml::Value = toml::from_str(mock::SETTINGS_TOML).unwrap();
    let ctx = BuildContext {
        instance: "meta-mock".into(),
        settings: serde_json::to_value(settings).unwrap(),
        base_url: Some(Url::parse(&server.uri()).unwrap()),
        http: test_http_options(),
        tokens: TokenVault::new(),
    };
    let c = (okno_meta_ads::KIND.build)(ctx).unwrap();
    assert!(c.check().await.unwrap().contains("act_1000000001"));

    let (records, cursor) = drain(c.as_ref(), "campaigns", None, Utc::now())
        .await
        .unwrap();
    assert!(cursor.is_none());
    let campaigns = records
        .iter()
        .filter(|r| matches!(r, Record::Campaign(_)))
        .count();
    assert_eq!(campaigns, 14);

    // Six account days: direct queries, one slice per account.
    let begin = Utc::now() - chrono::Duration::days(5);
    let (records, cursor) = drain(c.as_ref(), "spend", None, begin).await.unwrap();
    let mut per_account: BTreeMap<String, (usize, Decimal)> = BTreeMap::new();
    let mut expected: BTreeMap<String, (usize, Decimal)> = BTreeMap::new();
    for r in &records {
        match r {
            Record::AdSpend(s) => {
                let e = per_account.entry(s.account_id.clone()).or_default();
                e.0 += 1;
                e.1 += s.cost;
            }
            Record::SpendWindow(w) => {
                let a = if w.account_id == "act_1000000001" {
                    0
                } else {
                    1
                };
                let e = expected.entry(w.account_id.clone()).or_default();
                for d in w.from.iter_days().take_while(|d| *d <= w.to) {
                    for c in 0..7 {
                        if let Some(cents) = mock::spend_cents(a, c, d, 0) {
                            e.0 += 1;
                            e.1 += Decimal::new(cents as i64, 2);
                        }
                    }
                }
                let span = w.to - w.from;
                assert!(span >= chrono::Duration::days(4) && span <= chrono::Duration::days(6));
            }
            _ => {}
        }
    }
    assert_eq!(per_account.len(), 2);
    assert_eq!(per_account, expected);
    assert_eq!(generator.runs_created(), 0);
    let plan = okno_connector::spend::SpendCursor::from_cursor(cursor.as_ref()).unwrap();
    assert_eq!(plan.done.len(), 2);
}
