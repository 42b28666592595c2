//! The records at an index: groups, users, and tickets with their metrics.
//!
//! Pure and deterministic: item `i` of a stream is drawn from its own [`Rng`] seeded with
//! `(seed, stream, i)`, so it depends on the settings and `i` only — never on the page size or on
//! the items before it. `raw` is shaped like the Zendesk object of the same kind (ticket, metric
//! set, user, group), so replaying it through a Zendesk mapping would work.
//!
//! Ids: ticket `i` has id `i + 1`, user `u` (agents first, then requesters) `1001 + u`, group `g`
//! `101 + g`. Agent `k` belongs to group `k mod groups`; every tenth agent (from the first) is an
//! admin.

use chrono::{DateTime, Utc};
use okno_connector::{Group, Identity, Record, Ticket, TicketMetrics};
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

use crate::config::Settings;
use crate::rng::{mix, Rng};
use crate::timeline::{business_minutes, instant, Timeline, SECS_PER_DAY};
use crate::vocabulary::{
    API_BASE, CAMPAIGNS, CHANNELS, CHANNEL_WEIGHTS, EMAIL_DOMAIN, FEMALE_FIRST_NAMES, FIRST_NAMES,
    GROUP_NAMES, NAME_PAIRS, PRIORITIES, PRIORITY_WEIGHTS, SURNAMES, TICKET_TYPES,
    TICKET_TYPE_WEIGHTS, TOPICS, WAITING_STATUSES, WAITING_STATUS_WEIGHTS,
};

pub(crate) const FIRST_TICKET_ID: u64 = 1;
pub(crate) const FIRST_USER_ID: u64 = 1001;
pub(crate) const FIRST_GROUP_ID: u64 = 101;

/// Stream salts, so the same index draws different numbers in different streams.
const SALT_GROUP: u64 = 0x6772_6F75_7073; // "groups"
const SALT_USER: u64 = 0x7573_6572_73; // "users"
const SALT_TICKET: u64 = 0x7469_636B_6574_73; // "tickets"
const SALT_NAMES: u64 = 0x6E61_6D65_73; // "names"

/// Multiplier of the name permutation; coprime with [`NAME_PAIRS`], so the first `NAME_PAIRS`
/// users all get different names (later ones repeat a name with a number in the e-mail).
const NAME_STRIDE: u64 = 337;

/// Weights of the first-reply time octaves, from 2^0 minutes: median about 1.5 hours.
const REPLY_OCTAVES: [u32; 13] = [2, 3, 5, 8, 12, 16, 18, 14, 9, 6, 4, 2, 1];
/// Weights of the work after the first reply, octaves from 2^4 minutes: median about a day.
const WORK_OCTAVES: [u32; 12] = [3, 5, 8, 12, 16, 18, 16, 12, 8, 4, 2, 1];
/// Tickets that wait on something outside the help desk and are never solved in the window.
const STALLED_PER_MILLE: u64 = 40;
/// Tickets deleted after their last change.
const DELETED_PER_MILLE: u64 = 10;
/// Requesters whose tickets carry the `vip` tag.
const VIP_PER_MILLE: u64 = 40;
/// Requesters who were deactivated.
const INACTIVE_REQUESTER_PER_MILLE: u64 = 30;
/// Zendesk closes a solved ticket four days after it was solved.
const CLOSE_AFTER_SECS: i64 = 4 * SECS_PER_DAY;

pub(crate) struct Generator {
    settings: Settings,
    timeline: Timeline,
    /// Offset of the name permutation, from the seed.
    name_shift: u64,
    /// Indexes into [`TOPICS`] of the topics some group handles: with fewer groups than group
    /// names, the requests of the missing teams do not arrive.
    topics: Vec<usize>,
}

impl Generator {
    pub(crate) fn new(settings: Settings) -> Generator {
        let timeline = Timeline::new(settings.anchor_date, settings.days);
        let name_shift = mix(settings.seed ^ SALT_NAMES) % NAME_PAIRS;
        let topics = (0..TOPICS.len())
            .filter(|&t| TOPICS[t].group < settings.groups)
            .collect();
        Generator {
            settings,
            timeline,
            name_shift,
            topics,
        }
    }

    pub(crate) fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Agents and requesters: the length of the `users` stream.
    pub(crate) fn users(&self) -> u64 {
        self.settings.agents + self.settings.requesters
    }

