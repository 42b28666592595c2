//! People and team figures over a hand-built data set, on SQLite and PostgreSQL alike, and the
//! validation of `[[team]]`. Every expected figure is worked out in the comments.
//!
//! The set, for November 2026 in Europe/Moscow (UTC+3, so November is
//! 2026-10-31T21:00Z..2026-11-30T21:00Z):
//! - Anna Smirnova: Zendesk 901 and Jira a-1, both carrying anna@acme.example (one person by
//!   e-mail); owns the channel yandex_direct; in team PPC.
//! - Boris Ivanov: Zendesk 902 (carries an e-mail of its own) and Trello b0r1s (no e-mail),
//!   both joined by `people.toml` accounts; in teams PPC and Content.
//! - Vera Petrova: listed, in team Content, no work at all.
//! - Jira ghost77 "Gleb (contractor)": an identity nobody listed: its own person.
//! - Trello nobody1: an assignee with no identity row at all.

mod common;

use common::engine::load_config;

use std::collections::BTreeSet;
use std::sync::Arc;

use okno::config::people::{self, channel_teams};
use okno::config::Config;
use okno::figures::people::{people as people_report, teams as teams_report, PersonFigures};
use okno::figures::roi::Period;
use okno_connector::serde_json::value::RawValue;
use okno_connector::{Identity, Record, StatusCategory, Task, Ticket, TicketMetrics};

use common::records::{self, at, dec as d};

fn raw() -> Box<RawValue> {
    RawValue::from_string("{}".into()).unwrap()
}

fn identity(user: &str, name: &str, email: Option<&str>) -> Record {
    Record::Identity(Identity {
        user_id: user.into(),
        name: Some(name.into()),
        email: email.map(str::to_string),
        role: Some("agent".into()),
        active: true,
        updated_at: at("2026-09-01T00:00:00Z"),
        raw: raw(),
    })
}

/// A ticket and, when `solved_at` is given, its metrics:
/// (reply, reply business, resolution, resolution business) minutes.
fn ticket(
    id: &str,
    status: &str,
    assignee: Option<&str>,
    solved_at: Option<&str>,
    minutes: [Option<i64>; 4],
    deleted: bool,
) -> Vec<Record> {
    let mut out = vec![Record::Ticket(Ticket {
        ticket_id: id.into(),
        subject: Some(format!("Request {id}")),
        status: status.into(),
        priority: None,
        ticket_type: None,
        channel: Some("email".into()),
        requester_id: Some("5000".into()),
        assignee_id: assignee.map(str::to_string),
        group_id: None,
        organization_id: None,
        tags: vec![],
        created_at: at("2026-10-01T00:00:00Z"),
        updated_at: at("2026-12-03T00:00:00Z"),
        deleted_at: deleted.then(|| at("2026-12-03T00:00:00Z")),
        raw: raw(),
    })];
    if let Some(s) = solved_at {
        out.push(Record::TicketMetrics(TicketMetrics {
            ticket_id: id.into(),
            created_at: Some(at("2026-10-01T00:00:00Z")),
            updated_at: at("2026-12-03T00:00:00Z"),
            assigned_at: None,
            solved_at: Some(at(s)),
            reply_minutes_calendar: minutes[0],
            reply_minutes_business: minutes[1],
            resolution_minutes_calendar: minutes[2],
            resolution_minutes_business: minutes[3],
            reopens: Some(0),
            replies: Some(1),
            raw: raw(),
        }));
    }
    out
}

fn task(
    id: &str,
    assignee: &str,
    category: StatusCategory,
    created: &str,
    done: Option<&str>,
    deleted: bool,
) -> Record {
    Record::Task(Box::new(Task {
        task_id: id.into(),
        key: Some(id.into()),
        title: format!("Work {id}"),
        project: None,
        project_name: None,
        task_type: None,
        labels: vec![],
        assignee_id: Some(assignee.into()),
        reporter_id: None,
        status: category.as_str().into(),
        status_category: category,
        created_at: at(created),
        updated_at: at("2026-12-03T00:00:00Z"),
        started_at: None,
        done_at: done.map(at),
        campaign: None,
        estimate: None,
        deleted_at: deleted.then(|| at("2026-12-03T00:00:00Z")),
        raw: raw(),
    }))
}

