//! # Demo source (`kind = "demo"`)
//!
//! A seeded, deterministic generator of realistic records of a marketing department — its
//! requests to its own teams, its ad accounts, campaigns and daily spend, and the CRM leads the
//! ads bring — for the first run of a new user, for trying the figures (ROI, CPL, budget) and for
//! benchmarks. It calls no vendor: records are computed, then go through the same engine, store
//! and cursor path as a real vendor's (like vector's `demo_logs`).
//!
//! - **What it owns**: nothing outside this crate. No I/O, no state between calls; a page is a
//!   pure function of the settings, the stream and the cursor.
//! - **Streams** (help-desk records' `raw` is shaped like the Zendesk object of the same kind, ad
//!   records' like the platform's, leads' and stages' like amoCRM's):
//!   - `groups`: [`Group`](okno_connector::Group)s with marketing team names ("Performance Ads",
//!     "Web & Landing Pages", ...); ids `101, 102, ...`.
//!   - `users`: [`Identity`](okno_connector::Identity)s: `agents` agents first (every tenth, from
//!     the first, an `admin`; the rest `agent`), then `requesters` (`end-user`). Names like
//!     "Anna Petrova", lower-case e-mails like `anna.petrova@demo.okno.example`, unique per user.
//!     Ids `1001, 1002, ...`.
//!   - `tickets`: each [`Ticket`](okno_connector::Ticket) followed on the same page by its
//!     [`TicketMetrics`](okno_connector::TicketMetrics). Ids `1, 2, ...` grow with `created_at`,
//!     which follows the working week inside `[anchor_date - days, anchor_date)`. Statuses come
//!     from a simulated life cycle: first reply and resolution times are drawn per ticket, so a
//!     ticket is `new` until its first reply (unassigned until then), `open`/`pending`/`hold`
//!     while worked on, `solved` once solved and `closed` four days later; about 4% never get
//!     solved and about 1% end `deleted` (with `deleted_at` = `updated_at`). Agents work office
//!     hours (Monday to Friday, 09:00 to 18:00 UTC): reply and resolution times are drawn in
//!     business minutes, so first replies and solutions land in office hours, and are reported in
//!     both business and calendar minutes (business ≤ calendar). Assignees are agents of the
//!     ticket's group (agent `k` is in group `k mod groups`), requesters are end users, and
//!     group ids are those of `groups`. With the defaults, about 85% of tickets are closed.
//!   - `campaigns`: three [`AdAccount`](okno_connector::AdAccount)s — Yandex Direct-, Google Ads-
//!     and VK Ads-like, all RUB and `Europe/Moscow` — then `campaigns`
//!     [`Campaign`](okno_connector::Campaign)s across them (channels `yandex_direct`,
//!     `google_ads`, `vk_ads`; Russian and English names; most with a `utm_campaign` slug).
//!     See `ads.rs`.
//!   - `spend`: [`AdSpend`](okno_connector::AdSpend) per running campaign and day over the
//!     `days` before `anchor_date` (account days), exact to the kopeck, with impressions, clicks
//!     and platform conversions; scaled by `leads` so cost per lead stays realistic. One page per
//!     account and 31-day slice, whatever `page_size`: an account's first page starts with its
//!     account, every page ends with the [`SpendWindow`](okno_connector::SpendWindow) of its
//!     slice (the last 3 days provisional), as `okno_connector::spend` describes.
//!   - `tasks`: [`Task`](okno_connector::Task)s of one Jira-like project `MKT`, created over
//!     the same days and assigned to the agents (the `users` ids, so tasks and tickets of one
//!     person meet): done, in progress or to do by a simulated start and business-hours
//!     duration, with story points. See `tasks.rs`.
//!   - `pipelines`: the [`Stage`](okno_connector::Stage)s of one amoCRM-like sales pipeline:
//!     five open stages, won (142) and lost (143).
//!   - `leads`: [`Lead`](okno_connector::Lead)s (entity `lead`, RUB, owners among the agents)
//!     created over the same days; 90% carry the marks of a campaign running that day, Google
//!     leads often a gclid followed on the page by its [`ClickId`](okno_connector::ClickId),
//!     and 10% are unattributed (no marks, a source only, or an unknown `utm_campaign`). About
//!     15% end won (with an amount, a third with a discount); the "Students" segment never buys.
//!     Ids `500001, 500002, ...`. See `crm.rs`.
//! - **Cursor**: `{"offset": n}`, the number of items (tickets, users, groups, accounts and
//!   campaigns, stages, leads; on `spend`, pages) already produced. Each page holds `page_size`
//!   items from the offset (`spend`: one account's slice); `has_more` stays true until the
//!   stream's total is reached. The last cursor stays at the end, so a later run yields nothing new; an
//!   offset past the total (after a setting was lowered) yields nothing and is kept. A cursor
//!   without `offset` is refused (`Invalid`) with a hint to resync with `--full`.
//! - **Settings** (all optional): `seed` (42), `tickets` (2000), `agents` (12), `requesters` (300),
//!   `groups` (4), `page_size` (500), `days` (90), `anchor_date` ("2026-01-01"), `leads` (3000),
//!   `campaigns` (20), `tasks` (1500). See [`Settings`].
//! - **Determinism**: item `i` of a stream depends only on the settings and `i` — not on the page
//!   size, the cursor or earlier pages — so resuming after a crash, or reading with another page
//!   size, yields identical records. Time is taken from `anchor_date`, never from the clock or
//!   from `start_date`: the same settings give the same records byte for byte, today and next
//!   year. Set `anchor_date` to today for data that looks current. Changing any setting other
//!   than `page_size` changes records already stored (creation times are spread by `tickets`,
//!   requesters and assignees drawn among `requesters` and `agents`, spend scaled by `leads`):
//!   resync with `--full`.
//! - **Rate limits**: none.
//! - **Speed**: a few microseconds per ticket with its metrics in a release build (100,000 in
//!   about 0.3 s on a small VM), so benchmarks can produce millions. Instants and URLs in `raw`
//!   are formatted without `fmt` for that reason (see `raw.rs`).

