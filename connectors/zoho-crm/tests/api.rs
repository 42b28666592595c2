//! Connector-level tests: the Zoho CRM connector, built through its registry entry, against
//! wiremock servers serving the documented response shapes in `tests/fixtures/`. Tokens live in
//! the SDK's in-memory store, as they would in okno's database.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use okno_connector::oauth::memory::MemoryTokenStore;
use okno_connector::oauth::{Save, TokenStore};
use okno_connector::rust_decimal::Decimal;
use okno_connector::testkit::{drain, fixture as read_fixture, test_http_options};
use okno_connector::webhook::{VerifyError, WebhookEvent, WebhookRequest};
use okno_connector::{
    BuildContext, Connector, ConnectorError, Cursor, DeletedKind, ExposeSecret, Identity, Lead,
    LeadEntity, Page, PageRequest, Record, SecretString, SettingsError, StageCategory, TokenSet,
    TokenVault,
};
use serde_json::{json, Value};
use url::Url;
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const INSTANCE: &str = "zoho";
const ACCESS: &str = "1000.valid-access-token";
const REFRESH: &str = "1000.the-refresh-token";
const CLIENT_ID: &str = "1000.CLIENTID";
const CLIENT_SECRET: &str = "client-secret-value";
const HOOK_TOKEN: &str = "okno-7f3c2a91d4e8b6051c9e";
const NOTIFY_URL: &str = "https://okno.lernwerk-akademie.de/hooks/zoho";

// ---------------------------------------------------------------------------------------------
// helpers

fn fixture(name: &str) -> String {
    read_fixture(env!("CARGO_MANIFEST_DIR"), name)
}

fn fixture_json(name: &str) -> Value {
    serde_json::from_str(&fixture(name)).unwrap()
}

fn json_response(status: u16, body: impl Into<String>) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.into(), "application/json")
}

fn v8(p: &str) -> String {
    format!("/crm/v8{p}")
}

/// Settings with the accounts server on `accounts` (a mock, or nowhere).
fn settings_with(accounts: &str, extra: Value) -> Value {
    let mut v = json!({
        "data_centre": "eu",
        "accounts_url": accounts,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    });
    if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    v
}

fn token_set(access: &str, expires_in: chrono::Duration, api_domain: Option<String>) -> TokenSet {
    TokenSet {
        access_token: SecretString::from(access.to_string()),
        refresh_token: Some(SecretString::from(REFRESH.to_string())),
        expires_at: Some(Utc::now() + expires_in),
        api_domain,
    }
}

async fn store_with(tokens: Option<TokenSet>) -> Arc<MemoryTokenStore> {
    let store = Arc::new(MemoryTokenStore::default());
    if let Some(t) = tokens {
        store.save(INSTANCE, Save::Authorize, &t).await.unwrap();
    }
    store
}

/// A store holding a token valid for an hour.
async fn valid_store() -> Arc<MemoryTokenStore> {
    store_with(Some(token_set(ACCESS, chrono::Duration::hours(1), None))).await
}

fn try_build(
    base_url: Option<&str>,
    settings: Value,
    store: &Arc<MemoryTokenStore>,
) -> Result<Arc<dyn Connector>, Vec<SettingsError>> {
    let ctx = BuildContext {
        instance: INSTANCE.into(),
        settings,
        base_url: base_url.map(|u| Url::parse(u).unwrap()),
        http: test_http_options(),
        tokens: TokenVault::with_store(store.clone()),
    };
    (okno_zoho_crm::KIND.build)(ctx)
}

fn build(
    base_url: Option<&str>,
    settings: Value,
    store: &Arc<MemoryTokenStore>,
) -> Arc<dyn Connector> {
    match try_build(base_url, settings, store) {
        Ok(c) => c,
        Err(errs) => panic!("settings rejected: {errs:?}"),
    }
}

/// A connector calling `api` with a valid stored token; the accounts server is unreachable.
async fn connector(api: &MockServer, extra: Value) -> Arc<dyn Connector> {
    let store = valid_store().await;
    build(
        Some(&api.uri()),
        settings_with("http://127.0.0.1:9", extra),
        &store,
    )
}

fn jan_first() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap()
}

async fn fetch(
    c: &dyn Connector,
    stream: &str,
    cursor: Option<&Cursor>,
) -> Result<Page, ConnectorError> {
    c.fetch_page(PageRequest {
        stream,
        cursor,
        start: jan_first(),
    })
    .await
}

async fn received(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap()
}

fn on_path<'a>(reqs: &'a [Request], p: &str) -> Vec<&'a Request> {
    reqs.iter().filter(|r| r.url.path() == p).collect()
}

fn query(req: &Request) -> HashMap<String, String> {
    req.url.query_pairs().into_owned().collect()
}

fn header_of(req: &Request, name: &str) -> Option<String> {
    req.headers
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
}

fn form(req: &Request) -> HashMap<String, String> {
    url::form_urlencoded::parse(&req.body)
        .into_owned()
        .collect()
}

fn leads(records: &[Record]) -> Vec<&Lead> {
    records
        .iter()
        .filter_map(|r| match r {
            Record::Lead(l) => Some(l.as_ref()),
            _ => None,
        })
        .collect()
}

fn by_id<'a>(records: &'a [Record], id: &str) -> &'a Lead {
    leads(records)
        .into_iter()
        .find(|l| l.lead_id == id)
        .unwrap_or_else(|| panic!("no record {id}"))
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

async fn mount_fields(server: &MockServer, module: &str, name: &str) {
    Mock::given(method("GET"))
        .and(path(v8("/settings/fields")))
        .and(query_param("module", module))
        .respond_with(json_response(200, fixture(name)))
        .mount(server)
        .await;
}

async fn mount_org(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path(v8("/org")))
        .respond_with(json_response(200, fixture("org.json")))
        .mount(server)
        .await;
}

// ---------------------------------------------------------------------------------------------
// leads

