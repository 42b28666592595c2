//! Connector-level tests: the amoCRM connector, built through its registry entry, against a
//! wiremock server serving the documented response shapes in `tests/fixtures/`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use okno_connector::oauth::memory::MemoryTokenStore;
use okno_connector::oauth::{Save, TokenStore};
use okno_connector::testkit::{drain, fixture as read_fixture, test_http_options};
use okno_connector::webhook::{VerifyError, WebhookEvent, WebhookRequest};
use okno_connector::{
    BuildContext, Connector, ConnectorError, Cursor, ExposeSecret, Identity, Lead, Page,
    PageRequest, Record, SecretString, Stage, StageCategory, TokenSet, TokenVault,
};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use url::Url;
use wiremock::matchers::{any, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const INSTANCE: &str = "amo";
const LONG_LIVED: &str = "llt-0f3c9a7e";
const CLIENT_ID: &str = "7b41e95c-30d8-4db2-9a56-1f0c3e8a7721";
const CLIENT_SECRET: &str = "s3cr3t-amo-client";
const REDIRECT_URI: &str = "https://okno.example.com/amocrm/callback";
const LEADS: &str = "/api/v4/leads";
const PIPELINES: &str = "/api/v4/leads/pipelines";
const ACCOUNT: &str = "/api/v4/account";
const TOKEN: &str = "/oauth2/access_token";
/// `filter[updated_at][from]` of the fixtures' first request.
const FIXTURE_FROM: i64 = 1_740_990_000;

// ---------------------------------------------------------------------------------------------
// helpers

fn fixture(name: &str) -> String {
    read_fixture(env!("CARGO_MANIFEST_DIR"), name)
}

fn fixture_json(name: &str) -> Value {
    serde_json::from_str(&fixture(name)).unwrap()
}

fn hal(status: u16, body: impl Into<String>) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.into(), "application/hal+json")
}

fn problem(status: u16, body: impl Into<String>) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.into(), "application/problem+json")
}

fn fields() -> Value {
    json!({ "product": "Продукт", "region": "регион" })
}

fn long_lived_settings() -> Value {
    json!({ "subdomain": "okhvat", "long_lived_token": LONG_LIVED, "fields": fields() })
}

fn oauth_settings() -> Value {
    json!({
        "subdomain": "okhvat",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_uri": REDIRECT_URI,
        "currency": "RUB",
    })
}

fn context(server: &MockServer, settings: Value, tokens: TokenVault) -> BuildContext {
    BuildContext {
        instance: INSTANCE.into(),
        settings,
        base_url: Some(Url::parse(&server.uri()).unwrap()),
        http: test_http_options(),
        tokens,
    }
}

fn build_with(server: &MockServer, settings: Value, tokens: TokenVault) -> Arc<dyn Connector> {
    match (okno_amocrm::KIND.build)(context(server, settings, tokens)) {
        Ok(c) => c,
        Err(errs) => panic!("settings rejected: {errs:?}"),
    }
}

fn build(server: &MockServer, settings: Value) -> Arc<dyn Connector> {
    build_with(server, settings, TokenVault::new())
}

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).unwrap()
}

async fn fetch(
    c: &dyn Connector,
    stream: &str,
    cursor: Option<&Cursor>,
    start: DateTime<Utc>,
) -> Result<Page, ConnectorError> {
    c.fetch_page(PageRequest {
        stream,
        cursor,
        start,
    })
    .await
}

async fn received(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap()
}

fn query(req: &Request) -> HashMap<String, String> {
    req.url.query_pairs().into_owned().collect()
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

fn lead<'a>(records: &'a [Record], id: &str) -> &'a Lead {
    leads(records)
        .into_iter()
        .find(|l| l.lead_id == id)
        .unwrap_or_else(|| panic!("no lead {id}"))
}

fn lead_ids(records: &[Record]) -> Vec<&str> {
    leads(records).iter().map(|l| l.lead_id.as_str()).collect()
}

/// Pipelines and account, each answered at most `times` times.
async fn mount_lookups(server: &MockServer, times: u64) {
    Mock::given(method("GET"))
        .and(path(PIPELINES))
        .respond_with(hal(200, fixture("pipelines.json")))
        .expect(1..=times)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(ACCOUNT))
        .respond_with(hal(200, fixture("account.json")))
        .expect(1..=times)
        .mount(server)
        .await;
}

/// The raw JSON of every lead of a fixture, exactly as written in the file.
fn raw_leads(name: &str) -> Vec<String> {
    #[derive(Deserialize)]
    struct P<'a> {
        #[serde(borrow)]
        _embedded: E<'a>,
    }
    #[derive(Deserialize)]
    struct E<'a> {
        #[serde(borrow)]
        leads: Vec<&'a RawValue>,
    }
    let text = fixture(name);
    let p: P = serde_json::from_str(&text).unwrap();
    p._embedded
        .leads
        .iter()
        .map(|r| r.get().to_string())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// leads: paging and the cursor rule

#[tokio::test]
async fn leads_page_to_the_end_moving_the_window_a_second_early() {
    let server = MockServer::start().await;
    mount_lookups(&server, 1).await;
    Mock::given(method("GET"))
        .and(path(LEADS))
        .and(query_param(
            "filter[updated_at][from]",
            FIXTURE_FROM.to_string(),
        ))
        .and(query_param("page", "1"))
        .respond_with(hal(200, fixture("leads_page1.json")))
        .expect(1)
        .mount(&server)
        .await;
    // Page 1 ends at 1741021800 (lead 29490021): the next request is page 1 from one second
    // earlier, not page 2 — page 2 of the fixture is what amoCRM answers to it.
    Mock::given(method("GET"))
        .and(path(LEADS))
        .and(query_param("filter[updated_at][from]", "1741021799"))
        .and(query_param("page", "1"))
        .respond_with(hal(200, fixture("leads_page2.json")))
        .expect(1)
        .mount(&server)
        .await;

    let c = build(&server, long_lived_settings());
    let (records, cursor) = drain(c.as_ref(), "leads", None, at(FIXTURE_FROM))
        .await
        .unwrap();
    assert_eq!(
        lead_ids(&records),
        ["29481305", "29483117", "29490021", "29490877", "29491002"]
    );
    // The last lead was updated at 1741024500: the next run starts a second before it.
    assert_eq!(
        cursor,
        Some(Cursor(json!({ "from": 1_741_024_499, "page": 1 })))
    );

    let lead_requests: Vec<Request> = received(&server)
        .await
        .into_iter()
        .filter(|r| r.url.path() == LEADS)
        .collect();
    assert_eq!(lead_requests.len(), 2);
    for req in &lead_requests {
        let q = query(req);
        assert_eq!(q["with"], "contacts,loss_reason");
        assert_eq!(q["limit"], "250");
        assert_eq!(q["order[updated_at]"], "asc");
        assert_eq!(
            req.headers.get("authorization").unwrap().to_str().unwrap(),
            format!("Bearer {LONG_LIVED}")
        );
    }
}