    pub(crate) fn group(&self, g: u64) -> Group {
        let mut rng = Rng::for_item(self.settings.seed, SALT_GROUP, g);
        let (base, description) = GROUP_NAMES[(g % GROUP_NAMES.len() as u64) as usize];
        let name = match g / GROUP_NAMES.len() as u64 {
            0 => base.to_owned(),
            n => format!("{base} {}", n + 1),
        };
        // Groups exist before the window and were last edited before it too.
        let created = self.timeline.start - 365 * SECS_PER_DAY - rng.below(365 * DAY) as i64;
        let updated = created + rng.below((self.timeline.start - created) as u64) as i64;
        let (created_at, updated_at) = (instant(created), instant(updated));
        let id = FIRST_GROUP_ID + g;
        let raw = raw(&RawGroup {
            url: ApiUrl("groups", id),
            id,
            is_public: true,
            name: &name,
            description,
            default: g == 0,
            deleted: false,
            created_at,
            updated_at,
        });
        Group {
            group_id: id.to_string(),
            name,
            deleted: false,
            updated_at,
            raw,
        }
    }

    pub(crate) fn user(&self, u: u64) -> Identity {
        let s = &self.settings;
        let mut rng = Rng::for_item(s.seed, SALT_USER, u);
        let agent = u < s.agents;
        let role = match (agent, u % 10) {
            (false, _) => "end-user",
            (true, 0) => "admin",
            (true, _) => "agent",
        };
        let (first, surname, number) = self.name_of(u);
        let name = format!("{first} {surname}");
        let email = match number {
            0 => format!("{first}.{surname}@{EMAIL_DOMAIN}"),
            n => format!("{first}.{surname}{}@{EMAIL_DOMAIN}", n + 1),
        }
        .to_ascii_lowercase();
        let active = agent || !rng.chance(INACTIVE_REQUESTER_PER_MILLE);
        // Accounts are up to two years older than the window; the last edit is any time since.
        let created = self.timeline.start - rng.below(730 * DAY) as i64;
        let updated = created + rng.below((self.timeline.anchor - created) as u64) as i64;
        let (created_at, updated_at) = (instant(created), instant(updated));
        let id = FIRST_USER_ID + u;
        let raw = raw(&RawUser {
            url: ApiUrl("users", id),
            id,
            name: &name,
            email: &email,
            role,
            active,
            verified: true,
            time_zone: "Moscow",
            locale: "en-US",
            default_group_id: agent.then(|| FIRST_GROUP_ID + u % s.groups),
            created_at,
            updated_at,
        });
        Identity {
            user_id: id.to_string(),
            name: Some(name),
            email: Some(email),
            role: Some(role.to_owned()),
            active,
            updated_at,
            raw,
        }
    }

