//! VK Ads request limits as states. Every answer carries `X-RateLimit-{RPS,Hourly,Daily}-Limit`
//! and `-Remaining`; the windows are calendar periods (second, hour, day). A spent second is
//! waited out by the SDK's retry; a spent hour or day is a [`ConnectorError::Quota`] until the
//! period ends, returned without asking the vendor again (no retry storm). The day is taken to
//! be Moscow's (the API's documented default zone), the hour the UTC hour (Moscow is a whole
//! number of hours from UTC, so the two agree).

use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Duration as ChronoDuration, TimeZone, Timelike, Utc};
use okno_connector::chrono_tz::Europe::Moscow;
use okno_connector::reqwest::header::HeaderMap;
use okno_connector::{ConnectorError, HttpResponse, Verdict};

use crate::Clock;

const DAILY_REMAINING: &str = "x-ratelimit-daily-remaining";
const DAILY_LIMIT: &str = "x-ratelimit-daily-limit";
const HOURLY_REMAINING: &str = "x-ratelimit-hourly-remaining";
const HOURLY_LIMIT: &str = "x-ratelimit-hourly-limit";
const RPS_REMAINING: &str = "x-ratelimit-rps-remaining";

/// A spent period: nothing is sent before `until`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Spent {
    until: DateTime<Utc>,
    message: String,
}

/// The limit state of one instance, shared by the API and token calls.
pub(crate) struct Limits {
    clock: Clock,
    spent: Mutex<Option<Spent>>,
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// The first instant of the next Moscow day.
pub(crate) fn next_moscow_midnight(now: DateTime<Utc>) -> DateTime<Utc> {
    let local = now.with_timezone(&Moscow).date_naive();
    let next = local.succ_opt().unwrap_or(local);
    next.and_hms_opt(0, 0, 0)
        .and_then(|n| Moscow.from_local_datetime(&n).earliest())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(now + ChronoDuration::hours(24))
}

/// The first instant of the next hour.
pub(crate) fn next_hour(now: DateTime<Utc>) -> DateTime<Utc> {
    let start = now
        .with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(now);
    start + ChronoDuration::hours(1)
}

impl Limits {
    pub(crate) fn new(clock: Clock) -> Self {
        Limits {
            clock,
            spent: Mutex::new(None),
        }
    }

    /// `Quota` while a period is spent; nothing to send before its end.
    pub(crate) fn check(&self, endpoint: &'static str) -> Result<(), ConnectorError> {
        let now = (self.clock)();
        let mut spent = self.spent.lock().unwrap_or_else(|p| p.into_inner());
        match spent.as_ref() {
            Some(s) if s.until > now => Err(ConnectorError::Quota {
                endpoint,
                until: s.until,
                message: s.message.clone(),
            }),
            Some(_) => {
                *spent = None;
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// The period a response says is spent, if any.
    fn exhausted(&self, headers: &HeaderMap) -> Option<Spent> {
        let now = (self.clock)();
        if header_u64(headers, DAILY_REMAINING) == Some(0) {
            let limit = header_u64(headers, DAILY_LIMIT)
                .map(|l| format!(" of {l} requests"))
                .unwrap_or_default();
            return Some(Spent {
                until: next_moscow_midnight(now),
                message: format!(
                    "VK Ads' daily request limit{limit} is spent (X-RateLimit-Daily-Remaining: 0); it resets at midnight Moscow time"
                ),
            });
        }
        if header_u64(headers, HOURLY_REMAINING) == Some(0) {
            let limit = header_u64(headers, HOURLY_LIMIT)
                .map(|l| format!(" of {l} requests"))
                .unwrap_or_default();
            return Some(Spent {
                until: next_hour(now),
                message: format!(
                    "VK Ads' hourly request limit{limit} is spent (X-RateLimit-Hourly-Remaining: 0)"
                ),
            });
        }
        None
    }

    /// Remembers a period that a successful answer says is now spent.
    pub(crate) fn observe(&self, headers: &HeaderMap) {
        if let Some(s) = self.exhausted(headers) {
            tracing::warn!(until = %s.until, "{}", s.message);
            let mut spent = self.spent.lock().unwrap_or_else(|p| p.into_inner());
            *spent = Some(s);
        }
    }

    /// What a 429 means: a spent hour or day stops (`Quota`), a spent second waits a second;
    /// anything else is left to the SDK (Retry-After, backoff).
    pub(crate) fn classify(&self, resp: &HttpResponse, endpoint: &'static str) -> Option<Verdict> {
        if resp.status.as_u16() != 429 {
            return None;
        }
        if let Some(s) = self.exhausted(&resp.headers) {
            let mut spent = self.spent.lock().unwrap_or_else(|p| p.into_inner());
            *spent = Some(s.clone());
            return Some(Verdict::Fail(ConnectorError::Quota {
                endpoint,
                until: s.until,
                message: s.message,
            }));
        }
        let has_retry_after = resp.headers.contains_key("retry-after");
        if !has_retry_after && header_u64(&resp.headers, RPS_REMAINING) == Some(0) {
            return Some(Verdict::Retry {
                wait: Some(Duration::from_secs(1)),
                why: "VK Ads' per-second request limit is spent".into(),
                throttled: true,
            });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("date")
            .with_timezone(&Utc)
    }

    #[test]
    fn periods_end_at_moscow_midnight_and_the_next_hour() {
        // 22:30 UTC is 01:30 on the next Moscow day: its midnight is 21:00 UTC that evening.
        assert_eq!(
            next_moscow_midnight(at("2026-11-30T22:30:00Z")),
            at("2026-12-01T21:00:00Z")
        );
        assert_eq!(
            next_moscow_midnight(at("2026-11-30T20:59:59Z")),
            at("2026-11-30T21:00:00Z")
        );
        assert_eq!(
            next_hour(at("2026-11-30T22:30:15Z")),
            at("2026-11-30T23:00:00Z")
        );
    }
}
