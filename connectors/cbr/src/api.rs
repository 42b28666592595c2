//! The one endpoint (`GET /scripts/XML_daily.asp?date_req=DD/MM/YYYY`) and the `rates` stream's
//! plan: which days a run pulls, and which requested day an answer's rates are recorded under.

use chrono::{DateTime, Days, NaiveDate, Utc};
use okno_connector::chrono_tz::Tz;
use okno_connector::spend::{start_day, today_in};
use okno_connector::{
    ConnectorError, Currency, Cursor, FxRate, HttpResponse, Page, PageRequest, Record, Verdict,
};
use serde::{Deserialize, Serialize};

use crate::daily::{self, Answer, DailyRates};
use crate::Cbr;

/// The rate bucket every request spends from.
pub(crate) const BUCKET: &str = "daily";
/// The endpoint's name in errors, logs and metrics.
pub(crate) const ENDPOINT: &str = "XML_daily";
/// The bank's days are Moscow days: rates are set for, and dated by, days in Europe/Moscow.
pub(crate) const MOSCOW: Tz = okno_connector::chrono_tz::Europe::Moscow;
/// Days before the last day pulled that every run pulls again (the bank occasionally corrects).
pub(crate) const REPULL_DAYS: u64 = 2;
/// How long okno leaves the bank alone after it blocks a request with 403.
pub(crate) const BLOCK_WAIT_MINUTES: i64 = 60;

/// The earliest day asked for: the bank's official rouble rates begin on 1 July 1992.
pub(crate) fn first_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(1992, 7, 1).unwrap_or(NaiveDate::MIN)
}

/// The `rates` stream's cursor: `{"through": "2025-04-02", "pass": {"next": ..., "to": ...}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RatesCursor {
    /// The last day pulled for good (recorded, or answered with no rates in force on it). A
    /// tomorrow not published yet does not count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) through: Option<NaiveDate>,
    /// The pass of the run under way; `None` between runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) pass: Option<Pass>,
}

/// The days one run pulls, planned when it starts, so a resumed run finishes it first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Pass {
    /// The next day to request.
    pub(crate) next: NaiveDate,
    /// The last day to request: tomorrow in Moscow when the pass was planned.
    pub(crate) to: NaiveDate,
}

impl RatesCursor {
    pub(crate) fn from_cursor(cursor: Option<&Cursor>) -> Result<RatesCursor, ConnectorError> {
        match cursor {
            None => Ok(RatesCursor::default()),
            Some(c) => serde_json::from_value(c.0.clone()).map_err(|e| {
                ConnectorError::Invalid(format!(
                    "the stored rates cursor is not readable ({e}); run `okno sync <instance> --full`"
                ))
            }),
        }
    }

    pub(crate) fn to_cursor(&self) -> Cursor {
        // Dates only: serialising cannot fail.
        Cursor(serde_json::to_value(self).unwrap_or(serde_json::Value::Null))
    }

    /// The pass a run starts with: from the day before the last day pulled (so the last
    /// [`REPULL_DAYS`] days are pulled again), or from `start` as a Moscow day on the first
    /// run, through tomorrow in Moscow. `None` when there is nothing to pull.
    pub(crate) fn plan(&self, start: DateTime<Utc>, now: DateTime<Utc>) -> Option<Pass> {
        let tomorrow = today_in(&MOSCOW, now).checked_add_days(Days::new(1))?;
        let from = match self.through {
            Some(through) => through.checked_sub_days(Days::new(REPULL_DAYS - 1))?,
            None => start_day(start, &MOSCOW),
        }
        .max(first_day());
        (from <= tomorrow).then_some(Pass {
            next: from,
            to: tomorrow,
        })
    }
}

/// What an answer dated `set` means for the requested day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Settle {
    /// The set is the one in force on the requested day: record it under that day. Either it
    /// is dated that day, or the day is a weekend or holiday (today at the latest) and the
    /// bank answered with the last set before it, which stays in force until the next one.
    Record,
    /// The requested day is after today and the bank answered with an earlier set: the day's
    /// own rates are not published yet. Nothing is recorded; a later run asks again.
    NotPublished,
    /// The set is dated after the requested day (before the bank's first rates): nothing is
    /// known to be in force that day.
    NotInForce,
}

pub(crate) fn settle(requested: NaiveDate, set: NaiveDate, today: NaiveDate) -> Settle {
    if set == requested || (set < requested && requested <= today) {
        Settle::Record
    } else if set < requested {
        Settle::NotPublished
    } else {
        Settle::NotInForce
    }
}

