//! Keeping Zoho's notification channel for Leads and Deals alive (`maintain`).
//!
//! Zoho's channels expire: at most one week ahead, and a requested expiry beyond the maximum is
//! **silently** replaced by one hour. So okno asks for 6 days 23 hours, checks the expiry Zoho
//! answers with, and renews whenever less than a day is left (the engine runs `maintain`
//! before every scheduled sync).
//!
//! The channel id is derived from the instance id ([`channel_id`]), so every process and every
//! restart manages the same channel, and two okno instances on one org do not collide.

use chrono::{DateTime, SecondsFormat, Utc};
use okno_connector::reqwest::Method;
use okno_connector::signature::verify_token;
use okno_connector::{ConnectorError, ExposeSecret};
use serde_json::json;

use crate::api::{Api, Req};
use crate::model::{self, WatchList, WatchResult};

const EP: &str = "actions/watch";

/// Events subscribed; Zoho lists `X.all` expanded as `X.create`, `X.edit`, `X.delete`.
const EVENTS: [&str; 2] = ["Leads.all", "Deals.all"];
const MODULES: [&str; 2] = ["Leads", "Deals"];
/// Pages of the channel list read at most (an org has a handful of channels).
const MAX_LIST_PAGES: u32 = 10;

/// Requested lifetime of the channel: under Zoho's one-week maximum.
pub(crate) fn requested_lifetime() -> chrono::Duration {
    chrono::Duration::days(6) + chrono::Duration::hours(23)
}

/// A channel with less than this left is renewed.
pub(crate) fn renew_within() -> chrono::Duration {
    chrono::Duration::hours(24)
}

