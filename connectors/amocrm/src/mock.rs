//! An amoCRM stand-in for tests and benchmarks (feature `mock`): serves `total` generated leads
//! shaped like `GET /api/v4/leads` answers (250 per page, HAL `_links.next`, 204 past the end),
//! plus `/api/v4/leads/pipelines`, `/api/v4/account`, `/api/v4/users` and an empty
//! `/api/v4/events`, on a local wiremock server. Lead `i` is the same on every request, so a
//! resumed sync can be checked record by record.
//!
//! The leads endpoint honours what the connector sends: `filter[updated_at][from]` (inclusive),
//! `page`, `limit` (at most 250) and `filter[id][]`; results are always in `updated_at` order.
//! Lead `i` has id [`FIRST_ID`]` + i` and `updated_at` [`BASE_UPDATED_AT`]` + i / 2`, so pairs
//! of leads share a second and the cursor's one-second overlap is exercised. Pages are rendered
//! on request straight into one buffer (a few microseconds per lead).
//!
//! Build an instance against it with [`SETTINGS_TOML`] (a long-lived token and the custom field
//! names the generator uses).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use okno_connector::testkit::MockVendor;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Id of the first generated lead.
pub const FIRST_ID: u64 = 30_000_000;
/// `updated_at` of the first generated lead (2025-02-19T21:20:00Z); two leads per second.
pub const BASE_UPDATED_AT: i64 = 1_740_000_000;
/// Generated leads per second of `updated_at`.
pub const LEADS_PER_SECOND: u64 = 2;
/// The account currency the mock reports.
pub const CURRENCY: &str = "RUB";
/// The main pipeline and its open statuses; 142/143 are won/lost in every pipeline.
pub const PIPELINE_ID: i64 = 8_100_001;
pub const OPEN_STATUSES: [i64; 4] = [81_000_101, 81_000_105, 81_000_109, 81_000_113];
/// Names of the generated custom fields (select, text, text, numeric).
pub const PRODUCT_FIELD: &str = "Продукт";
pub const REGION_FIELD: &str = "Регион";
pub const SEGMENT_FIELD: &str = "Сегмент";
pub const DISCOUNT_FIELD: &str = "Скидка";
/// `[connector.settings]` for an instance pointed at the mock with `base_url`.
pub const SETTINGS_TOML: &str = "long_lived_token = \"mock-long-lived-token\"\n\
     fields = { product = \"Продукт\", region = \"Регион\", segment = \"Сегмент\", discount = \"Скидка\" }\n";

const MAX_LIMIT: u64 = 250;
/// Marker for "no fault".
const NONE: u64 = u64::MAX;

const PRODUCTS: [(&str, u64); 4] = [
    ("Курс «Таргетолог с нуля»", 1_450_101),
    ("Курс «Контекстная реклама PRO»", 1_450_103),
    ("Корпоративное обучение SMM", 1_450_105),
    ("Интенсив «Аналитика для маркетолога»", 1_450_107),
];
const REGIONS: [&str; 5] = [
    "Москва",
    "Санкт-Петербург",
    "Новосибирск",
    "Екатеринбург",
    "Казань",
];
const SOURCES: [&str; 4] = ["yandex", "google", "vk", "telegram"];

/// Faults the leads endpoint can be told to inject, changeable while the server runs. Offsets
/// are lead indexes: a page "starts at" the index of its first lead.
#[derive(Debug)]
pub struct Faults {
    /// The page starting at this offset never answers.
    pub hang_at_offset: AtomicU64,
    /// The page starting at this offset answers 503.
    pub fail_at_offset: AtomicU64,
    /// The page starting at this offset is cut in half.
    pub truncate_at_offset: AtomicU64,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            hang_at_offset: AtomicU64::new(NONE),
            fail_at_offset: AtomicU64::new(NONE),
            truncate_at_offset: AtomicU64::new(NONE),
        }
    }
}

