//! How ad-platform connectors pull daily spend: a **pass** per account and run, over the days
//! since the last pass plus a look-back window the platform may still restate, cut into slices
//! of at most `slice_days`. Each page is one complete slice of one account (every vendor page of
//! it fetched), marked by a [`SpendWindow`](crate::SpendWindow) record, so a restated day
//! overwrites its rows and a day restated to nothing is zeroed.
//!
//! The plan lives in the stream's cursor ([`SpendCursor`]), committed with each slice: a crash
//! resumes at the next slice of the same pass, and a pass planned before the crash is finished
//! before a new one starts.
//!
//! A connector's `fetch_page` does:
//! ```text
//! let mut plan = SpendCursor::from_cursor(req.cursor)?;
//! let mut records = Vec::new();
//! if plan.needs_pass() {
//!     let Some(account) = plan.next_account(&self.accounts).map(str::to_string) else {
//!         plan.finish();
//!         return Ok(Page { records, next: Some(plan.to_cursor()), has_more: false });
//!     };
//!     let info = self.account(&account).await?;       // an AdAccount: currency, time zone
//!     let tz = spend::time_zone(&info.time_zone, "account")?;
//!     let today = spend::today_in(&tz, Utc::now());
//!     plan.begin(&account, today, spend::start_day(req.start, &tz), &self.window, info.currency, None);
//!     records.push(Record::AdAccount(info));
//! }
//! let slice = plan.slice(&self.window).expect("a pass is planned");
//! // ... every AdSpend row of slice.account from slice.from to slice.to, then:
//! records.push(Record::SpendWindow(slice.window()));
//! let has_more = plan.advance(&slice);
//! Ok(Page { records, next: Some(plan.to_cursor()), has_more })
//! ```

use std::collections::BTreeMap;

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::connector::Cursor;
use crate::error::{ConnectorError, SettingsError};
use crate::money::Currency;
use crate::record::SpendWindow;

/// How much a connector re-pulls and how much it asks for at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Days before today (today included) re-pulled on every run, because the platform may
    /// still restate them.
    pub lookback_days: u32,
    /// The most days one request (one page) covers.
    pub slice_days: u32,
}

impl Window {
    /// Reads `lookback_days` from the instance settings (a positive number of days, at most
    /// 365), falling back to the connector's `default_lookback`.
    pub fn from_settings(
        settings: &serde_json::Value,
        default_lookback: u32,
        slice_days: u32,
        errors: &mut Vec<SettingsError>,
    ) -> Window {
        let lookback_days = match settings.get("lookback_days") {
            None | Some(serde_json::Value::Null) => default_lookback,
            Some(v) => {
                match v.as_u64() {
                    Some(n @ 1..=365) => n as u32,
                    _ => {
                        errors.push(
                        SettingsError::new("lookback_days", format!("{v} is not a number of days from 1 to 365"))
                            .hint(format!("the platform restates recent days; {default_lookback} is the default")),
                    );
                        default_lookback
                    }
                }
            }
        };
        Window {
            lookback_days,
            slice_days: slice_days.max(1),
        }
    }
}

/// One account's planned pull in the current run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pass {
    pub account: String,
    /// The first day not yet pulled.
    pub next: NaiveDate,
    /// The last day to pull (the account's today when the pass began).
    pub to: NaiveDate,
    /// Days from here on may still be restated.
    pub provisional_from: NaiveDate,
    pub currency: Currency,
}

/// The spend stream's cursor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpendCursor {
    /// The last day of the last finished pass, per account.
    #[serde(default)]
    pub done: BTreeMap<String, NaiveDate>,
    /// Accounts still to pull in the current run, in order; empty between runs.
    #[serde(default)]
    pub queue: Vec<String>,
    /// The account being pulled.
    #[serde(default)]
    pub current: Option<Pass>,
    /// Per-account vendor state that must survive runs (Yandex's `Changes` timestamp).
    #[serde(default)]
    pub marks: BTreeMap<String, String>,
}

/// The days one page covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slice {
    pub account: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub provisional_from: NaiveDate,
    pub currency: Currency,
}

impl Slice {
    /// The record that makes the page authoritative for these days.
    pub fn window(&self) -> SpendWindow {
        SpendWindow {
            account_id: self.account.clone(),
            from: self.from,
            to: self.to,
            provisional_from: self.provisional_from,
        }
    }

    /// The days of the slice, oldest first.
    pub fn days(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.from.iter_days().take_while(move |d| *d <= self.to)
    }
}

