//! `[connector.settings]` of a demo instance. Every key is optional.

use chrono::{Datelike, NaiveDate};
use okno_connector::settings::parse;
use okno_connector::{SettingSpec, SettingsError};
use serde::Deserialize;

pub(crate) const SETTINGS: &[SettingSpec] = &[
    SettingSpec {
        name: "seed",
        doc: "seed of the generator: the same seed and settings give the same records, byte for byte (default 42)",
        required: false,
        secret: false,
        example: "42",
    },
    SettingSpec {
        name: "tickets",
        doc: "how many tickets the `tickets` stream produces in all, each with its metrics (default 2000)",
        required: false,
        secret: false,
        example: "2000",
    },
    SettingSpec {
        name: "agents",
        doc: "how many agents (and admins) the `users` stream produces and tickets are assigned to (default 12)",
        required: false,
        secret: false,
        example: "12",
    },
    SettingSpec {
        name: "requesters",
        doc: "how many end users the `users` stream produces and tickets are requested by (default 300)",
        required: false,
        secret: false,
        example: "300",
    },
    SettingSpec {
        name: "groups",
        doc: "how many agent groups the `groups` stream produces (default 4)",
        required: false,
        secret: false,
        example: "4",
    },
    SettingSpec {
        name: "page_size",
        doc: "items per page (tickets per page on `tickets`, each followed by its metrics; leads per page on `leads`, each followed by its click id when it has a resolvable gclid; `spend` always pages by account and 31-day slice), 1 to 10000 (default 500)",
        required: false,
        secret: false,
        example: "500",
    },
    SettingSpec {
        name: "days",
        doc: "how many days before `anchor_date` tickets and leads are spread over and ad spend is reported for, 1 to 3650 (default 90)",
        required: false,
        secret: false,
        example: "90",
    },
    SettingSpec {
        name: "anchor_date",
        doc: "the generated world's \"now\" (YYYY-MM-DD, midnight UTC, 1990 to 2999): tickets and leads are created and money is spent in the `days` before it and nothing happens after it; fixed so the data never depends on the clock (default 2026-01-01)",
        required: false,
        secret: false,
        example: "\"2026-01-01\"",
    },
    SettingSpec {
        name: "leads",
        doc: "how many CRM leads the `leads` stream produces in all; daily ad spend on `spend` scales with it so cost per lead stays realistic, 0 to 100000000 (default 3000)",
        required: false,
        secret: false,
        example: "3000",
    },
    SettingSpec {
        name: "campaigns",
        doc: "how many ad campaigns the `campaigns` stream produces across its three ad accounts (Yandex Direct-, Google Ads- and VK Ads-like, RUB, Europe/Moscow); beyond 24 names repeat numbered, 0 to 1000 (default 20)",
        required: false,
        secret: false,
        example: "20",
    },
    SettingSpec {
        name: "tasks",
        doc: "how many Jira-like tasks the `tasks` stream produces in all, assigned to the agents, 0 to 10000000 (default 1500)",
        required: false,
        secret: false,
        example: "1500",
    },
];

pub(crate) const DEFAULT_SEED: u64 = 42;
pub(crate) const DEFAULT_TICKETS: u64 = 2_000;
pub(crate) const DEFAULT_AGENTS: u64 = 12;
pub(crate) const DEFAULT_REQUESTERS: u64 = 300;
pub(crate) const DEFAULT_GROUPS: u64 = 4;
pub(crate) const DEFAULT_PAGE_SIZE: u64 = 500;
pub(crate) const DEFAULT_DAYS: u64 = 90;
pub(crate) const DEFAULT_ANCHOR_DATE: &str = "2026-01-01";
pub(crate) const DEFAULT_LEADS: u64 = 3_000;
pub(crate) const DEFAULT_CAMPAIGNS: u64 = 20;
pub(crate) const DEFAULT_TASKS: u64 = 1_500;

const MAX_TICKETS: u64 = 1_000_000_000;
const MAX_AGENTS: u64 = 100_000;
const MAX_REQUESTERS: u64 = 100_000_000;
const MAX_GROUPS: u64 = 10_000;
const MAX_PAGE_SIZE: u64 = 10_000;
const MAX_DAYS: u64 = 3_650;
const MAX_LEADS: u64 = 100_000_000;
const MAX_CAMPAIGNS: u64 = 1_000;
const MAX_TASKS: u64 = 10_000_000;
/// Anchors keep every generated instant (at most twelve years before the anchor) in 4-digit years.
const ANCHOR_YEARS: std::ops::RangeInclusive<i32> = 1990..=2999;