mod ads;
mod config;
mod crm;
mod generate;
mod raw;
mod rng;
mod tasks;
mod timeline;
mod vocabulary;

use std::sync::Arc;

use okno_connector::{
    async_trait, BuildContext, Connector, ConnectorError, ConnectorKind, Cursor, Page, PageRequest,
    Record, SettingsError, StreamSpec,
};
use serde_json::json;

pub use config::Settings;

use generate::Generator;

/// The registry entry for `kind = "demo"`.
pub const KIND: ConnectorKind = ConnectorKind {
    kind: "demo",
    summary: "Demo source: seeded, deterministic help-desk tickets (with reply and resolution times), users and groups of a marketing department, its ad accounts, campaigns and daily spend, and the CRM leads they bring; no vendor needed",
    streams: &[
        StreamSpec {
            name: "groups",
            doc: "generated agent groups; resumes from {\"offset\": n}",
            default: true,
        },
        StreamSpec {
            name: "users",
            doc: "generated agents, admins and requesters; resumes from {\"offset\": n}",
            default: true,
        },
        StreamSpec {
            name: "tickets",
            doc: "generated tickets, each with its metrics; resumes from {\"offset\": n}",
            default: true,
        },
        StreamSpec {
            name: "campaigns",
            doc: "generated ad accounts (Yandex Direct-, Google Ads- and VK Ads-like, RUB, Europe/Moscow), then their campaigns; resumes from {\"offset\": n}",
            default: true,
        },
        StreamSpec {
            name: "spend",
            doc: "generated daily spend per campaign, one page per account and 31-day slice ending with its spend window; resumes from {\"offset\": n} (pages done)",
            default: true,
        },
        StreamSpec {
            name: "pipelines",
            doc: "the generated sales pipeline's stages (open ones, won 142, lost 143); resumes from {\"offset\": n}",
            default: true,
        },
        StreamSpec {
            name: "leads",
            doc: "generated CRM leads with UTM marks and click ids of the generated campaigns (10% unattributed), each gclid followed by its click id; resumes from {\"offset\": n}",
            default: true,
        },
        StreamSpec {
            name: "tasks",
            doc: "generated Jira-like tasks of the marketing project assigned to the agents (done, in progress, to do); resumes from {\"offset\": n}",
            default: true,
        },
    ],
    settings: config::SETTINGS,
    rate_buckets: &[],
    build,
};