impl SpendCursor {
    /// Decodes the committed cursor; `None` (first run, `--full`) is an empty plan.
    pub fn from_cursor(cursor: Option<&Cursor>) -> Result<SpendCursor, ConnectorError> {
        match cursor {
            None => Ok(SpendCursor::default()),
            Some(c) => serde_json::from_value(c.0.clone()).map_err(|e| {
                ConnectorError::Invalid(format!(
                    "the stored spend cursor is not readable ({e}); run `okno sync <instance> --full`"
                ))
            }),
        }
    }

    pub fn to_cursor(&self) -> Cursor {
        // A plain struct of strings and dates always serialises.
        Cursor(serde_json::to_value(self).unwrap_or(serde_json::Value::Null))
    }

    /// Whether the next page starts an account's pass (the connector then looks the account up).
    pub fn needs_pass(&self) -> bool {
        self.current.is_none()
    }

    /// The account whose pass starts next. Starts a new run over `accounts` when the last run
    /// finished; an account removed from config since is skipped.
    pub fn next_account<'a>(&mut self, accounts: &'a [String]) -> Option<&'a str> {
        if self.queue.is_empty() {
            self.queue = accounts.to_vec();
        }
        while !self.queue.is_empty() {
            let id = self.queue.remove(0);
            if let Some(a) = accounts.iter().find(|a| **a == id) {
                // Put it back at the head: `begin` takes it off for good.
                self.queue.insert(0, id);
                return Some(a.as_str());
            }
        }
        None
    }

    /// Plans the account's pass: from the day after its last pass or the start of the look-back
    /// window, whichever is earlier (a first pass starts at `start`), to `today` in the
    /// account's zone. `earliest` pulls the start back further (days a platform says it changed).
    pub fn begin(
        &mut self,
        account: &str,
        today: NaiveDate,
        start: NaiveDate,
        window: &Window,
        currency: Currency,
        earliest: Option<NaiveDate>,
    ) {
        if self.queue.first().map(String::as_str) == Some(account) {
            self.queue.remove(0);
        }
        let provisional_from = today
            .checked_sub_days(Days::new(u64::from(window.lookback_days.saturating_sub(1))))
            .unwrap_or(today);
        let mut from = match self.done.get(account) {
            Some(d) => d.succ_opt().unwrap_or(*d).min(provisional_from),
            None => start,
        };
        if let Some(e) = earliest {
            from = from.min(e);
        }
        self.current = Some(Pass {
            account: account.to_string(),
            next: from.min(today),
            to: today,
            provisional_from,
            currency,
        });
    }

    /// The next slice of the current pass (`None` when no pass is planned).
    pub fn slice(&self, window: &Window) -> Option<Slice> {
        let pass = self.current.as_ref()?;
        let span = u64::from(window.slice_days.saturating_sub(1));
        let to = pass
            .next
            .checked_add_days(Days::new(span))
            .unwrap_or(pass.to)
            .min(pass.to);
        Some(Slice {
            account: pass.account.clone(),
            from: pass.next,
            to,
            provisional_from: pass.provisional_from,
            currency: pass.currency,
        })
    }

    /// Records `slice` as pulled. Returns whether the run has more pages.
    pub fn advance(&mut self, slice: &Slice) -> bool {
        if let Some(pass) = &mut self.current {
            match slice.to.succ_opt() {
                Some(next) if slice.to < pass.to => pass.next = next,
                _ => {
                    self.done.insert(pass.account.clone(), pass.to);
                    self.current = None;
                }
            }
        }
        self.current.is_some() || !self.queue.is_empty()
    }

    /// Ends the run without pulling anything (no account configured or left).
    pub fn finish(&mut self) {
        self.queue.clear();
        self.current = None;
    }
}

/// Today's date in an IANA time zone.
pub fn today_in(tz: &chrono_tz::Tz, now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(tz).date_naive()
}

/// Parses an account's IANA time zone as the platform names it.
pub fn time_zone(name: &str, endpoint: &'static str) -> Result<chrono_tz::Tz, ConnectorError> {
    name.parse::<chrono_tz::Tz>()
        .map_err(|_| ConnectorError::decode(endpoint, format!("{name:?} is not an IANA time zone")))
}

