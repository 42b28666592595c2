//! CRM connectors end to end through the engine, the store and the webhook path, on SQLite and
//! PostgreSQL alike: OAuth tokens refreshed into `oauth_token`, leads and deals normalised with
//! exact money, deletions marked, notifications turned into refetches.

mod common;

use common::engine::{fast_worker, fixture, json, load_config, state};
use okno_connector::testkit::MockVendor;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::Utc;
use okno::config::Config;
use okno::sync::{sync_instance, RunOptions, Trigger};
use okno::webhooks::{self, worker, AppState};
use okno_connector::oauth::{Save, TokenSet};
use okno_connector::{ExposeSecret, SecretString};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use wiremock::matchers::{body_string_contains, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ZOHO_FIXTURES: &str = "connectors/zoho-crm/tests/fixtures";
const ZOHO_HOOK_TOKEN: &str = "okno-7f3c2a91d4e8b6051c9e";

async fn post(state: &AppState, uri: &str, content_type: &str, body: String) -> StatusCode {
    let req = Request::post(uri)
        .header("content-type", content_type)
        .body(Body::from(body))
        .unwrap();
    webhooks::router(state.clone())
        .oneshot(req)
        .await
        .unwrap()
        .status()
}

fn expired_pair(access: &str, refresh: &str) -> TokenSet {
    TokenSet {
        access_token: SecretString::from(access.to_string()),
        refresh_token: Some(SecretString::from(refresh.to_string())),
        expires_at: Some(Utc::now() - chrono::Duration::minutes(5)),
        api_domain: None,
    }
}

async fn zoho_mock() -> MockServer {
    let server = MockServer::start().await;
    let v8 = |p: &str| format!("/crm/v8{p}");
    Mock::given(method("POST"))
        .and(path("/oauth/v2/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains("refresh_token=zoho-refresh-1"))
        .respond_with(json(fixture(ZOHO_FIXTURES, "token_refresh.json")))
        .expect(1)
        .mount(&server)
        .await;
    for (module, file) in [
        ("Leads", "fields_leads.json"),
        ("Deals", "fields_deals.json"),
    ] {
        Mock::given(method("GET"))
            .and(path(v8("/settings/fields")))
            .and(query_param("module", module))
            .respond_with(json(fixture(ZOHO_FIXTURES, file)))
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path(v8("/org")))
        .respond_with(json(fixture(ZOHO_FIXTURES, "org.json")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(v8("/users")))
        .respond_with(json(fixture(ZOHO_FIXTURES, "users.json")))
        .mount(&server)
        .await;
    for page in ["1", "2"] {
        Mock::given(method("GET"))
            .and(path(v8("/Leads")))
            .and(query_param("page", page))
            .respond_with(json(fixture(
                ZOHO_FIXTURES,
                &format!("leads_page{page}.json"),
            )))
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path(v8("/Deals")))
        .and(query_param("page", "1"))
        .respond_with(json(fixture(ZOHO_FIXTURES, "deals.json")))
        .mount(&server)
        .await;
    // One of the leads above was deleted after it was read.
    let deleted = fixture(ZOHO_FIXTURES, "deleted_leads.json")
        .replace("6421835000001801013", "6421835000001803027");
    Mock::given(method("GET"))
        .and(path(v8("/Leads/deleted")))
        .respond_with(json(deleted))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(v8("/Deals/deleted")))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    server
}

fn zoho_config(uri: &str) -> Arc<Config> {
    load_config(
        &format!(
            r#"
[server]
listen = "127.0.0.1:0"

[[connector]]
id = "zoho"
kind = "zoho_crm"
base_url = "{uri}"
start_date = "2025-01-01"
max_attempts = 2

[connector.rate_limit]
api = 0

[connector.settings]
data_centre = "eu"
accounts_url = "{uri}"
client_id = "1000.TESTCLIENT"
client_secret = "${{ZOHO_SECRET}}"
webhook_token = "${{ZOHO_HOOK}}"
"#
        ),
        &[
            ("ZOHO_SECRET", "zoho-secret"),
            ("ZOHO_HOOK", ZOHO_HOOK_TOKEN),
        ],
    )
}

store_test!(async fn zoho_syncs_leads_and_deals_with_a_refreshed_token_and_applies_notifications(store) {
    let server = zoho_mock().await;
    let config = zoho_config(&server.uri());
    store.attach_tokens(&config.tokens);
    let tokens = config.tokens.get().unwrap().clone();
    tokens.save("zoho", Save::Authorize, &expired_pair("zoho-access-0", "zoho-refresh-1")).await.unwrap();

    let inst = config.instance("zoho").unwrap();
    let opts = RunOptions { full: false, trigger: Trigger::Manual };
    let runs = sync_instance(&store, inst, &[], opts, &CancellationToken::new(), &*common::quiet())
        .await
        .unwrap();
    for r in &runs {
        assert!(r.error.is_none(), "{}: {:?}", r.stream, r.error);
    }

    // The token was refreshed once (the mock expects exactly one call) and stored before use.
    let row = tokens.load("zoho").await.unwrap().unwrap();
    assert!(row.tokens.access_token.expose_secret().starts_with("1000.d7a2c5e8"));
    assert_eq!(row.tokens.refresh_token.unwrap().expose_secret(), "zoho-refresh-1", "Zoho keeps its refresh token");
    assert_eq!(row.tokens.api_domain.as_deref(), Some("https://www.zohoapis.eu"));
    assert!(row.tokens.expires_at.unwrap() > Utc::now() + chrono::Duration::minutes(50));

    let rows = store.leads("zoho").await.unwrap();
    let deals: Vec<_> = rows.iter().filter(|l| l.entity == "deal").collect();
    let leads: Vec<_> = rows.iter().filter(|l| l.entity == "lead").collect();
    assert_eq!((leads.len(), deals.len()), (5, 3));
    let won = deals.iter().find(|d| d.lead_id == "6421835000001812009").unwrap();
    assert_eq!(won.stage_category, "won");
    assert_eq!(won.stage_name.as_deref(), Some("Closed Won"));
    assert_eq!(won.amount.as_deref(), Some("4800"));
    assert_eq!(won.currency.as_deref(), Some("USD"));
    assert_eq!(won.exchange_rate.as_deref(), Some("1.085"));
    // Closing_Date 2025-03-14 is midnight in the org's time zone (Europe/Berlin, UTC+1).
    assert_eq!(won.closed_at, Some("2025-03-13T23:00:00Z".parse().unwrap()));
    let lost = deals.iter().find(|d| d.lead_id == "6421835000001779015").unwrap();
    assert_eq!((lost.stage_category.as_str(), lost.amount.as_deref()), ("lost", Some("5950")));
    let open = deals.iter().find(|d| d.lead_id == "6421835000001820001").unwrap();
    assert_eq!((open.stage_category.as_str(), open.closed_at), ("open", None));
    // The converted lead names its deal; both rows are kept.
    let converted = leads.iter().find(|l| l.lead_id == "6421835000001798044").unwrap();
    assert_eq!(converted.converted_deal_id.as_deref(), Some("6421835000001812009"));
    // The deleted list marked the lead it names, and nothing else.
    let deleted: Vec<&str> = rows.iter().filter(|l| l.deleted_at.is_some()).map(|l| l.lead_id.as_str()).collect();
    assert_eq!(deleted, vec!["6421835000001803027"]);

    // A notification that the won deal changed: verified by its echoed token, stored, answered,
    // then the deal is fetched again by id.
    let mut refetched: serde_json::Value = serde_json::from_str(&fixture(ZOHO_FIXTURES, "deals.json")).unwrap();
    let mut deal = refetched["data"][1].clone();
    deal["Amount"] = serde_json::json!(5200.5);
    deal["Modified_Time"] = "2025-03-15T10:00:00+01:00".into();
    refetched["data"] = serde_json::json!([deal]);
    Mock::given(method("GET"))
        .and(path("/crm/v8/Deals"))
        .and(query_param("ids", "6421835000001812009"))
        .respond_with(ResponseTemplate::new(200).set_body_json(refetched))
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    let state = state(&config, &store);
    let update = fixture(ZOHO_FIXTURES, "notification_update.json");
    let forged = update.replace(ZOHO_HOOK_TOKEN, "okno-guessed-token");
    assert_eq!(post(&state, "/hooks/zoho", "application/json", forged).await, StatusCode::UNAUTHORIZED);
    assert_eq!(post(&state, "/hooks/zoho", "application/json", update.clone()).await, StatusCode::OK);
    assert_eq!(post(&state, "/hooks/zoho", "application/json", update).await, StatusCode::OK, "a repeat is acknowledged");
    let delete = fixture(ZOHO_FIXTURES, "notification_delete.json")
        .replace("6421835000001801013", "6421835000001805019");
    assert_eq!(post(&state, "/hooks/zoho", "application/json", delete).await, StatusCode::OK);
    worker::drain_once(&config, &store, &fast_worker(), &CancellationToken::new()).await.unwrap();

    let rows = store.leads("zoho").await.unwrap();
    let won = rows.iter().find(|d| d.lead_id == "6421835000001812009").unwrap();
    assert_eq!(won.amount.as_deref(), Some("5200.5"));
    let gone = rows.iter().find(|d| d.lead_id == "6421835000001805019").unwrap();
    // server_time 1741259700207 ms.
    assert_eq!(gone.deleted_at, Some("2025-03-06T11:15:00.207Z".parse().unwrap()));
    assert!(store.inbox_counts().await.unwrap().is_empty(), "every delivery processed");
    server.verify().await;
});

const AMO_HOOK_TOKEN: &str = "amo-path-token-5b1e0c";

fn amo_config(uri: &str) -> Arc<Config> {
    load_config(
        &format!(
            r#"
[server]
listen = "127.0.0.1:0"

[[connector]]
id = "amo"
kind = "amocrm"
base_url = "{uri}"
start_date = "2025-01-01"
max_attempts = 2
streams = ["pipelines", "leads"]

[connector.rate_limit]
api = 0

[connector.settings]
subdomain = "okhvat"
client_id = "7b41e95c-30d8-4db2-9a56-1f0c3e8a7721"
client_secret = "${{AMO_SECRET}}"
redirect_uri = "https://okno.example.com/amocrm/callback"
webhook_token = "${{AMO_HOOK}}"
fields = {{ product = "Продукт", region = "Регион", segment = "Сегмент", discount = "Скидка" }}
"#
        ),
        &[("AMO_SECRET", "amo-secret"), ("AMO_HOOK", AMO_HOOK_TOKEN)],
    )
}

store_test!(async fn amocrm_never_loses_a_rotated_token_and_refetches_leads_named_by_webhooks(store) {
    use okno_amocrm::mock::{self, LeadsMock};
    const N: u64 = 600;
    let server = LeadsMock::new(N).start().await;
    // amoCRM rotates: the stored refresh token works exactly once.
    Mock::given(method("POST"))
        .and(path("/oauth2/access_token"))
        .and(body_string_contains("\"grant_type\":\"refresh_token\""))
        .and(body_string_contains("\"refresh_token\":\"amo-refresh-0\""))
        .respond_with(json(fixture("connectors/amocrm/tests/fixtures", "token_refresh.json")))
        .expect(1)
        .mount(&server)
        .await;
    let config = amo_config(&server.uri());
    store.attach_tokens(&config.tokens);
    let tokens = config.tokens.get().unwrap().clone();
    tokens.save("amo", Save::Authorize, &expired_pair("amo-access-0", "amo-refresh-0")).await.unwrap();
    let inst = config.instance("amo").unwrap();
    let opts = RunOptions { full: false, trigger: Trigger::Manual };

    // The store goes away right after amoCRM issued the new pair (and revoked the old one).
    store.faults().fail_token_saves(100);
    let failed = sync_instance(&store, inst, &[], opts, &CancellationToken::new(), &*common::quiet())
        .await
        .unwrap();
    assert!(failed.iter().all(|r| r.error.is_some()), "nothing can be fetched without a stored token");
    let row = tokens.load("amo").await.unwrap().unwrap();
    assert_eq!(row.tokens.refresh_token.unwrap().expose_secret(), "amo-refresh-0");

    // Back again: the pair kept in memory is stored first, no second refresh (the mock allows one).
    store.faults().fail_token_saves(0);
    let runs = sync_instance(&store, inst, &[], opts, &CancellationToken::new(), &*common::quiet())
        .await
        .unwrap();
    for r in &runs {
        assert!(r.error.is_none(), "{}: {:?}", r.stream, r.error);
    }
    let row = tokens.load("amo").await.unwrap().unwrap();
    assert!(row.tokens.refresh_token.unwrap().expose_secret().starts_with("def502003f8e1a7c"));

    let rows = store.leads("amo").await.unwrap();
    assert_eq!(rows.len() as u64, N, "every lead once, whatever the overlapping windows re-read");
    for i in [0u64, 2, 5, 17, 599] {
        let id = (mock::FIRST_ID + i).to_string();
        let l = rows.iter().find(|l| l.lead_id == id).unwrap();
        assert_eq!(l.amount.as_deref(), Some(mock::price_of(i).to_string().as_str()), "lead {i}");
        assert_eq!(l.currency.as_deref(), Some(mock::CURRENCY));
        assert_eq!(l.product.as_deref(), Some(mock::product_of(i)));
        let expected = match mock::status_of(i) {
            142 => "won",
            143 => "lost",
            _ => "open",
        };
        assert_eq!(l.stage_category, expected, "lead {i}");
        let discount = mock::discount_of(i).map(|d| d.parse::<okno_connector::rust_decimal::Decimal>().unwrap().normalize().to_string());
        assert_eq!(l.discount, discount, "lead {i}");
    }
    assert!(!store.stages("amo").await.unwrap().is_empty());

    // Webhooks: the token in the URL is the only credential amoCRM can carry.
    let state = state(&config, &store);
    let changed = mock::FIRST_ID + 7;
    let gone = mock::FIRST_ID + 8;
    let body = format!(
        "leads%5Bstatus%5D%5B0%5D%5Bid%5D={changed}&leads%5Bstatus%5D%5B0%5D%5Bstatus_id%5D=142\
         &leads%5Bdelete%5D%5B0%5D%5Bid%5D={gone}&account%5Bsubdomain%5D=okhvat"
    );
    let form = "application/x-www-form-urlencoded";
    assert_eq!(post(&state, "/hooks/amo/not-the-token", form, body.clone()).await, StatusCode::UNAUTHORIZED);
    assert_eq!(post(&state, "/hooks/amo", form, body.clone()).await, StatusCode::UNAUTHORIZED);
    assert_eq!(post(&state, &format!("/hooks/amo/{AMO_HOOK_TOKEN}"), form, body).await, StatusCode::OK);
    worker::drain_once(&config, &store, &fast_worker(), &CancellationToken::new()).await.unwrap();
    assert!(store.inbox_counts().await.unwrap().is_empty(), "the delivery was processed");
    let rows = store.leads("amo").await.unwrap();
    let deleted: Vec<String> = rows.iter().filter(|l| l.deleted_at.is_some()).map(|l| l.lead_id.clone()).collect();
    assert_eq!(deleted, vec![gone.to_string()]);
    let refetches: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/api/v4/leads")
        .filter_map(|r| r.url.query_pairs().find(|(k, _)| k == "filter[id][]").map(|(_, v)| v.into_owned()))
        .collect();
    assert_eq!(refetches, vec![changed.to_string()], "the changed lead was fetched again by id");
    server.verify().await;
});