fn build(ctx: BuildContext) -> Result<Arc<dyn Connector>, Vec<SettingsError>> {
    let settings = Settings::parse(&ctx.settings)?;
    Ok(Arc::new(Demo::new(settings)?))
}

/// One demo instance.
pub struct Demo {
    generator: Generator,
}

impl Demo {
    /// A demo instance with the given settings, checked as when parsed.
    pub fn new(settings: Settings) -> Result<Demo, Vec<SettingsError>> {
        settings.validate()?;
        Ok(Demo {
            generator: Generator::new(settings),
        })
    }

    /// One page of `stream`: `page_size` items from the cursor's offset, about `per_item` records
    /// each.
    fn page(
        &self,
        stream: &str,
        cursor: Option<&Cursor>,
        total: u64,
        per_item: usize,
        emit: impl FnMut(u64, &mut Vec<Record>),
    ) -> Result<Page, ConnectorError> {
        let page_size = self.generator.settings().page_size;
        self.page_of(stream, cursor, total, page_size, per_item, emit)
    }

    /// One page of `stream`: `page_size` items from the cursor's offset.
    fn page_of(
        &self,
        stream: &str,
        cursor: Option<&Cursor>,
        total: u64,
        page_size: u64,
        per_item: usize,
        mut emit: impl FnMut(u64, &mut Vec<Record>),
    ) -> Result<Page, ConnectorError> {
        let offset = offset(stream, cursor)?;
        // A stored offset past the end (the total was lowered) yields nothing and is kept.
        let end = offset.saturating_add(page_size).min(total).max(offset);
        let mut records = Vec::with_capacity((end - offset) as usize * per_item);
        for i in offset..end {
            emit(i, &mut records);
        }
        Ok(Page {
            records,
            next: Some(Cursor(json!({ "offset": end }))),
            has_more: end < total,
        })
    }
}

#[async_trait]
impl Connector for Demo {
    async fn fetch_page(&self, req: PageRequest<'_>) -> Result<Page, ConnectorError> {
        let g = &self.generator;
        let s = g.settings();
        match req.stream {
            "groups" => self.page(req.stream, req.cursor, s.groups, 1, |i, out| {
                out.push(Record::Group(g.group(i)))
            }),
            "users" => self.page(req.stream, req.cursor, g.users(), 1, |i, out| {
                out.push(Record::Identity(g.user(i)))
            }),
            "tickets" => self.page(req.stream, req.cursor, s.tickets, 2, |i, out| {
                g.ticket(i, out)
            }),
            "campaigns" => self.page(req.stream, req.cursor, g.ads().campaign_items(), 1, |i, out| {
                out.push(g.ads().campaign_item(i))
            }),
            // One account's slice per page, whatever the page size.
            "spend" => self.page_of(req.stream, req.cursor, g.ads().spend_pages(), 1, 256, |k, out| {
                g.ads().spend_page(k, out)
            }),
            "pipelines" => self.page(req.stream, req.cursor, crm::STAGES, 1, |s, out| {
                out.push(Record::Stage(crm::stage(s)))
            }),
            "leads" => self.page(req.stream, req.cursor, s.leads, 1, |i, out| g.lead(i, out)),
            "tasks" => self.page(req.stream, req.cursor, s.tasks, 1, |i, out| g.task(i, out)),
            other => Err(ConnectorError::Invalid(format!(
                "demo has no stream {other:?}; it has groups, users, tickets, campaigns, spend, pipelines, leads and tasks"
            ))),
        }
    }

    async fn check(&self) -> Result<String, ConnectorError> {
        let s = self.generator.settings();
        Ok(format!(
            "demo source, seed {}, {} tickets",
            s.seed, s.tickets
        ))
    }
}

