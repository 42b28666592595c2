//! The `issues` cursor and the JQL time window.
//!
//! JQL compares `updated` with a *minute* written in the **searching user's time zone**
//! (`updated >= "2025-03-05 10:01"`; Jira's `JqlDateSupportImpl` parses it with the logged-in
//! user's zone and minute precision). So a window is an instant turned into a local minute that
//! Jira can only read as that instant or earlier: seconds are dropped, and where the local
//! minute is ambiguous (the repeated hour when DST ends) the minute is moved back until every
//! reading of it is at or before the instant. When the zone is not known at all, the minute is
//! written in UTC twelve hours early, which no zone (UTC-12 … UTC+14) can read as later.
//!
//! The cursor (`{"since_ms", "seen": [[id, updated_ms], ...], "scan"?}`) keeps:
//! - `since_ms`: the newest `updated` emitted so far;
//! - `seen`: the (id, updated) pairs already emitted whose `updated` is recent enough to be read
//!   again by an overlapping window, so a re-read emits nothing twice (re-emitting would be
//!   harmless — upserts are idempotent — but missing is not, so `seen` is only ever used to skip
//!   an *identical* version of an issue);
//! - `scan` while a run pages: the window's local minute and Jira's `nextPageToken` (Cloud) or
//!   `startAt` (Data Center).

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// How far back a new run starts before the newest update it has seen, so issues whose search
/// index entry lagged behind (Jira: "recent updates might not be immediately visible") are read.
pub(crate) const OVERLAP_MS: i64 = 5 * 60_000;
/// The most (id, updated) pairs a cursor keeps; past this the oldest are dropped (those issues
/// may then be emitted once more, never missed).
pub(crate) const SEEN_CAP: usize = 2_000;
/// Offsets no zone exceeds: UTC-12 … UTC+14.
const MAX_BEHIND_UTC_MS: i64 = 12 * 3_600_000;
const MAX_AHEAD_UTC_MS: i64 = 14 * 3_600_000;

/// The zone in which Jira reads JQL dates for the API account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Zone {
    Named(Tz),
    /// `/myself` did not say and no `time_zone` is configured.
    Unknown,
}

/// A JQL window: the local minute to write and the instants Jira may read it as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Window {
    /// `yyyy-MM-dd HH:mm` in the zone.
    pub local: String,
    /// The earliest and latest instant (ms) the minute can mean in the zone.
    pub earliest_ms: i64,
    pub latest_ms: i64,
}

const LOCAL_FORMAT: &str = "%Y-%m-%d %H:%M";

fn to_utc(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or(DateTime::UNIX_EPOCH)
}

fn floor_minute(t: NaiveDateTime) -> NaiveDateTime {
    t.with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(t)
}

/// The readings of local minute `local` in `tz`, as (earliest, latest) ms.
fn readings(tz: Tz, local: NaiveDateTime) -> Option<(i64, i64)> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Some((t.timestamp_millis(), t.timestamp_millis())),
        LocalResult::Ambiguous(a, b) => {
            let (a, b) = (a.timestamp_millis(), b.timestamp_millis());
            Some((a.min(b), a.max(b)))
        }
        LocalResult::None => None,
    }
}

/// The window for "everything updated at or after `target_ms`": a local minute Jira reads as
/// `target_ms` or earlier.
pub(crate) fn window(target_ms: i64, zone: Zone) -> Window {
    match zone {
        Zone::Named(tz) => {
            let mut t = target_ms;
            for _ in 0..6 {
                let local = floor_minute(to_utc(t).with_timezone(&tz).naive_local());
                if let Some((earliest, latest)) = readings(tz, local) {
                    if latest <= target_ms {
                        return Window {
                            local: local.format(LOCAL_FORMAT).to_string(),
                            earliest_ms: earliest,
                            latest_ms: latest,
                        };
                    }
                    // Ambiguous (DST ended): step back by how far the later reading overshoots.
                    t -= (latest - target_ms).max(60_000);
                } else {
                    t -= 3_600_000;
                }
            }
            unknown_window(target_ms)
        }
        Zone::Unknown => unknown_window(target_ms),
    }
}