    /// Appends ticket `i` and then its metrics to `out`.
    pub(crate) fn ticket(&self, i: u64, out: &mut Vec<Record>) {
        let s = &self.settings;
        let anchor = self.timeline.anchor;
        let mut rng = Rng::for_item(s.seed, SALT_TICKET, i);

        let created = self.timeline.created_at(i, s.tickets, &mut rng);
        let topic = &TOPICS[*rng.pick(&self.topics)];
        let campaign = rng.pick(CAMPAIGNS);
        let (subject, mentions_campaign) = topic.subject_for(campaign);
        let group = self.group_for(topic.group, &mut rng);
        // Two draws, the smaller one: a few requesters ask far more than the rest.
        let requester = s.agents + rng.below(s.requesters).min(rng.below(s.requesters));
        let channel = CHANNELS[rng.weighted(&CHANNEL_WEIGHTS)];
        let priority = PRIORITIES[rng.weighted(&PRIORITY_WEIGHTS)];
        let ticket_type = TICKET_TYPES[rng.weighted(&TICKET_TYPE_WEIGHTS)];
        let vip = rng.chance(VIP_PER_MILLE);
        let stalled = rng.chance(STALLED_PER_MILLE);
        let deleted = rng.chance(DELETED_PER_MILLE);

        // Service times in whole minutes, so business minutes never exceed calendar minutes.
        let reply_octaves = rng.octaves(0, &REPLY_OCTAVES) as i64;
        let reply_minutes = match priority {
            Some("urgent") => reply_octaves / 4,
            Some("high") => reply_octaves / 2,
            Some("low") => reply_octaves * 2,
            _ => reply_octaves,
        }
        .max(1);
        let resolution_minutes = reply_minutes + rng.octaves(4, &WORK_OCTAVES) as i64;
        let first_reply_at = created + reply_minutes * 60;
        let solved_at = created + resolution_minutes * 60;
        let replied = first_reply_at <= anchor;
        // A solution comes after the first reply, so a solved ticket has always been replied to.
        let solved = replied && !stalled && solved_at <= anchor;

        // A ticket is assigned when an agent first answers it; `new` tickets are unassigned.
        let assignee = replied.then(|| self.agent_in_group(group, &mut rng));
        let assigned_at = assignee.map(|_| created + rng.below(reply_minutes as u64 * 60) as i64);
        let reopens = if replied {
            match rng.below(100) {
                0..=1 => 2,
                2..=9 => 1,
                _ => 0,
            }
        } else {
            0
        };
        let replies = if replied {
            1 + reopens + rng.below(3) as i64 + if solved { rng.below(3) as i64 } else { 0 }
        } else {
            0
        };

        let (mut status, mut updated) = if solved && solved_at + CLOSE_AFTER_SECS <= anchor {
            let closed = solved_at + CLOSE_AFTER_SECS + rng.below(3_600) as i64;
            ("closed", closed.min(anchor))
        } else if solved {
            ("solved", (solved_at + rng.below(1_800) as i64).min(anchor))
        } else if replied {
            let status = WAITING_STATUSES[rng.weighted(&WAITING_STATUS_WEIGHTS)];
            let last_change = first_reply_at + rng.below((anchor - first_reply_at) as u64 + 1) as i64;
            (status, last_change)
        } else {
            // Triggers touch a new ticket right after it arrives; `created` is before the anchor.
            ("new", (created + 1 + rng.below(300) as i64).min(anchor))
        };
        let mut deleted_at = None;
        if deleted {
            updated = (updated + 60 + rng.below(2 * DAY) as i64).min(anchor);
            status = "deleted";
            deleted_at = Some(instant(updated));
        }

        let mut tags = Vec::with_capacity(topic.tags.len() + 2);
        tags.extend(topic.tags.iter().map(|&t| t.to_owned()));
        if mentions_campaign {
            tags.push(campaign.tag.to_owned());
        }
        if vip {
            tags.push("vip".to_owned());
        }

        let id = FIRST_TICKET_ID + i;
        let requester_id = FIRST_USER_ID + requester;
        let assignee_id = assignee.map(|k| FIRST_USER_ID + k);
        let group_id = FIRST_GROUP_ID + group;
        let (created_at, updated_at) = (instant(created), instant(updated));
        let assigned_at = assigned_at.map(instant);
        let solved_at = solved.then(|| instant(solved_at));
        let reply = replied.then(|| Minutes {
            calendar: Some(reply_minutes),
            business: Some(business_minutes(created, first_reply_at)),
        });
        let resolution = solved.then(|| Minutes {
            calendar: Some(resolution_minutes),
            business: Some(business_minutes(
                created,
                created + resolution_minutes * 60,
            )),
        });

        let ticket_raw = raw(&RawTicket {
            url: ApiUrl("tickets", id),
            id,
            created_at,
            updated_at,
            kind: ticket_type,
            subject: &subject,
            raw_subject: &subject,
            priority,
            status,
            requester_id,
            submitter_id: requester_id,
            assignee_id,
            organization_id: None,
            group_id,
            tags: &tags,
            via: Via { channel },
            is_public: true,
        });
        let metrics_raw = raw(&RawMetricSet {
            url: ApiUrl("ticket_metrics", id),
            id,
            ticket_id: id,
            created_at,
            updated_at,
            assigned_at,
            initially_assigned_at: assigned_at,
            solved_at,
            reopens,
            replies,
            reply_time_in_minutes: reply.unwrap_or_default(),
            full_resolution_time_in_minutes: resolution.unwrap_or_default(),
        });

        let ticket_id = id.to_string();
        let metrics = TicketMetrics {
            ticket_id: ticket_id.clone(),
            created_at: Some(created_at),
            updated_at,
            assigned_at,
            solved_at,
            reply_minutes_calendar: reply.and_then(|m| m.calendar),
            reply_minutes_business: reply.and_then(|m| m.business),
            resolution_minutes_calendar: resolution.and_then(|m| m.calendar),
            resolution_minutes_business: resolution.and_then(|m| m.business),
            reopens: Some(reopens),
            replies: Some(replies),
            raw: metrics_raw,
        };
        let ticket = Ticket {
            ticket_id,
            subject: Some(subject),
            status: status.to_owned(),
            priority: priority.map(str::to_owned),
            ticket_type: ticket_type.map(str::to_owned),
            channel: Some(channel.to_owned()),
            requester_id: Some(requester_id.to_string()),
            assignee_id: assignee_id.map(|a| a.to_string()),
            group_id: Some(group_id.to_string()),
            organization_id: None,
            tags,
            created_at,
            updated_at,
            deleted_at,
            raw: ticket_raw,
        };
        // The ticket goes first on the page, its metrics right after it.
        out.push(Record::Ticket(ticket));
        out.push(Record::TicketMetrics(metrics));
    }