#[tokio::test]
async fn leads_are_normalised_with_exact_decimals_and_the_converted_deal() {
    let server = MockServer::start().await;
    mount_fields(&server, "Leads", "fields_leads.json").await;
    Mock::given(method("GET"))
        .and(path(v8("/Leads")))
        .and(query_param("page", "1"))
        .respond_with(json_response(200, fixture("leads_page1.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(v8("/Leads")))
        .and(query_param("page", "2"))
        .respond_with(json_response(200, fixture("leads_page2.json")))
        .expect(1)
        .mount(&server)
        .await;
    let c = connector(&server, json!({})).await;
    let (records, cursor) = drain(c.as_ref(), "leads", None, jan_first()).await.unwrap();

    assert_eq!(records.len(), 5);
    let lena = by_id(&records, "6421835000001803011");
    assert_eq!(lena.entity, LeadEntity::Lead);
    assert_eq!(lena.name.as_deref(), Some("Lena Hoffmann"));
    assert_eq!(lena.stage_name.as_deref(), Some("Contacted"));
    assert_eq!(lena.stage_category, StageCategory::Open);
    assert_eq!(lena.owner_id.as_deref(), Some("6421835000000412007"));
    assert_eq!(lena.lead_source.as_deref(), Some("Advertisement"));
    assert_eq!(lena.currency.unwrap().as_str(), "EUR");
    assert_eq!(lena.exchange_rate, Some(dec("1")));
    assert_eq!(lena.created_at, utc("2025-03-03T08:12:44Z"));
    assert_eq!(lena.updated_at, utc("2025-03-03T10:02:10Z"));
    assert_eq!(lena.amount, None, "a lead has no deal value");
    assert_eq!(lena.converted_deal_id, None);
    assert_eq!(lena.closed_at, None);

    let emily = by_id(&records, "6421835000001804003");
    assert_eq!(emily.currency.unwrap().as_str(), "USD");
    assert_eq!(emily.exchange_rate, Some(dec("1.085")));
    assert_eq!(emily.exchange_rate.unwrap().to_string(), "1.085");

    let daniel = by_id(&records, "6421835000001798044");
    assert_eq!(
        daniel.converted_deal_id.as_deref(),
        Some("6421835000001812009"),
        "from $converted_detail.deal"
    );
    // raw is the object exactly as Zoho sent it, whitespace included.
    let page2 = fixture("leads_page2.json");
    assert!(
        page2.contains(daniel.raw.get()),
        "raw must be a verbatim slice"
    );
    assert!(daniel.raw.get().contains("\"Annual_Revenue\": 3500000"));

    // The last Modified_Time seen (2025-03-12T10:05:55+01:00) minus one second of overlap.
    assert_eq!(
        cursor,
        Some(Cursor(json!({"since": "2025-03-12T09:05:54+00:00"})))
    );

    let reqs = received(&server).await;
    let lists = on_path(&reqs, &v8("/Leads"));
    assert_eq!(lists.len(), 2);
    for r in &lists {
        let q = query(r);
        assert_eq!(q["per_page"], "200");
        assert_eq!(q["sort_by"], "Modified_Time");
        assert_eq!(q["sort_order"], "asc");
        assert_eq!(q["converted"], "both");
        let fields: Vec<&str> = q["fields"].split(',').collect();
        for f in [
            "Full_Name",
            "Company",
            "Lead_Status",
            "Lead_Source",
            "Owner",
            "Created_Time",
            "Modified_Time",
            "$converted_detail",
            "Currency",
            "Exchange_Rate",
            "Converted_Deal",
            "GCLID",
        ] {
            assert!(fields.contains(&f), "{f} missing from {fields:?}");
        }
        assert!(!fields.contains(&"UTM_Source"), "not configured");
        assert!(fields.len() <= 50);
        assert_eq!(
            header_of(r, "authorization").as_deref(),
            Some(format!("Zoho-oauthtoken {ACCESS}").as_str())
        );
        assert_eq!(
            header_of(r, "if-modified-since").as_deref(),
            Some("2025-01-01T00:00:00+00:00"),
            "the first run starts at start_date"
        );
    }
    // Metadata is read once and cached.
    assert_eq!(on_path(&reqs, &v8("/settings/fields")).len(), 1);
}

/// Page 10 is as far as `page` goes (2,000 records); the 11th request must use the token.
#[tokio::test]
async fn leads_switch_from_page_to_page_token_after_page_ten() {
    let server = MockServer::start().await;
    mount_fields(&server, "Leads", "fields_leads.json").await;
    let page1 = fixture_json("leads_page1.json");
    for n in 1..=10u32 {
        let mut body = page1.clone();
        body["info"]["page"] = json!(n);
        body["info"]["more_records"] = json!(true);
        body["info"]["next_page_token"] = json!(if n == 10 { "tok-after-2000" } else { "unused" });
        Mock::given(method("GET"))
            .and(path(v8("/Leads")))
            .and(query_param("page", n.to_string()))
            .and(query_param_is_missing("page_token"))
            .respond_with(json_response(200, body.to_string()))
            .expect(1)
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path(v8("/Leads")))
        .and(query_param("page_token", "tok-after-2000"))
        .and(query_param_is_missing("page"))
        .respond_with(json_response(200, fixture("leads_page2.json")))
        .expect(1)
        .mount(&server)
        .await;
    let c = connector(&server, json!({})).await;

    let mut cursor: Option<Cursor> = None;
    let mut cursors = Vec::new();
    let mut count = 0;
    for _ in 0..20 {
        let page = fetch(c.as_ref(), "leads", cursor.as_ref()).await.unwrap();
        count += page.records.len();
        cursor = page.next;
        cursors.push(cursor.clone());
        if !page.has_more {
            break;
        }
    }
    assert_eq!(count, 32, "ten pages of three, then two");
    assert_eq!(cursors.len(), 11);
    // After page 9 the cursor asks for page 10; after page 10 for the token.
    assert_eq!(cursors[8].as_ref().unwrap().0["page"], json!(10));
    let after10 = &cursors[9].as_ref().unwrap().0;
    assert_eq!(after10["page_token"], json!("tok-after-2000"));
    assert!(after10.get("page").is_none(), "{after10}");
    assert_eq!(after10["since"], json!("2025-01-01T00:00:00+00:00"));
    assert_eq!(after10["max_modified"], json!("2025-03-07T13:20:09+00:00"));
    assert_eq!(
        cursor,
        Some(Cursor(json!({"since": "2025-03-12T09:05:54+00:00"})))
    );

    let reqs = received(&server).await;
    let lists = on_path(&reqs, &v8("/Leads"));
    assert_eq!(lists.len(), 11);
    let q = query(lists[10]);
    assert_eq!(
        q.get("page_token").map(String::as_str),
        Some("tok-after-2000")
    );
    assert!(!q.contains_key("page"), "{q:?}");
    // Every page of the walk carries the same If-Modified-Since (tokens are bound to it).
    for r in &lists {
        assert_eq!(
            header_of(r, "if-modified-since").as_deref(),
            Some("2025-01-01T00:00:00+00:00")
        );
    }
}

#[tokio::test]
async fn resume_sends_if_modified_since_and_304_is_nothing_new() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(v8("/Leads")))
        .and(header("If-Modified-Since", "2025-03-12T09:05:54+00:00"))
        .and(query_param("page", "1"))
        .respond_with(ResponseTemplate::new(304))
        .expect(1)
        .mount(&server)
        .await;
    let c = connector(&server, json!({})).await;
    let stored = Cursor(json!({"since": "2025-03-12T09:05:54+00:00"}));
    let page = fetch(c.as_ref(), "leads", Some(&stored)).await.unwrap();
    assert!(page.records.is_empty());
    assert!(!page.has_more);
    assert_eq!(page.next, Some(stored), "nothing new: the cursor stays");
}

#[tokio::test]
async fn no_content_204_ends_the_walk_empty() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(v8("/Deals")))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let c = connector(&server, json!({})).await;
    let (records, cursor) = drain(c.as_ref(), "deals", None, jan_first()).await.unwrap();
    assert!(records.is_empty());
    assert_eq!(
        cursor,
        Some(Cursor(json!({"since": "2025-01-01T00:00:00+00:00"})))
    );
    let reqs = received(&server).await;
    let deals = on_path(&reqs, &v8("/Deals"));
    assert!(
        !query(deals[0]).contains_key("converted"),
        "Deals have no converted filter"
    );
}