impl Faults {
    pub fn clear(&self) {
        self.hang_at_offset.store(NONE, Ordering::SeqCst);
        self.fail_at_offset.store(NONE, Ordering::SeqCst);
        self.truncate_at_offset.store(NONE, Ordering::SeqCst);
    }
}

/// `total` generated leads behind an amoCRM-shaped API.
#[derive(Debug, Clone)]
pub struct LeadsMock {
    pub total: u64,
    pub faults: Arc<Faults>,
    /// Lead pages served with 200, for assertions.
    pub served: Arc<AtomicUsize>,
}

impl LeadsMock {
    pub fn new(total: u64) -> Self {
        LeadsMock {
            total,
            faults: Arc::default(),
            served: Arc::default(),
        }
    }

    /// `updated_at` of lead `i`.
    pub fn updated_at(i: u64) -> i64 {
        BASE_UPDATED_AT + (i / LEADS_PER_SECOND) as i64
    }

    /// The first lead index with `updated_at >= from`.
    pub fn first_index(from: i64) -> u64 {
        if from <= BASE_UPDATED_AT {
            0
        } else {
            ((from - BASE_UPDATED_AT) as u64).saturating_mul(LEADS_PER_SECOND)
        }
    }

    /// The offset of page `page` (from 1) of window `from`.
    pub fn offset(from: i64, page: u64, limit: u64) -> u64 {
        Self::first_index(from).saturating_add(page.saturating_sub(1).saturating_mul(limit))
    }

    /// The body of page `page` of window `from`, or `None` (204) when it is past the end.
    pub fn page(&self, from: i64, page: u64, limit: u64, origin: &str) -> Option<String> {
        let limit = limit.clamp(1, MAX_LIMIT);
        let start = Self::offset(from, page, limit);
        if start >= self.total {
            return None;
        }
        let end = (start + limit).min(self.total);
        Some(self.render(
            start..end,
            Some((from, page, limit, end < self.total)),
            origin,
        ))
    }

    fn render(
        &self,
        indexes: impl Iterator<Item = u64>,
        paging: Option<(i64, u64, u64, bool)>,
        origin: &str,
    ) -> String {
        let mut body = String::with_capacity(MAX_LIMIT as usize * 2300 + 1024);
        let list = |from: i64, page: u64, limit: u64| {
            format!(
                "{origin}/api/v4/leads?filter%5Bupdated_at%5D%5Bfrom%5D={from}&limit={limit}\
                 &order%5Bupdated_at%5D=asc&page={page}&with=contacts%2Closs_reason"
            )
        };
        match paging {
            Some((from, page, limit, more)) => {
                let _ = write!(
                    body,
                    "{{\"_page\":{page},\"_links\":{{\"self\":{{\"href\":\"{}\"}}",
                    list(from, page, limit)
                );
                if more {
                    let _ = write!(
                        body,
                        ",\"next\":{{\"href\":\"{}\"}}",
                        list(from, page + 1, limit)
                    );
                }
                body.push_str("},\"_embedded\":{\"leads\":[");
            }
            None => {
                let _ = write!(
                    body,
                    "{{\"_page\":1,\"_links\":{{\"self\":{{\"href\":\"{origin}/api/v4/leads\"}}}},\"_embedded\":{{\"leads\":["
                );
            }
        }
        for (n, i) in indexes.enumerate() {
            if n > 0 {
                body.push(',');
            }
            lead_json(i, origin, &mut body);
        }
        body.push_str("]}}");
        body
    }
}

fn hal(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body, "application/hal+json")
}

fn query_u64(request: &Request, key: &str) -> Option<u64> {
    request
        .url
        .query_pairs()
        .find(|(k, _)| k == key)
        .and_then(|(_, v)| v.parse().ok())
}