/// The offset a stored cursor points at; 0 without one.
fn offset(stream: &str, cursor: Option<&Cursor>) -> Result<u64, ConnectorError> {
    let Some(Cursor(value)) = cursor else {
        return Ok(0);
    };
    value.get("offset").and_then(|v| v.as_u64()).ok_or_else(|| {
        ConnectorError::Invalid(format!(
            "demo/{stream}: stored cursor {value} has no \"offset\"; run `okno sync <instance> --stream {stream} --full` to start over"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use chrono::{TimeZone, Utc};
    use okno_connector::http::HttpOptions;

    /// The demo never waits, so one poll finishes every call.
    fn now<F: Future>(f: F) -> F::Output {
        match pin!(f).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(v) => v,
            Poll::Pending => panic!("the demo source never waits"),
        }
    }

    fn demo(settings: serde_json::Value) -> Arc<dyn Connector> {
        (KIND.build)(BuildContext {
            instance: "demo".into(),
            settings,
            base_url: None,
            http: HttpOptions::default(),
            tokens: Default::default(),
        })
        .unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn fetch(c: &dyn Connector, stream: &str, cursor: Option<&Cursor>) -> Page {
        now(c.fetch_page(PageRequest {
            stream,
            cursor,
            start: Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap(),
        }))
        .unwrap()
    }

    /// Reads a stream to its end the way the engine does; returns the records, the pages read and
    /// the final cursor.
    fn drain(
        c: &dyn Connector,
        stream: &str,
        mut cursor: Option<Cursor>,
    ) -> (Vec<Record>, usize, Cursor) {
        let mut all = Vec::new();
        for pages in 1..100_000 {
            let page = fetch(c, stream, cursor.as_ref());
            all.extend(page.records);
            cursor = page.next;
            if !page.has_more {
                return (
                    all,
                    pages,
                    cursor.expect("the demo always returns a cursor"),
                );
            }
        }
        panic!("{stream} never ended");
    }

    fn json(records: &[Record]) -> String {
        serde_json::to_string(records).unwrap()
    }

    #[test]
    fn produces_every_stream_in_full_pages() {
        let c = demo(json!({"tickets": 1234, "page_size": 100, "requesters": 150}));
        let (tickets, pages, end) = drain(&*c, "tickets", None);
        assert_eq!(tickets.len(), 2 * 1234);
        assert_eq!(pages, 13);
        assert_eq!(end, Cursor(json!({"offset": 1234})));
        assert!(tickets.chunks(2).all(|pair| matches!(
            pair,
            [Record::Ticket(t), Record::TicketMetrics(m)] if t.ticket_id == m.ticket_id
        )));
        let (users, pages, _) = drain(&*c, "users", None);
        assert_eq!((users.len(), pages), (162, 2));
        assert!(users.iter().all(|r| r.kind() == "person_identity"));
        let (groups, pages, end) = drain(&*c, "groups", None);
        assert_eq!((groups.len(), pages), (4, 1));
        assert_eq!(end, Cursor(json!({"offset": 4})));
        assert!(groups.iter().all(|r| r.kind() == "work_group"));
    }

    #[test]
    fn the_same_records_whatever_the_page_size() {
        let mut previous: Option<[String; 3]> = None;
        for page_size in [1, 7, 500, 10_000] {
            let c = demo(json!({"tickets": 300, "requesters": 40, "page_size": page_size}));
            let all = ["tickets", "users", "groups"].map(|s| json(&drain(&*c, s, None).0));
            if let Some(previous) = &previous {
                assert!(previous == &all, "page size {page_size} changed the data");
            }
            previous = Some(all);
        }
    }

    const MARKETING: [&str; 4] = ["campaigns", "spend", "pipelines", "leads"];

    #[test]
    fn marketing_streams_give_the_same_records_whatever_the_page_size() {
        let mut previous: Option<Vec<String>> = None;
        for page_size in [1, 7, 500, 10_000] {
            let c = demo(json!({"leads": 400, "campaigns": 30, "page_size": page_size}));
            let all: Vec<String> = MARKETING
                .iter()
                .map(|s| json(&drain(&*c, s, None).0))
                .collect();
            if let Some(previous) = &previous {
                assert!(previous == &all, "page size {page_size} changed the data");
            }
            previous = Some(all);
        }
    }

    #[test]
    fn marketing_streams_fill_their_tables() {
        let c = demo(json!({"page_size": 1000}));
        let (campaigns, pages, end) = drain(&*c, "campaigns", None);
        assert_eq!((campaigns.len(), pages), (23, 1));
        assert_eq!(end, Cursor(json!({"offset": 23})));
        assert_eq!(
            campaigns
                .iter()
                .filter(|r| r.kind() == "ad_account")
                .count(),
            3
        );
        // Spend: one page per account and 31-day slice, whatever the page size.
        let (spend, pages, end) = drain(&*c, "spend", None);
        assert_eq!(pages, 9);
        assert_eq!(end, Cursor(json!({"offset": 9})));
        assert_eq!(
            spend
                .iter()
                .filter(|r| matches!(r, Record::SpendWindow(_)))
                .count(),
            9
        );
        assert!(
            spend
                .iter()
                .filter(|r| r.kind() == "ad_spend_daily")
                .count()
                > 1_000
        );
        let (stages, pages, _) = drain(&*c, "pipelines", None);
        assert_eq!((stages.len(), pages), (7, 1));
        let (leads, pages, end) = drain(&*c, "leads", None);
        assert_eq!(pages, 3);
        assert_eq!(end, Cursor(json!({"offset": 3000})));
        assert_eq!(leads.iter().filter(|r| r.kind() == "lead").count(), 3_000);
        assert!(leads
            .iter()
            .all(|r| r.kind() == "lead" || r.kind() == "click_id"));
        let (tasks, pages, end) = drain(&*c, "tasks", None);
        assert_eq!((tasks.len(), pages), (1_500, 2));
        assert_eq!(end, Cursor(json!({"offset": 1500})));
        // Every campaign the spend names was listed by `campaigns`.
        let listed: std::collections::HashSet<(String, String)> = campaigns
            .iter()
            .filter_map(|r| match r {
                Record::Campaign(c) => Some((c.account_id.clone(), c.campaign_id.clone())),
                _ => None,
            })
            .collect();
        assert!(spend.iter().all(|r| match r {
            Record::AdSpend(s) => listed.contains(&(s.account_id.clone(), s.campaign_id.clone())),
            _ => true,
        }));
    }

    #[test]
    fn spend_resumes_at_the_next_slice() {
        let c = demo(json!({}));
        let (whole, _, _) = drain(&*c, "spend", None);
        let first = fetch(&*c, "spend", None);
        assert!(first.has_more);
        assert_eq!(first.next, Some(Cursor(json!({"offset": 1}))));
        let (rest, pages, _) = drain(&*demo(json!({"page_size": 3})), "spend", first.next);
        assert_eq!(pages, 8);
        let mut resumed = first.records;
        resumed.extend(rest);
        assert_eq!(json(&resumed), json(&whole));
    }

    #[test]
    fn resumes_from_a_committed_cursor_with_the_same_records() {
        let c = demo(json!({"tickets": 1000, "page_size": 64}));
        let (whole, _, _) = drain(&*c, "tickets", None);
        // Crash after the third page: the engine restarts from the cursor committed with it,
        // possibly in a process with another page size.
        let mut cursor = None;
        let mut before = Vec::new();
        for _ in 0..3 {
            let page = fetch(&*c, "tickets", cursor.as_ref());
            before.extend(page.records);
            cursor = page.next;
        }
        assert_eq!(cursor, Some(Cursor(json!({"offset": 192}))));
        let restarted = demo(json!({"tickets": 1000, "page_size": 500}));
        let (after, _, _) = drain(&*restarted, "tickets", cursor);
        before.extend(after);
        assert_eq!(json(&before), json(&whole));
    }

    #[test]
    fn a_finished_stream_yields_nothing_new_and_keeps_its_cursor() {
        let c = demo(json!({"tickets": 50}));
        let (_, _, end) = drain(&*c, "tickets", None);
        let again = fetch(&*c, "tickets", Some(&end));
        assert!(again.records.is_empty());
        assert!(!again.has_more);
        assert_eq!(again.next, Some(end));
    }

    #[test]
    fn raising_the_total_produces_only_the_new_tickets() {
        let small = demo(json!({"tickets": 100, "anchor_date": "2025-06-01"}));
        let (_, _, end) = drain(&*small, "tickets", None);
        let bigger = demo(json!({"tickets": 150, "anchor_date": "2025-06-01"}));
        let (more, _, end) = drain(&*bigger, "tickets", Some(end));
        assert_eq!(more.len(), 2 * 50);
        assert_eq!(end, Cursor(json!({"offset": 150})));
        // A cursor past a lowered total is kept, not rewound.
        let page = fetch(&*small, "tickets", Some(&end));
        assert!(page.records.is_empty() && !page.has_more);
        assert_eq!(page.next, Some(end));
    }

    #[test]
    fn no_tickets_is_an_empty_stream() {
        let c = demo(json!({"tickets": 0}));
        let page = fetch(&*c, "tickets", None);
        assert!(page.records.is_empty() && !page.has_more);
        assert_eq!(page.next, Some(Cursor(json!({"offset": 0}))));
    }

    #[test]
    fn the_same_seed_gives_the_same_bytes_and_another_seed_other_ones() {
        let a = json(&drain(&*demo(json!({"tickets": 200})), "tickets", None).0);
        let b = json(&drain(&*demo(json!({"tickets": 200, "seed": 42})), "tickets", None).0);
        let c = json(&drain(&*demo(json!({"tickets": 200, "seed": 7})), "tickets", None).0);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn rejects_an_unknown_setting() {
        let errs = (KIND.build)(BuildContext {
            instance: "demo".into(),
            settings: json!({"tickets": 10, "speed": "fast"}),
            base_url: None,
            http: HttpOptions::default(),
            tokens: Default::default(),
        })
        .err()
        .expect("unknown key rejected");
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].key, "speed");
        assert_eq!(errs[0].message, "unknown key");
    }

    #[test]
    fn rejects_a_cursor_without_an_offset_and_an_unknown_stream() {
        let c = demo(json!({}));
        let bad = Cursor(json!({"after_cursor": "abc"}));
        let err = now(c.fetch_page(PageRequest {
            stream: "tickets",
            cursor: Some(&bad),
            start: Utc::now(),
        }))
        .unwrap_err();
        assert_eq!(err.class(), "invalid");
        assert!(err.to_string().contains("--full"), "{err}");
        let err = now(c.fetch_page(PageRequest {
            stream: "deals",
            cursor: None,
            start: Utc::now(),
        }))
        .unwrap_err();
        assert_eq!(err.class(), "invalid");
    }

    #[test]
    fn check_describes_the_instance() {
        let c = demo(json!({"seed": 7, "tickets": 100}));
        assert_eq!(now(c.check()).unwrap(), "demo source, seed 7, 100 tickets");
        assert_eq!(
            now(demo(json!({})).check()).unwrap(),
            "demo source, seed 42, 2000 tickets"
        );
    }

    #[test]
    fn describes_itself_for_the_registry() {
        assert_eq!(KIND.kind, "demo");
        let streams: Vec<&str> = KIND.streams.iter().map(|s| s.name).collect();
        assert_eq!(
            streams,
            [
                "groups",
                "users",
                "tickets",
                "campaigns",
                "spend",
                "pipelines",
                "leads",
                "tasks"
            ]
        );
        assert!(KIND.streams.iter().all(|s| s.default));
        let settings: Vec<&str> = KIND.settings.iter().map(|s| s.name).collect();
        assert!(settings.contains(&"leads") && settings.contains(&"campaigns"));
        assert!(KIND.rate_buckets.is_empty());
        assert!(KIND.settings.iter().all(|s| !s.required && !s.secret));
        assert!(KIND.stream("tickets").is_some());
    }

    #[test]
    fn demo_new_checks_its_settings() {
        assert!(Demo::new(Settings::default()).is_ok());
        let errs = Demo::new(Settings {
            page_size: 0,
            ..Settings::default()
        })
        .err()
        .unwrap();
        assert_eq!(errs[0].key, "page_size");
    }
}