/// amoCRM simulated over given leads: `from` inclusive or exclusive, `per_page` per page
/// whatever `limit` says, `updated_at` order, `_links.next` while more remain, 204 when empty.
#[derive(Clone)]
struct Simulated {
    leads: Arc<Vec<(i64, Value)>>,
    per_page: usize,
    inclusive: bool,
    asked: Arc<Mutex<Vec<(i64, u64)>>>,
}

impl Simulated {
    fn new(mut leads: Vec<Value>, per_page: usize, inclusive: bool) -> Self {
        leads.sort_by_key(|l| l["updated_at"].as_i64().unwrap());
        Simulated {
            leads: Arc::new(
                leads
                    .into_iter()
                    .map(|l| (l["updated_at"].as_i64().unwrap(), l))
                    .collect(),
            ),
            per_page,
            inclusive,
            asked: Arc::default(),
        }
    }
}

impl Respond for Simulated {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let q = query(request);
        let from: i64 = q["filter[updated_at][from]"].parse().unwrap();
        let page: u64 = q["page"].parse().unwrap();
        self.asked.lock().unwrap().push((from, page));
        let window: Vec<&Value> = self
            .leads
            .iter()
            .filter(|(u, _)| {
                if self.inclusive {
                    *u >= from
                } else {
                    *u > from
                }
            })
            .map(|(_, l)| l)
            .collect();
        let start = (page as usize - 1) * self.per_page;
        if start >= window.len() {
            return ResponseTemplate::new(204);
        }
        let end = (start + self.per_page).min(window.len());
        let mut links = json!({ "self": { "href": "https://okhvat.amocrm.ru/api/v4/leads" } });
        if end < window.len() {
            links["next"] = json!({ "href": "https://okhvat.amocrm.ru/api/v4/leads?page=next" });
        }
        let body = json!({ "_page": page, "_links": links, "_embedded": { "leads": &window[start..end] } });
        hal(200, body.to_string())
    }
}

fn fixture_leads() -> Vec<Value> {
    let mut all = Vec::new();
    for name in ["leads_page1.json", "leads_page2.json"] {
        all.extend(
            fixture_json(name)["_embedded"]["leads"]
                .as_array()
                .unwrap()
                .iter()
                .cloned(),
        );
    }
    all
}

async fn drain_simulated(sim: &Simulated, start: i64) -> (Vec<Record>, Option<Cursor>) {
    let server = MockServer::start().await;
    mount_lookups(&server, 1).await;
    Mock::given(method("GET"))
        .and(path(LEADS))
        .respond_with(sim.clone())
        .mount(&server)
        .await;
    let c = build(&server, long_lived_settings());
    drain(c.as_ref(), "leads", None, at(start)).await.unwrap()
}

#[tokio::test]
async fn every_lead_is_read_whether_from_is_inclusive_or_exclusive() {
    for inclusive in [true, false] {
        let sim = Simulated::new(fixture_leads(), 3, inclusive);
        let (records, cursor) = drain_simulated(&sim, FIXTURE_FROM).await;
        let mut ids = lead_ids(&records);
        ids.sort();
        ids.dedup();
        assert_eq!(
            ids,
            ["29481305", "29483117", "29490021", "29490877", "29491002"],
            "inclusive = {inclusive}"
        );
        assert_eq!(
            cursor,
            Some(Cursor(json!({ "from": 1_741_024_499, "page": 1 })))
        );
        // Page 1 of 1740990000, then page 1 of 1741021799 (the same-second boundary).
        let asked = sim.asked.lock().unwrap().clone();
        assert_eq!(
            asked,
            [(FIXTURE_FROM, 1), (1_741_021_799, 1)],
            "inclusive = {inclusive}"
        );
    }
}

#[tokio::test]
async fn a_page_full_of_one_second_goes_to_the_next_page_of_the_same_window() {
    // Eight leads updated in the same second (a bulk edit), three per page.
    let template = fixture_leads()[2].clone();
    let second = 1_741_021_800;
    let bulk: Vec<Value> = (1..=8)
        .map(|n| {
            let mut l = template.clone();
            l["id"] = json!(29_500_000 + n);
            l["updated_at"] = json!(second);
            l
        })
        .collect();
    for inclusive in [true, false] {
        let sim = Simulated::new(bulk.clone(), 3, inclusive);
        let (records, cursor) = drain_simulated(&sim, second - 100).await;
        let mut ids = lead_ids(&records);
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 8, "inclusive = {inclusive}: {ids:?}");
        let asked = sim.asked.lock().unwrap().clone();
        assert_eq!(
            asked,
            [
                (second - 100, 1),
                (second - 1, 1),
                (second - 1, 2),
                (second - 1, 3)
            ],
            "inclusive = {inclusive}"
        );
        assert_eq!(
            cursor,
            Some(Cursor(json!({ "from": second - 1, "page": 1 })))
        );
    }
}

#[tokio::test]
async fn a_204_is_an_empty_last_page_that_keeps_the_window() {
    let server = MockServer::start().await;
    mount_lookups(&server, 1).await;
    Mock::given(method("GET"))
        .and(path(LEADS))
        .respond_with(ResponseTemplate::new(204))
        .expect(2)
        .mount(&server)
        .await;
    let c = build(&server, long_lived_settings());
    let stored = Cursor(json!({ "from": 1_741_024_499, "page": 1 }));
    let page = fetch(c.as_ref(), "leads", Some(&stored), at(0))
        .await
        .unwrap();
    assert!(page.records.is_empty());
    assert!(!page.has_more);
    assert_eq!(page.next, Some(stored.clone()));
    // Past the last page of a same-second window: back to page 1 of it for the next run.
    let deep = Cursor(json!({ "from": 1_741_024_499, "page": 4 }));
    let page = fetch(c.as_ref(), "leads", Some(&deep), at(0))
        .await
        .unwrap();
    assert!(!page.has_more);
    assert_eq!(page.next, Some(stored));
    let q = query(
        &received(&server)
            .await
            .into_iter()
            .rfind(|r| r.url.path() == LEADS)
            .unwrap(),
    );
    assert_eq!(q["page"], "4");
}