fn ad(
    source_account: &str,
    campaign: &str,
    name: &str,
    channel: &str,
    spend: &[(&str, &str)],
) -> Vec<Record> {
    let mut out = vec![
        records::account(source_account, "RUB"),
        records::campaign(source_account, campaign, name, channel),
    ];
    out.extend(
        spend
            .iter()
            .map(|(date, cost)| records::spend(source_account, campaign, date, cost, "RUB")),
    );
    out
}

/// A lead marked with `utm_campaign` or (`source:`) `utm_source`; won: (closed at, amount,
/// discount) in RUB.
fn lead(id: &str, created: &str, mark: &str, won: Option<(&str, &str, &str)>) -> Record {
    let won = won.map(|(closed, amount, discount)| (closed, amount, discount, "RUB"));
    match mark.strip_prefix("source:") {
        Some(source) => {
            let mut record = records::lead(id, created, None, won);
            if let Record::Lead(l) = &mut record {
                l.marks.utm_source = Some(source.into());
            }
            record
        }
        None => records::lead(id, created, Some(mark), won),
    }
}

const PEOPLE_TOML: &str = r#"
[[person]]
name = "Anna Smirnova"
email = "anna@acme.example"
channels = ["yandex_direct"]

[[person]]
name = "Boris Ivanov"
accounts = ["zd:902", "trello:b0r1s"]

[[person]]
name = "Vera Petrova"
email = "vera@acme.example"

[[team]]
name = "PPC"
group = "inbound"
members = ["Anna Smirnova", "Boris Ivanov"]
channels = ["yandex_direct", "google_ads"]

[[team]]
name = "Content"
group = "inbound"
members = ["vera@acme.example", "Boris Ivanov"]
channels = ["seo"]
"#;