impl Respond for LeadsMock {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let origin = request.url.origin().ascii_serialization();
        let ids: Vec<u64> = request
            .url
            .query_pairs()
            .filter(|(k, _)| k == "filter[id][]" || k.starts_with("filter[id]["))
            .filter_map(|(_, v)| v.parse::<u64>().ok())
            .filter(|id| *id >= FIRST_ID && *id < FIRST_ID + self.total)
            .collect();
        let by_id = request
            .url
            .query_pairs()
            .any(|(k, _)| k.starts_with("filter[id]"));
        if by_id {
            if ids.is_empty() {
                return ResponseTemplate::new(204);
            }
            let body = self.render(ids.into_iter().map(|id| id - FIRST_ID), None, &origin);
            return hal(body);
        }
        let from = request
            .url
            .query_pairs()
            .find(|(k, _)| k == "filter[updated_at][from]")
            .and_then(|(_, v)| v.parse::<i64>().ok())
            .unwrap_or(i64::MIN);
        let page = query_u64(request, "page").unwrap_or(1).max(1);
        let limit = query_u64(request, "limit")
            .unwrap_or(MAX_LIMIT)
            .clamp(1, MAX_LIMIT);
        let offset = Self::offset(from, page, limit);
        if self.faults.hang_at_offset.load(Ordering::SeqCst) == offset {
            return ResponseTemplate::new(200).set_delay(Duration::from_secs(3600));
        }
        if self.faults.fail_at_offset.load(Ordering::SeqCst) == offset {
            return ResponseTemplate::new(503).set_body_raw(
                "<html><body>503 Service Unavailable</body></html>",
                "text/html",
            );
        }
        let Some(mut body) = self.page(from, page, limit, &origin) else {
            return ResponseTemplate::new(204);
        };
        if self.faults.truncate_at_offset.load(Ordering::SeqCst) == offset {
            let mut cut = body.len() / 2;
            while !body.is_char_boundary(cut) {
                cut -= 1;
            }
            body.truncate(cut);
        }
        self.served.fetch_add(1, Ordering::SeqCst);
        hal(body)
    }
}

/// Status of lead `i`: 20 % won, 10 % lost, the rest spread over the open stages.
pub fn status_of(i: u64) -> i64 {
    match i % 10 {
        0 | 1 => 142,
        2 => 143,
        n => OPEN_STATUSES[(n as usize) % OPEN_STATUSES.len()],
    }
}

/// `price` of lead `i` (whole roubles).
pub fn price_of(i: u64) -> u64 {
    10_000 + (i % 50) * 1_000
}

/// The product (select option text) of lead `i`.
pub fn product_of(i: u64) -> &'static str {
    PRODUCTS[(i % PRODUCTS.len() as u64) as usize].0
}

/// The discount text of lead `i`, on every fifth lead.
pub fn discount_of(i: u64) -> Option<String> {
    (i % 5 == 0).then(|| format!("{}.50", (i % 7) * 500))
}