/// A 403 is how www.cbr.ru turns away clients it finds aggressive (it has no credentials to
/// refuse): a state to wait out, not an authentication error, and never retried at once.
fn classify(resp: &HttpResponse) -> Option<Verdict> {
    (resp.status.as_u16() == 403).then(|| {
        Verdict::Fail(ConnectorError::Quota {
            endpoint: ENDPOINT,
            until: Utc::now() + chrono::Duration::minutes(BLOCK_WAIT_MINUTES),
            message: format!(
                "www.cbr.ru refused the request with HTTP 403, as it does to clients it finds too \
                 aggressive and to some networks; okno leaves it alone for {BLOCK_WAIT_MINUTES} \
                 minutes. If this repeats, lower `[connector.rate_limit] {BUCKET}` or check that \
                 this host can open www.cbr.ru"
            ),
        })
    })
}

impl Cbr {
    /// The set of rates the bank answers for `day`.
    pub(crate) async fn fetch_day(&self, day: NaiveDate) -> Result<DailyRates, ConnectorError> {
        let date_req = day.format("%d/%m/%Y").to_string();
        let mut url = self.daily_url.clone();
        // Slashes are legal in a query; the bank's examples send them as they are.
        url.set_query(Some(&format!("date_req={date_req}")));
        let resp = self
            .http
            .send_classified(ENDPOINT, BUCKET, |c| c.get(url.clone()), classify)
            .await?;
        match daily::parse(&resp.body) {
            Ok(Answer::Rates(rates)) => Ok(rates),
            Ok(Answer::Refused(text)) => Err(ConnectorError::Permanent {
                endpoint: ENDPOINT,
                status: resp.status.as_u16(),
                message: format!("the bank answered {text:?} to date_req={date_req}"),
            }),
            Err(why) => Err(ConnectorError::Decode {
                endpoint: ENDPOINT,
                message: format!("date_req={date_req}: {why}"),
            }),
        }
    }

    /// One page of the `rates` stream: one requested day.
    pub(crate) async fn rates_page(&self, req: PageRequest<'_>) -> Result<Page, ConnectorError> {
        let mut cursor = RatesCursor::from_cursor(req.cursor)?;
        let pass = match cursor.pass.take() {
            Some(pass) => pass,
            None => match cursor.plan(req.start, Utc::now()) {
                Some(pass) => pass,
                None => {
                    return Ok(Page {
                        records: Vec::new(),
                        next: Some(cursor.to_cursor()),
                        has_more: false,
                    })
                }
            },
        };
        let day = pass.next;
        let set = self.fetch_day(day).await?;
        if !set.skipped.is_empty() {
            tracing::warn!(
                instance = %self.instance,
                %day,
                set = %set.date,
                "left out {} currencies the bank listed: {}",
                set.skipped.len(),
                set.skipped.join("; ")
            );
        }
        let today = today_in(&MOSCOW, Utc::now());
        let mut records = Vec::new();
        match settle(day, set.date, today) {
            Settle::Record => {
                records = self.records(day, &set);
                cursor.through = cursor.through.max(Some(day));
            }
            Settle::NotPublished => tracing::info!(
                instance = %self.instance,
                %day,
                set = %set.date,
                "the rates for {day} are not published yet; a later run asks again"
            ),
            Settle::NotInForce => {
                tracing::warn!(
                    instance = %self.instance,
                    %day,
                    set = %set.date,
                    "asked for {day}, the bank answered with rates dated {}: none recorded for {day}",
                    set.date
                );
                cursor.through = cursor.through.max(Some(day));
            }
        }
        let has_more = match day.succ_opt().filter(|next| *next <= pass.to) {
            Some(next) => {
                cursor.pass = Some(Pass { next, to: pass.to });
                true
            }
            None => false,
        };
        Ok(Page {
            records,
            next: Some(cursor.to_cursor()),
            has_more,
        })
    }

    /// The set's rates (the configured currencies only) as records dated `day`.
    fn records(&self, day: NaiveDate, set: &DailyRates) -> Vec<Record> {
        let rub = self.rub;
        let records: Vec<Record> = set
            .rates
            .iter()
            .filter(|r| self.keeps(&r.currency))
            .map(|r| {
                Record::FxRate(FxRate {
                    date: day,
                    currency: r.currency,
                    base: rub,
                    rate: r.rate,
                })
            })
            .collect();
        if let Some(wanted) = &self.currencies {
            let missing: Vec<&str> = wanted
                .iter()
                .filter(|c| !set.rates.iter().any(|r| r.currency == **c))
                .map(Currency::as_str)
                .collect();
            if !missing.is_empty() {
                tracing::warn!(
                    instance = %self.instance,
                    %day,
                    "the bank set no rate for {} on {day} (set dated {})",
                    missing.join(", "),
                    set.date
                );
            }
        }
        records
    }