    /// First name, surname (in the form that matches the first name) and how many users before
    /// this one had the same pair.
    fn name_of(&self, u: u64) -> (&'static str, &'static str, u64) {
        let pair = ((u % NAME_PAIRS) * NAME_STRIDE + self.name_shift) % NAME_PAIRS;
        let first = (pair % FIRST_NAMES.len() as u64) as usize;
        let (male, female) = SURNAMES[(pair / FIRST_NAMES.len() as u64) as usize];
        let surname = if first < FEMALE_FIRST_NAMES {
            female
        } else {
            male
        };
        (FIRST_NAMES[first], surname, u / NAME_PAIRS)
    }

    /// The group handling a topic: its own group, or one of its numbered copies when there are
    /// more groups than names.
    fn group_for(&self, preferred: u64, rng: &mut Rng) -> u64 {
        let names = GROUP_NAMES.len() as u64;
        let copies = (self.settings.groups - 1 - preferred) / names + 1;
        preferred + names * rng.below(copies)
    }

    /// An agent of group `g` (agent `k` is in group `k mod groups`), or any agent when the group
    /// has none.
    fn agent_in_group(&self, g: u64, rng: &mut Rng) -> u64 {
        let (agents, groups) = (self.settings.agents, self.settings.groups);
        if g < agents {
            g + groups * rng.below((agents - 1 - g) / groups + 1)
        } else {
            rng.below(agents)
        }
    }
}

const DAY: u64 = SECS_PER_DAY as u64;

/// Serialises a `raw` object. The shapes below hold only strings, numbers, booleans and nulls,
/// which always serialise.
fn raw<T: Serialize>(value: &T) -> Box<RawValue> {
    serde_json::value::to_raw_value(value).expect("demo raw objects always serialise")
}

/// `{API_BASE}/{collection}/{id}.json`, written straight into the output.
struct ApiUrl(&'static str, u64);

impl std::fmt::Display for ApiUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{API_BASE}/{}/{}.json", self.0, self.1)
    }
}

impl Serialize for ApiUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[derive(Serialize)]
struct RawTicket<'a> {
    url: ApiUrl,
    id: u64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    #[serde(rename = "type")]
    kind: Option<&'a str>,
    subject: &'a str,
    raw_subject: &'a str,
    priority: Option<&'a str>,
    status: &'a str,
    requester_id: u64,
    submitter_id: u64,
    assignee_id: Option<u64>,
    organization_id: Option<u64>,
    group_id: u64,
    tags: &'a [String],
    via: Via<'a>,
    is_public: bool,
}

#[derive(Serialize)]
struct Via<'a> {
    channel: &'a str,
}

#[derive(Serialize, Clone, Copy, Default)]
struct Minutes {
    calendar: Option<i64>,
    business: Option<i64>,
}

#[derive(Serialize)]
struct RawMetricSet {
    url: ApiUrl,
    id: u64,
    ticket_id: u64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    assigned_at: Option<DateTime<Utc>>,
    initially_assigned_at: Option<DateTime<Utc>>,
    solved_at: Option<DateTime<Utc>>,
    reopens: i64,
    replies: i64,
    reply_time_in_minutes: Minutes,
    full_resolution_time_in_minutes: Minutes,
}

#[derive(Serialize)]
struct RawUser<'a> {
    url: ApiUrl,
    id: u64,
    name: &'a str,
    email: &'a str,
    role: &'a str,
    active: bool,
    verified: bool,
    time_zone: &'a str,
    locale: &'a str,
    default_group_id: Option<u64>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Serialize)]