#[tokio::test]
async fn an_expired_page_token_restarts_from_the_latest_modification_seen() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(v8("/Leads")))
        .and(query_param("page_token", "stale-token"))
        .respond_with(json_response(
            400,
            r#"{"code":"EXPIRED_VALUE","details":{"param_name":"page_token"},"message":"the page token has expired","status":"error"}"#,
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(v8("/Leads")))
        .and(query_param("page", "1"))
        .and(header("If-Modified-Since", "2025-03-07T13:20:08+00:00"))
        .respond_with(json_response(200, fixture("leads_page2.json")))
        .expect(1)
        .mount(&server)
        .await;
    let c = connector(&server, json!({})).await;
    let stored = Cursor(json!({
        "since": "2025-01-01T00:00:00+00:00",
        "page_token": "stale-token",
        "max_modified": "2025-03-07T13:20:09+00:00",
    }));
    let page = fetch(c.as_ref(), "leads", Some(&stored)).await.unwrap();
    assert_eq!(page.records.len(), 2);
    assert!(!page.has_more);
    assert_eq!(
        page.next,
        Some(Cursor(json!({"since": "2025-03-12T09:05:54+00:00"})))
    );
}

#[tokio::test]
async fn a_foreign_cursor_is_invalid_and_sends_nothing() {
    let server = MockServer::start().await;
    let c = connector(&server, json!({})).await;
    let bad = Cursor(json!({"since": "yesterday"}));
    let err = fetch(c.as_ref(), "leads", Some(&bad)).await.unwrap_err();
    assert_eq!(err.class(), "invalid");
    assert!(err.to_string().contains("--full"), "{err}");
    let err = fetch(c.as_ref(), "tickets", None).await.unwrap_err();
    assert_eq!(err.class(), "invalid");
    assert!(received(&server).await.is_empty());
}

// ---------------------------------------------------------------------------------------------
// deals

#[tokio::test]
async fn deals_are_won_or_lost_by_the_stage_forecast_type() {
    let server = MockServer::start().await;
    mount_fields(&server, "Deals", "fields_deals.json").await;
    mount_org(&server).await;
    Mock::given(method("GET"))
        .and(path(v8("/Deals")))
        .respond_with(json_response(200, fixture("deals.json")))
        .expect(1)
        .mount(&server)
        .await;
    // A configured name that contradicts Zoho's metadata: the metadata wins.
    let c = connector(&server, json!({"won_stages": ["Proposal/Price Quote"]})).await;
    let (records, _) = drain(c.as_ref(), "deals", None, jan_first()).await.unwrap();
    assert_eq!(records.len(), 3);

    let lost = by_id(&records, "6421835000001779015");
    assert_eq!(lost.entity, LeadEntity::Deal);
    assert_eq!(lost.stage_name.as_deref(), Some("Closed Lost"));
    assert_eq!(lost.stage_category, StageCategory::Lost);
    assert_eq!(lost.amount, Some(dec("5950")));
    assert_eq!(lost.currency.unwrap().as_str(), "EUR");
    // Midnight of 2025-03-11 in Europe/Berlin (the org's zone, CET) is 23:00 UTC the day before.
    assert_eq!(lost.closed_at, Some(utc("2025-03-10T23:00:00Z")));

    let won = by_id(&records, "6421835000001812009");
    assert_eq!(
        won.name.as_deref(),
        Some("Brooks & Partners - Data Analytics Team Licence")
    );
    assert_eq!(won.stage_category, StageCategory::Won);
    assert_eq!(won.amount, Some(dec("4800")));
    assert_eq!(won.currency.unwrap().as_str(), "USD");
    assert_eq!(won.exchange_rate.unwrap().to_string(), "1.085");
    assert_eq!(won.closed_at, Some(utc("2025-03-13T23:00:00Z")));
    assert_eq!(won.owner_id.as_deref(), Some("6421835000000412007"));
    assert_eq!(won.lead_source.as_deref(), Some("Advertisement"));
    assert_eq!(won.pipeline_id.as_deref(), Some("Standard (Standard)"));
    assert_eq!(won.stage_id, None);
    assert_eq!(won.converted_deal_id, None);

    let open = by_id(&records, "6421835000001820001");
    assert_eq!(
        open.stage_category,
        StageCategory::Open,
        "metadata says Open"
    );
    assert_eq!(open.amount, Some(dec("12500")));
    assert_eq!(open.closed_at, None, "only won and lost deals are closed");

    let reqs = received(&server).await;
    let q = query(on_path(&reqs, &v8("/Deals"))[0]);
    let fields: Vec<&str> = q["fields"].split(',').collect();
    for f in [
        "Deal_Name",
        "Stage",
        "Amount",
        "Currency",
        "Exchange_Rate",
        "Closing_Date",
        "Pipeline",
        "Owner",
        "Modified_Time",
    ] {
        assert!(fields.contains(&f), "{f} missing from {fields:?}");
    }
    assert!(
        !fields.contains(&"GCLID"),
        "Deals metadata does not list it"
    );
}