/// The notification channel id of an okno instance: 64-bit FNV-1a of `okno:zoho_crm:<instance>`
/// folded into thirteen digits (1,000,000,000,000 to 9,999,999,999,999), like the channel ids
/// in Zoho's examples. Stable across restarts and versions.
pub fn channel_id(instance: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in format!("okno:zoho_crm:{instance}").bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    1_000_000_000_000 + h % 9_000_000_000_000
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn covers(events: &[String], module: &str) -> bool {
    let has = |op: &str| events.iter().any(|e| e == &format!("{module}.{op}"));
    has("all") || (has("create") && has("edit") && has("delete"))
}

impl Api {
    pub(crate) async fn maintain(&self) -> Result<Option<String>, ConnectorError> {
        let (Some(notify_url), Some(token)) =
            (&self.settings.notify_url, &self.settings.webhook_token)
        else {
            return Ok(None);
        };
        let id = channel_id(&self.instance);
        let now = Utc::now();

        // All channels, filtered here: what Zoho answers to a `channel_id` filter naming no
        // channel is not documented.
        let mut entries: Vec<model::WatchEntry> = Vec::new();
        for page in 1..=MAX_LIST_PAGES {
            let listed = self
                .call(
                    EP,
                    &Req::get("/actions/watch", vec![("page", page.to_string())]),
                )
                .await?;
            if listed.body.iter().all(u8::is_ascii_whitespace) {
                break;
            }
            let list: WatchList = listed.json(EP)?;
            let more =
                !list.watch.is_empty() && list.info.and_then(|i| i.more_records).unwrap_or(false);
            entries.extend(list.watch);
            if !more {
                break;
            }
        }
        let ours: Vec<&model::WatchEntry> = entries
            .iter()
            .filter(|e| e.channel_id.as_ref().and_then(model::id_text) == Some(id.to_string()))
            .collect();

        let mut problems = Vec::new();
        for module in MODULES {
            let entry = ours.iter().find(|e| {
                e.resource_name.as_deref() == Some(module)
                    || e.events
                        .iter()
                        .flatten()
                        .any(|ev| ev.starts_with(&format!("{module}.")))
            });
            let Some(e) = entry else {
                problems.push(format!("no {module} subscription"));
                continue;
            };
            match e.channel_expiry.as_deref().and_then(parse_time) {
                Some(t) if t > now + renew_within() => {}
                Some(t) => problems.push(format!("{module} expires at {t}")),
                None => problems.push(format!("{module} has no readable expiry")),
            }
            if !covers(e.events.as_deref().unwrap_or_default(), module) {
                problems.push(format!("{module} events incomplete"));
            }
            if e.notify_url.as_deref().map(str::trim) != Some(notify_url.as_str()) {
                problems.push(format!("{module} notifies another URL"));
            }
            let same_token = e
                .token
                .as_deref()
                .is_some_and(|t| verify_token(std::slice::from_ref(token), t));
            if !same_token {
                problems.push(format!("{module} carries another token"));
            }
            if e.notify_on_related_action == Some(true) {
                problems.push(format!("{module} notifies on related actions"));
            }
        }
        if problems.is_empty() {
            return Ok(None);
        }

        let expiry = now + requested_lifetime();
        let body = json!({"watch": [{
            "channel_id": id,
            "events": EVENTS,
            "channel_expiry": expiry.to_rfc3339_opts(SecondsFormat::Secs, false),
            "token": token.expose_secret(),
            "notify_url": notify_url.as_str(),
            // okno fetches the records by id anyway.
            "return_affected_field_values": false,
            // The default (true) also notifies when related records (notes, calls) change.
            "notify_on_related_action": false,
        }]});
        let (method, verb) = if ours.is_empty() {
            (Method::POST, "subscribed")
        } else {
            (Method::PATCH, "renewed")
        };
        tracing::info!(instance = %self.instance, channel = id, reason = %problems.join("; "), "{verb} Zoho notification channel");
        let resp = self
            .call(
                EP,
                &Req {
                    method,
                    path: "/actions/watch".into(),
                    query: Vec::new(),
                    if_modified_since: None,
                    json: Some(&body),
                },
            )
            .await?;
        let result: WatchResult = resp.json(EP)?;
        if result.watch.is_empty() {
            return Err(ConnectorError::decode(EP, "the answer lists no channel"));
        }
        let mut granted: Option<DateTime<Utc>> = None;
        let mut modules = Vec::new();
        for outcome in &result.watch {
            if !outcome
                .code
                .as_deref()
                .is_some_and(|c| c.eq_ignore_ascii_case("SUCCESS"))
            {
                return Err(ConnectorError::Permanent {
                    endpoint: EP,
                    status: resp.status.as_u16(),
                    message: format!(
                        "Zoho did not subscribe the channel: {} {}",
                        outcome.code.as_deref().unwrap_or("(no code)"),
                        outcome.message.as_deref().unwrap_or("")
                    ),
                });
            }
            for ev in outcome.details.iter().flat_map(|d| &d.events) {
                let t = ev
                    .channel_expiry
                    .as_deref()
                    .and_then(parse_time)
                    .ok_or_else(|| {
                        ConnectorError::decode(EP, "an event without a readable channel_expiry")
                    })?;
                granted = Some(granted.map_or(t, |g| g.min(t)));
                if let Some(m) = &ev.resource_name {
                    modules.push(m.clone());
                }
            }
        }
        let granted = granted
            .ok_or_else(|| ConnectorError::decode(EP, "the answer carries no channel_expiry"))?;
        if granted <= now + renew_within() {
            return Err(ConnectorError::Permanent {
                endpoint: EP,
                status: resp.status.as_u16(),
                message: format!(
                    "Zoho set the channel to expire at {granted} although {expiry} was asked for (it silently grants one hour for an expiry it will not accept)"
                ),
            });
        }
        modules.sort();
        modules.dedup();
        Ok(Some(format!(
            "{verb} Zoho notification channel {id} ({}) until {} ({})",
            if modules.is_empty() {
                EVENTS.join(", ")
            } else {
                modules.join(", ")
            },
            granted.to_rfc3339_opts(SecondsFormat::Secs, true),
            problems.join("; ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_ids_are_stable_thirteen_digit_numbers() {
        let a = channel_id("zoho");
        assert_eq!(a, channel_id("zoho"));
        assert_ne!(a, channel_id("zoho-eu"));
        for i in ["", "x", "a-very-long-instance-name-with-many-characters"] {
            assert_eq!(channel_id(i).to_string().len(), 13);
        }
    }

    #[test]
    fn expanded_events_count_as_all() {
        let ev = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(covers(
            &ev(&["Leads.edit", "Leads.create", "Leads.delete"]),
            "Leads"
        ));
        assert!(covers(&ev(&["Deals.all"]), "Deals"));
        assert!(!covers(&ev(&["Deals.edit", "Deals.create"]), "Deals"));
        assert!(!covers(&ev(&["Leads.all"]), "Deals"));
    }
}