#[derive(Deserialize)]
struct Raw {
    seed: Option<u64>,
    tickets: Option<u64>,
    agents: Option<u64>,
    requesters: Option<u64>,
    groups: Option<u64>,
    page_size: Option<u64>,
    days: Option<u64>,
    anchor_date: Option<String>,
    leads: Option<u64>,
    campaigns: Option<u64>,
    tasks: Option<u64>,
}

/// Validated settings of a demo instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Seed of the generator.
    pub seed: u64,
    /// Tickets the `tickets` stream produces in all (0 to 1,000,000,000).
    pub tickets: u64,
    /// Agents and admins (1 to 100,000).
    pub agents: u64,
    /// End users who request tickets (1 to 100,000,000).
    pub requesters: u64,
    /// Agent groups (1 to 10,000).
    pub groups: u64,
    /// Items per page (1 to 10,000); on `tickets` each ticket is followed by its metrics.
    pub page_size: u64,
    /// Days before the anchor the tickets are spread over (1 to 3,650).
    pub days: u64,
    /// The generated world's "now": midnight UTC starting this date (years 1990 to 2999).
    pub anchor_date: NaiveDate,
    /// CRM leads the `leads` stream produces in all (0 to 100,000,000); ad spend scales with it.
    pub leads: u64,
    /// Ad campaigns across the three ad accounts (0 to 1,000).
    pub campaigns: u64,
    /// Tasks the `tasks` stream produces in all (0 to 10,000,000).
    pub tasks: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            seed: DEFAULT_SEED,
            tickets: DEFAULT_TICKETS,
            agents: DEFAULT_AGENTS,
            requesters: DEFAULT_REQUESTERS,
            groups: DEFAULT_GROUPS,
            page_size: DEFAULT_PAGE_SIZE,
            days: DEFAULT_DAYS,
            anchor_date: parse_date(DEFAULT_ANCHOR_DATE).expect("the default anchor is a date"),
            leads: DEFAULT_LEADS,
            campaigns: DEFAULT_CAMPAIGNS,
            tasks: DEFAULT_TASKS,
        }
    }
}

impl Settings {
    /// Parses `[connector.settings]`, reporting every unknown key and every value out of range.
    pub fn parse(value: &serde_json::Value) -> Result<Settings, Vec<SettingsError>> {
        let known: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
        // An instance without a settings table is the all-defaults demo.
        let empty = serde_json::Value::Object(serde_json::Map::new());
        let value = if value.is_null() { &empty } else { value };
        let raw: Raw = parse(value, &known)?;
        let defaults = Settings::default();
        let mut errors = Vec::new();
        let anchor_date = match raw.anchor_date.as_deref().map(str::trim) {
            None => defaults.anchor_date,
            Some(text) => match parse_date(text) {
                Some(date) => date,
                None => {
                    errors.push(
                        SettingsError::new("anchor_date", format!("{text:?} is not a date"))
                            .hint("write it as YYYY-MM-DD, e.g. \"2026-01-01\""),
                    );
                    defaults.anchor_date
                }
            },
        };
        let settings = Settings {
            seed: raw.seed.unwrap_or(defaults.seed),
            tickets: raw.tickets.unwrap_or(defaults.tickets),
            agents: raw.agents.unwrap_or(defaults.agents),
            requesters: raw.requesters.unwrap_or(defaults.requesters),
            groups: raw.groups.unwrap_or(defaults.groups),
            page_size: raw.page_size.unwrap_or(defaults.page_size),
            days: raw.days.unwrap_or(defaults.days),
            anchor_date,
            leads: raw.leads.unwrap_or(defaults.leads),
            campaigns: raw.campaigns.unwrap_or(defaults.campaigns),
            tasks: raw.tasks.unwrap_or(defaults.tasks),
        };
        if let Err(more) = settings.validate() {
            errors.extend(more);
        }
        if errors.is_empty() {
            Ok(settings)
        } else {
            Err(errors)
        }
    }