#[tokio::test]
async fn a_stored_cursor_without_from_is_invalid_and_sends_nothing() {
    let server = MockServer::start().await;
    let c = build(&server, long_lived_settings());
    let err = fetch(
        c.as_ref(),
        "leads",
        Some(&Cursor(json!({ "page": 2 }))),
        at(0),
    )
    .await
    .unwrap_err();
    assert_eq!(err.class(), "invalid");
    assert!(err.to_string().contains("--full"), "{err}");
    assert!(received(&server).await.is_empty());
}

// ---------------------------------------------------------------------------------------------
// leads: normalisation

async fn fixture_records(settings: Value, page1: String) -> Vec<Record> {
    let server = MockServer::start().await;
    mount_lookups(&server, 1).await;
    Mock::given(method("GET"))
        .and(path(LEADS))
        .and(query_param(
            "filter[updated_at][from]",
            FIXTURE_FROM.to_string(),
        ))
        .respond_with(hal(200, page1))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(LEADS))
        .and(query_param("filter[updated_at][from]", "1741021799"))
        .respond_with(hal(200, fixture("leads_page2.json")))
        .mount(&server)
        .await;
    let c = build(&server, settings);
    drain(c.as_ref(), "leads", None, at(FIXTURE_FROM))
        .await
        .unwrap()
        .0
}

#[tokio::test]
async fn leads_map_marks_stages_money_and_configured_fields() {
    let records = fixture_records(long_lived_settings(), fixture("leads_page1.json")).await;
    let rub = Some("RUB".parse().unwrap());

    let won = lead(&records, "29481305");
    assert_eq!(
        won.name.as_deref(),
        Some("Заявка с сайта: Таргетолог с нуля")
    );
    assert_eq!(won.stage_category, StageCategory::Won);
    assert_eq!(won.stage_id.as_deref(), Some("142"));
    assert_eq!(won.stage_name.as_deref(), Some("Успешно реализовано"));
    assert_eq!(won.pipeline_id.as_deref(), Some("7711201"));
    assert_eq!(won.amount, Some(Decimal::new(89_000, 0)));
    assert_eq!(won.currency, rub);
    assert_eq!(won.owner_id.as_deref(), Some("8834517"));
    assert_eq!(won.created_at, at(1_740_646_800));
    assert_eq!(won.updated_at, at(1_741_010_412));
    assert_eq!(won.closed_at, Some(at(1_741_010_400)));
    assert_eq!(won.marks.utm_source.as_deref(), Some("yandex"));
    assert_eq!(won.marks.utm_medium.as_deref(), Some("cpc"));
    assert_eq!(
        won.marks.utm_campaign.as_deref(),
        Some("target_spring25_search")
    );
    assert_eq!(won.marks.utm_content.as_deref(), Some("ad_118402771"));
    assert_eq!(won.marks.utm_term.as_deref(), Some("курсы таргетолога"));
    assert_eq!(won.marks.gclid, None);
    assert_eq!(won.product.as_deref(), Some("Курс «Таргетолог с нуля»"));
    assert_eq!(won.region.as_deref(), Some("Москва"));
    assert_eq!(won.segment, None);
    assert_eq!(won.discount, None);
    assert_eq!(won.lead_source, None, "only from a configured field");
    assert_eq!(won.deleted_at, None);
    assert_eq!(
        won.raw.get(),
        raw_leads("leads_page1.json")[0],
        "raw exactly as received"
    );

    let lost = lead(&records, "29483117");
    assert_eq!(lost.stage_category, StageCategory::Lost);
    assert_eq!(lost.stage_name.as_deref(), Some("Закрыто и не реализовано"));
    assert_eq!(lost.amount, Some(Decimal::new(64_000, 0)));
    assert_eq!(lost.marks.utm_source.as_deref(), Some("vk"));
    assert_eq!(lost.marks.utm_term, None);
    assert_eq!(lost.region.as_deref(), Some("Санкт-Петербург"));
    assert!(
        lost.raw.get().contains("\"Дорого\""),
        "loss reason kept in raw"
    );

    let open = lead(&records, "29490021");
    assert_eq!(open.stage_category, StageCategory::Open);
    assert_eq!(
        open.stage_name.as_deref(),
        Some("Отправлена ссылка на оплату")
    );
    assert_eq!(open.closed_at, None);
    assert_eq!(
        open.marks.gclid.as_deref(),
        Some(
            "Cj0KCQiA8fW9BhC8ARIsACwHqYrT4vJm2xKq0Zf7wLhN1sVgE3pQyZc_aB5dRtUo9kXyWmPfJhGzEALw_wcB"
        )
    );
    assert_eq!(open.marks.utm_source.as_deref(), Some("google"));
    assert_eq!(
        open.product.as_deref(),
        Some("Курс «Контекстная реклама PRO»")
    );

    // Second pipeline: its own stage names, same ids for won/lost.
    let b2b = lead(&records, "29490877");
    assert_eq!(b2b.pipeline_id.as_deref(), Some("7711309"));
    assert_eq!(b2b.stage_name.as_deref(), Some("Согласование программы"));
    assert_eq!(b2b.amount, Some(Decimal::new(240_000, 0)));
    assert_eq!(b2b.marks.utm_source.as_deref(), Some("telegram"));
    assert_eq!(b2b.owner_id.as_deref(), Some("8834501"));

    // `custom_fields_values: null`.
    let bare = lead(&records, "29491002");
    assert_eq!(bare.marks, Default::default());
    assert_eq!(bare.product, None);
    assert_eq!(bare.amount, Some(Decimal::ZERO));
    assert_eq!(bare.stage_name.as_deref(), Some("Новая заявка"));
}

/// Adds a custom field to lead `index` of a page.
fn with_field(page: &mut Value, index: usize, field: Value) {
    page["_embedded"]["leads"][index]["custom_fields_values"]
        .as_array_mut()
        .unwrap()
        .push(field);
}

