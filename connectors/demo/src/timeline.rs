//! The demo's clock: the window tickets are created in, and the business-hours calendar.
//!
//! All instants are unix seconds (UTC). The window is `[anchor - days, anchor)`; the anchor is the
//! "now" of the generated world, so nothing is created, updated or solved after it. Creation
//! times follow the working week (weekday office hours are busiest, nights and weekends quiet)
//! and grow with the ticket index, the way vendor ids grow with time.

use chrono::{DateTime, NaiveDate, Utc};

use crate::rng::Rng;

pub(crate) const SECS_PER_DAY: i64 = 86_400;
const SECS_PER_HOUR: u64 = 3_600;
const MINUTES_PER_DAY: i64 = 1_440;

/// Business hours of the demo account: Monday to Friday, 09:00 to 18:00 UTC.
const BUSINESS_START_MINUTE: i64 = 9 * 60;
const BUSINESS_MINUTES_PER_DAY: i64 = 9 * 60;
const BUSINESS_MINUTES_PER_WEEK: i64 = 5 * BUSINESS_MINUTES_PER_DAY;

pub(crate) struct Timeline {
    /// The end of the window (exclusive): midnight UTC starting `anchor_date`.
    pub(crate) anchor: i64,
    /// The start of the window: `days` before the anchor.
    pub(crate) start: i64,
    /// `cumulative[h]`: the creation weight of the window's hours before hour `h`, in
    /// weight-seconds; one entry per hour plus the total.
    cumulative: Vec<u64>,
}

impl Timeline {
    pub(crate) fn new(anchor_date: NaiveDate, days: u64) -> Timeline {
        let anchor = anchor_date
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc()
            .timestamp();
        let start = anchor - days as i64 * SECS_PER_DAY;
        let hours = days * 24;
        let mut cumulative = Vec::with_capacity(hours as usize + 1);
        let mut total = 0u64;
        cumulative.push(total);
        for h in 0..hours {
            total += hour_weight(start + (h * SECS_PER_HOUR) as i64) * SECS_PER_HOUR;
            cumulative.push(total);
        }
        Timeline {
            anchor,
            start,
            cumulative,
        }
    }

    /// When ticket `index` of `total` was created: non-decreasing in `index`, spread over the
    /// window by the working-week weights, jittered inside the ticket's own slot so the result
    /// depends only on `(index, total)` and `rng`. Always before the anchor.
    pub(crate) fn created_at(&self, index: u64, total: u64, rng: &mut Rng) -> i64 {
        let weight = u128::from(*self.cumulative.last().expect("at least one entry"));
        let slot = |i: u64| (u128::from(i) * weight / u128::from(total.max(1))) as u64;
        let (from, to) = (slot(index), slot(index + 1));
        let target = from + rng.below(to.saturating_sub(from));
        // The hour whose cumulative range holds the target.
        let hour = self.cumulative.partition_point(|&c| c <= target) - 1;
        let hour_weight = (self.cumulative[hour + 1] - self.cumulative[hour]) / SECS_PER_HOUR;
        let second = (target - self.cumulative[hour]) / hour_weight;
        self.start + (hour as u64 * SECS_PER_HOUR + second) as i64
    }

    /// The creation weight of each day of the window (UTC days, oldest first): how the records
    /// [`created_at`](Timeline::created_at) spreads fall across days, to plan what drives them
    /// (ad spend before leads).
    pub(crate) fn day_weights(&self) -> Vec<u64> {
        self.cumulative
            .iter()
            .step_by(24)
            .zip(self.cumulative.iter().skip(24).step_by(24))
            .map(|(from, to)| to - from)
            .collect()
    }
}

/// How many tickets an hour attracts, relative to a quiet night hour.
fn hour_weight(hour_start: i64) -> u64 {
    let hour_of_day = hour_start.rem_euclid(SECS_PER_DAY) / SECS_PER_HOUR as i64;
    let weekend = weekday(hour_start) >= 5;
    match (weekend, hour_of_day) {
        (false, 9..=17) => 12,
        (false, 7..=8) | (false, 18..=21) => 4,
        (true, 10..=19) => 2,
        _ => 1,
    }
}

/// 0 for Monday .. 6 for Sunday (1970-01-01 was a Thursday).
fn weekday(t: i64) -> i64 {
    (t.div_euclid(SECS_PER_DAY) + 3).rem_euclid(7)
}

/// Business minutes between two instants (`from <= to`), counted on whole minutes: never more
/// than the calendar minutes between the same instants. The generator goes the other way
/// ([`after_business_minutes`]); tests use this to check it.
#[cfg(test)]
pub(crate) fn business_minutes(from: i64, to: i64) -> i64 {
    business_clock(to) - business_clock(from)
}

/// The instant `minutes` business minutes (at least 1) after `from`: the end of the business minute
/// that completes them, with `from`'s seconds, so the calendar time between the two is a whole
/// number of minutes and [`business_minutes`] between them is exactly `minutes`.
pub(crate) fn after_business_minutes(from: i64, minutes: i64) -> i64 {
    let last = business_clock(from) + minutes.max(1) - 1;
    let week = last.div_euclid(BUSINESS_MINUTES_PER_WEEK);
    let in_week = last.rem_euclid(BUSINESS_MINUTES_PER_WEEK);
    let day = in_week / BUSINESS_MINUTES_PER_DAY;
    let in_day = BUSINESS_START_MINUTE + in_week % BUSINESS_MINUTES_PER_DAY;
    let minute =
        week * 7 * MINUTES_PER_DAY + day * MINUTES_PER_DAY + in_day + 1 - 3 * MINUTES_PER_DAY;
    minute * 60 + from.rem_euclid(60)
}

