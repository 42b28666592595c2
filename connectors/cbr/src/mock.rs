//! A www.cbr.ru stand-in for tests and benchmarks (feature `mock`): answers
//! `GET /scripts/XML_daily.asp?date_req=DD/MM/YYYY` with the documented document, encoded in
//! windows-1251 with decimal commas, on a local wiremock server.
//!
//! - Rates are deterministic: currency `i` of [`CURRENCIES`] on a set dated `d` is the same on
//!   every request ([`DailyMock::rate`] gives the per-unit figure a test should expect).
//! - Like the bank, a Sunday or Monday is answered with Saturday's set, and a day after
//!   [`DailyMock::published_through`] with the last set published by then.
//! - A missing `date_req` gets the set in force today in Moscow (capped the same way); an
//!   unreadable one gets the bank's `<ValCurs>Error in parameters</ValCurs>` (UTF-8).
//! - Bodies are written into one buffer and encoded once.
//!
//! Build an instance against it with [`SETTINGS_TOML`] and the server's `uri()` as `base_url`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use chrono::{Datelike, Days, NaiveDate, Utc, Weekday};
use okno_connector::rust_decimal::Decimal;
use okno_connector::testkit::MockVendor;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// `[connector.settings]` for an instance pointed at the mock with `base_url`.
pub const SETTINGS_TOML: &str = "currencies = [\"USD\", \"EUR\", \"CNY\", \"KZT\", \"JPY\"]\n";

/// The request path the connector asks.
pub const DAILY_PATH: &str = "/scripts/XML_daily.asp";

/// One currency the mock lists.
#[derive(Debug, Clone, Copy)]
pub struct MockCurrency {
    pub id: &'static str,
    pub num_code: &'static str,
    pub code: &'static str,
    pub nominal: u32,
    pub name: &'static str,
    /// Roubles per `nominal` units in ten-thousandths, before the daily variation.
    pub base_e4: i64,
}

/// What the mock lists, in the bank's order (by `ID`), with its nominals.
pub const CURRENCIES: &[MockCurrency] = &[
    MockCurrency {
        id: "R01010",
        num_code: "036",
        code: "AUD",
        nominal: 1,
        name: "Австралийский доллар",
        base_e4: 53_6917,
    },
    MockCurrency {
        id: "R01060",
        num_code: "051",
        code: "AMD",
        nominal: 100,
        name: "Армянских драмов",
        base_e4: 21_8342,
    },
    MockCurrency {
        id: "R01090B",
        num_code: "933",
        code: "BYN",
        nominal: 1,
        name: "Белорусский рубль",
        base_e4: 27_2959,
    },
    MockCurrency {
        id: "R01150",
        num_code: "704",
        code: "VND",
        nominal: 10000,
        name: "Донгов",
        base_e4: 34_4230,
    },
    MockCurrency {
        id: "R01235",
        num_code: "840",
        code: "USD",
        nominal: 1,
        name: "Доллар США",
        base_e4: 85_4963,
    },
    MockCurrency {
        id: "R01239",
        num_code: "978",
        code: "EUR",
        nominal: 1,
        name: "Евро",
        base_e4: 92_4276,
    },
    MockCurrency {
        id: "R01335",
        num_code: "398",
        code: "KZT",
        nominal: 100,
        name: "Тенге",
        base_e4: 16_9831,
    },
    MockCurrency {
        id: "R01375",
        num_code: "156",
        code: "CNY",
        nominal: 1,
        name: "Юань",
        base_e4: 11_7136,
    },
    MockCurrency {
        id: "R01700J",
        num_code: "949",
        code: "TRY",
        nominal: 10,
        name: "Турецких лир",
        base_e4: 22_6183,
    },
    MockCurrency {
        id: "R01820",
        num_code: "392",
        code: "JPY",
        nominal: 100,
        name: "Иен",
        base_e4: 57_1958,
    },
];

/// The stand-in server's behaviour.
#[derive(Debug, Clone, Default)]
pub struct DailyMock {
    /// The last set published; later days are answered with the set in force on it. `None`:
    /// every day is published.
    pub published_through: Option<NaiveDate>,
    /// Answers served with rates, for assertions.
    pub served: Arc<AtomicUsize>,
}