#[tokio::test]
async fn configured_fields_match_by_id_code_or_name_and_bad_discounts_are_skipped() {
    // The fixtures have no discount field: add a numeric "Скидка" to two leads, one unreadable,
    // and a segment and lead source as select fields with codes.
    let mut page = fixture_json("leads_page1.json");
    let numeric = |value: &str| {
        json!({ "field_id": 1032851, "field_name": "Скидка", "field_code": null,
                "field_type": "numeric", "values": [{ "value": value }] })
    };
    with_field(&mut page, 0, numeric("8900.50"));
    with_field(&mut page, 1, numeric("десять процентов"));
    with_field(
        &mut page,
        2,
        json!({ "field_id": 1032855, "field_name": "Тип клиента", "field_code": "CLIENT_SEGMENT",
                "field_type": "multiselect", "values": [
                    { "value": "B2C", "enum_id": 1, "enum_code": null },
                    { "value": "Повторный", "enum_id": 2, "enum_code": null } ] }),
    );
    with_field(
        &mut page,
        2,
        json!({ "field_id": 1032857, "field_name": "Источник", "field_code": null,
                "field_type": "select", "values": [{ "value": "Сайт", "enum_id": 3, "enum_code": null }] }),
    );
    let settings = json!({
        "subdomain": "okhvat",
        "long_lived_token": LONG_LIVED,
        "fields": {
            "product": 1032841,
            "region": "РЕГИОН",
            "discount": "скидка",
            "segment": "client_segment",
            "lead_source": "1032857",
            // Overrides a mark: the product field read as utm_campaign (by id, as text).
            "utm_campaign": "1032841",
        },
    });
    let records = fixture_records(settings, page.to_string()).await;

    let first = lead(&records, "29481305");
    assert_eq!(first.discount, Some(Decimal::new(890_050, 2)));
    assert_eq!(first.product.as_deref(), Some("Курс «Таргетолог с нуля»"));
    assert_eq!(first.region.as_deref(), Some("Москва"));
    assert_eq!(
        first.marks.utm_campaign.as_deref(),
        Some("Курс «Таргетолог с нуля»")
    );
    assert_eq!(first.marks.utm_source.as_deref(), Some("yandex"));

    let second = lead(&records, "29483117");
    assert_eq!(
        second.discount, None,
        "a bad value is ignored, the page is not failed"
    );
    assert_eq!(second.amount, Some(Decimal::new(64_000, 0)));

    let third = lead(&records, "29490021");
    assert_eq!(third.segment.as_deref(), Some("B2C, Повторный"));
    assert_eq!(third.lead_source.as_deref(), Some("Сайт"));
    assert_eq!(third.region.as_deref(), Some("Новосибирск"));
    assert_eq!(leads(&records).len(), 5);
}

#[tokio::test]
async fn the_currency_setting_skips_the_account_and_overrides_it() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(PIPELINES))
        .respond_with(hal(200, fixture("pipelines.json")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(ACCOUNT))
        .respond_with(hal(200, fixture("account.json")))
        .expect(0)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(LEADS))
        .respond_with(hal(200, fixture("leads_page2.json")))
        .mount(&server)
        .await;
    let mut settings = long_lived_settings();
    settings["currency"] = json!("usd");
    let c = build(&server, settings);
    let page = fetch(c.as_ref(), "leads", None, at(FIXTURE_FROM))
        .await
        .unwrap();
    assert!(leads(&page.records)
        .iter()
        .all(|l| l.currency == Some("USD".parse().unwrap())));
}

#[tokio::test]
async fn unreadable_pipelines_leave_stage_names_empty_but_the_page_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(PIPELINES))
        .respond_with(problem(
            403,
            r#"{"title":"Forbidden","type":"https://httpstatus.es/403","status":403,"detail":"Client doesn't have the required scope"}"#,
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(ACCOUNT))
        .respond_with(hal(200, fixture("account.json")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(LEADS))
        .respond_with(hal(200, fixture("leads_page2.json")))
        .mount(&server)
        .await;
    let c = build(&server, long_lived_settings());
    for _ in 0..2 {
        let page = fetch(c.as_ref(), "leads", None, at(FIXTURE_FROM))
            .await
            .unwrap();
        let l = lead(&page.records, "29490877");
        assert_eq!(l.stage_name, None);
        assert_eq!(l.stage_id.as_deref(), Some("61831209"));
    }
    // The failure is cached like a success: pipelines are not asked on every page.
}

// ---------------------------------------------------------------------------------------------
// pipelines, users, deleted leads

#[tokio::test]
async fn pipelines_become_stages_keyed_by_pipeline_with_won_and_lost() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(PIPELINES))
        .respond_with(hal(200, fixture("pipelines.json")))
        .expect(1)
        .mount(&server)
        .await;
    let c = build(&server, long_lived_settings());
    let page = fetch(c.as_ref(), "pipelines", None, at(0)).await.unwrap();
    assert!(page.next.is_none() && !page.has_more);
    let stages: Vec<&Stage> = page
        .records
        .iter()
        .filter_map(|r| match r {
            Record::Stage(s) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(stages.len(), 13);
    let find = |p: &str, s: &str| {
        stages
            .iter()
            .find(|x| x.pipeline_id == p && x.stage_id == s)
            .unwrap_or_else(|| panic!("no stage {p}/{s}"))
    };
    for p in ["7711201", "7711309"] {
        let won = find(p, "142");
        assert_eq!(won.category, StageCategory::Won);
        assert_eq!(won.stage_name, "Успешно реализовано");
        assert_eq!(won.sort, Some(10_000));
        let lost = find(p, "143");
        assert_eq!(lost.category, StageCategory::Lost);
        assert_eq!(lost.stage_name, "Закрыто и не реализовано");
    }
    let unsorted = find("7711201", "61830101");
    assert_eq!(unsorted.category, StageCategory::Open);
    assert_eq!(unsorted.stage_name, "Неразобранное");
    assert_eq!(unsorted.pipeline_name.as_deref(), Some("Продажи курсов"));
    assert!(!unsorted.archived);
    assert_eq!(
        find("7711309", "61831213").pipeline_name.as_deref(),
        Some("Корпоративное обучение")
    );
    assert!(find("7711309", "61831213")
        .raw
        .get()
        .contains("\"Договор и счёт\""));
    assert_eq!(
        stages
            .iter()
            .filter(|s| s.category == StageCategory::Open)
            .count(),
        9
    );
}

#[tokio::test]
async fn users_become_identities_and_page_while_next_is_given() {
    let server = MockServer::start().await;
    let mut first = fixture_json("users.json");
    first["_links"]["next"] =
        json!({ "href": "https://okhvat.amocrm.ru/api/v4/users?limit=250&page=2" });
    Mock::given(method("GET"))
        .and(path("/api/v4/users"))
        .and(query_param("page", "1"))
        .respond_with(hal(200, first.to_string()))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v4/users"))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let c = build(&server, long_lived_settings());
    let (records, cursor) = drain(c.as_ref(), "users", None, at(0)).await.unwrap();
    assert_eq!(cursor, None, "read whole every run");
    let ids: Vec<&Identity> = records
        .iter()
        .filter_map(|r| match r {
            Record::Identity(i) => Some(i),
            _ => None,
        })
        .collect();
    assert_eq!(ids.len(), 3);
    assert_eq!(ids[0].user_id, "8834501");
    assert_eq!(ids[0].name.as_deref(), Some("Ольга Смирнова"));
    assert_eq!(ids[0].email.as_deref(), Some("o.smirnova@okhvat-school.ru"));
    assert_eq!(ids[0].role.as_deref(), Some("admin"));
    assert!(ids[0].active);
    assert_eq!(ids[1].role.as_deref(), Some("user"));
    assert!(ids[1].active);
    assert_eq!(ids[2].user_id, "8834529");
    assert!(!ids[2].active, "rights.is_active = false");
    assert!(ids[2].raw.get().contains("\"Дарья Лебедева\""));
    assert_eq!(query(&received(&server).await[0])["limit"], "250");
}

#[tokio::test]
async fn users_without_admin_rights_say_so() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v4/users"))
        .respond_with(problem(
            403,
            r#"{"title":"Forbidden","type":"https://httpstatus.es/403","status":403,"detail":"Не хватает прав"}"#,
        ))
        .expect(1)
        .mount(&server)
        .await;
    let c = build(&server, long_lived_settings());
    let err = fetch(c.as_ref(), "users", None, at(0)).await.unwrap_err();
    assert_eq!(err.class(), "auth");
    assert!(err.to_string().contains("administrator"), "{err}");
}

