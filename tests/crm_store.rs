//! CRM rows and OAuth tokens in the store, on SQLite and PostgreSQL alike.

mod common;

use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use okno::store::Store;
use okno_connector::oauth::{Refresher, Save, SessionOptions, TokenSet, TokenStore};
use okno_connector::rust_decimal::Decimal;
use okno_connector::serde_json::value::RawValue;
use okno_connector::{
    ConnectorError, Currency, Deleted, DeletedKind, ExposeSecret, Lead, LeadEntity, Marks,
    OAuthSession, Record, SecretString, Stage, StageCategory, TokenVault,
};

fn at(h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, 1, h, 0, 0).unwrap()
}

fn lead(id: &str, updated_h: u32, amount: &str, category: StageCategory) -> Record {
    Record::Lead(Box::new(Lead {
        lead_id: id.into(),
        entity: LeadEntity::Lead,
        name: Some(format!("lead {id}")),
        created_at: at(0),
        updated_at: at(updated_h),
        pipeline_id: Some("7001".into()),
        stage_id: Some("142".into()),
        stage_name: Some("Успешно реализовано".into()),
        stage_category: category,
        amount: Some(Decimal::from_str(amount).unwrap()),
        discount: Some(Decimal::from_str("1500.50").unwrap()),
        currency: Some(Currency::from_str("RUB").unwrap()),
        exchange_rate: None,
        closed_at: Some(at(updated_h)),
        owner_id: Some("501".into()),
        lead_source: None,
        marks: Marks {
            utm_source: Some("yandex".into()),
            utm_medium: Some("cpc".into()),
            utm_campaign: Some("courses_autumn".into()),
            utm_content: None,
            utm_term: Some("курсы маркетинга".into()),
            gclid: None,
            yclid: Some("8432".into()),
            fbclid: None,
        },
        product: Some("SMM course".into()),
        segment: None,
        region: Some("Москва".into()),
        converted_deal_id: None,
        deleted_at: None,
        raw: RawValue::from_string(format!("{{\"id\":{id},\"v\":{updated_h}}}")).unwrap(),
    }))
}

/// The lead change counter of `source` (`table_version`), if it has one.
async fn lead_version(store: &Store, source: &str) -> Option<i64> {
    store
        .table_versions()
        .await
        .unwrap()
        .into_iter()
        .find(|(table, s, _)| table == "lead" && s == source)
        .map(|(_, _, v)| v)
}

fn deleted(id: &str, h: u32) -> Record {
    Record::Deleted(Deleted {
        kind: DeletedKind::Lead(LeadEntity::Lead),
        id: id.into(),
        deleted_at: at(h),
    })
}