fn instances() -> BTreeSet<String> {
    ["zd", "jira", "trello", "direct", "google", "vk", "amo"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// The report settings and an attribution rule for seo, with `people_toml` beside them.
fn config(people_toml: &str) -> Config {
    let mut config = (*load_config(
        "[report]\ncurrency = \"RUB\"\ntimezone = \"Europe/Moscow\"\n\n\
         [[attribution.rule]]\nfield = \"utm_source\"\nvalue = \"seo-blog\"\nchannel = \"seo\"\n",
        &[],
    ))
    .clone();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(people::FILE_NAME), people_toml).unwrap();
    config.people = Arc::new(people::load(&dir.path().join("okno.toml"), &instances()).unwrap());
    config
}

async fn load(store: &okno::store::Store, config: &Config) {
    store
        .commit_page(
            "zd",
            "users",
            &[
                identity("901", "anna.s", Some("anna@acme.example")),
                identity("902", "Boris I.", Some("boris.private@mail.example")),
            ],
            None,
        )
        .await
        .unwrap();
    store
        .commit_page(
            "jira",
            "users",
            &[
                identity("a-1", "Anna S", Some("anna@acme.example")),
                identity("ghost77", "Gleb (contractor)", None),
            ],
            None,
        )
        .await
        .unwrap();
    store
        .commit_page(
            "trello",
            "members",
            &[identity("b0r1s", "boris_i", None)],
            None,
        )
        .await
        .unwrap();
    store.apply_people(&config.people).await.unwrap();

    let none = [None; 4];
    let m = |a, b: Option<i64>, c, e| [Some(a), b, Some(c), Some(e)];
    let tickets: Vec<Record> = [
        // Anna (901). 21:05 UTC on 31 October is 00:05 on 1 November in Moscow: November.
        ticket(
            "T1",
            "solved",
            Some("901"),
            Some("2026-10-31T21:05:00Z"),
            m(10, Some(5), 100, 60),
            false,
        ),
        ticket(
            "T2",
            "closed",
            Some("901"),
            Some("2026-11-10T12:00:00Z"),
            m(30, Some(20), 300, 200),
            false,
        ),
        // 23:30 UTC on 30 November is 02:30 on 1 December in Moscow: December.
        ticket(
            "T3",
            "solved",
            Some("901"),
            Some("2026-11-30T23:30:00Z"),
            m(90, Some(90), 900, 900),
            false,
        ),
        ticket(
            "T4",
            "solved",
            Some("901"),
            Some("2026-11-20T10:00:00Z"),
            m(20, Some(15), 200, 120),
            false,
        ),
        // 20:30 UTC on 31 October is 23:30 in Moscow: still October.
        ticket(
            "T5",
            "solved",
            Some("901"),
            Some("2026-10-31T20:30:00Z"),
            m(1, Some(1), 1, 1),
            false,
        ),
        // Deleted: counts nowhere.
        ticket(
            "T6",
            "solved",
            Some("901"),
            Some("2026-11-12T10:00:00Z"),
            m(1, Some(1), 1, 1),
            true,
        ),
        ticket("T7", "open", Some("901"), None, none, false),
        ticket("T8", "pending", Some("901"), None, none, false),
        // Boris (902): two tickets, one without business minutes for the first reply.
        ticket(
            "T9",
            "solved",
            Some("902"),
            Some("2026-11-05T09:00:00Z"),
            m(40, Some(30), 500, 400),
            false,
        ),
        ticket(
            "T10",
            "solved",
            Some("902"),
            Some("2026-11-06T09:00:00Z"),
            m(60, None, 700, 450),
            false,
        ),
        ticket("T11", "hold", Some("902"), None, none, false),
        // Nobody's: not counted for anyone.
        ticket(
            "T12",
            "solved",
            None,
            Some("2026-11-07T09:00:00Z"),
            m(5, Some(5), 5, 5),
            false,
        ),
    ]
    .concat();
    store
        .commit_page("zd", "tickets", &tickets, None)
        .await
        .unwrap();

    use StatusCategory::{Done, InProgress, Todo};
    let jira = [
        // Anna: 26 h and 360 h (15 days) → median 193 h.
        task(
            "J1",
            "a-1",
            Done,
            "2026-11-02T10:00:00Z",
            Some("2026-11-03T12:00:00Z"),
            false,
        ),
        task(
            "J2",
            "a-1",
            Done,
            "2026-10-20T09:00:00Z",
            Some("2026-11-04T09:00:00Z"),
            false,
        ),
        // Done in December.
        task(
            "J3",
            "a-1",
            Done,
            "2026-11-10T00:00:00Z",
            Some("2026-12-02T00:00:00Z"),
            false,
        ),
        task("J4", "a-1", InProgress, "2026-11-10T00:00:00Z", None, false),
        task("J5", "a-1", Todo, "2026-11-10T00:00:00Z", None, false),
        // Gleb: 8 h.
        task(
            "J6",
            "ghost77",
            Done,
            "2026-11-11T00:00:00Z",
            Some("2026-11-11T08:00:00Z"),
            false,
        ),
    ];
    store
        .commit_page("jira", "issues", &jira, None)
        .await
        .unwrap();
    let trello = [
        // Boris: 2.5 h, 24 h, 1 h → median 2.5 h.
        task(
            "C1",
            "b0r1s",
            Done,
            "2026-11-01T08:00:00Z",
            Some("2026-11-01T10:30:00Z"),
            false,
        ),
        task(
            "C2",
            "b0r1s",
            Done,
            "2026-11-05T00:00:00Z",
            Some("2026-11-06T00:00:00Z"),
            false,
        ),
        task(
            "C3",
            "b0r1s",
            Done,
            "2026-11-07T00:00:00Z",
            Some("2026-11-07T01:00:00Z"),
            false,
        ),
        // 20:00 UTC on 31 October is 23:00 in Moscow: October.
        task(
            "C4",
            "b0r1s",
            Done,
            "2026-10-30T00:00:00Z",
            Some("2026-10-31T20:00:00Z"),
            false,
        ),
        // Deleted: not in progress for anyone.
        task(
            "C5",
            "b0r1s",
            InProgress,
            "2026-11-01T00:00:00Z",
            None,
            true,
        ),
        // An account no identity row knows.
        task(
            "C6",
            "nobody1",
            InProgress,
            "2026-11-01T00:00:00Z",
            None,
            false,
        ),
    ];
    store
        .commit_page("trello", "cards", &trello, None)
        .await
        .unwrap();

    // yandex_direct: 1,500 in November; google_ads 300; vk_ads 200 (no team owns it).
    let direct = ad(
        "brand-acc",
        "701",
        "Brand",
        "yandex_direct",
        &[("2026-11-02", "1000.00"), ("2026-11-03", "500.00")],
    );
    store
        .commit_page("direct", "spend", &direct, None)
        .await
        .unwrap();
    let google = ad(
        "g-acc",
        "901",
        "Autumn",
        "google_ads",
        &[("2026-11-10", "300.00")],
    );
    store
        .commit_page("google", "spend", &google, None)
        .await
        .unwrap();
    let vk = ad(
        "vk-acc",
        "55",
        "Spring VK",
        "vk_ads",
        &[("2026-11-11", "200.00")],
    );
    store.commit_page("vk", "spend", &vk, None).await.unwrap();
    let leads = vec![
        // yandex_direct: L1 (won 5,000) and L2; L6 is October in Moscow.
        lead(
            "L1",
            "2026-11-03T10:00:00Z",
            "Brand",
            Some(("2026-11-05T10:00:00Z", "5000", "0")),
        ),
        lead("L2", "2026-11-04T10:00:00Z", "Brand", None),
        lead("L6", "2026-10-31T20:00:00Z", "Brand", None),
        // google_ads: won 1,200.
        lead(
            "L3",
            "2026-11-12T10:00:00Z",
            "Autumn",
            Some(("2026-11-20T10:00:00Z", "1200", "0")),
        ),
        // seo by the rule: won 800 − 100.
        lead(
            "L4",
            "2026-11-15T10:00:00Z",
            "source:seo-blog",
            Some(("2026-11-25T10:00:00Z", "800", "100")),
        ),
        lead("L5", "2026-11-16T10:00:00Z", "Spring VK", None),
    ];
    store
        .commit_page("amo", "leads", &leads, None)
        .await
        .unwrap();
}

fn row<'a>(rows: &'a [PersonFigures], name: &str) -> &'a PersonFigures {
    rows.iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no row {name}: {rows:#?}"))
}