#[tokio::test]
async fn without_metadata_the_configured_stage_names_decide_and_closing_dates_are_utc() {
    let server = MockServer::start().await;
    // No settings/fields and no org mock: both answer 404 and are done without.
    Mock::given(method("GET"))
        .and(path(v8("/Deals")))
        .respond_with(json_response(200, fixture("deals.json")))
        .mount(&server)
        .await;
    let c = connector(
        &server,
        json!({"won_stages": ["Proposal/Price Quote"], "lost_stages": ["closed lost"]}),
    )
    .await;
    let page = fetch(c.as_ref(), "deals", None).await.unwrap();
    let records = page.records;
    assert_eq!(
        by_id(&records, "6421835000001820001").stage_category,
        StageCategory::Won
    );
    assert_eq!(
        by_id(&records, "6421835000001820001").closed_at,
        Some(utc("2025-04-30T00:00:00Z")),
        "no org time zone: UTC midnight"
    );
    assert_eq!(
        by_id(&records, "6421835000001779015").stage_category,
        StageCategory::Lost
    );
    assert_eq!(
        by_id(&records, "6421835000001812009").stage_category,
        StageCategory::Open,
        "Closed Won is not in the configured won_stages"
    );
}

#[tokio::test]
async fn fetch_ids_chunks_by_100_and_fills_a_missing_currency_from_the_org() {
    let server = MockServer::start().await;
    mount_org(&server).await;
    // Written out by hand: `json!` would pass 99.90 through an f64.
    let body = r#"{"data": [{
        "id": "6421835000001900001",
        "Deal_Name": "No currency field",
        "Stage": "Qualification",
        "Amount": 99.90,
        "Created_Time": "2025-03-20T10:00:00+01:00",
        "Modified_Time": "2025-03-20T10:00:00+01:00"
    }]}"#;
    Mock::given(method("GET"))
        .and(path(v8("/Deals")))
        .respond_with(json_response(200, body))
        .expect(2)
        .mount(&server)
        .await;
    let c = connector(&server, json!({})).await;
    let ids: Vec<String> = (0..150).map(|i| format!("64218350000019{i:05}")).collect();
    let page = c.fetch_ids("deals", &ids).await.unwrap();
    assert_eq!(page.records.len(), 2, "one record per answer");
    let deal = by_id(&page.records, "6421835000001900001");
    assert_eq!(
        deal.currency.unwrap().as_str(),
        "EUR",
        "the org's home currency"
    );
    assert_eq!(deal.amount.unwrap().to_string(), "99.90");

    let reqs = received(&server).await;
    let lists = on_path(&reqs, &v8("/Deals"));
    let first: Vec<String> = query(lists[0])["ids"]
        .split(',')
        .map(String::from)
        .collect();
    let second: Vec<String> = query(lists[1])["ids"]
        .split(',')
        .map(String::from)
        .collect();
    assert_eq!(first.len(), 100);
    assert_eq!(second.len(), 50);
    assert_eq!([first, second].concat(), ids);
    assert!(query(lists[0]).contains_key("fields"));

    let err = c.fetch_ids("users", &ids).await.unwrap_err();
    assert_eq!(err.class(), "invalid");
}

#[tokio::test]
async fn fetch_ids_of_leads_includes_converted_ones() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(v8("/Leads")))
        .and(query_param(
            "ids",
            "6421835000001798044,6421835000001805019",
        ))
        .and(query_param("converted", "both"))
        .respond_with(json_response(200, fixture("leads_page2.json")))
        .expect(1)
        .mount(&server)
        .await;
    let c = connector(&server, json!({})).await;
    let ids = vec![
        "6421835000001798044".to_string(),
        "6421835000001805019".to_string(),
    ];
    let page = c.fetch_ids("leads", &ids).await.unwrap();
    assert_eq!(leads(&page.records).len(), 2);
    assert!(!page.has_more);
}

// ---------------------------------------------------------------------------------------------
// deletions and users