/// The configured backfill start as a day in the account's zone.
pub fn start_day(start: DateTime<Utc>, tz: &chrono_tz::Tz) -> NaiveDate {
    start.with_timezone(tz).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn rub() -> Currency {
        "RUB".parse().unwrap()
    }

    const W: Window = Window {
        lookback_days: 3,
        slice_days: 2,
    };

    /// Drives a whole run, returning the slices pulled.
    fn run(c: &mut SpendCursor, accounts: &[String], today: &str) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        loop {
            if c.needs_pass() {
                let Some(a) = c.next_account(accounts).map(str::to_string) else {
                    c.finish();
                    break;
                };
                c.begin(&a, d(today), d("2026-11-01"), &W, rub(), None);
            }
            let s = c.slice(&W).unwrap();
            out.push((s.account.clone(), s.from.to_string(), s.to.to_string()));
            if !c.advance(&s) {
                break;
            }
        }
        out
    }

    #[test]
    fn first_run_backfills_then_later_runs_repull_the_lookback_window() {
        let accounts = vec!["a".to_string(), "b".to_string()];
        let mut c = SpendCursor::default();
        let first = run(&mut c, &accounts, "2026-11-05");
        assert_eq!(
            first,
            [
                ("a", "2026-11-01", "2026-11-02"),
                ("a", "2026-11-03", "2026-11-04"),
                ("a", "2026-11-05", "2026-11-05"),
                ("b", "2026-11-01", "2026-11-02"),
                ("b", "2026-11-03", "2026-11-04"),
                ("b", "2026-11-05", "2026-11-05"),
            ]
            .map(|(a, f, t)| (a.to_string(), f.to_string(), t.to_string()))
        );
        assert_eq!(c.done["a"], d("2026-11-05"));
        assert!(c.queue.is_empty() && c.current.is_none());
        // Two days later, the window of 3 days (today included) is re-pulled: 7th, 6th, 5th.
        let second = run(&mut c, &accounts[..1], "2026-11-07");
        assert_eq!(
            second,
            [
                ("a", "2026-11-05", "2026-11-06"),
                ("a", "2026-11-07", "2026-11-07")
            ]
            .map(|(a, f, t)| (a.to_string(), f.to_string(), t.to_string()))
        );
        // After ten days away, the gap is pulled from the day after the last pass.
        let third = run(&mut c, &accounts[..1], "2026-11-17");
        assert_eq!(third.first().unwrap().1, "2026-11-08");
        assert_eq!(third.last().unwrap().2, "2026-11-17");
    }

    #[test]
    fn a_run_interrupted_between_slices_resumes_at_the_next_slice() {
        let accounts = vec!["a".to_string(), "b".to_string()];
        let mut c = SpendCursor::default();
        let a = c.next_account(&accounts).unwrap().to_string();
        c.begin(&a, d("2026-11-05"), d("2026-11-01"), &W, rub(), None);
        let s = c.slice(&W).unwrap();
        assert!(c.advance(&s));
        // The committed cursor survives a crash as JSON.
        let resumed = SpendCursor::from_cursor(Some(&c.to_cursor())).unwrap();
        assert!(!resumed.needs_pass());
        let next = resumed.slice(&W).unwrap();
        assert_eq!((next.from, next.to), (d("2026-11-03"), d("2026-11-04")));
        assert_eq!(resumed.queue, ["b"]);
    }

    #[test]
    fn earliest_pulls_the_start_back_and_removed_accounts_are_skipped() {
        let mut c = SpendCursor {
            done: [("a".to_string(), d("2026-11-10"))].into(),
            queue: vec!["gone".to_string(), "a".to_string()],
            ..SpendCursor::default()
        };
        let accounts = vec!["a".to_string()];
        assert_eq!(c.next_account(&accounts), Some("a"));
        c.begin(
            "a",
            d("2026-11-10"),
            d("2026-01-01"),
            &W,
            rub(),
            Some(d("2026-11-02")),
        );
        let s = c.slice(&W).unwrap();
        assert_eq!(s.from, d("2026-11-02"));
        assert_eq!(s.provisional_from, d("2026-11-08"));
        assert!(c.queue.is_empty());
    }

    #[test]
    fn lookback_is_read_from_settings_with_a_clear_error() {
        let mut errors = Vec::new();
        let w = Window::from_settings(
            &serde_json::json!({"lookback_days": 7}),
            30,
            10,
            &mut errors,
        );
        assert_eq!(w.lookback_days, 7);
        let w = Window::from_settings(&serde_json::json!({}), 30, 10, &mut errors);
        assert_eq!(w.lookback_days, 30);
        assert!(errors.is_empty());
        Window::from_settings(
            &serde_json::json!({"lookback_days": 0}),
            30,
            10,
            &mut errors,
        );
        assert_eq!(errors[0].key, "lookback_days");
    }
}
