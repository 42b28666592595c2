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

use okno_connector::{Group, Identity, Record, Ticket, TicketMetrics};

use crate::ads::Ads;
use crate::config::Settings;
use crate::crm::Crm;
use crate::raw::{raw, ApiUrl, Minutes, RawGroup, RawMetricSet, RawTicket, RawUser, Stamp, Via};
use crate::rng::{mix, Rng};
use crate::timeline::{after_business_minutes, instant, Timeline, SECS_PER_DAY};
use crate::vocabulary::{
    CAMPAIGNS, CHANNELS, CHANNEL_WEIGHTS, EMAIL_DOMAIN, FEMALE_FIRST_NAMES, FIRST_NAMES,
    GROUP_NAMES, NAME_PAIRS, PRIORITIES, PRIORITY_WEIGHTS, SURNAMES, TICKET_TYPES,
    TICKET_TYPE_WEIGHTS, TOPICS, WAITING_STATUSES, WAITING_STATUS_WEIGHTS,
};

pub(crate) const FIRST_TICKET_ID: u64 = 1;
pub(crate) const FIRST_USER_ID: u64 = 1001;
pub(crate) const FIRST_GROUP_ID: u64 = 101;

/// Stream salts, so the same index draws different numbers in different streams.
const SALT_GROUP: u64 = 0x6772_6F75_7073; // "groups"
const SALT_USER: u64 = 0x0075_7365_7273; // "users"
const SALT_TICKET: u64 = 0x0074_6963_6B65_7473; // "tickets"
const SALT_NAMES: u64 = 0x006E_616D_6573; // "names"
const SALT_VIP: u64 = 0x0076_6970; // "vip"

/// Multiplier of the name permutation; coprime with [`NAME_PAIRS`], so the first `NAME_PAIRS`
/// users all get different names (later ones repeat a name with a number in the e-mail).
const NAME_STRIDE: u64 = 337;

/// Weights of the first-reply time octaves, from 2^0 business minutes: median about 1.5 hours.
const REPLY_OCTAVES: [u32; 13] = [2, 3, 5, 8, 12, 16, 18, 14, 9, 6, 4, 2, 1];
/// Weights of the work after the first reply, octaves from 2^3 business minutes: median about
/// six business hours.
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
    /// Ad accounts, campaigns and their spend.
    ads: Ads,
    /// The sales pipeline and the leads.
    crm: Crm,
}

impl Generator {
    pub(crate) fn new(settings: Settings) -> Generator {
        let timeline = Timeline::new(settings.anchor_date, settings.days);
        let name_shift = mix(settings.seed ^ SALT_NAMES) % NAME_PAIRS;
        let topics = (0..TOPICS.len())
            .filter(|&t| TOPICS[t].group < settings.groups)
            .collect();
        let ads = Ads::new(&settings, &timeline);
        let crm = Crm::new(&settings);
        Generator {
            settings,
            timeline,
            name_shift,
            topics,
            ads,
            crm,
        }
    }

    pub(crate) fn settings(&self) -> &Settings {
        &self.settings
    }

    pub(crate) fn ads(&self) -> &Ads {
        &self.ads
    }

    /// Appends lead `i` to `out`, followed by its click id when it carries a gclid.
    pub(crate) fn lead(&self, i: u64, out: &mut Vec<Record>) {
        self.crm.lead(&self.ads, i, out)
    }

