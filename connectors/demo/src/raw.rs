//! The `raw` objects: the JSON a Zendesk account would send for the same ticket, metric set, user
//! or group, so a demo row can be traced and replayed like a vendor's.
//!
//! Built with serde_json from borrowed shapes. Instants and URLs are formatted on the stack
//! ([`Stamp`], [`ApiUrl`]) rather than through `fmt`: with four to six instants per ticket this
//! halves the cost of a ticket, which matters when benchmarks generate millions.

use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

use crate::vocabulary::API_BASE;

/// Serialises a `raw` object. The shapes below hold only strings, numbers, booleans and nulls,
/// which always serialise.
pub(crate) fn raw<T: Serialize>(value: &T) -> Box<RawValue> {
    serde_json::value::to_raw_value(value).expect("demo raw objects always serialise")
}

/// A small byte buffer on the stack for ASCII text.
struct Ascii<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> Ascii<N> {
    fn new() -> Self {
        Ascii {
            bytes: [0; N],
            len: 0,
        }
    }

    fn push(&mut self, text: &[u8]) {
        self.bytes[self.len..self.len + text.len()].copy_from_slice(text);
        self.len += text.len();
    }

    /// `value` in decimal, at least `width` digits (zero-padded).
    fn push_number(&mut self, mut value: u64, width: usize) {
        let mut digits = [b'0'; 20];
        let mut start = digits.len();
        while value > 0 || digits.len() - start < width.max(1) {
            start -= 1;
            digits[start] = b'0' + (value % 10) as u8;
            value /= 10;
        }
        self.push(&digits[start..]);
    }

    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let text = std::str::from_utf8(&self.bytes[..self.len]).expect("only ASCII is pushed");
        serializer.serialize_str(text)
    }
}

/// An instant (unix seconds) serialised as RFC 3339 in UTC, `2025-12-01T09:30:00Z`, the way
/// Zendesk writes it and chrono serialises a whole-second `DateTime<Utc>`. The demo's instants lie
/// between the years 1970 and 9999.
#[derive(Clone, Copy)]
pub(crate) struct Stamp(pub(crate) i64);

impl Serialize for Stamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let days = self.0.div_euclid(86_400);
        let in_day = self.0.rem_euclid(86_400) as u64;
        let (year, month, day) = civil_from_days(days);
        let year = year as u64;
        let mut text = *b"0000-00-00T00:00:00Z";
        for (at, value) in [
            (0, year / 100),
            (2, year % 100),
            (5, month),
            (8, day),
            (11, in_day / 3600),
            (14, in_day / 60 % 60),
            (17, in_day % 60),
        ] {
            text[at] = b'0' + (value / 10) as u8;
            text[at + 1] = b'0' + (value % 10) as u8;
        }
        serializer.serialize_str(std::str::from_utf8(&text).expect("only ASCII digits"))
    }
}

/// The proleptic Gregorian (year, month, day) of a day count from 1970-01-01 (H. Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u64, u64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u64;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    } as u64;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `{API_BASE}/{collection}/{id}.json`.
pub(crate) struct ApiUrl(pub(crate) &'static str, pub(crate) u64);

impl Serialize for ApiUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = Ascii::<96>::new();
        out.push(API_BASE.as_bytes());
        out.push(b"/");
        out.push(self.0.as_bytes());
        out.push(b"/");
        out.push_number(self.1, 1);
        out.push(b".json");
        out.serialize(serializer)
    }
}

/// A Zendesk ticket.
#[derive(Serialize)]
pub(crate) struct RawTicket<'a> {
    pub(crate) url: ApiUrl,
    pub(crate) id: u64,
    pub(crate) created_at: Stamp,
    pub(crate) updated_at: Stamp,
    #[serde(rename = "type")]
    pub(crate) kind: Option<&'a str>,
    pub(crate) subject: &'a str,
    pub(crate) raw_subject: &'a str,
    pub(crate) priority: Option<&'a str>,
    pub(crate) status: &'a str,
    pub(crate) requester_id: u64,
    pub(crate) submitter_id: u64,
    pub(crate) assignee_id: Option<u64>,
    pub(crate) organization_id: Option<u64>,
    pub(crate) group_id: u64,
    pub(crate) tags: &'a [String],
    pub(crate) via: Via<'a>,
    pub(crate) is_public: bool,
}

#[derive(Serialize)]
pub(crate) struct Via<'a> {
    pub(crate) channel: &'a str,
}

/// A Zendesk duration in calendar and business minutes.
#[derive(Serialize, Clone, Copy, Default)]
pub(crate) struct Minutes {
    pub(crate) calendar: Option<i64>,
    pub(crate) business: Option<i64>,
}

/// A Zendesk ticket metric set.
#[derive(Serialize)]
pub(crate) struct RawMetricSet {
    pub(crate) url: ApiUrl,
    pub(crate) id: u64,
    pub(crate) ticket_id: u64,
    pub(crate) created_at: Stamp,
    pub(crate) updated_at: Stamp,
    pub(crate) assigned_at: Option<Stamp>,
    pub(crate) initially_assigned_at: Option<Stamp>,
    pub(crate) solved_at: Option<Stamp>,
    pub(crate) reopens: i64,
    pub(crate) replies: i64,
    pub(crate) reply_time_in_minutes: Minutes,
    pub(crate) full_resolution_time_in_minutes: Minutes,
}

/// A Zendesk user.
#[derive(Serialize)]
pub(crate) struct RawUser<'a> {
    pub(crate) url: ApiUrl,
    pub(crate) id: u64,
    pub(crate) name: &'a str,
    pub(crate) email: &'a str,
    pub(crate) role: &'a str,
    pub(crate) active: bool,
    pub(crate) verified: bool,
    pub(crate) time_zone: &'a str,
    pub(crate) locale: &'a str,
    pub(crate) default_group_id: Option<u64>,
    pub(crate) created_at: Stamp,
    pub(crate) updated_at: Stamp,
}

/// A Zendesk group.
#[derive(Serialize)]
pub(crate) struct RawGroup<'a> {
    pub(crate) url: ApiUrl,
    pub(crate) id: u64,
    pub(crate) is_public: bool,
    pub(crate) name: &'a str,
    pub(crate) description: &'a str,
    pub(crate) default: bool,
    pub(crate) deleted: bool,
    pub(crate) created_at: Stamp,
    pub(crate) updated_at: Stamp,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use chrono::DateTime;

    #[test]
    fn stamps_match_chrono() {
        let mut rng = Rng::for_item(1, 1, 1);
        let edges = [
            0,
            59,
            86_399,
            951_782_400,
            1_767_225_599,
            1_767_225_600,
            4_107_542_399,
        ];
        let random = (0..20_000).map(|_| rng.below(253_402_300_800) as i64);
        for t in edges.into_iter().chain(random) {
            let ours = serde_json::to_string(&Stamp(t)).unwrap();
            let chrono = serde_json::to_string(&DateTime::from_timestamp(t, 0).unwrap()).unwrap();
            assert_eq!(ours, chrono, "{t}");
        }
    }

    #[test]
    fn urls_name_the_collection_and_id() {
        assert_eq!(
            serde_json::to_string(&ApiUrl("tickets", 1234)).unwrap(),
            "\"https://demo.okno.example/api/v2/tickets/1234.json\""
        );
        assert_eq!(
            serde_json::to_string(&ApiUrl("groups", 0)).unwrap(),
            "\"https://demo.okno.example/api/v2/groups/0.json\""
        );
    }
}