#[tokio::test]
async fn deleted_walks_leads_then_deals_with_a_since_per_module() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(v8("/Leads/deleted")))
        .and(query_param("type", "all"))
        .and(query_param("page", "1"))
        .and(header("If-Modified-Since", "2025-01-01T00:00:00+00:00"))
        .respond_with(json_response(200, fixture("deleted_leads.json")))
        .expect(1)
        .mount(&server)
        .await;
    let one_deal = json!({"data": [{"deleted_by": null, "id": "6421835000001779015", "display_name": null,
        "type": "permanent", "created_by": null, "deleted_time": "2025-03-15T08:00:00+01:00"}],
        "info": {"per_page": 200, "count": 1, "page": 1, "more_records": false}});
    Mock::given(method("GET"))
        .and(path(v8("/Deals/deleted")))
        .and(query_param("type", "all"))
        .respond_with(json_response(200, one_deal.to_string()))
        .expect(1)
        .mount(&server)
        .await;
    let c = connector(&server, json!({})).await;
    let (records, cursor) = drain(c.as_ref(), "deleted", None, jan_first())
        .await
        .unwrap();
    let deleted: Vec<_> = records
        .iter()
        .map(|r| match r {
            Record::Deleted(d) => d,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(deleted.len(), 3);
    assert_eq!(deleted[0].id, "6421835000001801013");
    assert_eq!(deleted[0].kind, DeletedKind::Lead(LeadEntity::Lead));
    assert_eq!(deleted[0].deleted_at, utc("2025-03-06T11:15:00Z"));
    assert_eq!(
        deleted[1].id, "6421835000001790007",
        "permanent deletions too"
    );
    assert_eq!(deleted[2].kind, DeletedKind::Lead(LeadEntity::Deal));
    assert_eq!(deleted[2].deleted_at, utc("2025-03-15T07:00:00Z"));
    assert_eq!(
        cursor,
        Some(Cursor(json!({"since": {
            "Leads": "2025-03-06T11:14:59+00:00",
            "Deals": "2025-03-15T06:59:59+00:00"
        }})))
    );

    // The next run asks each module from its own time; nothing new is 204.
    let server2 = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(v8("/Leads/deleted")))
        .and(header("If-Modified-Since", "2025-03-06T11:14:59+00:00"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server2)
        .await;
    Mock::given(method("GET"))
        .and(path(v8("/Deals/deleted")))
        .and(header("If-Modified-Since", "2025-03-15T06:59:59+00:00"))
        .respond_with(ResponseTemplate::new(304))
        .expect(1)
        .mount(&server2)
        .await;
    let c = connector(&server2, json!({})).await;
    let (records, again) = drain(c.as_ref(), "deleted", cursor.clone(), jan_first())
        .await
        .unwrap();
    assert!(records.is_empty());
    assert_eq!(again, cursor);
}

#[tokio::test]
async fn users_become_identities() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(v8("/users")))
        .and(query_param("type", "AllUsers"))
        .and(query_param("page", "1"))
        .and(query_param("per_page", "200"))
        .respond_with(json_response(200, fixture("users.json")))
        .expect(1)
        .mount(&server)
        .await;
    let c = connector(&server, json!({})).await;
    let (records, cursor) = drain(c.as_ref(), "users", None, jan_first()).await.unwrap();
    let ids: Vec<&Identity> = records
        .iter()
        .map(|r| match r {
            Record::Identity(i) => i,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(ids.len(), 3);
    assert_eq!(ids[0].user_id, "6421835000000376001");
    assert_eq!(ids[0].name.as_deref(), Some("Katrin Vogel"));
    assert_eq!(
        ids[0].email.as_deref(),
        Some("katrin.vogel@lernwerk-akademie.de")
    );
    assert_eq!(ids[0].role.as_deref(), Some("CEO"));
    assert!(ids[0].active);
    assert_eq!(
        ids[0].updated_at,
        utc("2025-01-20T07:31:02Z"),
        "from Modified_Time"
    );
    assert!(ids[1].active);
    assert!(!ids[2].active, "status disabled");
    assert_eq!(cursor, None, "read whole every run");
}

#[tokio::test]
async fn user_emails_are_lower_cased_and_pages_follow_more_records() {
    let server = MockServer::start().await;
    let mut page1 = fixture_json("users.json");
    page1["users"][0]["email"] = json!("  Katrin.Vogel@Lernwerk-Akademie.DE ");
    page1["info"]["more_records"] = json!(true);
    Mock::given(method("GET"))
        .and(path(v8("/users")))
        .and(query_param("page", "1"))
        .respond_with(json_response(200, page1.to_string()))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(v8("/users")))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let c = connector(&server, json!({})).await;
    let first = fetch(c.as_ref(), "users", None).await.unwrap();
    assert!(first.has_more);
    assert_eq!(first.next, Some(Cursor(json!({"page": 2}))));
    let Record::Identity(k) = &first.records[0] else {
        panic!()
    };
    assert_eq!(
        k.email.as_deref(),
        Some("katrin.vogel@lernwerk-akademie.de")
    );
    let second = fetch(c.as_ref(), "users", first.next.as_ref())
        .await
        .unwrap();
    assert!(second.records.is_empty());
    assert!(!second.has_more);
    assert_eq!(second.next, None);
}

// ---------------------------------------------------------------------------------------------
// HTTP behaviour

#[tokio::test]
async fn a_429_is_retried_after_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(v8("/Deals")))
        .respond_with(
            json_response(429, fixture("error_too_many_requests.json"))
                .insert_header("Retry-After", "1"),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(v8("/Deals")))
        .respond_with(json_response(200, fixture("deals.json")))
        .with_priority(2)
        .mount(&server)
        .await;
    let c = connector(&server, json!({})).await;
    let started = std::time::Instant::now();
    let page = fetch(c.as_ref(), "deals", None).await.unwrap();
    assert_eq!(page.records.len(), 3);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured"
    );
    assert_eq!(on_path(&received(&server).await, &v8("/Deals")).len(), 2);
}

#[tokio::test]
async fn check_describes_the_org() {
    let server = MockServer::start().await;
    mount_org(&server).await;
    let c = connector(&server, json!({})).await;
    let text = c.check().await.unwrap();
    assert!(
        text.contains("Zoho CRM org Lernwerk Akademie GmbH"),
        "{text}"
    );
    assert!(text.contains("currency EUR"), "{text}");
    assert!(text.contains("Europe/Berlin"), "{text}");
    assert!(text.contains(&server.uri()), "{text}");
}

// ---------------------------------------------------------------------------------------------
// OAuth

/// Answers the token endpoint with `body`, its `api_domain` replaced by `api_domain`.
fn token_answer(name: &str, api_domain: &str) -> ResponseTemplate {
    let mut body = fixture_json(name);
    body["api_domain"] = json!(api_domain);
    json_response(200, body.to_string())
}

fn refresh_form_matches(req: &Request) -> bool {
    let f = form(req);
    f.get("grant_type").map(String::as_str) == Some("refresh_token")
        && f.get("client_id").map(String::as_str) == Some(CLIENT_ID)
        && f.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET)
        && f.get("refresh_token").map(String::as_str) == Some(REFRESH)
}

async fn expired_store(api_domain: Option<String>) -> Arc<MemoryTokenStore> {
    store_with(Some(token_set(
        "1000.expired",
        chrono::Duration::minutes(-5),
        api_domain,
    )))
    .await
}