store_test!(async fn people_figures_match_the_set_worked_out_by_hand(store) {
    let config = config(PEOPLE_TOML);
    load(&store, &config).await;
    let nov = people_report(&store, &config, &Period::parse("2026-11").unwrap()).await.unwrap();
    let names: Vec<&str> = nov.rows.iter().map(|p| p.name.as_str()).collect();
    // Listed people, the unlisted identity under its own name, the unknown account under its id.
    assert_eq!(names, ["Anna Smirnova", "Boris Ivanov", "Gleb (contractor)", "Vera Petrova", "trello:nobody1"]);

    // Anna: T1 (00:05 Moscow on the first day), T2 (closed), T4; not T3 (December), T5
    // (October) or T6 (deleted). Replies 10, 30, 20 → 20; business 5, 20, 15 → 15; resolution
    // 100, 300, 200 → 200; business 60, 200, 120 → 120. Tasks J1 26 h, J2 360 h → 193 h.
    // WIP: T7 open, T8 pending, J4 in progress = 3. Channel yandex_direct: L1, L2; L1 won 5,000.
    let anna = row(&nov.rows, "Anna Smirnova");
    assert_eq!(anna.person_id, "email:anna@acme.example");
    assert_eq!(anna.teams, ["PPC"]);
    assert_eq!(anna.tickets_solved, 3);
    assert_eq!(
        (anna.reply_median_minutes, anna.reply_median_business_minutes),
        (Some(d("20")), Some(d("15")))
    );
    assert_eq!(
        (anna.resolution_median_minutes, anna.resolution_median_business_minutes),
        (Some(d("200")), Some(d("120")))
    );
    assert_eq!((anna.tasks_done, anna.lead_time_median_hours), (2, Some(d("193"))));
    assert_eq!((anna.wip_tickets, anna.wip_tasks, anna.wip()), (2, 1, 3));
    let f = anna.channel_figures.as_ref().unwrap();
    assert_eq!((f.leads, f.won, f.revenue), (2, 1, d("5000")));

    // Boris through people.toml accounts (Zendesk 902 despite its own e-mail, Trello b0r1s):
    // T9, T10 → replies 40, 60 → 50 (even count); business only T9's 30; resolution 500, 700
    // → 600; business 400, 450 → 425. Cards C1 2.5 h, C2 24 h, C3 1 h → 2.5 h; C4 is October.
    // WIP: T11 on hold; C5 deleted.
    let boris = row(&nov.rows, "Boris Ivanov");
    assert_eq!(boris.person_id, "people.toml:Boris Ivanov");
    assert_eq!(boris.teams, ["PPC", "Content"]);
    assert_eq!(boris.tickets_solved, 2);
    assert_eq!(
        (boris.reply_median_minutes, boris.reply_median_business_minutes),
        (Some(d("50")), Some(d("30")))
    );
    assert_eq!(
        (boris.resolution_median_minutes, boris.resolution_median_business_minutes),
        (Some(d("600")), Some(d("425")))
    );
    assert_eq!((boris.tasks_done, boris.lead_time_median_hours), (3, Some(d("2.5"))));
    assert_eq!(boris.wip(), 1);
    assert_eq!(boris.channel_figures, None, "owns no channel");

    // Gleb: J6, 8 h; no tickets → n/a medians.
    let gleb = row(&nov.rows, "Gleb (contractor)");
    assert_eq!(gleb.person_id, "jira:ghost77");
    assert_eq!((gleb.tasks_done, gleb.lead_time_median_hours, gleb.tickets_solved), (1, Some(d("8")), 0));
    assert_eq!(gleb.reply_median_minutes, None);

    // Vera: nothing at all.
    let vera = row(&nov.rows, "Vera Petrova");
    assert_eq!((vera.tickets_solved, vera.tasks_done, vera.wip()), (0, 0, 0));
    assert_eq!((vera.reply_median_minutes, vera.resolution_median_business_minutes, vera.lead_time_median_hours), (None, None, None));
    assert_eq!(vera.teams, ["Content"]);

    let nobody = row(&nov.rows, "trello:nobody1");
    assert_eq!((nobody.wip_tasks, nobody.tasks_done), (1, 0));

    // As presented: n/a is null in JSON, medians of minutes to one place, hours to two.
    let json = nov.table().json();
    assert_eq!((json["currency"].as_str(), json["timezone"].as_str()), (Some("RUB"), Some("Europe/Moscow")));
    assert_eq!((json["from"].as_str(), json["to"].as_str()), (Some("2026-11-01"), Some("2026-11-30")));
    let boris_json = &json["rows"][1];
    assert_eq!(boris_json["reply_median_min"], "50.0");
    assert_eq!(boris_json["lead_time_median_h"], "2.50");
    assert_eq!(boris_json["wip"], 1);
    assert!(boris_json["leads"].is_null());
    assert!(json["rows"][3]["resolution_median_min"].is_null(), "Vera: n/a");
    assert_eq!(json["rows"][0]["revenue"], "5000.00");

    // The neighbouring months take what November left out.
    let dec = people_report(&store, &config, &Period::parse("2026-12").unwrap()).await.unwrap();
    let anna = row(&dec.rows, "Anna Smirnova");
    // T3 (02:30 Moscow on 1 December), J3 (22 days = 528 h).
    assert_eq!((anna.tickets_solved, anna.reply_median_minutes, anna.tasks_done, anna.lead_time_median_hours), (1, Some(d("90")), 1, Some(d("528"))));
    let oct = people_report(&store, &config, &Period::parse("2026-10").unwrap()).await.unwrap();
    // T5 (23:30 Moscow on 31 October); C4 (23:00 Moscow on 31 October, 44 h after creation).
    assert_eq!(row(&oct.rows, "Anna Smirnova").tickets_solved, 1);
    let boris = row(&oct.rows, "Boris Ivanov");
    assert_eq!((boris.tasks_done, boris.lead_time_median_hours), (1, Some(d("44"))));
});