    fn keeps(&self, currency: &Currency) -> bool {
        self.currencies
            .as_ref()
            .is_none_or(|wanted| wanted.contains(currency))
    }

    /// `okno validate --online`: today's rates, counted.
    pub(crate) async fn check_today(&self) -> Result<String, ConnectorError> {
        let today = today_in(&MOSCOW, Utc::now());
        let set = self.fetch_day(today).await?;
        let mut line = format!(
            "www.cbr.ru: {} exchange rates in force on {today} (set dated {})",
            set.rates.len(),
            set.date
        );
        if let Some(wanted) = &self.currencies {
            let missing: Vec<&str> = wanted
                .iter()
                .filter(|c| !set.rates.iter().any(|r| r.currency == **c))
                .map(Currency::as_str)
                .collect();
            line.push_str(&format!(
                "; {} of the {} configured currencies found",
                wanted.len() - missing.len(),
                wanted.len()
            ));
            if !missing.is_empty() {
                line.push_str(&format!(" (missing: {})", missing.join(", ")));
            }
        }
        Ok(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn near_midnight_utc_the_days_are_moscows() {
        // 22:30 UTC on 31 March is 01:30 on 1 April in Moscow (UTC+3).
        let now = utc("2025-03-31T22:30:00Z");
        let first = RatesCursor::default()
            .plan(utc("2025-03-31T21:30:00Z"), now)
            .unwrap();
        assert_eq!(first.next, d("2025-04-01"), "start is a Moscow day");
        assert_eq!(first.to, d("2025-04-02"), "through tomorrow in Moscow");
        // 20:55 UTC is still 23:55 on 31 March in Moscow.
        let before = RatesCursor::default()
            .plan(utc("2025-03-31T20:55:00Z"), utc("2025-03-31T20:55:00Z"))
            .unwrap();
        assert_eq!(before.next, d("2025-03-31"));
        assert_eq!(before.to, d("2025-04-01"));
    }

    #[test]
    fn a_run_re_pulls_the_last_two_days() {
        let cursor = RatesCursor {
            through: Some(d("2025-04-01")),
            pass: None,
        };
        let pass = cursor
            .plan(
                Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap(),
                utc("2025-04-03T10:00:00Z"),
            )
            .unwrap();
        assert_eq!(pass.next, d("2025-03-31"));
        assert_eq!(pass.to, d("2025-04-04"));
    }

    #[test]
    fn nothing_is_planned_before_the_start_or_before_1992() {
        let now = utc("2025-04-03T10:00:00Z");
        assert!(RatesCursor::default()
            .plan(utc("2025-05-01T00:00:00Z"), now)
            .is_none());
        let pass = RatesCursor::default()
            .plan(utc("1980-01-01T00:00:00Z"), now)
            .unwrap();
        assert_eq!(pass.next, d("1992-07-01"));
    }

    #[test]
    fn answers_are_recorded_under_the_days_they_are_in_force() {
        let today = d("2021-08-22"); // a Sunday
                                     // Saturday's set answers Sunday: in force, recorded under Sunday.
        assert_eq!(
            settle(d("2021-08-22"), d("2021-08-21"), today),
            Settle::Record
        );
        // Monday (tomorrow) answered with Saturday's set: not published yet.
        assert_eq!(
            settle(d("2021-08-23"), d("2021-08-21"), today),
            Settle::NotPublished
        );
        // A published tomorrow is dated tomorrow.
        assert_eq!(
            settle(d("2021-08-23"), d("2021-08-23"), today),
            Settle::Record
        );
        assert_eq!(
            settle(d("1992-06-01"), d("1992-07-01"), today),
            Settle::NotInForce
        );
    }

    #[test]
    fn cursors_round_trip_and_bad_ones_are_clear_errors() {
        let c = RatesCursor {
            through: Some(d("2025-04-01")),
            pass: Some(Pass {
                next: d("2025-04-02"),
                to: d("2025-04-02"),
            }),
        };
        let json = c.to_cursor();
        assert_eq!(
            json.0,
            serde_json::json!({"through": "2025-04-01", "pass": {"next": "2025-04-02", "to": "2025-04-02"}})
        );
        assert_eq!(RatesCursor::from_cursor(Some(&json)).unwrap(), c);
        let bad = Cursor(serde_json::json!({"through": "yesterday"}));
        assert!(matches!(
            RatesCursor::from_cursor(Some(&bad)),
            Err(ConnectorError::Invalid(_))
        ));
    }
}