/// Writes lead `i` as amoCRM sends it (`with=contacts,loss_reason`).
pub fn lead_json(i: u64, origin: &str, out: &mut String) {
    let id = FIRST_ID + i;
    let updated = LeadsMock::updated_at(i);
    let created = updated - 86_400 - (i % 3_600) as i64;
    let status = status_of(i);
    let closed = if status == 142 || status == 143 {
        updated.to_string()
    } else {
        "null".to_string()
    };
    let loss = if status == 143 { "7412209" } else { "null" };
    let user = 8_834_501 + (i % 3) * 16;
    let source = SOURCES[(i % SOURCES.len() as u64) as usize];
    let (product, enum_id) = PRODUCTS[(i % PRODUCTS.len() as u64) as usize];
    let region = REGIONS[(i % REGIONS.len() as u64) as usize];
    let _ = write!(
        out,
        "{{\"id\":{id},\"name\":\"Заявка с сайта №{i}\",\"price\":{price},\"responsible_user_id\":{user},\
         \"group_id\":0,\"status_id\":{status},\"pipeline_id\":{PIPELINE_ID},\"loss_reason_id\":{loss},\
         \"created_by\":0,\"updated_by\":{user},\"created_at\":{created},\"updated_at\":{updated},\
         \"closed_at\":{closed},\"closest_task_at\":null,\"is_deleted\":false,\"custom_fields_values\":[\
         {{\"field_id\":1030611,\"field_name\":\"utm_source\",\"field_code\":\"UTM_SOURCE\",\"field_type\":\"tracking_data\",\"values\":[{{\"value\":\"{source}\"}}]}},\
         {{\"field_id\":1030613,\"field_name\":\"utm_medium\",\"field_code\":\"UTM_MEDIUM\",\"field_type\":\"tracking_data\",\"values\":[{{\"value\":\"cpc\"}}]}},\
         {{\"field_id\":1030615,\"field_name\":\"utm_campaign\",\"field_code\":\"UTM_CAMPAIGN\",\"field_type\":\"tracking_data\",\"values\":[{{\"value\":\"spring25_{c}\"}}]}},\
         {{\"field_id\":1030617,\"field_name\":\"utm_content\",\"field_code\":\"UTM_CONTENT\",\"field_type\":\"tracking_data\",\"values\":[{{\"value\":\"ad_{ad}\"}}]}}",
        price = price_of(i),
        c = i % 40,
        ad = i % 300,
    );
    if i % 3 != 0 {
        let _ = write!(
            out,
            ",{{\"field_id\":1030619,\"field_name\":\"utm_term\",\"field_code\":\"UTM_TERM\",\"field_type\":\"tracking_data\",\"values\":[{{\"value\":\"курсы маркетинга {t}\"}}]}}",
            t = i % 17
        );
    }
    match source {
        "google" => {
            let _ = write!(
                out,
                ",{{\"field_id\":1030637,\"field_name\":\"gclid\",\"field_code\":\"GCLID\",\"field_type\":\"tracking_data\",\"values\":[{{\"value\":\"Cj0KCQiA8fW9BhC8ARIsACwHqY{i:010}_wcB\"}}]}}"
            );
        }
        "yandex" => {
            let _ = write!(
                out,
                ",{{\"field_id\":1030639,\"field_name\":\"yclid\",\"field_code\":\"YCLID\",\"field_type\":\"tracking_data\",\"values\":[{{\"value\":\"{y}\"}}]}}",
                y = 7_000_000_000_000_000u64 + i
            );
        }
        _ => {}
    }
    let _ = write!(
        out,
        ",{{\"field_id\":1032841,\"field_name\":\"{PRODUCT_FIELD}\",\"field_code\":null,\"field_type\":\"select\",\"values\":[{{\"value\":\"{product}\",\"enum_id\":{enum_id},\"enum_code\":null}}]}}\
         ,{{\"field_id\":1032843,\"field_name\":\"{REGION_FIELD}\",\"field_code\":null,\"field_type\":\"text\",\"values\":[{{\"value\":\"{region}\"}}]}}\
         ,{{\"field_id\":1032845,\"field_name\":\"{SEGMENT_FIELD}\",\"field_code\":null,\"field_type\":\"select\",\"values\":[{{\"value\":\"{segment}\",\"enum_id\":{seg_enum},\"enum_code\":null}}]}}",
        segment = if i % 4 == 2 { "B2B" } else { "B2C" },
        seg_enum = if i % 4 == 2 { 1_450_201 } else { 1_450_203 },
    );
    if let Some(d) = discount_of(i) {
        let _ = write!(
            out,
            ",{{\"field_id\":1032849,\"field_name\":\"{DISCOUNT_FIELD}\",\"field_code\":null,\"field_type\":\"numeric\",\"values\":[{{\"value\":\"{d}\"}}]}}"
        );
    }
    let _ = write!(
        out,
        "],\"score\":null,\"account_id\":31587402,\"labor_cost\":null,\
         \"_links\":{{\"self\":{{\"href\":\"{origin}/api/v4/leads/{id}\"}}}},\
         \"_embedded\":{{\"tags\":[{{\"id\":583301,\"name\":\"весенний поток 2025\",\"color\":null}}],\"companies\":[],\
         \"contacts\":[{{\"id\":{contact},\"is_main\":true,\"_links\":{{\"self\":{{\"href\":\"{origin}/api/v4/contacts/{contact}\"}}}}}}],\
         \"loss_reason\":[]}}}}",
        contact = 41_000_000 + i,
    );
}