/// Business minutes elapsed from Monday 1969-12-29 00:00 UTC to the minute holding `t`.
fn business_clock(t: i64) -> i64 {
    let minute = t.div_euclid(60) + 3 * MINUTES_PER_DAY;
    let week = minute.div_euclid(7 * MINUTES_PER_DAY);
    let in_week = minute.rem_euclid(7 * MINUTES_PER_DAY);
    let day = in_week / MINUTES_PER_DAY;
    let in_day = in_week % MINUTES_PER_DAY;
    let this_week = if day < 5 {
        day * BUSINESS_MINUTES_PER_DAY
            + (in_day - BUSINESS_START_MINUTE).clamp(0, BUSINESS_MINUTES_PER_DAY)
    } else {
        BUSINESS_MINUTES_PER_WEEK
    };
    week * BUSINESS_MINUTES_PER_WEEK + this_week
}

/// A unix timestamp as a UTC instant. Every instant the demo makes lies near the anchor date,
/// well inside chrono's range.
pub(crate) fn instant(t: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(t, 0).expect("demo instants are within chrono's range")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp()
    }

    #[test]
    fn counts_business_minutes_only_in_office_hours() {
        // 2025-12-05 is a Friday.
        assert_eq!(
            business_minutes(at("2025-12-05T08:00:00Z"), at("2025-12-05T10:30:00Z")),
            90
        );
        // Friday 17:00 to Monday 10:00: one hour on Friday, one on Monday.
        assert_eq!(
            business_minutes(at("2025-12-05T17:00:00Z"), at("2025-12-08T10:00:00Z")),
            120
        );
        // A whole week holds five business days.
        assert_eq!(
            business_minutes(at("2025-12-03T12:00:00Z"), at("2025-12-10T12:00:00Z")),
            5 * 540
        );
        assert_eq!(
            business_minutes(at("2025-12-06T12:00:00Z"), at("2025-12-07T12:00:00Z")),
            0
        );
    }

    #[test]
    fn business_minutes_never_exceed_calendar_minutes() {
        let mut rng = Rng::for_item(3, 3, 3);
        let base = at("2025-10-01T00:00:00Z");
        for _ in 0..20_000 {
            let from = base + rng.below(90 * 86_400) as i64;
            let minutes = rng.below(60 * 24 * 30) as i64;
            let b = business_minutes(from, from + minutes * 60);
            assert!((0..=minutes).contains(&b), "{b} of {minutes}");
        }
    }

    #[test]
    fn business_minutes_end_inside_office_hours() {
        // Friday 17:30 plus 45 business minutes: Monday 09:15.
        let from = at("2025-12-05T17:30:20Z");
        assert_eq!(after_business_minutes(from, 45), at("2025-12-08T09:15:20Z"));
        // Saturday plus one business minute: Monday 09:01.
        assert_eq!(
            after_business_minutes(at("2025-12-06T12:00:00Z"), 1),
            at("2025-12-08T09:01:00Z")
        );
        // Exactly a business day from 09:00 ends at 18:00 the same day.
        assert_eq!(
            after_business_minutes(at("2025-12-05T09:00:00Z"), 540),
            at("2025-12-05T18:00:00Z")
        );
        let mut rng = Rng::for_item(4, 4, 4);
        let base = at("2025-10-01T00:00:00Z");
        for _ in 0..20_000 {
            let from = base + rng.below(90 * 86_400) as i64;
            let minutes = 1 + rng.below(60 * 24 * 10) as i64;
            let to = after_business_minutes(from, minutes);
            assert_eq!((to - from) % 60, 0);
            assert!(to - from >= minutes * 60, "{from} + {minutes}");
            assert_eq!(business_minutes(from, to), minutes, "{from} + {minutes}");
            assert_eq!(
                business_minutes(from, to - 60),
                minutes - 1,
                "{from} + {minutes}"
            );
            let minute_of_day = to.rem_euclid(SECS_PER_DAY) / 60;
            assert!(weekday(to) < 5 && (9 * 60 + 1..=18 * 60).contains(&minute_of_day));
        }
    }

    #[test]
    fn creation_times_grow_with_the_index_and_stay_inside_the_window() {
        let anchor = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let timeline = Timeline::new(anchor, 30);
        let total = 5_000;
        let mut previous = timeline.start;
        let mut weekday_office = 0;
        for i in 0..total {
            let t = timeline.created_at(i, total, &mut Rng::for_item(1, 1, i));
            assert!(t >= previous && t < timeline.anchor, "ticket {i} at {t}");
            previous = t;
            let hour = t.rem_euclid(SECS_PER_DAY) / 3600;
            if weekday(t) < 5 && (9..18).contains(&hour) {
                weekday_office += 1;
            }
        }
        // Office hours are 45 of 168 hours a week but attract most tickets.
        assert!(weekday_office > total / 2, "{weekday_office}");
        assert_eq!(timeline.anchor, at("2026-01-01T00:00:00Z"));
        assert_eq!(timeline.start, at("2025-12-02T00:00:00Z"));
    }

    #[test]
    fn more_tickets_than_seconds_still_fit() {
        let timeline = Timeline::new(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(), 1);
        let total = 1_000_000;
        let last = timeline.created_at(total - 1, total, &mut Rng::for_item(0, 0, 0));
        assert!(last < timeline.anchor);
    }
}