    /// Checks every value's range, collecting all problems.
    pub fn validate(&self) -> Result<(), Vec<SettingsError>> {
        let checks = [
            ("tickets", self.tickets, 0, MAX_TICKETS),
            ("agents", self.agents, 1, MAX_AGENTS),
            ("requesters", self.requesters, 1, MAX_REQUESTERS),
            ("groups", self.groups, 1, MAX_GROUPS),
            ("page_size", self.page_size, 1, MAX_PAGE_SIZE),
            ("days", self.days, 1, MAX_DAYS),
            ("leads", self.leads, 0, MAX_LEADS),
            ("campaigns", self.campaigns, 0, MAX_CAMPAIGNS),
            ("tasks", self.tasks, 0, MAX_TASKS),
        ];
        let mut errors: Vec<SettingsError> = checks
            .into_iter()
            .filter(|&(_, value, min, max)| !(min..=max).contains(&value))
            .map(|(key, value, min, max)| {
                SettingsError::new(key, format!("{value} is out of range"))
                    .hint(format!("use {min} to {max}"))
            })
            .collect();
        if !ANCHOR_YEARS.contains(&self.anchor_date.year()) {
            errors.push(
                SettingsError::new(
                    "anchor_date",
                    format!("{} is out of range", self.anchor_date),
                )
                .hint(format!(
                    "use a date from {}-01-01 to {}-12-31",
                    ANCHOR_YEARS.start(),
                    ANCHOR_YEARS.end()
                )),
            );
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

fn parse_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_key_is_optional() {
        assert_eq!(Settings::parse(&json!({})).unwrap(), Settings::default());
        assert_eq!(
            Settings::parse(&serde_json::Value::Null).unwrap(),
            Settings::default()
        );
        let d = Settings::default();
        assert_eq!(
            (
                d.seed,
                d.tickets,
                d.agents,
                d.requesters,
                d.groups,
                d.page_size,
                d.days
            ),
            (42, 2000, 12, 300, 4, 500, 90)
        );
        assert_eq!(d.anchor_date.to_string(), "2026-01-01");
        assert_eq!((d.leads, d.campaigns), (3000, 20));
    }

    #[test]
    fn reads_every_key() {
        let s = Settings::parse(&json!({
            "seed": 7, "tickets": 10, "agents": 2, "requesters": 3, "groups": 1,
            "page_size": 5, "days": 30, "anchor_date": "2025-06-30"
        }))
        .unwrap();
        assert_eq!(s.seed, 7);
        assert_eq!(s.tickets, 10);
        assert_eq!(s.page_size, 5);
        assert_eq!(s.anchor_date, NaiveDate::from_ymd_opt(2025, 6, 30).unwrap());
        let s = Settings::parse(&json!({"leads": 0, "campaigns": 1000})).unwrap();
        assert_eq!((s.leads, s.campaigns), (0, 1000));
    }

    #[test]
    fn bounds_leads_and_campaigns() {
        let errs =
            Settings::parse(&json!({"leads": 100_000_001u64, "campaigns": 1001})).unwrap_err();
        let keys: Vec<&str> = errs.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["leads", "campaigns"]);
        assert_eq!(errs[1].hint.as_deref(), Some("use 0 to 1000"));
    }

    #[test]
    fn rejects_an_unknown_key_with_a_suggestion() {
        let errs = Settings::parse(&json!({"tikets": 10, "colour": "red"})).unwrap_err();
        let mut keys: Vec<&str> = errs.iter().map(|e| e.key.as_str()).collect();
        keys.sort();
        assert_eq!(keys, ["colour", "tikets"]);
        let typo = errs.iter().find(|e| e.key == "tikets").unwrap();
        assert_eq!(typo.hint.as_deref(), Some("did you mean `tickets`?"));
    }

    #[test]
    fn reports_every_value_out_of_range_and_a_bad_date_together() {
        let errs = Settings::parse(&json!({
            "page_size": 0, "agents": 0, "days": 5000, "anchor_date": "01.01.2026"
        }))
        .unwrap_err();
        let keys: Vec<&str> = errs.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["anchor_date", "agents", "page_size", "days"]);
        let errs = Settings::parse(&json!({"anchor_date": "0999-01-01"})).unwrap_err();
        assert_eq!(errs[0].key, "anchor_date");
        assert_eq!(errs[0].message, "0999-01-01 is out of range");
    }

    #[test]
    fn names_the_key_of_a_type_error() {
        let errs = Settings::parse(&json!({"tickets": "many"})).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].key, "tickets");
        let errs = Settings::parse(&json!({"seed": -1})).unwrap_err();
        assert_eq!(errs[0].key, "seed");
    }
}