struct RawGroup<'a> {
    url: ApiUrl,
    id: u64,
    is_public: bool,
    name: &'a str,
    description: &'a str,
    default: bool,
    deleted: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    fn tickets(g: &Generator) -> Vec<(Ticket, TicketMetrics)> {
        let mut out = Vec::new();
        for i in 0..g.settings.tickets {
            g.ticket(i, &mut out);
        }
        let mut pairs = Vec::new();
        let mut it = out.into_iter();
        while let (Some(Record::Ticket(t)), Some(Record::TicketMetrics(m))) = (it.next(), it.next())
        {
            pairs.push((t, m));
        }
        pairs
    }

    #[test]
    fn the_name_permutation_gives_everyone_a_different_email() {
        assert_eq!(gcd(NAME_STRIDE, NAME_PAIRS), 1);
        let g = Generator::new(Settings {
            agents: 50,
            requesters: NAME_PAIRS * 2,
            ..Settings::default()
        });
        let mut emails = HashSet::new();
        for u in 0..g.users() {
            let user = g.user(u);
            let email = user.email.unwrap();
            assert_eq!(email, email.to_lowercase());
            assert!(email.ends_with("@demo.okno.example"), "{email}");
            assert!(emails.insert(email.clone()), "{email} twice");
        }
    }

    fn gcd(a: u64, b: u64) -> u64 {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }

    #[test]
    fn users_are_agents_then_requesters_with_matching_names() {
        let g = Generator::new(Settings::default());
        let roles: Vec<String> = (0..g.users()).map(|u| g.user(u).role.unwrap()).collect();
        assert_eq!(roles[0], "admin");
        assert_eq!(roles[1], "agent");
        assert_eq!(roles[10], "admin");
        assert!(roles[12..].iter().all(|r| r == "end-user"));
        let u = g.user(3);
        let name = u.name.unwrap().to_lowercase().replace(' ', ".");
        assert_eq!(u.email.unwrap(), format!("{name}@demo.okno.example"));
        let raw: serde_json::Value = serde_json::from_str(u.raw.get()).unwrap();
        assert_eq!(raw["id"], 1004);
        assert_eq!(raw["role"], "agent");
        assert_eq!(raw["default_group_id"], 101 + 3 % 4);
        assert!(g.user(0).updated_at < instant(g.timeline.anchor));
    }

    #[test]
    fn groups_have_marketing_names_and_numbered_copies() {
        let g = Generator::new(Settings {
            groups: 10,
            ..Settings::default()
        });
        let names: Vec<String> = (0..10).map(|i| g.group(i).name).collect();
        assert_eq!(names[0], "Performance Ads");
        assert_eq!(names[8], "Performance Ads 2");
        assert_eq!(g.group(9).group_id, "110");
        let raw: serde_json::Value = serde_json::from_str(g.group(0).raw.get()).unwrap();
        assert_eq!(raw["name"], "Performance Ads");
        assert_eq!(raw["url"], "https://demo.okno.example/api/v2/groups/101.json");
    }

    #[test]
    fn tickets_keep_their_invariants() {
        let settings = Settings {
            tickets: 20_000,
            ..Settings::default()
        };
        let g = Generator::new(settings.clone());
        let anchor = instant(g.timeline.anchor);
        let start = instant(g.timeline.start);
        let agent_ids: HashSet<String> = (0..settings.agents)
            .map(|u| g.user(u).user_id)
            .collect();
        let requester_ids: HashSet<String> = (settings.agents..g.users())
            .map(|u| g.user(u).user_id)
            .collect();
        let group_ids: HashSet<String> = (0..settings.groups).map(|i| g.group(i).group_id).collect();
        let mut statuses: HashMap<String, u64> = HashMap::new();
        let mut previous_created = start;
        let pairs = tickets(&g);
        assert_eq!(pairs.len(), 20_000);
        for (i, (t, m)) in pairs.iter().enumerate() {
            *statuses.entry(t.status.clone()).or_default() += 1;
            assert_eq!(t.ticket_id, (i + 1).to_string());
            assert_eq!(m.ticket_id, t.ticket_id);
            assert!(t.created_at >= previous_created, "ids grow with time");
            previous_created = t.created_at;
            assert!(start <= t.created_at && t.created_at < t.updated_at, "{t:?}");
            assert!(t.updated_at <= anchor, "{t:?}");
            assert_eq!(m.updated_at, t.updated_at);
            assert_eq!(m.created_at, Some(t.created_at));
            assert!(t.subject.as_deref().is_some_and(|s| !s.is_empty()));
            assert!(["email", "web", "api", "chat"].contains(&t.channel.as_deref().unwrap()));
            assert!(!t.tags.is_empty());
            assert!(group_ids.contains(t.group_id.as_deref().unwrap()));
            assert!(requester_ids.contains(t.requester_id.as_deref().unwrap()));
            match t.assignee_id.as_deref() {
                Some(a) => assert!(agent_ids.contains(a), "{a} is not an agent"),
                None => assert!(
                    t.status == "new" || t.status == "deleted",
                    "only new tickets are unassigned: {t:?}"
                ),
            }
            if t.status == "deleted" {
                assert_eq!(t.deleted_at, Some(t.updated_at));
            } else {
                assert_eq!(t.deleted_at, None);
            }
            if t.status == "solved" || t.status == "closed" {
                let solved = m.solved_at.expect("solved tickets have solved_at");
                assert!(t.created_at < solved && solved <= t.updated_at);
                assert!(m.resolution_minutes_calendar.is_some());
                assert!(m.reply_minutes_calendar.is_some());
                assert!(m.reply_minutes_calendar <= m.resolution_minutes_calendar);
            }
            if t.status != "deleted" && t.status != "solved" && t.status != "closed" {
                assert_eq!(m.solved_at, None);
                assert_eq!(m.resolution_minutes_calendar, None);
            }
            for (calendar, business) in [
                (m.reply_minutes_calendar, m.reply_minutes_business),
                (m.resolution_minutes_calendar, m.resolution_minutes_business),
            ] {
                assert_eq!(calendar.is_some(), business.is_some());
                if let (Some(c), Some(b)) = (calendar, business) {
                    assert!(0 <= b && b <= c && c > 0, "business {b} > calendar {c}");
                }
            }
            if let Some(assigned) = m.assigned_at {
                assert!(t.created_at <= assigned && assigned <= t.updated_at);
            }
            let raw: serde_json::Value = serde_json::from_str(t.raw.get()).unwrap();
            assert_eq!(raw["id"].to_string(), t.ticket_id);
            assert_eq!(raw["status"], t.status.as_str());
            assert_eq!(raw["via"]["channel"], t.channel.as_deref().unwrap());
            let raw: serde_json::Value = serde_json::from_str(m.raw.get()).unwrap();
            assert_eq!(
                raw["reply_time_in_minutes"]["calendar"].as_i64(),
                m.reply_minutes_calendar
            );
        }
        for status in ["new", "open", "pending", "hold", "solved", "closed", "deleted"] {
            assert!(statuses.contains_key(status), "no {status} ticket: {statuses:?}");
        }
        let deleted = statuses["deleted"];
        assert!((100..=300).contains(&deleted), "{deleted} of 20000 deleted");
        assert!(statuses["closed"] > 20_000 / 2, "{statuses:?}");
    }

    #[test]
    fn the_default_demo_shows_every_status() {
        let g = Generator::new(Settings::default());
        let statuses: HashSet<String> = tickets(&g).into_iter().map(|(t, _)| t.status).collect();
        for status in ["new", "open", "pending", "hold", "solved", "closed", "deleted"] {
            assert!(statuses.contains(status), "no {status} ticket: {statuses:?}");
        }
    }

    #[test]
    fn topics_go_to_their_own_group() {
        let g = Generator::new(Settings {
            tickets: 2_000,
            groups: 8,
            ..Settings::default()
        });
        for (t, _) in tickets(&g) {
            let subject = t.subject.unwrap();
            let topic = TOPICS
                .iter()
                .find(|topic| {
                    let (before, after) = topic.subject.split_once("{c}").unwrap_or((topic.subject, ""));
                    subject.starts_with(before) && subject.ends_with(after)
                })
                .unwrap();
            assert_eq!(t.group_id.unwrap(), (FIRST_GROUP_ID + topic.group).to_string());
        }
    }

    #[test]
    fn a_different_seed_gives_different_data() {
        let a = Generator::new(Settings::default());
        let b = Generator::new(Settings {
            seed: 43,
            ..Settings::default()
        });
        let (mut x, mut y) = (Vec::new(), Vec::new());
        a.ticket(5, &mut x);
        b.ticket(5, &mut y);
        assert_ne!(
            serde_json::to_string(&x).unwrap(),
            serde_json::to_string(&y).unwrap()
        );
        assert_ne!(a.user(0).email, b.user(0).email);
    }
}