#[tokio::test]
async fn lead_deleted_events_become_deletions() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v4/events"))
        .and(query_param("filter[type]", "lead_deleted"))
        .and(query_param("filter[created_at][from]", "1741000000"))
        .and(query_param("limit", "100"))
        .and(query_param("page", "1"))
        .respond_with(hal(200, fixture("events_lead_deleted.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v4/events"))
        .and(query_param("filter[created_at][from]", "1741025946"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let c = build(&server, long_lived_settings());
    let (records, cursor) = drain(c.as_ref(), "deleted_leads", None, at(1_741_000_000))
        .await
        .unwrap();
    let deleted: Vec<(String, DateTime<Utc>)> = records
        .iter()
        .map(|r| match r {
            Record::Deleted(d) => {
                assert_eq!(
                    d.kind,
                    okno_connector::DeletedKind::Lead(okno_connector::LeadEntity::Lead)
                );
                (d.id.clone(), d.deleted_at)
            }
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        deleted,
        [
            ("29478810".to_string(), at(1_741_013_322)),
            ("29491002".to_string(), at(1_741_025_947)),
        ]
    );
    // The newest event minus a second.
    assert_eq!(
        cursor,
        Some(Cursor(json!({ "from": 1_741_025_946, "page": 1 })))
    );
    // The next run: nothing new (204), the window stays.
    let page = fetch(c.as_ref(), "deleted_leads", cursor.as_ref(), at(0))
        .await
        .unwrap();
    assert!(page.records.is_empty() && !page.has_more);
    assert_eq!(page.next, cursor);
}

// ---------------------------------------------------------------------------------------------
// HTTP behaviour

#[tokio::test]
async fn a_429_is_retried_after_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(PIPELINES))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(PIPELINES))
        .respond_with(hal(200, fixture("pipelines.json")))
        .with_priority(2)
        .mount(&server)
        .await;
    let c = build(&server, long_lived_settings());
    let started = std::time::Instant::now();
    let page = fetch(c.as_ref(), "pipelines", None, at(0)).await.unwrap();
    assert_eq!(page.records.len(), 13);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(received(&server).await.len(), 2);
}

#[tokio::test]
async fn a_blocked_account_html_403_is_permanent_and_stops_at_once() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(403).set_body_raw(fixture("blocked_403.html"), "text/html"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let c = build(&server, long_lived_settings());
    let err = fetch(c.as_ref(), "leads", None, at(FIXTURE_FROM))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Permanent { status: 403, .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("blocked"), "{text}");
    assert!(text.contains("support"), "{text}");
    assert_eq!(
        received(&server).await.len(),
        1,
        "not retried, nothing else asked"
    );
}

#[tokio::test]
async fn a_refused_long_lived_token_says_to_generate_a_new_one() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(problem(401, fixture("error_401.json")))
        .expect(1)
        .mount(&server)
        .await;
    let c = build(&server, long_lived_settings());
    let err = fetch(c.as_ref(), "pipelines", None, at(0))
        .await
        .unwrap_err();
    assert_eq!(err.class(), "auth");
    assert!(err.to_string().contains("long-lived token"), "{err}");
}

#[tokio::test]
async fn unknown_stream_is_invalid() {
    let server = MockServer::start().await;
    let c = build(&server, long_lived_settings());
    let err = fetch(c.as_ref(), "contacts", None, at(0))
        .await
        .unwrap_err();
    assert_eq!(err.class(), "invalid");
}

#[tokio::test]
async fn check_names_the_account_and_its_currency() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(ACCOUNT))
        .respond_with(hal(200, fixture("account.json")))
        .expect(1)
        .mount(&server)
        .await;
    let c = build(&server, long_lived_settings());
    assert_eq!(
        c.check().await.unwrap(),
        "amoCRM account Охват — школа интернет-маркетинга (okhvat), currency RUB"
    );
}

// ---------------------------------------------------------------------------------------------
// OAuth

/// amoCRM's token endpoint: refresh tokens are single-use; a reused one is revoked (401).
#[derive(Clone, Default)]
struct TokenServer {
    used: Arc<Mutex<Vec<String>>>,
    bodies: Arc<Mutex<Vec<Value>>>,
    calls: Arc<AtomicUsize>,
}