fn unknown_window(target_ms: i64) -> Window {
    let local = floor_minute(to_utc(target_ms - MAX_BEHIND_UTC_MS).naive_utc());
    let base = local.and_utc().timestamp_millis();
    Window {
        local: local.format(LOCAL_FORMAT).to_string(),
        earliest_ms: base - MAX_AHEAD_UTC_MS,
        latest_ms: base + MAX_BEHIND_UTC_MS,
    }
}

/// The issues stream's position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct IssuesCursor {
    /// The newest `updated` (epoch ms) emitted so far.
    pub since_ms: i64,
    /// (issue id, updated ms) already emitted, oldest first.
    #[serde(default)]
    pub seen: Vec<(String, i64)>,
    /// The scan in progress, if a run stopped between two pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan: Option<Scan>,
}

/// One JQL query being paged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Scan {
    /// The window's local minute, exactly as written into the JQL (a page token belongs to one
    /// query string, so it is not recomputed).
    pub from_local: String,
    /// The latest instant (ms) `from_local` can mean, to tell whether a new window moves on.
    pub from_latest_ms: i64,
    /// Cloud: the token of the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Data Center: the offset of the next page.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start_at: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

impl Scan {
    pub(crate) fn new(w: Window) -> Scan {
        Scan {
            from_local: w.local,
            from_latest_ms: w.latest_ms,
            token: None,
            start_at: 0,
        }
    }
}

impl IssuesCursor {
    /// Drops pairs no overlapping window can read again, then the oldest past [`SEEN_CAP`].
    pub(crate) fn prune(&mut self) {
        let keep_from = self.since_ms - OVERLAP_MS - 60_000;
        self.seen.retain(|(_, ms)| *ms >= keep_from);
        self.seen
            .sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        self.seen.dedup();
        if self.seen.len() > SEEN_CAP {
            let drop = self.seen.len() - SEEN_CAP;
            self.seen.drain(..drop);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(rfc3339: &str) -> i64 {
        DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn windows_are_local_minutes_never_later_than_the_instant() {
        let kolkata = Zone::Named(chrono_tz::Asia::Kolkata);
        let w = window(ms("2025-03-05T04:31:59.900Z"), kolkata);
        assert_eq!(w.local, "2025-03-05 10:01");
        assert_eq!(w.latest_ms, ms("2025-03-05T04:31:00Z"));
        let ny = Zone::Named(chrono_tz::America::New_York);
        let w = window(ms("2025-07-01T14:00:30Z"), ny);
        assert_eq!(w.local, "2025-07-01 10:00");
    }

    #[test]
    fn an_ambiguous_minute_steps_back_until_every_reading_is_early_enough() {
        let ny = Zone::Named(chrono_tz::America::New_York);
        // 01:30 EDT (05:30Z) on the day DST ends: "01:30" also means 01:30 EST (06:30Z).
        let target = ms("2025-11-02T05:30:00Z");
        let w = window(target, ny);
        assert!(w.latest_ms <= target, "{w:?}");
        assert_eq!(w.local, "2025-11-02 00:30");
        // The second 01:30 (EST) is fine as it is: both readings are at or before it.
        let target = ms("2025-11-02T06:30:00Z");
        let w = window(target, ny);
        assert_eq!(w.local, "2025-11-02 01:30");
        assert_eq!(w.latest_ms, target);
    }

    #[test]
    fn an_unknown_zone_writes_utc_twelve_hours_early() {
        let target = ms("2025-03-05T10:01:30Z");
        let w = window(target, Zone::Unknown);
        assert_eq!(w.local, "2025-03-04 22:01");
        assert!(w.latest_ms <= target);
    }

    #[test]
    fn prune_keeps_the_overlap_and_the_cap() {
        let mut c = IssuesCursor {
            since_ms: 10 * 60_000 + OVERLAP_MS,
            seen: vec![
                ("1".into(), 0),
                ("2".into(), 10 * 60_000),
                ("3".into(), 9 * 60_000),
                ("2".into(), 10 * 60_000),
            ],
            scan: None,
        };
        c.prune();
        assert_eq!(
            c.seen,
            vec![("3".into(), 9 * 60_000), ("2".into(), 10 * 60_000)]
        );
        c.seen = (0..SEEN_CAP as i64 + 5)
            .map(|i| (i.to_string(), c.since_ms))
            .collect();
        c.prune();
        assert_eq!(c.seen.len(), SEEN_CAP);
    }
}