/// `GET /api/v4/leads/pipelines`: one pipeline with an unsorted stage, four open stages and
/// 142/143.
pub fn pipelines_json() -> String {
    let mut statuses = String::new();
    let names = [
        "Новая заявка",
        "Связались",
        "Отправлена ссылка на оплату",
        "Предоплата",
    ];
    let mut all: Vec<(i64, &str, i64, i64)> = vec![(81_000_100, "Неразобранное", 10, 1)];
    for (n, (id, name)) in OPEN_STATUSES.iter().zip(names).enumerate() {
        all.push((*id, name, 20 + 10 * n as i64, 0));
    }
    all.push((142, "Успешно реализовано", 10_000, 0));
    all.push((143, "Закрыто и не реализовано", 11_000, 0));
    for (n, (id, name, sort, kind)) in all.iter().enumerate() {
        if n > 0 {
            statuses.push(',');
        }
        let _ = write!(
            statuses,
            "{{\"id\":{id},\"name\":\"{name}\",\"sort\":{sort},\"is_editable\":{editable},\"pipeline_id\":{PIPELINE_ID},\
             \"color\":\"#99ccff\",\"type\":{kind},\"account_id\":31587402}}",
            editable = *kind == 0 && *id != 142 && *id != 143,
        );
    }
    format!(
        "{{\"_total_items\":1,\"_embedded\":{{\"pipelines\":[{{\"id\":{PIPELINE_ID},\"name\":\"Продажи курсов\",\
         \"sort\":1,\"is_main\":true,\"is_unsorted_on\":true,\"is_archive\":false,\"account_id\":31587402,\
         \"_embedded\":{{\"statuses\":[{statuses}]}}}}]}}}}"
    )
}

/// `GET /api/v4/account`.
pub fn account_json() -> String {
    format!(
        "{{\"id\":31587402,\"name\":\"Охват — школа интернет-маркетинга\",\"subdomain\":\"okhvat\",\
         \"created_at\":1643702400,\"current_user_id\":8834501,\"country\":\"RU\",\"currency\":\"{CURRENCY}\",\
         \"currency_symbol\":\"₽\",\"customers_mode\":\"disabled\",\"is_unsorted_on\":true}}"
    )
}

/// `GET /api/v4/users`: the three responsible users of the generated leads, one page.
pub fn users_json() -> String {
    let mut users = String::new();
    for (n, (name, email, admin, active)) in [
        ("Ольга Смирнова", "O.Smirnova@okhvat-school.ru", true, true),
        ("Артём Ковалёв", "a.kovalev@okhvat-school.ru", false, true),
        (
            "Дарья Лебедева",
            "d.lebedeva@okhvat-school.ru",
            false,
            false,
        ),
    ]
    .iter()
    .enumerate()
    {
        if n > 0 {
            users.push(',');
        }
        let _ = write!(
            users,
            "{{\"id\":{id},\"name\":\"{name}\",\"email\":\"{email}\",\"lang\":\"ru\",\"rights\":{{\
             \"is_admin\":{admin},\"is_free\":false,\"is_active\":{active},\"group_id\":null,\"role_id\":null}}}}",
            id = 8_834_501 + n as u64 * 16,
        );
    }
    format!(
        "{{\"_total_items\":3,\"_page\":1,\"_page_count\":1,\"_embedded\":{{\"users\":[{users}]}}}}"
    )
}

#[okno_connector::async_trait]
impl MockVendor for LeadsMock {
    async fn mount(&self, server: MockServer) -> MockServer {
        Mock::given(method("GET"))
            .and(path("/api/v4/leads"))
            .respond_with(self.clone())
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/api/v4/leads/pipelines"))
            .respond_with(hal(pipelines_json()))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/api/v4/account"))
            .respond_with(hal(account_json()))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/api/v4/users"))
            .respond_with(hal(users_json()))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/api/v4/events"))
            .respond_with(ResponseTemplate::new(204))
            .mount(&server)
            .await;
        server
    }
}