store_test!(async fn team_figures_sum_owned_channels_and_members_work(store) {
    let config = config(PEOPLE_TOML);
    load(&store, &config).await;
    let nov = teams_report(&store, &config, &Period::parse("2026-11").unwrap()).await.unwrap();
    assert_eq!(nov.rows.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["PPC", "Content"]);

    // PPC: yandex_direct (1,500; L1, L2; won 5,000) + google_ads (300; L3 won 1,200) → spend
    // 1,800, 3 leads, CPL 600, 2 won, revenue 6,200, ROI (6,200 − 1,800) / 1,800 = 2.4444.
    // Work: Anna (3 tickets, 2 tasks, WIP 3) + Boris (2, 3, 1) = 5, 5, 4.
    let ppc = &nov.rows[0];
    assert_eq!(ppc.group.as_deref(), Some("inbound"));
    assert_eq!(ppc.members, ["Anna Smirnova", "Boris Ivanov"]);
    let f = ppc.channel_figures.as_ref().unwrap();
    assert_eq!((f.spend, f.leads, f.won, f.revenue), (d("1800"), 3, 2, d("6200")));
    assert_eq!(f.cpl(), Some(d("600")));
    assert_eq!(f.roi().unwrap().round_dp(4), d("2.4444"));
    assert_eq!((ppc.tickets_solved, ppc.tasks_done, ppc.wip), (5, 5, 4));
    assert_eq!(ppc.budget_utilisation, None);

    // Content: seo (no spend; L4 won 800 − 100) → CPL 0 / 1 = 0, ROI n/a (nothing spent).
    // Work: Vera (nothing) + Boris.
    let content = &nov.rows[1];
    assert_eq!(content.members, ["Vera Petrova", "Boris Ivanov"]);
    let f = content.channel_figures.as_ref().unwrap();
    assert_eq!((f.spend, f.leads, f.won, f.revenue), (d("0"), 1, 1, d("700")));
    assert_eq!((f.cpl(), f.roi()), (Some(d("0")), None));
    assert_eq!((content.tickets_solved, content.tasks_done, content.wip), (2, 3, 1));

    // vk_ads has spend and a lead but no team: said under the table.
    assert_eq!(nov.unowned_channels, ["vk_ads"]);
    let table = nov.table();
    assert!(table.notes.iter().any(|n| n.contains("vk_ads")), "{:?}", table.notes);
    let json = table.json();
    assert_eq!(json["rows"][0]["cpl"], "600.00");
    assert_eq!(json["rows"][0]["roi"], "2.4444");
    assert_eq!(json["rows"][1]["cpl"], "0.00");
    assert!(json["rows"][1]["roi"].is_null());
    assert!(json["rows"][0]["budget_utilisation"].is_null());
    assert!(table.csv().unwrap().starts_with(
        "team,group,members,channels,spend,leads,cpl,won,revenue,roi,tickets_solved,tasks_done,wip,budget_plan,budget_utilisation\n\
         PPC,inbound,\"Anna Smirnova, Boris Ivanov\",\"yandex_direct, google_ads\",1800.00,3,600.00,2,6200.00,2.4444,5,5,4,,\n"
    ));

    // With a budget: PPC's channel line for yandex_direct (3,000) and campaign line for Autumn
    // on google_ads (600) make a plan of 3,600; November is over, so actual = 1,500 + 300 =
    // 1,800 and utilisation 1,800 / 3,600 = 0.5. The vk_ads line is no team's; the overhead
    // line is not media. Content plans nothing: n/a.
    let mut config = config;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("budgets.toml"),
        "[[line]]\nid = \"direct\"\nperiod = \"2026-11\"\nchannel = \"yandex_direct\"\namount = \"3000\"\ncurrency = \"RUB\"\n\n\
         [[line]]\nid = \"autumn\"\nperiod = \"2026-11\"\ncampaign = \"google:901\"\namount = \"600\"\ncurrency = \"RUB\"\n\n\
         [[line]]\nid = \"vk\"\nperiod = \"2026-11\"\nchannel = \"vk_ads\"\namount = \"1000\"\ncurrency = \"RUB\"\n\n\
         [[line]]\nid = \"seats\"\nperiod = \"2026-11\"\nkind = \"overhead\"\namount = \"5000\"\ncurrency = \"RUB\"\n",
    )
    .unwrap();
    config.budgets = Arc::new(
        okno::config::budgets::load(&dir.path().join("okno.toml"), &instances()).unwrap(),
    );
    let nov = teams_report(&store, &config, &Period::parse("2026-11").unwrap()).await.unwrap();
    assert_eq!((nov.rows[0].budget_plan, nov.rows[0].budget_utilisation), (Some(d("3600")), Some(d("0.5"))));
    assert_eq!((nov.rows[1].budget_plan, nov.rows[1].budget_utilisation), (None, None));
    assert_eq!(nov.table().json()["rows"][0]["budget_utilisation"], "0.5000");
});