impl Respond for TokenServer {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let body: Value = request.body_json().unwrap_or(Value::Null);
        self.bodies.lock().unwrap().push(body.clone());
        if body["grant_type"] == "refresh_token" {
            let rt = body["refresh_token"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let mut used = self.used.lock().unwrap();
            if used.contains(&rt) {
                return problem(401, fixture("oauth_refresh_revoked.json"));
            }
            used.push(rt);
        }
        // A little latency, so concurrent callers really overlap.
        hal(200, fixture("token_refresh.json")).set_delay(Duration::from_millis(100))
    }
}

fn fresh_access() -> String {
    fixture_json("token_refresh.json")["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

fn fresh_refresh() -> String {
    fixture_json("token_refresh.json")["refresh_token"]
        .as_str()
        .unwrap()
        .to_string()
}

fn pair(access: &str, refresh: &str, expires_in: i64) -> TokenSet {
    TokenSet {
        access_token: SecretString::from(access.to_string()),
        refresh_token: Some(SecretString::from(refresh.to_string())),
        expires_at: Some(Utc::now() + chrono::Duration::seconds(expires_in)),
        api_domain: None,
    }
}

async fn seeded(tokens: TokenSet) -> Arc<MemoryTokenStore> {
    let store = Arc::new(MemoryTokenStore::default());
    store
        .save(INSTANCE, Save::Authorize, &tokens)
        .await
        .unwrap();
    store
}

fn vault(store: &Arc<MemoryTokenStore>) -> TokenVault {
    TokenVault::with_store(store.clone() as Arc<dyn TokenStore>)
}

async fn mount_token(server: &MockServer, tokens: &TokenServer) {
    Mock::given(method("POST"))
        .and(path(TOKEN))
        .respond_with(tokens.clone())
        .mount(server)
        .await;
}

/// Pipelines answered only for `Bearer <token>`.
async fn mount_pipelines_for(server: &MockServer, token: &str) {
    Mock::given(method("GET"))
        .and(path(PIPELINES))
        .and(header("authorization", format!("Bearer {token}").as_str()))
        .respond_with(hal(200, fixture("pipelines.json")))
        .mount(server)
        .await;
}

#[tokio::test]
async fn an_expired_token_is_refreshed_once_and_the_new_pair_stored() {
    let server = MockServer::start().await;
    let tokens = TokenServer::default();
    mount_token(&server, &tokens).await;
    mount_pipelines_for(&server, &fresh_access()).await;
    let store = seeded(pair("old-access", "def-old-refresh", -60)).await;
    let c = build_with(&server, oauth_settings(), vault(&store));

    let page = fetch(c.as_ref(), "pipelines", None, at(0)).await.unwrap();
    assert_eq!(page.records.len(), 13);

    let bodies = tokens.bodies.lock().unwrap().clone();
    assert_eq!(
        bodies,
        [json!({
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "grant_type": "refresh_token",
            "refresh_token": "def-old-refresh",
            "redirect_uri": REDIRECT_URI,
        })]
    );
    let stored = store.load(INSTANCE).await.unwrap().unwrap();
    assert_eq!(stored.tokens.access_token.expose_secret(), fresh_access());
    assert_eq!(
        stored.tokens.refresh_token.unwrap().expose_secret(),
        fresh_refresh()
    );
    let expires = stored.tokens.expires_at.unwrap() - Utc::now();
    assert!(
        expires > chrono::Duration::seconds(86_000) && expires <= chrono::Duration::seconds(86_400),
        "{expires:?}"
    );
    // A second call uses the stored pair: no new refresh.
    fetch(c.as_ref(), "pipelines", None, at(0)).await.unwrap();
    assert_eq!(tokens.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_reused_refresh_token_is_revoked_and_asks_for_reauthorisation() {
    let server = MockServer::start().await;
    let tokens = TokenServer::default();
    mount_token(&server, &tokens).await;
    mount_pipelines_for(&server, &fresh_access()).await;
    let store = seeded(pair("old-access", "def-old-refresh", -60)).await;
    let c = build_with(&server, oauth_settings(), vault(&store));
    fetch(c.as_ref(), "pipelines", None, at(0)).await.unwrap();

    // Another process that still holds the old, now used, refresh token (e.g. a pair that was
    // never stored): amoCRM answers "Token has been revoked".
    let stale = seeded(pair("old-access", "def-old-refresh", -60)).await;
    let other = build_with(&server, oauth_settings(), vault(&stale));
    let err = fetch(other.as_ref(), "pipelines", None, at(0))
        .await
        .unwrap_err();
    assert_eq!(err.class(), "auth");
    let text = err.to_string();
    assert!(text.contains("Token has been revoked"), "{text}");
    assert!(text.contains("okno auth amocrm amo --code"), "{text}");
    assert_eq!(
        tokens.calls.load(Ordering::SeqCst),
        2,
        "the token endpoint is not retried"
    );
}

#[tokio::test]
async fn a_401_from_the_api_refreshes_once_and_retries_the_request() {
    let server = MockServer::start().await;
    let tokens = TokenServer::default();
    mount_token(&server, &tokens).await;
    // Not expired by its clock, but amoCRM no longer accepts it.
    Mock::given(method("GET"))
        .and(header("authorization", "Bearer revoked-access"))
        .respond_with(problem(401, fixture("error_401.json")))
        .expect(1)
        .mount(&server)
        .await;
    mount_pipelines_for(&server, &fresh_access()).await;
    Mock::given(method("GET"))
        .and(path(LEADS))
        .and(header(
            "authorization",
            format!("Bearer {}", fresh_access()).as_str(),
        ))
        .respond_with(hal(200, fixture("leads_page2.json")))
        .expect(1)
        .mount(&server)
        .await;
    let store = seeded(pair("revoked-access", "def-r1", 3_600)).await;
    let c = build_with(&server, oauth_settings(), vault(&store));
    let page = fetch(c.as_ref(), "leads", None, at(FIXTURE_FROM))
        .await
        .unwrap();
    assert_eq!(lead_ids(&page.records), ["29490877", "29491002"]);
    assert_eq!(
        lead(&page.records, "29490877").stage_name.as_deref(),
        Some("Согласование программы"),
        "the retried pipelines request succeeded"
    );
    assert_eq!(tokens.calls.load(Ordering::SeqCst), 1);
    assert_eq!(tokens.bodies.lock().unwrap()[0]["refresh_token"], "def-r1");
}

#[tokio::test]
async fn concurrent_fetches_with_an_expired_token_make_one_token_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN))
        .respond_with(TokenServer::default())
        .expect(1)
        .mount(&server)
        .await;
    mount_pipelines_for(&server, &fresh_access()).await;
    Mock::given(method("GET"))
        .and(path("/api/v4/users"))
        .and(header(
            "authorization",
            format!("Bearer {}", fresh_access()).as_str(),
        ))
        .respond_with(hal(200, fixture("users.json")))
        .mount(&server)
        .await;
    let store = seeded(pair("old-access", "def-old-refresh", -60)).await;
    // Two tasks on one instance, and a second instance on the same store (another process).
    let a = build_with(&server, oauth_settings(), vault(&store));
    let b = build_with(&server, oauth_settings(), vault(&store));
    let (r1, r2, r3) = tokio::join!(
        fetch(a.as_ref(), "pipelines", None, at(0)),
        fetch(a.as_ref(), "users", None, at(0)),
        fetch(b.as_ref(), "pipelines", None, at(0)),
    );
    assert_eq!(r1.unwrap().records.len(), 13);
    assert_eq!(r2.unwrap().records.len(), 3);
    assert_eq!(r3.unwrap().records.len(), 13);
    // `expect(1)` on the token endpoint is verified when the server drops.
}

#[tokio::test]
async fn authorize_exchanges_the_code_and_stores_the_first_pair() {
    let server = MockServer::start().await;
    let tokens = TokenServer::default();
    mount_token(&server, &tokens).await;
    let store = Arc::new(MemoryTokenStore::default());
    let c = build_with(&server, oauth_settings(), vault(&store));
    let said = c.authorize(" def-auth-code ").await.unwrap();
    assert!(said.contains("stored"), "{said}");
    assert_eq!(
        tokens.bodies.lock().unwrap().clone(),
        [json!({
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "grant_type": "authorization_code",
            "code": "def-auth-code",
            "redirect_uri": REDIRECT_URI,
        })]
    );
    let stored = store.load(INSTANCE).await.unwrap().unwrap();
    assert_eq!(stored.tokens.access_token.expose_secret(), fresh_access());
    assert_eq!(
        stored.tokens.refresh_token.unwrap().expose_secret(),
        fresh_refresh()
    );

    // With a long-lived token there is nothing to authorise.
    let llt = build(&server, long_lived_settings());
    assert_eq!(llt.authorize("x").await.unwrap_err().class(), "invalid");
}

#[tokio::test]
async fn without_stored_tokens_the_error_says_how_to_authorise() {
    let server = MockServer::start().await;
    let store = Arc::new(MemoryTokenStore::default());
    let c = build_with(&server, oauth_settings(), vault(&store));
    let err = fetch(c.as_ref(), "pipelines", None, at(0))
        .await
        .unwrap_err();
    assert_eq!(err.class(), "auth");
    assert!(
        err.to_string().contains("okno auth amocrm amo --code CODE"),
        "{err}"
    );
    assert!(received(&server).await.is_empty());
}

// ---------------------------------------------------------------------------------------------
// fetch by id (webhook refetches)

#[tokio::test]
async fn leads_are_fetched_by_id_in_one_filtered_request() {
    let server = MockServer::start().await;
    mount_lookups(&server, 1).await;
    Mock::given(method("GET"))
        .and(path(LEADS))
        .and(query_param("filter[id][]", "29490021"))
        .respond_with(hal(200, fixture("leads_page1.json")))
        .expect(1)
        .mount(&server)
        .await;
    let c = build(&server, long_lived_settings());
    let ids = vec!["29481305".to_string(), "29490021".to_string()];
    let page = c.fetch_ids("leads", &ids).await.unwrap();
    assert_eq!(
        lead_ids(&page.records),
        ["29481305", "29483117", "29490021"]
    );
    assert!(page.next.is_none() && !page.has_more);
    let req = received(&server)
        .await
        .into_iter()
        .find(|r| r.url.path() == LEADS)
        .unwrap();
    let filters: Vec<String> = req
        .url
        .query_pairs()
        .filter(|(k, _)| k == "filter[id][]")
        .map(|(_, v)| v.into_owned())
        .collect();
    assert_eq!(filters, ids);
    assert_eq!(query(&req)["with"], "contacts,loss_reason");

    // Gone leads: 204, an empty page.
    let server = MockServer::start().await;
    mount_lookups(&server, 1).await;
    Mock::given(method("GET"))
        .and(path(LEADS))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let c = build(&server, long_lived_settings());
    assert!(c
        .fetch_ids("leads", &["29478810".to_string()])
        .await
        .unwrap()
        .records
        .is_empty());
    assert_eq!(
        c.fetch_ids("leads", &["1 OR 1".to_string()])
            .await
            .unwrap_err()
            .class(),
        "invalid"
    );
    assert_eq!(
        c.fetch_ids("users", &[]).await.unwrap_err().class(),
        "invalid"
    );
}

// ---------------------------------------------------------------------------------------------
// webhooks

const HOOK_TOKEN: &str = "wh-7f2a91c04d";

fn hook_settings() -> Value {
    let mut s = long_lived_settings();
    s["webhook_token"] = json!(HOOK_TOKEN);
    s
}

fn request<'a>(body: &'a [u8], token: Option<&'a str>) -> WebhookRequest<'a> {
    WebhookRequest {
        received_at: Utc::now(),
        headers: &[],
        body,
        path_token: token,
    }
}

fn refetched(events: &[WebhookEvent]) -> Vec<String> {
    match events {
        [WebhookEvent::Refetch { stream, ids }] => {
            assert_eq!(stream, "leads");
            ids.clone()
        }
        other => panic!("expected one refetch, got {other:?}"),
    }
}

#[tokio::test]
async fn webhooks_are_off_without_a_token() {
    let server = MockServer::start().await;
    assert!(build(&server, long_lived_settings()).webhooks().is_none());
}

#[tokio::test]
async fn the_path_token_is_checked() {
    let server = MockServer::start().await;
    let c = build(&server, hook_settings());
    let hooks = c.webhooks().expect("webhooks configured");
    let body = fixture("webhook_add.txt");
    assert_eq!(
        hooks.verify(&request(body.as_bytes(), Some(HOOK_TOKEN))),
        Ok(())
    );
    assert_eq!(
        hooks.verify(&request(body.as_bytes(), Some("wh-7f2a91c04e"))),
        Err(VerifyError::BadSignature)
    );
    assert_eq!(
        hooks.verify(&request(body.as_bytes(), Some(""))),
        Err(VerifyError::BadSignature)
    );
    assert_eq!(
        hooks.verify(&request(body.as_bytes(), None)),
        Err(VerifyError::MissingHeader("path token"))
    );
    assert_eq!(
        hooks.delivery_id(&request(body.as_bytes(), Some(HOOK_TOKEN))),
        None
    );
}

#[tokio::test]
async fn every_fixture_body_parses() {
    let server = MockServer::start().await;
    let c = build(&server, hook_settings());
    let hooks = c.webhooks().unwrap();
    let parse = |name: &str| hooks.parse(fixture(name).as_bytes()).unwrap();

    assert_eq!(refetched(&parse("webhook_add.txt")), ["29492214"]);
    assert_eq!(refetched(&parse("webhook_update.txt")), ["29490021"]);
    // `account[...]` last, an `old_status_id`: still just the lead.
    assert_eq!(refetched(&parse("webhook_status.txt")), ["29481305"]);

    let before = Utc::now();
    let events = parse("webhook_delete.txt");
    let after = Utc::now();
    match events.as_slice() {
        [WebhookEvent::Records(records)] => match records.as_slice() {
            [Record::Deleted(d)] => {
                assert_eq!(d.id, "29491002");
                assert_eq!(
                    d.kind,
                    okno_connector::DeletedKind::Lead(okno_connector::LeadEntity::Lead)
                );
                assert!(d.deleted_at >= before && d.deleted_at <= after);
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_batched_body_refetches_changes_and_marks_deletions() {
    let server = MockServer::start().await;
    let c = build(&server, hook_settings());
    let hooks = c.webhooks().unwrap();
    let body = format!(
        "{}&{}",
        fixture("webhook_update.txt"),
        fixture("webhook_delete.txt").replace("%5B0%5D", "%5B1%5D")
    );
    let events = hooks.parse(body.as_bytes()).unwrap();
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(matches!(&events[0], WebhookEvent::Refetch { ids, .. } if ids == &["29490021"]));
    assert!(
        matches!(&events[1], WebhookEvent::Records(r) if matches!(r.as_slice(), [Record::Deleted(d)] if d.id == "29491002"))
    );
}

#[tokio::test]
async fn garbage_bodies_are_decode_errors() {
    let server = MockServer::start().await;
    let c = build(&server, hook_settings());
    let hooks = c.webhooks().unwrap();
    let bodies: [&[u8]; 6] = [
        b"",
        b"{\"leads\":{\"add\":[{\"id\":1}]}}",
        b"\x00\x9f\x92\x96 binary",
        b"leads%5Badd%5D%5B0%5D%5Bid%5D=twelve",
        b"%%%%&&&===",
        b"leads[[[[",
    ];
    for body in bodies {
        let err = hooks.parse(body).expect_err("not a webhook");
        assert_eq!(err.class(), "decode", "{body:?}");
    }
    // Cut anywhere, a real body never panics.
    let real = fixture("webhook_update.txt");
    for cut in 0..real.len() {
        let _ = hooks.parse(&real.as_bytes()[..cut]);
    }
}

// ---------------------------------------------------------------------------------------------
// settings

fn settings_errors(settings: Value) -> Vec<okno_connector::SettingsError> {
    let ctx = BuildContext {
        instance: INSTANCE.into(),
        settings,
        base_url: None,
        http: test_http_options(),
        tokens: TokenVault::new(),
    };
    match (okno_amocrm::KIND.build)(ctx) {
        Ok(_) => panic!("settings accepted"),
        Err(errs) => errs,
    }
}

#[test]
fn an_unknown_key_gets_a_suggestion() {
    let errs = settings_errors(json!({ "subdomian": "okhvat", "long_lived_token": "t" }));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].key, "subdomian");
    assert_eq!(errs[0].hint.as_deref(), Some("did you mean `subdomain`?"));
}

#[test]
fn subdomain_and_domain_are_exclusive() {
    let errs = settings_errors(json!({
        "subdomain": "okhvat", "domain": "okhvat.kommo.com", "long_lived_token": "t"
    }));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].key, "domain");
    assert!(errs[0].message.contains("both"), "{errs:?}");
}

#[test]
fn oauth_needs_the_client_secret() {
    let errs = settings_errors(json!({
        "subdomain": "okhvat", "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI
    }));
    let keys: Vec<&str> = errs.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["client_secret"]);
}