    /// Appends task `i` of the `tasks` stream.
    pub(crate) fn task(&self, i: u64, out: &mut Vec<Record>) {
        crate::tasks::task(&self.settings, &self.timeline, i, out)
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
        let id = FIRST_GROUP_ID + g;
        let raw = raw(&RawGroup {
            url: ApiUrl("groups", id),
            id,
            is_public: true,
            name: &name,
            description,
            default: g == 0,
            deleted: false,
            created_at: Stamp(created),
            updated_at: Stamp(updated),
        });
        Group {
            group_id: id.to_string(),
            name,
            deleted: false,
            updated_at: instant(updated),
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
        let id = FIRST_USER_ID + u;
        let raw = raw(&RawUser {
            url: ApiUrl("users", id),
            id,
            name: &name,
            email: &email,
            role,
            active,
            verified: true,
            time_zone: "UTC",
            locale: "en-US",
            default_group_id: agent.then(|| FIRST_GROUP_ID + u % s.groups),
            created_at: Stamp(created),
            updated_at: Stamp(updated),
        });
        Identity {
            user_id: id.to_string(),
            name: Some(name),
            email: Some(email),
            role: Some(role.to_owned()),
            active,
            updated_at: instant(updated),
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
        let stalled = rng.chance(STALLED_PER_MILLE);
        let deleted = rng.chance(DELETED_PER_MILLE);

        // Agents work office hours: service times are drawn in business minutes, and the first
        // reply and the solution land inside office hours. Calendar minutes follow.
        let reply_octaves = rng.octaves(0, &REPLY_OCTAVES) as i64;
        let reply_business = match priority {
            Some("urgent") => reply_octaves / 4,
            Some("high") => reply_octaves / 2,
            Some("low") => reply_octaves * 2,
            _ => reply_octaves,
        }
        .max(1);
        let resolution_business = reply_business + rng.octaves(3, &WORK_OCTAVES) as i64;
        let first_reply_at = after_business_minutes(created, reply_business);
        let solved_at = after_business_minutes(created, resolution_business);
        let reply_minutes = (first_reply_at - created) / 60;
        let resolution_minutes = (solved_at - created) / 60;
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
            let last_change =
                first_reply_at + rng.below((anchor - first_reply_at) as u64 + 1) as i64;
            (status, last_change)
        } else {
            // Triggers touch a new ticket right after it arrives; `created` is before the anchor.
            ("new", (created + 1 + rng.below(300) as i64).min(anchor))
        };
        if deleted {
            updated = (updated + 60 + rng.below(2 * DAY) as i64).min(anchor);
            status = "deleted";
        }

        let mut tags = Vec::with_capacity(topic.tags.len() + 2);
        tags.extend(topic.tags.iter().map(|&t| t.to_owned()));
        if mentions_campaign {
            tags.push(campaign.tag.to_owned());
        }
        if self.is_vip(requester) {
            tags.push("vip".to_owned());
        }

        let id = FIRST_TICKET_ID + i;
        let requester_id = FIRST_USER_ID + requester;
        let assignee_id = assignee.map(|k| FIRST_USER_ID + k);
        let group_id = FIRST_GROUP_ID + group;
        let solved_at = solved.then_some(solved_at);
        let reply = replied.then_some(Minutes {
            calendar: Some(reply_minutes),
            business: Some(reply_business),
        });
        let resolution = solved.then_some(Minutes {
            calendar: Some(resolution_minutes),
            business: Some(resolution_business),
        });

        let ticket_raw = raw(&RawTicket {
            url: ApiUrl("tickets", id),
            id,
            created_at: Stamp(created),
            updated_at: Stamp(updated),
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
            created_at: Stamp(created),
            updated_at: Stamp(updated),
            assigned_at: assigned_at.map(Stamp),
            initially_assigned_at: assigned_at.map(Stamp),
            solved_at: solved_at.map(Stamp),
            reopens,
            replies,
            reply_time_in_minutes: reply.unwrap_or_default(),
            full_resolution_time_in_minutes: resolution.unwrap_or_default(),
        });

        let ticket_id = id.to_string();
        let (created_at, updated_at) = (instant(created), instant(updated));
        let metrics = TicketMetrics {
            ticket_id: ticket_id.clone(),
            created_at: Some(created_at),
            updated_at,
            assigned_at: assigned_at.map(instant),
            solved_at: solved_at.map(instant),
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
            // The deletion is the ticket's last change.
            deleted_at: deleted.then_some(updated_at),
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

    /// Whether user `u`'s tickets carry the `vip` tag: a property of the requester, not drawn per
    /// ticket.
    fn is_vip(&self, u: u64) -> bool {
        mix(mix(self.settings.seed ^ SALT_VIP) ^ u) % 1000 < VIP_PER_MILLE
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::business_minutes;
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
        // Agent 3 of 4 groups is in group 3, id 104.
        assert_eq!(raw["default_group_id"], 104);
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
        assert_eq!(
            raw["url"],
            "https://demo.okno.example/api/v2/groups/101.json"
        );
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
        let agent_ids: HashSet<String> = (0..settings.agents).map(|u| g.user(u).user_id).collect();
        let requester_ids: HashSet<String> = (settings.agents..g.users())
            .map(|u| g.user(u).user_id)
            .collect();
        let group_ids: HashSet<String> =
            (0..settings.groups).map(|i| g.group(i).group_id).collect();
        let mut statuses: HashMap<String, u64> = HashMap::new();
        let mut vip: HashMap<String, bool> = HashMap::new();
        let mut previous_created = start;
        let pairs = tickets(&g);
        assert_eq!(pairs.len(), 20_000);
        for (i, (t, m)) in pairs.iter().enumerate() {
            *statuses.entry(t.status.clone()).or_default() += 1;
            assert_eq!(t.ticket_id, (i + 1).to_string());
            assert_eq!(m.ticket_id, t.ticket_id);
            assert!(t.created_at >= previous_created, "ids grow with time");
            previous_created = t.created_at;
            assert!(
                start <= t.created_at && t.created_at < t.updated_at,
                "{t:?}"
            );
            assert!(t.updated_at <= anchor, "{t:?}");
            assert_eq!(m.updated_at, t.updated_at);
            assert_eq!(m.created_at, Some(t.created_at));
            assert!(t.subject.as_deref().is_some_and(|s| !s.is_empty()));
            assert!(["email", "web", "api", "chat"].contains(&t.channel.as_deref().unwrap()));
            assert!(!t.tags.is_empty());
            let is_vip = t.tags.iter().any(|tag| tag == "vip");
            let requester = t.requester_id.clone().unwrap();
            assert_eq!(
                *vip.entry(requester).or_insert(is_vip),
                is_vip,
                "vip per requester"
            );
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
                    assert!(0 < b && b <= c, "business {b} > calendar {c}");
                    let created = t.created_at.timestamp();
                    assert_eq!(business_minutes(created, created + c * 60), b);
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
        for status in [
            "new", "open", "pending", "hold", "solved", "closed", "deleted",
        ] {
            assert!(
                statuses.contains_key(status),
                "no {status} ticket: {statuses:?}"
            );
        }
        let deleted = statuses["deleted"];
        assert!((100..=300).contains(&deleted), "{deleted} of 20000 deleted");
        assert!(statuses["closed"] > 20_000 / 2, "{statuses:?}");
        assert!(vip.values().any(|&v| v) && vip.values().any(|&v| !v));
    }

    #[test]
    fn the_default_demo_shows_every_status() {
        let g = Generator::new(Settings::default());
        let statuses: HashSet<String> = tickets(&g).into_iter().map(|(t, _)| t.status).collect();
        for status in [
            "new", "open", "pending", "hold", "solved", "closed", "deleted",
        ] {
            assert!(
                statuses.contains(status),
                "no {status} ticket: {statuses:?}"
            );
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
                    let (before, after) = topic
                        .subject
                        .split_once("{c}")
                        .unwrap_or((topic.subject, ""));
                    subject.starts_with(before) && subject.ends_with(after)
                })
                .unwrap();
            assert_eq!(
                t.group_id.unwrap(),
                (FIRST_GROUP_ID + topic.group).to_string()
            );
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