store_test!(async fn leads_keep_exact_money_and_typed_marks(store) {
    let page = vec![
        lead("1", 2, "123456789012.34", StageCategory::Won),
        lead("2", 2, "0.000001", StageCategory::Open),
    ];
    assert_eq!(store.commit_page("amo", "leads", &page, None).await.unwrap(), 2);
    let rows = store.leads("amo").await.unwrap();
    assert_eq!(rows.len(), 2);
    let one = &rows[0];
    assert_eq!(one.amount.as_deref(), Some("123456789012.34"));
    assert_eq!(rows[1].amount.as_deref(), Some("0.000001"));
    assert_eq!(one.discount.as_deref(), Some("1500.5"));
    assert_eq!(one.currency.as_deref(), Some("RUB"));
    assert_eq!(one.stage_category, "won");
    assert_eq!(one.utm[2].as_deref(), Some("courses_autumn"));
    assert_eq!(one.utm[4].as_deref(), Some("курсы маркетинга"));
    assert_eq!(one.click_ids[1].as_deref(), Some("8432"));
    assert_eq!(one.region.as_deref(), Some("Москва"));
    assert_eq!(lead_version(&store, "amo").await, Some(1));
    // The same page again changes nothing, and the facts' change counter stays put.
    assert_eq!(store.commit_page("amo", "leads", &page, None).await.unwrap(), 0);
    assert_eq!(lead_version(&store, "amo").await, Some(1));
    assert_eq!(store.lead_sources().await.unwrap(), ["amo"]);
    // The same vendor version with a field mapped differently (config changed, then a resync).
    let mut remapped = lead("2", 2, "0.000001", StageCategory::Open);
    if let Record::Lead(l) = &mut remapped {
        l.product = Some("Analytics intensive".into());
        l.discount = None;
    }
    assert_eq!(store.commit_page("amo", "leads", &[remapped], None).await.unwrap(), 1);
    assert_eq!(lead_version(&store, "amo").await, Some(2));
    let two = &store.leads("amo").await.unwrap()[1];
    assert_eq!((two.product.as_deref(), two.discount.as_deref()), (Some("Analytics intensive"), None));
    // Only the deal it converted into differs (Zoho's conversion read without a new
    // Modified_Time): the lead follows it.
    let mut converted = lead("1", 2, "123456789012.34", StageCategory::Won);
    if let Record::Lead(l) = &mut converted {
        l.converted_deal_id = Some("D-9".into());
    }
    assert_eq!(store.commit_page("amo", "leads", &[converted], None).await.unwrap(), 1);
    assert_eq!(store.leads("amo").await.unwrap()[0].converted_deal_id.as_deref(), Some("D-9"));
});

store_test!(async fn a_deleted_lead_is_marked_and_stays_deleted_against_older_versions(store) {
    store.commit_page("amo", "leads", &[lead("1", 2, "100", StageCategory::Open)], None).await.unwrap();
    // Deleting a lead the store never saw changes nothing; the deletion moves the counter.
    assert_eq!(store.commit_page("amo", "deleted", &[deleted("99", 5)], None).await.unwrap(), 0);
    assert_eq!(lead_version(&store, "amo").await, Some(1));
    assert_eq!(store.commit_page("amo", "deleted", &[deleted("1", 5), deleted("99", 5)], None).await.unwrap(), 1);
    assert_eq!(lead_version(&store, "amo").await, Some(2));
    let rows = store.leads("amo").await.unwrap();
    assert_eq!(rows.len(), 1, "nothing is erased and nothing invented");
    assert_eq!(rows[0].deleted_at, Some(at(5)));
    // The vendor's own, earlier deletion time (a webhook's is when it was processed) wins; a
    // later one changes nothing.
    store.commit_page("amo", "deleted", &[deleted("1", 4)], None).await.unwrap();
    store.commit_page("amo", "deleted", &[deleted("1", 8)], None).await.unwrap();
    assert_eq!(store.leads("amo").await.unwrap()[0].deleted_at, Some(at(4)));
    // A late poll that still saw the lead (version 3 < deletion at 4) does not revive it...
    store.commit_page("amo", "leads", &[lead("1", 3, "200", StageCategory::Open)], None).await.unwrap();
    let rows = store.leads("amo").await.unwrap();
    assert_eq!(rows[0].deleted_at, Some(at(4)));
    assert_eq!(rows[0].amount.as_deref(), Some("200"));
    // ...a version newer than the deletion (restored from the recycle bin) does.
    store.commit_page("amo", "leads", &[lead("1", 6, "300", StageCategory::Open)], None).await.unwrap();
    assert_eq!(store.leads("amo").await.unwrap()[0].deleted_at, None);
    // A page holding a lead and its deletion ends deleted.
    store.commit_page("amo", "leads", &[lead("2", 1, "1", StageCategory::Open), deleted("2", 2)], None).await.unwrap();
    let two = store.leads("amo").await.unwrap().into_iter().find(|l| l.lead_id == "2").unwrap();
    assert_eq!(two.deleted_at, Some(at(2)));
});