#[test]
fn other_settings_problems_are_reported_together() {
    let errs = settings_errors(json!({
        "long_lived_token": "t", "client_id": CLIENT_ID, "currency": "рубли",
        "fields": { "product": "" }
    }));
    let mut keys: Vec<&str> = errs.iter().map(|e| e.key.as_str()).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "currency",
            "fields.product",
            "long_lived_token",
            "subdomain"
        ]
    );
    let errs = settings_errors(json!({ "subdomain": "okhvat" }));
    assert_eq!(errs[0].key, "long_lived_token");
    assert!(errs[0].hint.as_deref().unwrap().contains("client_id"));
}

#[test]
fn the_descriptor_lists_streams_settings_and_the_budget() {
    let k = &okno_amocrm::KIND;
    assert_eq!(k.kind, "amocrm");
    let streams: Vec<(&str, bool)> = k.streams.iter().map(|s| (s.name, s.default)).collect();
    assert_eq!(
        streams,
        [
            ("leads", true),
            ("pipelines", true),
            ("users", true),
            ("deleted_leads", true)
        ]
    );
    assert_eq!(k.rate_buckets.len(), 1);
    assert_eq!(
        (k.rate_buckets[0].name, k.rate_buckets[0].per_minute),
        ("api", 420)
    );
    for s in k.settings {
        assert!(!s.doc.is_empty() && !s.example.is_empty(), "{}", s.name);
    }
    let secrets: Vec<&str> = k
        .settings
        .iter()
        .filter(|s| s.secret)
        .map(|s| s.name)
        .collect();
    assert_eq!(
        secrets,
        ["client_secret", "long_lived_token", "webhook_token"]
    );
}
