//! A Zendesk stand-in for tests and benchmarks (feature `mock`): serves a cursor-based
//! incremental ticket export of `total` generated tickets, shaped like the documented one, on a
//! local wiremock server. Ticket `i` is the same on every request, so a resumed sync can be
//! checked record by record.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use okno_connector::testkit::MockVendor;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Id of the first generated ticket.
pub const FIRST_ID: u64 = 1_000_000;
/// Marker for "no fault".
const NONE: u64 = u64::MAX;

/// Faults the export can be told to inject, changeable while the server runs.
#[derive(Debug)]
pub struct Faults {
    /// The page starting at this offset never answers (the client times out or is killed).
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

/// The incremental ticket export of `total` tickets, `per_page` per page.
#[derive(Debug, Clone)]
pub struct TicketExport {
    pub total: u64,
    pub per_page: u64,
    pub faults: Arc<Faults>,
    /// Pages served with 200, for assertions.
    pub served: Arc<AtomicUsize>,
}

impl TicketExport {
    pub fn new(total: u64, per_page: u64) -> Self {
        TicketExport {
            total,
            per_page,
            faults: Arc::default(),
            served: Arc::default(),
        }
    }

    /// The body of the page starting at `offset`.
    pub fn page(&self, offset: u64) -> String {
        let end = (offset + self.per_page).min(self.total);
        let mut body = String::with_capacity(((end - offset) as usize) * 1600 + 512);
        body.push_str("{\"tickets\":[");
        for i in offset..end {
            if i > offset {
                body.push(',');
            }
            ticket_json(i, &mut body);
        }
        let more = end < self.total;
        let _ = write!(
            body,
            "],\"after_url\":\"https://acme.zendesk.com/api/v2/incremental/tickets/cursor.json?cursor={end}\",\
             \"after_cursor\":\"{end}\",\"before_url\":null,\"before_cursor\":null,\"end_of_stream\":{}}}",
            !more
        );
        body
    }
}

impl Respond for TicketExport {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let offset = request
            .url
            .query_pairs()
            .find(|(k, _)| k == "cursor")
            .and_then(|(_, v)| v.parse::<u64>().ok())
            .unwrap_or(0);
        if self.faults.hang_at_offset.load(Ordering::SeqCst) == offset {
            return ResponseTemplate::new(200).set_delay(Duration::from_secs(3600));
        }
        if self.faults.fail_at_offset.load(Ordering::SeqCst) == offset {
            return ResponseTemplate::new(503)
                .set_body_string("{\"error\":\"ServiceUnavailable\"}");
        }
        let mut body = self.page(offset);
        if self.faults.truncate_at_offset.load(Ordering::SeqCst) == offset {
            body.truncate(body.len() / 2);
        }
        self.served.fetch_add(1, Ordering::SeqCst);
        ResponseTemplate::new(200)
            .insert_header("content-type", "application/json; charset=UTF-8")
            .set_body_raw(body, "application/json")
    }
}

/// Writes ticket number `i` (id `FIRST_ID + i`) with every documented field.
pub fn ticket_json(i: u64, out: &mut String) {
    let id = FIRST_ID + i;
    let status = ["new", "open", "pending", "hold", "solved", "closed"][(i % 6) as usize];
    let status = if i % 97 == 0 { "deleted" } else { status };
    let day = 1 + (i % 28);
    let hour = i % 24;
    let assignee = if i % 5 == 0 {
        "null".to_string()
    } else {
        (372_000 + i % 12).to_string()
    };
    let _ = write!(
        out,
        "{{\"url\":\"https://acme.zendesk.com/api/v2/tickets/{id}.json\",\"id\":{id},\"external_id\":null,\
         \"via\":{{\"channel\":\"email\",\"source\":{{\"from\":{{\"address\":\"client{i}@example.com\",\"name\":\"Client {i}\"}},\
         \"to\":{{\"address\":\"marketing@acme.zendesk.com\",\"name\":\"Marketing\"}},\"rel\":null}}}},\
         \"created_at\":\"2026-10-{day:02}T{hour:02}:00:00Z\",\"updated_at\":\"2026-10-{day:02}T{hour:02}:30:00Z\",\
         \"generated_timestamp\":1790000000,\"type\":\"task\",\"subject\":\"Banner set for campaign {c}\",\
         \"raw_subject\":\"Banner set for campaign {c}\",\"description\":\"Please prepare the banner set for campaign {c}: 240x400, 300x250 and 728x90.\",\
         \"priority\":\"normal\",\"status\":\"{status}\",\"recipient\":\"marketing@acme.zendesk.com\",\
         \"requester_id\":{req},\"submitter_id\":{req},\"assignee_id\":{assignee},\"organization_id\":2901,\
         \"group_id\":{group},\"collaborator_ids\":[],\"follower_ids\":[],\"email_cc_ids\":[],\"forum_topic_id\":null,\
         \"problem_id\":null,\"has_incidents\":false,\"is_public\":true,\"due_at\":null,\"tags\":[\"banners\",\"campaign_{c}\"],\
         \"custom_fields\":[{{\"id\":900001,\"value\":\"design\"}}],\"satisfaction_rating\":null,\"sharing_agreement_ids\":[],\
         \"custom_status_id\":360000551005,\"fields\":[{{\"id\":900001,\"value\":\"design\"}}],\"followup_ids\":[],\
         \"ticket_form_id\":360000123451,\"brand_id\":360000098761,\"allow_channelback\":false,\"allow_attachments\":true,\
         \"from_messaging_channel\":false}}",
        c = i % 40,
        req = 500_000 + i % 3000,
        group = 360_001 + i % 4,
    );
}

#[okno_connector::async_trait]
impl MockVendor for TicketExport {
    async fn mount(&self, server: MockServer) -> MockServer {
        Mock::given(method("GET"))
            .and(path("/api/v2/incremental/tickets/cursor.json"))
            .respond_with(self.clone())
            .mount(&server)
            .await;
        server
    }
}