#[tokio::test]
async fn an_expired_token_is_refreshed_and_the_api_domain_it_names_is_called() {
    let accounts = MockServer::start().await;
    let api = MockServer::start().await;
    let new_access = fixture_json("token_refresh.json")["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    Mock::given(method("POST"))
        .and(path("/oauth/v2/token"))
        .and(refresh_form_matches)
        .respond_with(token_answer("token_refresh.json", &api.uri()))
        .expect(1)
        .mount(&accounts)
        .await;
    Mock::given(method("GET"))
        .and(path(v8("/users")))
        .and(header(
            "Authorization",
            format!("Zoho-oauthtoken {new_access}").as_str(),
        ))
        .respond_with(json_response(200, fixture("users.json")))
        .expect(1)
        .mount(&api)
        .await;
    // The stored pair points at a dead API domain: only the refreshed one can work.
    let store = expired_store(Some("http://127.0.0.1:9".into())).await;
    let c = build(None, settings_with(&accounts.uri(), json!({})), &store);
    let page = fetch(c.as_ref(), "users", None).await.unwrap();
    assert_eq!(page.records.len(), 3);

    let stored = store.load(INSTANCE).await.unwrap().unwrap();
    assert_eq!(stored.tokens.access_token.expose_secret(), new_access);
    assert_eq!(
        stored.tokens.refresh_token.unwrap().expose_secret(),
        REFRESH,
        "Zoho sends no new refresh token; the stored one is kept"
    );
    assert_eq!(
        stored.tokens.api_domain.as_deref(),
        Some(api.uri().as_str())
    );
    let expires = stored.tokens.expires_at.unwrap();
    assert!(
        expires > Utc::now() + chrono::Duration::minutes(55),
        "{expires}"
    );
    let token_req = &received(&accounts).await[0];
    assert_eq!(
        header_of(token_req, "content-type").as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert!(
        token_req.url.query().is_none(),
        "secrets go in the body, not the URL"
    );
}

#[tokio::test]
async fn token_errors_in_http_200_bodies_are_classified() {
    for (body, class, says) in [
        (
            r#"{"error":"invalid_client"}"#.to_string(),
            "auth",
            "client_id and client_secret",
        ),
        (
            fixture("token_error_invalid_code.json"),
            "auth",
            "okno auth zoho_crm zoho",
        ),
        (
            fixture("token_error_access_denied.json"),
            "rate_limited",
            "10 access tokens per refresh token",
        ),
    ] {
        let accounts = MockServer::start().await;
        let api = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/oauth/v2/token"))
            .respond_with(json_response(200, body.clone()))
            .expect(1)
            .mount(&accounts)
            .await;
        let store = expired_store(None).await;
        let c = build(
            Some(&api.uri()),
            settings_with(&accounts.uri(), json!({})),
            &store,
        );
        let err = fetch(c.as_ref(), "users", None).await.unwrap_err();
        assert_eq!(err.class(), class, "{body}: {err}");
        assert!(err.to_string().contains(says), "{body}: {err}");
        assert!(
            received(&api).await.is_empty(),
            "no API call without a token"
        );
        let stored = store.load(INSTANCE).await.unwrap().unwrap();
        assert_eq!(stored.tokens.access_token.expose_secret(), "1000.expired");
    }
}

#[tokio::test]
async fn concurrent_fetches_with_an_expired_token_refresh_once() {
    let accounts = MockServer::start().await;
    let api = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/v2/token"))
        .and(refresh_form_matches)
        .respond_with(
            token_answer("token_refresh.json", &api.uri()).set_delay(Duration::from_millis(200)),
        )
        .expect(1)
        .mount(&accounts)
        .await;
    Mock::given(method("GET"))
        .and(path(v8("/users")))
        .respond_with(json_response(200, fixture("users.json")))
        .expect(6)
        .mount(&api)
        .await;
    let store = expired_store(None).await;
    // Two connector instances stand for two processes sharing the store; three tasks each.
    let a = build(None, settings_with(&accounts.uri(), json!({})), &store);
    let b = build(None, settings_with(&accounts.uri(), json!({})), &store);
    let mut tasks = Vec::new();
    for c in [&a, &b, &a, &b, &a, &b] {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            fetch(c.as_ref(), "users", None)
                .await
                .map(|p| p.records.len())
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), 3);
    }
    assert_eq!(
        received(&accounts).await.len(),
        1,
        "exactly one token request"
    );
}

#[tokio::test]
async fn an_invalid_token_401_refreshes_once_and_retries() {
    let accounts = MockServer::start().await;
    let api = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/v2/token"))
        .and(refresh_form_matches)
        .respond_with(token_answer("token_refresh.json", &api.uri()))
        .expect(1)
        .mount(&accounts)
        .await;
    Mock::given(method("GET"))
        .and(header(
            "Authorization",
            format!("Zoho-oauthtoken {ACCESS}").as_str(),
        ))
        .respond_with(json_response(401, fixture("error_invalid_token.json")))
        .mount(&api)
        .await;
    Mock::given(method("GET"))
        .and(path(v8("/users")))
        .and(header(
            "Authorization",
            format!(
                "Zoho-oauthtoken {}",
                fixture_json("token_refresh.json")["access_token"]
                    .as_str()
                    .unwrap()
            )
            .as_str(),
        ))
        .respond_with(json_response(200, fixture("users.json")))
        .expect(1)
        .mount(&api)
        .await;
    // A token that looks valid for an hour but was revoked (or pushed out by a 16th token).
    let store = store_with(Some(token_set(
        ACCESS,
        chrono::Duration::hours(1),
        Some(api.uri()),
    )))
    .await;
    let c = build(None, settings_with(&accounts.uri(), json!({})), &store);
    let page = fetch(c.as_ref(), "users", None).await.unwrap();
    assert_eq!(page.records.len(), 3);
    let users = on_path(&received(&api).await, &v8("/users")).len();
    assert_eq!(users, 2, "the refused call and its one retry");
}

#[tokio::test]
async fn a_second_401_after_the_refresh_is_an_auth_error_without_another_refresh() {
    let accounts = MockServer::start().await;
    let api = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/v2/token"))
        .respond_with(token_answer("token_refresh.json", &api.uri()))
        .expect(1)
        .mount(&accounts)
        .await;
    Mock::given(method("GET"))
        .respond_with(json_response(401, fixture("error_invalid_token.json")))
        .mount(&api)
        .await;
    let store = store_with(Some(token_set(
        ACCESS,
        chrono::Duration::hours(1),
        Some(api.uri()),
    )))
    .await;
    let c = build(None, settings_with(&accounts.uri(), json!({})), &store);
    let err = fetch(c.as_ref(), "users", None).await.unwrap_err();
    assert_eq!(err.class(), "auth");
    assert!(err.to_string().contains("INVALID_TOKEN"), "{err}");
    assert_eq!(received(&api).await.len(), 2);
}

#[tokio::test]
async fn authorize_exchanges_the_grant_code_and_stores_the_pair() {
    let accounts = MockServer::start().await;
    let code_answer = fixture_json("token_code.json");
    Mock::given(method("POST"))
        .and(path("/oauth/v2/token"))
        .and(|req: &Request| {
            let f = form(req);
            f.get("grant_type").map(String::as_str) == Some("authorization_code")
                && f.get("code").map(String::as_str) == Some("1000.grant-code")
                && f.get("client_id").map(String::as_str) == Some(CLIENT_ID)
                && f.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET)
                && f.get("redirect_uri").map(String::as_str)
                    == Some("https://okno.example.com/oauth/zoho")
        })
        .respond_with(json_response(200, fixture("token_code.json")))
        .expect(1)
        .mount(&accounts)
        .await;
    let store = store_with(None).await;
    let c = build(
        None,
        settings_with(
            &accounts.uri(),
            json!({"redirect_uri": "https://okno.example.com/oauth/zoho"}),
        ),
        &store,
    );
    let text = c.authorize(" 1000.grant-code\n").await.unwrap();
    assert!(text.contains("https://www.zohoapis.eu"), "{text}");
    let stored = store.load(INSTANCE).await.unwrap().unwrap();
    assert_eq!(
        stored.tokens.access_token.expose_secret(),
        code_answer["access_token"].as_str().unwrap()
    );
    assert_eq!(
        stored.tokens.refresh_token.unwrap().expose_secret(),
        code_answer["refresh_token"].as_str().unwrap()
    );
    assert_eq!(
        stored.tokens.api_domain.as_deref(),
        Some("https://www.zohoapis.eu")
    );

    // Without redirect_uri (Self Client) the form carries none; an expired code is explained.
    let accounts = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/v2/token"))
        .and(|req: &Request| !form(req).contains_key("redirect_uri"))
        .respond_with(json_response(200, fixture("token_error_invalid_code.json")))
        .expect(1)
        .mount(&accounts)
        .await;
    let c = build(None, settings_with(&accounts.uri(), json!({})), &store);
    let err = c.authorize("1000.used-code").await.unwrap_err();
    assert_eq!(err.class(), "auth");
    assert!(err.to_string().contains("invalid_code"), "{err}");
}