impl DailyMock {
    pub fn new() -> Self {
        DailyMock::default()
    }

    /// Publishes sets through `day` only.
    pub fn published_through(mut self, day: NaiveDate) -> Self {
        self.published_through = Some(day);
        self
    }

    /// The date of the set the bank answers a request for `requested` with.
    pub fn set_date(&self, requested: NaiveDate) -> NaiveDate {
        let day = match self.published_through {
            Some(last) => requested.min(last),
            None => requested,
        };
        let back = match day.weekday() {
            Weekday::Sun => 1,
            Weekday::Mon => 2,
            _ => 0,
        };
        day.checked_sub_days(Days::new(back)).unwrap_or(day)
    }

    /// Roubles per one unit of `code` in the set dated `set`, as the mock's `VunitRate` says.
    pub fn rate(code: &str, set: NaiveDate) -> Option<Decimal> {
        let (i, c) = CURRENCIES
            .iter()
            .enumerate()
            .find(|(_, c)| c.code == code)?;
        Decimal::new(value_e4(i, c, set), 4)
            .checked_div(Decimal::from(c.nominal))
            .map(|d| d.normalize())
    }

    /// The windows-1251 body of the set dated `set`.
    pub fn body(set: NaiveDate) -> Vec<u8> {
        let mut xml = String::with_capacity(200 + CURRENCIES.len() * 220);
        let _ = write!(
            xml,
            "<?xml version=\"1.0\" encoding=\"windows-1251\"?><ValCurs Date=\"{}\" name=\"Foreign Currency Market\">",
            set.format("%d.%m.%Y")
        );
        for (i, c) in CURRENCIES.iter().enumerate() {
            let value = value_e4(i, c, set);
            let unit = Decimal::new(value, 4)
                .checked_div(Decimal::from(c.nominal))
                .map(|d| d.normalize().to_string().replace('.', ","))
                .unwrap_or_default();
            let _ = write!(
                xml,
                "<Valute ID=\"{}\"><NumCode>{}</NumCode><CharCode>{}</CharCode><Nominal>{}</Nominal><Name>{}</Name><Value>{},{:04}</Value><VunitRate>{}</VunitRate></Valute>",
                c.id,
                c.num_code,
                c.code,
                c.nominal,
                c.name,
                value / 10_000,
                value % 10_000,
                unit
            );
        }
        xml.push_str("</ValCurs>");
        let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(&xml);
        bytes.into_owned()
    }
}

/// Currency `i`'s `Value` on `set` in ten-thousandths: its base moved by up to ±2 %.
fn value_e4(i: usize, c: &MockCurrency, set: NaiveDate) -> i64 {
    let days = i64::from(set.num_days_from_ce());
    let wiggle = (days * 7_919 + i as i64 * 104_729).rem_euclid(401) - 200;
    c.base_e4 + c.base_e4 * wiggle / 10_000
}

impl Respond for DailyMock {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let date_req = req
            .url
            .query_pairs()
            .find(|(k, _)| k == "date_req")
            .map(|(_, v)| v.into_owned());
        let requested = match date_req {
            None => Some(okno_connector::spend::today_in(
                &okno_connector::chrono_tz::Europe::Moscow,
                Utc::now(),
            )),
            Some(v) => NaiveDate::parse_from_str(&v, "%d/%m/%Y").ok(),
        };
        match requested {
            Some(day) => {
                self.served.fetch_add(1, Ordering::Relaxed);
                ResponseTemplate::new(200)
                    .set_body_raw(DailyMock::body(self.set_date(day)), "application/xml")
            }
            None => ResponseTemplate::new(200).set_body_raw(
                "<?xml version=\"1.0\" encoding=\"utf-8\" ?><ValCurs>Error in parameters</ValCurs>",
                "application/xml",
            ),
        }
    }
}

#[okno_connector::async_trait]
impl MockVendor for DailyMock {
    async fn mount(&self, server: MockServer) -> MockServer {
        Mock::given(method("GET"))
            .and(path(DAILY_PATH))
            .respond_with(self.clone())
            .mount(&server)
            .await;
        server
    }
}