store_test!(async fn an_empty_store_gives_listed_people_zero_counts_and_na_medians(store) {
    let config = config(PEOPLE_TOML);
    store.apply_people(&config.people).await.unwrap();
    let nov = people_report(&store, &config, &Period::parse("2026-11").unwrap()).await.unwrap();
    assert_eq!(nov.rows.len(), 3, "the three listed people, nobody else");
    for p in &nov.rows {
        assert_eq!((p.tickets_solved, p.tasks_done, p.wip()), (0, 0, 0), "{}", p.name);
        assert_eq!((p.reply_median_minutes, p.lead_time_median_hours), (None, None));
    }
    let anna = row(&nov.rows, "Anna Smirnova");
    let f = anna.channel_figures.as_ref().unwrap();
    assert_eq!((f.leads, f.won, f.revenue), (0, 0, d("0")), "owns a channel with nothing in it");
});

#[test]
fn each_channel_maps_to_the_team_that_owns_it() {
    let config = config(PEOPLE_TOML);
    let map = channel_teams(&config.people);
    assert_eq!(
        map.into_iter().collect::<Vec<_>>(),
        [
            ("google_ads".to_string(), "PPC".to_string()),
            ("seo".to_string(), "Content".to_string()),
            ("yandex_direct".to_string(), "PPC".to_string()),
        ]
    );
    // Members are person ids: by [[person]] name, or by e-mail (a listed person's e-mail is
    // that person).
    let content = &config.people.teams[1];
    assert_eq!(
        content.members,
        ["email:vera@acme.example", "people.toml:Boris Ivanov"]
    );
    assert_eq!(config.people.people[0].channels, ["yandex_direct"]);
}