store_test!(async fn stages_are_keyed_by_pipeline_and_change_only_when_they_differ(store) {
    let stage = |pipeline: &str, id: &str, name: &str, category| {
        Record::Stage(Stage {
            pipeline_id: pipeline.into(),
            pipeline_name: Some(format!("Pipeline {pipeline}")),
            stage_id: id.into(),
            stage_name: name.into(),
            category,
            sort: Some(10000),
            archived: false,
            raw: RawValue::from_string(format!("{{\"id\":{id},\"name\":\"{name}\"}}")).unwrap(),
        })
    };
    let page = vec![
        stage("1", "142", "Won", StageCategory::Won),
        stage("2", "142", "Won", StageCategory::Won),
        stage("1", "143", "Lost", StageCategory::Lost),
    ];
    assert_eq!(store.commit_page("amo", "pipelines", &page, None).await.unwrap(), 3);
    assert_eq!(store.commit_page("amo", "pipelines", &page, None).await.unwrap(), 0);
    let renamed = vec![stage("2", "142", "Оплачено", StageCategory::Won)];
    assert_eq!(store.commit_page("amo", "pipelines", &renamed, None).await.unwrap(), 1);
    let stages = store.stages("amo").await.unwrap();
    assert_eq!(stages.len(), 3);
    assert!(stages.contains(&("2".into(), "142".into(), "Оплачено".into(), "won".into())));
});

fn pair(access: &str, refresh: Option<&str>, valid_for_min: i64) -> TokenSet {
    TokenSet {
        access_token: SecretString::from(access.to_string()),
        refresh_token: refresh.map(|r| SecretString::from(r.to_string())),
        expires_at: Some(Utc::now() + chrono::Duration::minutes(valid_for_min)),
        api_domain: Some("https://www.zohoapis.eu".into()),
    }
}

fn tokens(store: &Store) -> Arc<dyn TokenStore> {
    let vault = TokenVault::new();
    store.attach_tokens(&vault);
    vault.get().unwrap().clone()
}

store_test!(async fn token_rows_are_claimed_by_version_and_saved_once(store) {
    let t = tokens(&store);
    assert!(t.load("crm").await.unwrap().is_none());
    let v1 = t.save("crm", Save::Authorize, &pair("a0", Some("r0"), -1)).await.unwrap().unwrap();
    let until = Utc::now() + chrono::Duration::seconds(60);
    assert!(t.claim_refresh("crm", v1, "p1", until).await.unwrap());
    assert!(!t.claim_refresh("crm", v1, "p2", until).await.unwrap(), "a live claim excludes others");
    // A refresh without a refresh token in the answer keeps the stored one.
    let mode = Save::Refresh { holder: "p1", from_version: v1 };
    let v2 = t.save("crm", mode, &pair("a1", None, 60)).await.unwrap().unwrap();
    assert_eq!(v2, v1 + 1);
    let row = t.load("crm").await.unwrap().unwrap();
    assert_eq!(row.tokens.access_token.expose_secret(), "a1");
    assert_eq!(row.tokens.refresh_token.unwrap().expose_secret(), "r0");
    assert_eq!(row.tokens.api_domain.as_deref(), Some("https://www.zohoapis.eu"));
    // A second save from the old version, by a holder without the claim, is refused.
    let stale = Save::Refresh { holder: "p2", from_version: v1 };
    assert_eq!(t.save("crm", stale, &pair("x", Some("y"), 60)).await.unwrap(), None);
    // A claim names a version: claiming the old one fails, the current one succeeds.
    assert!(!t.claim_refresh("crm", v1, "p2", until).await.unwrap());
    assert!(t.claim_refresh("crm", v2, "p2", until).await.unwrap());
    t.release_claim("crm", "p2").await.unwrap();
    assert!(t.claim_refresh("crm", v2, "p3", until).await.unwrap(), "a released claim is free");
});