#[tokio::test]
async fn no_stored_tokens_says_how_to_authorise() {
    let api = MockServer::start().await;
    let store = store_with(None).await;
    let c = build(
        Some(&api.uri()),
        settings_with("http://127.0.0.1:9", json!({})),
        &store,
    );
    let err = fetch(c.as_ref(), "leads", None).await.unwrap_err();
    assert_eq!(err.class(), "auth");
    assert!(
        err.to_string().contains("okno auth zoho_crm zoho --code"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// notification channel

fn hook_settings() -> Value {
    json!({"notify_url": NOTIFY_URL, "webhook_token": HOOK_TOKEN})
}

/// Echoes the requested expiry (or `override_expiry`) in Zoho's subscribe answer.
fn subscribe_answer(
    status: u16,
    override_expiry: Option<DateTime<Utc>>,
) -> impl Fn(&Request) -> ResponseTemplate + Send + Sync {
    move |req: &Request| {
        let sent: Value = serde_json::from_slice(&req.body).unwrap();
        let expiry = match override_expiry {
            Some(t) => t.to_rfc3339(),
            None => sent["watch"][0]["channel_expiry"]
                .as_str()
                .unwrap()
                .to_string(),
        };
        let mut body = fixture_json("watch_subscribe_response.json");
        for ev in body["watch"][0]["details"]["events"]
            .as_array_mut()
            .unwrap()
        {
            ev["channel_expiry"] = json!(expiry);
            ev["channel_id"] = sent["watch"][0]["channel_id"].clone();
        }
        json_response(status, body.to_string())
    }
}

/// Zoho's channel list with our channel id, URL and token, expiring at `expiry`.
fn listed(expiry: DateTime<Utc>) -> String {
    let mut body = fixture_json("watch_list.json");
    for w in body["watch"].as_array_mut().unwrap() {
        w["channel_id"] = json!(okno_zoho_crm::channel_id(INSTANCE).to_string());
        w["channel_expiry"] = json!(expiry.to_rfc3339());
        w["notify_url"] = json!(NOTIFY_URL);
    }
    body.to_string()
}

#[tokio::test]
async fn maintain_subscribes_a_channel_when_none_exists() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(v8("/actions/watch")))
        // Another tool's channel (the fixture's id) is not ours.
        .respond_with(json_response(200, fixture("watch_list.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(v8("/actions/watch")))
        .respond_with(subscribe_answer(201, None))
        .expect(1)
        .mount(&server)
        .await;
    assert_ne!(okno_zoho_crm::channel_id(INSTANCE), 1740000000001);
    let c = connector(&server, hook_settings()).await;
    let before = Utc::now();
    let done = c.maintain().await.unwrap().expect("a description");
    assert!(
        done.starts_with("subscribed Zoho notification channel"),
        "{done}"
    );

    let reqs = received(&server).await;
    let post = reqs.iter().find(|r| r.method.as_str() == "POST").unwrap();
    let body: Value = serde_json::from_slice(&post.body).unwrap();
    let w = &body["watch"][0];
    assert_eq!(w["events"], json!(["Leads.all", "Deals.all"]));
    assert_eq!(w["token"], json!(HOOK_TOKEN));
    assert_eq!(w["notify_url"], json!(NOTIFY_URL));
    assert_eq!(w["notify_on_related_action"], json!(false));
    assert_eq!(w["channel_id"], json!(okno_zoho_crm::channel_id(INSTANCE)));
    let expiry = utc(w["channel_expiry"].as_str().unwrap());
    assert!(expiry > before + chrono::Duration::days(6), "{expiry}");
    assert!(
        expiry < before + chrono::Duration::days(7),
        "beyond a week Zoho grants an hour: {expiry}"
    );
    assert_eq!(
        header_of(post, "authorization").as_deref(),
        Some(format!("Zoho-oauthtoken {ACCESS}").as_str())
    );
}

#[tokio::test]
async fn maintain_does_nothing_while_the_channel_has_days_left() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(v8("/actions/watch")))
        .respond_with(json_response(
            200,
            listed(Utc::now() + chrono::Duration::days(5)),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(subscribe_answer(201, None))
        .expect(0)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .respond_with(subscribe_answer(200, None))
        .expect(0)
        .mount(&server)
        .await;
    let c = connector(&server, hook_settings()).await;
    assert_eq!(c.maintain().await.unwrap(), None);
}

#[tokio::test]
async fn maintain_renews_a_channel_expiring_within_a_day_with_patch() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(v8("/actions/watch")))
        .respond_with(json_response(
            200,
            listed(Utc::now() + chrono::Duration::hours(12)),
        ))
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(v8("/actions/watch")))
        .respond_with(subscribe_answer(200, None))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(subscribe_answer(201, None))
        .expect(0)
        .mount(&server)
        .await;
    let c = connector(&server, hook_settings()).await;
    let done = c.maintain().await.unwrap().unwrap();
    assert!(done.starts_with("renewed"), "{done}");
    assert!(done.contains("Deals, Leads"), "{done}");
}

#[tokio::test]
async fn maintain_refuses_an_expiry_zoho_silently_shortened() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(v8("/actions/watch")))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(v8("/actions/watch")))
        .respond_with(subscribe_answer(
            201,
            Some(Utc::now() + chrono::Duration::hours(1)),
        ))
        .mount(&server)
        .await;
    let c = connector(&server, hook_settings()).await;
    let err = c.maintain().await.unwrap_err();
    assert_eq!(err.class(), "permanent");
    assert!(
        err.to_string().contains("silently grants one hour"),
        "{err}"
    );
}