#[test]
fn team_mistakes_name_the_file_key_and_fix() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(people::FILE_NAME),
        r#"
[[person]]
name = "Anna"
channels = ["seo", " "]

[[team]]
name = "PPC"
members = ["Anna", "Anya", "new.hire@acme.example"]
channels = ["yandex_direct"]

[[team]]
name = "PPC"
members = ["Anna"]

[[team]]
name = "Outbound"
group = ""
members = ["Anna", "Anna"]
channels = ["yandex_direct", "email"]
"#,
    )
    .unwrap();
    let issues = people::load(&dir.path().join("okno.toml"), &instances()).unwrap_err();
    let text: Vec<String> = issues.iter().map(|i| i.to_string()).collect();
    assert_eq!(issues.len(), 6, "{text:#?}");
    assert!(
        text.iter().all(|t| t.contains("people.toml: ")),
        "{text:#?}"
    );
    assert!(
        text[0].contains("person[0].channels[1]: is empty"),
        "{}",
        text[0]
    );
    // An e-mail is a fine member (its person is matched by e-mail); an unknown name is not.
    assert!(
        text[1].contains("team[0].members[1]: \"Anya\" is neither a [[person]] name nor an e-mail"),
        "{}",
        text[1]
    );
    assert!(
        text[1].contains("hint: write a [[person]] name (Anna) or an e-mail"),
        "{}",
        text[1]
    );
    assert!(
        text[2].contains("team[1].name: team \"PPC\" is listed twice"),
        "{}",
        text[2]
    );
    assert!(text[3].contains("team[2].group: is empty"), "{}", text[3]);
    assert!(
        text[4].contains("team[2].members[1]: \"Anna\" is already a member"),
        "{}",
        text[4]
    );
    assert!(
        text[5].contains(
            "team[2].channels[0]: channel \"yandex_direct\" is already owned by team \"PPC\""
        ) && text[5].contains("hint: a channel's leads and spend count for one team only"),
        "{}",
        text[5]
    );
}