store_test!(async fn a_seed_is_stored_only_where_no_pair_is(store) {
    let t = tokens(&store);
    // The first process seeds the configured refresh token.
    assert_eq!(t.save("ads", Save::Seed, &pair("", Some("seed"), -1)).await.unwrap(), Some(1));
    // It refreshes; a second process starting now seeds too, and must not undo the refresh.
    let mode = Save::Refresh { holder: "p1", from_version: 1 };
    assert_eq!(t.save("ads", mode, &pair("a1", Some("r1"), 60)).await.unwrap(), Some(2));
    assert_eq!(t.save("ads", Save::Seed, &pair("", Some("seed"), -1)).await.unwrap(), None);
    let row = t.load("ads").await.unwrap().unwrap();
    assert_eq!(row.version, 2);
    assert_eq!(row.tokens.access_token.expose_secret(), "a1");
    assert_eq!(row.tokens.refresh_token.unwrap().expose_secret(), "r1");
});

/// A vendor that rotates refresh tokens and revokes the old one at once (amoCRM).
struct Rotating {
    calls: Arc<AtomicU32>,
    valid: std::sync::Mutex<String>,
}

#[okno_connector::async_trait]
impl Refresher for Rotating {
    async fn refresh(&self, rt: &SecretString) -> Result<TokenSet, ConnectorError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
        let mut valid = self.valid.lock().unwrap();
        if rt.expose_secret() != *valid {
            return Err(ConnectorError::Auth {
                endpoint: "oauth",
                status: 401,
                message: "Token has been revoked".into(),
            });
        }
        *valid = format!("r{n}");
        Ok(pair(&format!("a{n}"), Some(&format!("r{n}")), 24 * 60))
    }
}

fn session(store: &Store, vendor: Rotating) -> OAuthSession {
    let vault = TokenVault::new();
    store.attach_tokens(&vault);
    OAuthSession::new(
        "crm",
        "run okno auth",
        vault,
        Box::new(vendor),
        SessionOptions {
            poll: std::time::Duration::from_millis(10),
            ..Default::default()
        },
    )
}

store_test!(async fn processes_sharing_a_store_refresh_a_rotating_token_once(store) {
    tokens(&store).save("crm", Save::Authorize, &pair("a0", Some("r0"), -1)).await.unwrap();
    let calls = Arc::new(AtomicU32::new(0));
    // Three sessions stand for three processes, each with its own memory, one store. A second
    // refresh would present the revoked r0 and fail.
    let sessions: Vec<Arc<OAuthSession>> = (0..3)
        .map(|_| {
            let vendor = Rotating { calls: calls.clone(), valid: std::sync::Mutex::new("r0".into()) };
            Arc::new(session(&store, vendor))
        })
        .collect();
    let mut handles = Vec::new();
    for s in &sessions {
        let s = s.clone();
        handles.push(tokio::spawn(async move { s.access_token().await }));
    }
    for h in handles {
        let token = h.await.unwrap().unwrap();
        assert_eq!(token.expose_secret(), "a1");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1, "one refresh for all processes");
    let row = tokens(&store).load("crm").await.unwrap().unwrap();
    assert_eq!(row.tokens.refresh_token.unwrap().expose_secret(), "r1");
});

store_test!(async fn a_rotated_pair_survives_a_store_that_fails_the_write(store) {
    tokens(&store).save("crm", Save::Authorize, &pair("a0", Some("r0"), -1)).await.unwrap();
    let calls = Arc::new(AtomicU32::new(0));
    let s = session(&store, Rotating { calls: calls.clone(), valid: std::sync::Mutex::new("r0".into()) });
    // Longer than the session's own retries: the call fails, the vendor has already rotated.
    store.faults().fail_token_saves(10);
    assert!(s.access_token().await.is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    store.faults().fail_token_saves(0);
    // The next call stores the pair it kept, without asking the vendor again (r0 is dead there).
    assert_eq!(s.access_token().await.unwrap().expose_secret(), "a1");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let row = tokens(&store).load("crm").await.unwrap().unwrap();
    assert_eq!(row.tokens.refresh_token.unwrap().expose_secret(), "r1");
});