#[tokio::test]
async fn maintain_without_notify_url_calls_nothing() {
    let server = MockServer::start().await;
    let c = connector(&server, json!({"webhook_token": HOOK_TOKEN})).await;
    assert_eq!(c.maintain().await.unwrap(), None);
    assert!(received(&server).await.is_empty());
}

// ---------------------------------------------------------------------------------------------
// webhooks

fn delivery(body: &[u8]) -> WebhookRequest<'_> {
    WebhookRequest {
        received_at: Utc::now(),
        headers: &[],
        body,
        path_token: None,
    }
}

#[tokio::test]
async fn notifications_verify_by_the_echoed_token_and_parse() {
    let server = MockServer::start().await;
    let c = connector(&server, json!({"webhook_token": HOOK_TOKEN})).await;
    let hooks = c.webhooks().expect("webhooks enabled by webhook_token");

    let update = fixture("notification_update.json");
    assert_eq!(hooks.verify(&delivery(update.as_bytes())), Ok(()));
    assert_eq!(hooks.delivery_id(&delivery(update.as_bytes())), None);
    let events = hooks.parse(update.as_bytes()).unwrap();
    assert_eq!(events.len(), 1);
    match &events[0] {
        WebhookEvent::Refetch { stream, ids } => {
            assert_eq!(stream, "deals");
            assert_eq!(ids, &["6421835000001812009"]);
        }
        other => panic!("{other:?}"),
    }

    let delete = fixture("notification_delete.json");
    assert_eq!(hooks.verify(&delivery(delete.as_bytes())), Ok(()));
    let events = hooks.parse(delete.as_bytes()).unwrap();
    let WebhookEvent::Records(records) = &events[0] else {
        panic!("{events:?}")
    };
    let Record::Deleted(d) = &records[0] else {
        panic!("{records:?}")
    };
    assert_eq!(d.id, "6421835000001801013");
    assert_eq!(d.kind, DeletedKind::Lead(LeadEntity::Lead));
    assert_eq!(
        d.deleted_at.timestamp_millis(),
        1741259700207,
        "server_time"
    );

    // A webhook refetch goes through fetch_ids like polling.
    assert!(received(&server).await.is_empty());
}

#[tokio::test]
async fn notifications_with_a_wrong_or_missing_token_or_garbage_are_refused() {
    let server = MockServer::start().await;
    let c = connector(&server, json!({"webhook_token": "another-token"})).await;
    let hooks = c.webhooks().unwrap();
    let update = fixture("notification_update.json");
    assert_eq!(
        hooks.verify(&delivery(update.as_bytes())),
        Err(VerifyError::BadSignature)
    );
    let mut without: Value = serde_json::from_str(&update).unwrap();
    without.as_object_mut().unwrap().remove("token");
    let without = without.to_string();
    assert_eq!(
        hooks.verify(&delivery(without.as_bytes())),
        Err(VerifyError::MissingHeader("token"))
    );
    let mut with_path = delivery(without.as_bytes());
    with_path.path_token = Some("another-token");
    assert!(
        hooks.verify(&with_path).is_err(),
        "the body token is Zoho's mechanism"
    );
    assert_eq!(
        hooks.verify(&delivery(b"<html>")),
        Err(VerifyError::Malformed("body"))
    );
    let err = hooks.parse(b"{\"module\": ").unwrap_err();
    assert_eq!(err.class(), "decode");

    let plain = connector(&server, json!({})).await;
    assert!(plain.webhooks().is_none(), "no webhook_token, no webhooks");
}

// ---------------------------------------------------------------------------------------------
// settings

fn errors_of(settings: Value) -> Vec<SettingsError> {
    let store = Arc::new(MemoryTokenStore::default());
    match try_build(None, settings, &store) {
        Ok(_) => panic!("accepted"),
        Err(e) => e,
    }
}

#[test]
fn settings_errors_name_the_key_and_help() {
    let base =
        || json!({"data_centre": "eu", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET});

    let mut v = base();
    v["data_centre"] = json!("us");
    let errs = errors_of(v);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].key, "data_centre");
    let hint = errs[0].hint.clone().unwrap();
    for dc in [
        "com", "eu", "in", "com.au", "jp", "ca", "com.cn", "sa", "uk",
    ] {
        assert!(hint.contains(dc), "{hint}");
    }

    let mut v = base();
    v["clinet_secret"] = json!("x");
    v["fields"] = json!({"utm_sorce": "UTM_Source"});
    let mut errs = errors_of(v);
    errs.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(errs[0].key, "clinet_secret");
    assert_eq!(
        errs[0].hint.as_deref(),
        Some("did you mean `client_secret`?")
    );
    assert_eq!(errs[1].key, "fields.utm_sorce");
    assert_eq!(
        errs[1].hint.as_deref(),
        Some("did you mean `fields.utm_source`?")
    );

    let mut v = base();
    v["webhook_token"] = json!("x".repeat(51));
    let errs = errors_of(v);
    assert_eq!(errs[0].key, "webhook_token");
    assert!(errs[0].message.contains("1 to 50"), "{errs:?}");

    let mut v = base();
    v["notify_url"] = json!(NOTIFY_URL);
    let errs = errors_of(v);
    assert_eq!(errs[0].key, "notify_url");

    let errs = errors_of(json!({"data_centre": "eu"}));
    let keys: Vec<&str> = errs.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["client_id", "client_secret"]);
}

#[test]
fn the_registry_entry_lists_streams_settings_and_a_budget() {
    let k = &okno_zoho_crm::KIND;
    assert_eq!(k.kind, "zoho_crm");
    let streams: Vec<&str> = k.streams.iter().map(|s| s.name).collect();
    assert_eq!(streams, ["leads", "deals", "users", "deleted"]);
    assert!(k.streams.iter().all(|s| s.default));
    for s in k.settings {
        assert!(!s.doc.is_empty() && !s.example.is_empty(), "{}", s.name);
    }
    assert!(k
        .settings
        .iter()
        .any(|s| s.name == "client_secret" && s.secret));
    assert!(k
        .settings
        .iter()
        .any(|s| s.name == "webhook_token" && s.secret));
    assert_eq!(k.rate_buckets[0].name, "api");
    assert_eq!(okno_zoho_crm::API_VERSION, "v8");
}