fn okno(args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_okno"))
        .args(args)
        .env_remove("OKNO_CONFIG")
        .output()
        .expect("run okno");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn report_people_and_teams_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("okno.toml");
    let db = dir.path().join("okno.db");
    std::fs::write(
        &path,
        format!("[store]\nurl = \"sqlite://{}\"\n", db.display()),
    )
    .unwrap();
    let config = path.to_str().unwrap();

    // Without [[team]] there is nothing to report on teams, and the error says where to add one.
    let (ok, out) = okno(&["--config", config, "report", "teams", "--period", "2026-11"]);
    assert!(!ok);
    assert!(
        out.contains("no [[team]] in") && out.contains("people.toml"),
        "{out}"
    );

    std::fs::write(
        dir.path().join(people::FILE_NAME),
        "[[person]]\nname = \"Anna\"\nemail = \"anna@acme.example\"\n\n\
         [[team]]\nname = \"Outbound\"\ngroup = \"outbound\"\nmembers = [\"Anna\"]\nchannels = [\"influencers\"]\n",
    )
    .unwrap();
    // 12,500.50 + 99.50 of spend on the influencers channel in November.
    let spend = dir.path().join("spend.csv");
    std::fs::write(
        &spend,
        "date,channel,campaign_id,cost,currency\n\
         2026-11-01,influencers,anna,12500.50,RUB\n2026-11-02,influencers,anna,99.50,RUB\n",
    )
    .unwrap();
    let (ok, out) = okno(&[
        "--config",
        config,
        "import",
        "spend",
        spend.to_str().unwrap(),
    ]);
    assert!(ok, "{out}");

    let (ok, out) = okno(&[
        "--config", config, "report", "people", "--period", "2026-11", "--format", "csv",
    ]);
    assert!(ok, "{out}");
    assert!(
        out.starts_with("person,person_id,teams,tickets_solved,"),
        "{out}"
    );
    assert!(
        out.contains("\nAnna,email:anna@acme.example,Outbound,0,,,,,0,,0,0,0,,,,\n"),
        "{out}"
    );

    let (ok, out) = okno(&[
        "--config", config, "report", "teams", "--period", "2026-11", "--format", "json",
    ]);
    assert!(ok, "{out}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (json["report"].as_str(), json["from"].as_str()),
        (Some("teams"), Some("2026-11-01"))
    );
    let row = &json["rows"][0];
    // 12,600 spent, no leads: CPL n/a; ROI (0 − 12,600) / 12,600 = −1.
    assert_eq!(
        (row["team"].as_str(), row["spend"].as_str()),
        (Some("Outbound"), Some("12600.00"))
    );
    assert_eq!(row["roi"], "-1.0000");
    assert!(row["cpl"].is_null() && row["budget_utilisation"].is_null());

    let (ok, out) = okno(&["--config", config, "report", "teams", "--period", "2026-11"]);
    assert!(ok, "{out}");
    assert!(
        out.starts_with("Teams 2026-11-01 to 2026-11-30, RUB in Europe/Moscow"),
        "{out}"
    );
}

store_test!(async fn roi_by_team_sums_the_channels_each_team_owns(store) {
    let config = config(PEOPLE_TOML);
    load(&store, &config).await;
    let report = okno::figures::roi::roi(&store, &config, &Period::parse("2026-11").unwrap(), okno::figures::roi::By::Channel)
        .await
        .unwrap()
        .by_team(&channel_teams(&config.people));
    let row = |key: &str| report.rows.iter().find(|r| r.key == key).unwrap_or_else(|| panic!("{key}"));
    // PPC = yandex_direct + google_ads: 1,800 spent, 3 leads, 2 won for 6,200 (as the teams
    // report); Content = seo: 1 lead, 700; vk_ads belongs to no team: 200 spent.
    let ppc = &row("PPC").figures;
    assert_eq!((ppc.spend, ppc.leads, ppc.won, ppc.revenue), (d("1800"), 3, 2, d("6200")));
    let content = &row("Content").figures;
    assert_eq!((content.spend, content.leads, content.revenue), (d("0"), 1, d("700")));
    assert_eq!(row("no team").figures.spend, d("200"));
    // Regrouping moves rows, never money: the total is the channels' total.
    let spend: okno_connector::rust_decimal::Decimal = report.rows.iter().map(|r| r.figures.spend).sum();
    assert_eq!(spend, report.total.spend);
    let table = report.table();
    assert_eq!(table.json()["by"], "team");
    assert!(table.title.contains("by team"), "{}", table.title);
    // A lead with no marks stays `unattributed`, with no spend to tell: CPL n/a, not 0.
    store.commit_page("amo", "leads", &[records::lead("U", "2026-11-20T10:00:00Z", None, None)], None).await.unwrap();
    let report = okno::figures::roi::roi(&store, &config, &Period::parse("2026-11").unwrap(), okno::figures::roi::By::Channel)
        .await
        .unwrap()
        .by_team(&channel_teams(&config.people));
    let none = &report.rows.iter().find(|r| r.key == "unattributed").unwrap().figures;
    assert_eq!((none.leads, none.spend_unknown, none.cpl()), (1, true, None));
});
