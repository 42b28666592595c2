//! CSV imports for what no connector pulls: spend of channels without an API (influencers, SEO
//! agencies, offline) and exchange rates. A file is checked whole, row by row, and every problem
//! is reported with its line number before anything is written; a clean file is written in one
//! transaction, so a re-import of the same file changes nothing.
//!
//! Both formats take a header row naming the columns (any order, any case), `,` or `;` as the
//! delimiter (read off the header line; Russian-locale Excel saves `;`), an optional UTF-8 BOM,
//! and decimals with `.` — or `,` in `;`-delimited files. Spaces (also non-breaking) inside
//! numbers are ignored, so `12 500,00` is 12500.00.
//!
//! **Spend** (`okno import spend`): `date` (YYYY-MM-DD, the day in the channel's own zone),
//! `channel`, `campaign_id`, `cost`, `currency` are required; `account` (default: the channel),
//! `campaign_name` (default: the id), `impressions`, `clicks`, `conversions` and `vat_included`
//! (true/false/yes/no/1/0, empty for unknown) are optional. Each (account, campaign, date) may
//! appear once.
//!
//! **Rates** (`okno import fx`): `date`, `currency`, `rate` required, `base` optional (default
//! RUB): one unit of `currency` is worth `rate` units of `base` on `date`.
//!
//! **Budget lines** (`okno import budget`): the keys of a `[[line]]` of `budgets.toml` as
//! columns — `id`, `amount`, `currency` required; `period` (YYYY-MM) or `from` and `to`;
//! `channel` or `campaign` (`instance:campaign_id`); `funding`, `target_cpl`,
//! `planned_discount`, `kind`, `note` optional. Lines are checked exactly as the file's are
//! ([`crate::config::budgets::check_line`]); each id may appear once.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::str::FromStr;

use chrono::NaiveDate;
use okno_connector::rust_decimal::Decimal;
use okno_connector::serde_json::value::RawValue;
use okno_connector::{AdAccount, AdSpend, Campaign, Currency, FxRate, Record, SpendWindow};

/// One problem in an import file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct RowError {
    /// 1-based line in the file (the header is line 1).
    pub line: u64,
    pub message: String,
}

/// Why a file was not imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read the file: {0}")]
    Io(#[from] std::io::Error),
    #[error("the header row {0}")]
    Header(String),
    #[error("{} problem(s), nothing imported:\n{}", .0.len(), .0.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n"))]
    Rows(Vec<RowError>),
    #[error("the file has a header but no rows")]
    Empty,
}

/// What a spend file came to: the records to write and a summary for the operator.
#[derive(Debug)]
pub struct SpendImport {
    pub records: Vec<Record>,
    pub rows: usize,
    pub accounts: usize,
    pub campaigns: usize,
    pub first: NaiveDate,
    pub last: NaiveDate,
}

const SPEND_COLUMNS: &[&str] = &[
    "date",
    "channel",
    "account",
    "campaign_id",
    "campaign_name",
    "cost",
    "currency",
    "impressions",
    "clicks",
    "conversions",
    "vat_included",
];
const SPEND_REQUIRED: &[&str] = &["date", "channel", "campaign_id", "cost", "currency"];
const BUDGET_COLUMNS: &[&str] = &[
    "id",
    "period",
    "from",
    "to",
    "channel",
    "campaign",
    "amount",
    "currency",
    "funding",
    "target_cpl",
    "planned_discount",
    "kind",
    "note",
];
const BUDGET_REQUIRED: &[&str] = &["id", "amount", "currency"];
const FX_COLUMNS: &[&str] = &["date", "currency", "base", "rate"];
const FX_REQUIRED: &[&str] = &["date", "currency", "rate"];

/// Stop listing problems after this many; a file this wrong is the wrong file.
const MAX_ERRORS: usize = 50;

/// A CSV file opened with its delimiter and column positions.
struct Table {
    reader: csv::Reader<std::io::Cursor<Vec<u8>>>,
    columns: HashMap<&'static str, usize>,
    /// `;` files may use the decimal comma.
    decimal_comma: bool,
}

fn open(
    mut input: impl Read,
    known: &[&'static str],
    required: &[&str],
) -> Result<Table, ImportError> {
    let mut bytes = Vec::new();
    input.read_to_end(&mut bytes)?;
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        bytes.drain(..3);
    }
    let first_line = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    let delimiter = if first_line.contains(&b';') {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(std::io::Cursor::new(bytes));
    let header = reader
        .headers()
        .map_err(|e| ImportError::Header(format!("cannot be read: {e}")))?
        .clone();
    let mut columns = HashMap::new();
    let mut unknown = Vec::new();
    for (i, name) in header.iter().enumerate() {
        let name = name.trim().to_ascii_lowercase();
        match known.iter().find(|k| **k == name) {
            Some(k) => {
                if columns.insert(*k, i).is_some() {
                    return Err(ImportError::Header(format!("names {k:?} twice")));
                }
            }
            None if name.is_empty() => {}
            None => unknown.push(name),
        }
    }
    if !unknown.is_empty() {
        return Err(ImportError::Header(format!(
            "has unknown column(s) {}; the columns are: {}",
            unknown.join(", "),
            known.join(", ")
        )));
    }
    let missing: Vec<&str> = required
        .iter()
        .filter(|c| !columns.contains_key(*c))
        .copied()
        .collect();
    if !missing.is_empty() {
        return Err(ImportError::Header(format!(
            "lacks required column(s) {}",
            missing.join(", ")
        )));
    }
    Ok(Table {
        reader,
        columns,
        decimal_comma: delimiter == b';',
    })
}

/// One data row being read: its cells by column name, and the problems found in it.
struct Row<'a> {
    record: &'a csv::StringRecord,
    columns: &'a HashMap<&'static str, usize>,
    decimal_comma: bool,
    problems: Vec<String>,
}

impl Row<'_> {
    fn text(&self, column: &str) -> Option<&str> {
        let i = *self.columns.get(column)?;
        self.record.get(i).map(str::trim).filter(|s| !s.is_empty())
    }

    fn required(&mut self, column: &str) -> Option<String> {
        match self.text(column) {
            Some(s) => Some(s.to_string()),
            None => {
                self.problems.push(format!("{column} is empty"));
                None
            }
        }
    }

    fn date(&mut self, column: &str) -> Option<NaiveDate> {
        let s = self.required(column)?;
        match NaiveDate::parse_from_str(&s, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                self.problems
                    .push(format!("{column} {s:?} is not a date like 2026-11-01"));
                None
            }
        }
    }

    fn currency(&mut self, column: &str) -> Option<Currency> {
        let s = self.required(column)?;
        match s.parse() {
            Ok(c) => Some(c),
            Err(e) => {
                self.problems.push(format!("{column}: {e}"));
                None
            }
        }
    }

    fn decimal(&mut self, column: &str) -> Option<Decimal> {
        let s = self.text(column)?.to_string();
        let mut t: String = s
            .chars()
            .filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}'))
            .collect();
        if self.decimal_comma {
            t = t.replace(',', ".");
        }
        match Decimal::from_str(&t) {
            Ok(d) if d.is_sign_negative() => {
                self.problems.push(format!("{column} {s:?} is negative"));
                None
            }
            Ok(d) => Some(d),
            Err(_) => {
                let hint = if !self.decimal_comma && s.contains(',') {
                    " (a decimal comma needs `;` as the delimiter)"
                } else {
                    ""
                };
                self.problems
                    .push(format!("{column} {s:?} is not a number{hint}"));
                None
            }
        }
    }

    fn count(&mut self, column: &str) -> Option<i64> {
        let s = self.text(column)?.to_string();
        let t: String = s
            .chars()
            .filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}'))
            .collect();
        match t.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n),
            _ => {
                self.problems.push(format!(
                    "{column} {s:?} is not a whole number of at least 0"
                ));
                None
            }
        }
    }

    fn flag(&mut self, column: &str) -> Option<bool> {
        let s = self.text(column)?.to_ascii_lowercase();
        match s.as_str() {
            "true" | "yes" | "1" | "да" => Some(true),
            "false" | "no" | "0" | "нет" => Some(false),
            _ => {
                self.problems
                    .push(format!("{column} {s:?} is not true or false"));
                None
            }
        }
    }
}

/// Reads the rows, handing each to `each` with its line; collects every problem.
fn rows(table: &mut Table, mut each: impl FnMut(&mut Row<'_>, u64)) -> Result<usize, ImportError> {
    let mut errors = Vec::new();
    let mut n = 0;
    let mut record = csv::StringRecord::new();
    loop {
        let line = table.reader.position().line();
        match table.reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                errors.push(RowError {
                    line,
                    message: format!("unreadable: {e}"),
                });
                break;
            }
        }
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        n += 1;
        let mut row = Row {
            record: &record,
            columns: &table.columns,
            decimal_comma: table.decimal_comma,
            problems: Vec::new(),
        };
        each(&mut row, line);
        for message in row.problems {
            errors.push(RowError { line, message });
        }
        if errors.len() >= MAX_ERRORS {
            errors.truncate(MAX_ERRORS);
            break;
        }
    }
    if !errors.is_empty() {
        return Err(ImportError::Rows(errors));
    }
    if n == 0 {
        return Err(ImportError::Empty);
    }
    Ok(n)
}

fn raw(value: &okno_connector::serde_json::Value) -> Box<RawValue> {
    okno_connector::serde_json::value::to_raw_value(value)
        .expect("a JSON value built here always serialises")
}

/// Parses a spend file. With `replace`, the file is the whole truth for each account and the
/// days it covers: rows stored earlier for those days and not in the file are zeroed.
/// `time_zone` is the zone the file's dates are in, recorded on its accounts.
pub fn spend(input: impl Read, time_zone: &str, replace: bool) -> Result<SpendImport, ImportError> {
    let mut table = open(input, SPEND_COLUMNS, SPEND_REQUIRED)?;
    let mut spend = Vec::new();
    let mut campaigns: BTreeMap<(String, String), (String, String)> = BTreeMap::new();
    // Per account: its currency, the line that set it, and the days it covers.
    let mut accounts: BTreeMap<String, (Currency, u64, NaiveDate, NaiveDate)> = BTreeMap::new();
    let mut seen: HashMap<(String, String, NaiveDate), u64> = HashMap::new();
    let n = rows(&mut table, |row, line| {
        let date = row.date("date");
        let channel = row.required("channel");
        let campaign_id = row.required("campaign_id");
        let cost = match row.text("cost") {
            Some(_) => row.decimal("cost"),
            None => {
                row.problems.push("cost is empty".into());
                None
            }
        };
        let currency = row.currency("currency");
        let impressions = row.count("impressions");
        let clicks = row.count("clicks");
        let conversions = row.decimal("conversions");
        let vat = row.flag("vat_included");
        let name = row.text("campaign_name").map(str::to_string);
        let account = row.text("account").map(str::to_string).or(channel.clone());
        let (
            Some(date),
            Some(channel),
            Some(campaign_id),
            Some(cost),
            Some(currency),
            Some(account),
        ) = (date, channel, campaign_id, cost, currency, account)
        else {
            return;
        };
        if let Some(first) = seen.insert((account.clone(), campaign_id.clone(), date), line) {
            row.problems.push(format!(
                "account {account:?}, campaign {campaign_id:?} on {date} is already on line {first}"
            ));
            return;
        }
        match accounts.get_mut(&account) {
            Some((c, first, from, to)) => {
                if *c != currency {
                    row.problems.push(format!(
                        "account {account:?} is in {c} on line {first}; one account has one currency (split the rows into accounts)"
                    ));
                    return;
                }
                *from = (*from).min(date);
                *to = (*to).max(date);
            }
            None => {
                accounts.insert(account.clone(), (currency, line, date, date));
            }
        }
        campaigns
            .entry((account.clone(), campaign_id.clone()))
            .or_insert((name.unwrap_or_else(|| campaign_id.clone()), channel.clone()));
        let json = okno_connector::serde_json::json!({
            "line": line, "channel": channel, "account": account, "campaign_id": campaign_id,
            "date": date, "cost": cost.to_string(), "currency": currency,
        });
        spend.push(AdSpend {
            account_id: account,
            campaign_id,
            date,
            cost,
            currency,
            vat_included: vat,
            impressions,
            clicks,
            conversions,
            raw: raw(&json),
        });
    })?;
    let mut records = Vec::with_capacity(spend.len() + campaigns.len() + accounts.len() * 2);
    let (mut first, mut last) = (NaiveDate::MAX, NaiveDate::MIN);
    for (id, (currency, _, from, to)) in &accounts {
        first = first.min(*from);
        last = last.max(*to);
        records.push(Record::AdAccount(AdAccount {
            account_id: id.clone(),
            name: None,
            currency: *currency,
            time_zone: time_zone.to_string(),
            raw: raw(&okno_connector::serde_json::json!({"imported": true})),
        }));
    }
    for ((account, id), (name, channel)) in &campaigns {
        records.push(Record::Campaign(Campaign {
            account_id: account.clone(),
            campaign_id: id.clone(),
            name: name.clone(),
            status: None,
            channel: channel.clone(),
            utm_campaign: None,
            raw: raw(&okno_connector::serde_json::json!({"name": name, "channel": channel})),
        }));
    }
    records.extend(spend.into_iter().map(Record::AdSpend));
    if replace {
        for (id, (_, _, from, to)) in &accounts {
            records.push(Record::SpendWindow(SpendWindow {
                account_id: id.clone(),
                from: *from,
                to: *to,
                // Imported figures are final: nothing of them is provisional.
                provisional_from: to.succ_opt().unwrap_or(*to),
            }));
        }
    }
    Ok(SpendImport {
        records,
        rows: n,
        accounts: accounts.len(),
        campaigns: campaigns.len(),
        first,
        last,
    })
}

/// Parses a rates file into records.
pub fn fx(input: impl Read) -> Result<Vec<Record>, ImportError> {
    let mut table = open(input, FX_COLUMNS, FX_REQUIRED)?;
    let rub: Currency = "RUB"
        .parse()
        .map_err(|_| ImportError::Header("RUB is not a currency".into()))?;
    let mut out = Vec::new();
    let mut seen: HashMap<(NaiveDate, Currency, Currency), u64> = HashMap::new();
    rows(&mut table, |row, line| {
        let date = row.date("date");
        let currency = row.currency("currency");
        let base = if row.text("base").is_some() {
            row.currency("base")
        } else {
            Some(rub)
        };
        let rate = match row.text("rate") {
            Some(_) => row.decimal("rate"),
            None => {
                row.problems.push("rate is empty".into());
                None
            }
        };
        let (Some(date), Some(currency), Some(base), Some(rate)) = (date, currency, base, rate)
        else {
            return;
        };
        if rate.is_zero() {
            row.problems.push("rate is zero".into());
            return;
        }
        if currency == base {
            row.problems
                .push(format!("currency and base are both {currency}"));
            return;
        }
        if let Some(first) = seen.insert((date, currency, base), line) {
            row.problems.push(format!(
                "the {currency}/{base} rate of {date} is already on line {first}"
            ));
            return;
        }
        out.push(Record::FxRate(FxRate {
            date,
            currency,
            base,
            rate,
        }));
    })?;
    Ok(out)
}

/// Parses a budget file into lines. `instances` are the configured instance ids a campaign
/// line may name.
pub fn budget(
    input: impl Read,
    instances: &std::collections::BTreeSet<String>,
) -> Result<Vec<crate::config::budgets::BudgetLine>, ImportError> {
    use crate::config::budgets::{check_line, LineDraft};
    let mut table = open(input, BUDGET_COLUMNS, BUDGET_REQUIRED)?;
    let mut out = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    rows(&mut table, |row, line| {
        let owned = |row: &Row<'_>, c: &str| row.text(c).map(str::to_string);
        let amount = match row.text("amount") {
            Some(_) => row.decimal("amount"),
            None => {
                row.problems.push("amount is empty".into());
                None
            }
        };
        let draft = LineDraft {
            id: owned(row, "id").unwrap_or_default(),
            period: owned(row, "period"),
            from: owned(row, "from"),
            to: owned(row, "to"),
            channel: owned(row, "channel"),
            campaign: owned(row, "campaign"),
            amount,
            currency: owned(row, "currency"),
            funding: owned(row, "funding"),
            target_cpl: row.decimal("target_cpl"),
            planned_discount: row.decimal("planned_discount"),
            kind: owned(row, "kind"),
            note: owned(row, "note"),
        };
        let id = draft.id.trim().to_string();
        let checked = check_line(draft, instances);
        if !id.is_empty() {
            if let Some(first) = seen.insert(id.clone(), line) {
                row.problems
                    .push(format!("id {id:?} is already on line {first}"));
            }
        }
        match checked {
            Ok(l) if row.problems.is_empty() => out.push(l),
            Ok(_) => {}
            Err(problems) => {
                for p in problems {
                    let hint = p.hint.map(|h| format!(" ({h})")).unwrap_or_default();
                    let message = if p.key.is_empty() {
                        format!("the line {}{hint}", p.message)
                    } else {
                        format!("{} {}{hint}", p.key, p.message)
                    };
                    row.problems.push(message);
                }
            }
        }
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spend_rows(records: &[Record]) -> Vec<&AdSpend> {
        records.iter().filter_map(Record::as_ad_spend).collect()
    }

    #[test]
    fn a_good_semicolon_file_with_decimal_commas_and_a_bom() {
        let file =
            "\u{feff}Date;Channel;Campaign_ID;Campaign_Name;Cost;Currency;Clicks;VAT_included\n\
                    2026-11-01;influencers;blogger-anna;Блогер Анна;12 500,50;RUB;340;да\n\
                    2026-11-02;influencers;blogger-anna;Блогер Анна;0,5;rub;;\n\
                    \n\
                    2026-11-02;seo;agency-retainer;;80000;RUB;;no\n";
        let out = spend(file.as_bytes(), "Europe/Moscow", false).unwrap();
        assert_eq!((out.rows, out.accounts, out.campaigns), (3, 2, 2));
        assert_eq!(
            (out.first.to_string(), out.last.to_string()),
            ("2026-11-01".into(), "2026-11-02".into())
        );
        let rows = spend_rows(&out.records);
        assert_eq!(rows[0].cost, Decimal::from_str("12500.50").unwrap());
        assert_eq!(rows[0].clicks, Some(340));
        assert_eq!(rows[0].vat_included, Some(true));
        assert_eq!(rows[1].cost, Decimal::from_str("0.5").unwrap());
        assert_eq!(rows[1].currency.as_str(), "RUB");
        assert_eq!(rows[1].vat_included, None);
        assert_eq!(rows[2].account_id, "seo", "account defaults to the channel");
        let names: Vec<&str> = out
            .records
            .iter()
            .filter_map(Record::as_campaign)
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(names, ["Блогер Анна", "agency-retainer"]);
        assert!(!out
            .records
            .iter()
            .any(|r| matches!(r, Record::SpendWindow(_))));
    }

    #[test]
    fn every_bad_row_is_reported_with_its_line_and_nothing_is_returned() {
        let file = "date,channel,campaign_id,cost,currency,clicks\n\
                    2026-11-01,seo,a,100,RUB,1\n\
                    01.11.2026,seo,b,100,RUB,1\n\
                    2026-11-01,seo,c,\"1,5\",RUB,1\n\
                    2026-11-01,seo,d,-3,RUB,1\n\
                    2026-11-01,seo,e,3,RUBLES,x\n\
                    2026-11-01,seo,a,7,RUB,1\n\
                    2026-11-01,seo,f,7,USD,1\n\
                    2026-11-01,,g,,RUB,1\n";
        let Err(ImportError::Rows(errors)) = spend(file.as_bytes(), "UTC", false) else {
            panic!("expected row errors");
        };
        let lines: Vec<(u64, &str)> = errors
            .iter()
            .map(|e| (e.line, e.message.as_str()))
            .collect();
        assert_eq!(
            lines,
            [
                (3, "date \"01.11.2026\" is not a date like 2026-11-01"),
                (4, "cost \"1,5\" is not a number (a decimal comma needs `;` as the delimiter)"),
                (5, "cost \"-3\" is negative"),
                (6, "currency: \"RUBLES\" is not an ISO 4217 currency code (three letters, such as RUB or USD)"),
                (6, "clicks \"x\" is not a whole number of at least 0"),
                (7, "account \"seo\", campaign \"a\" on 2026-11-01 is already on line 2"),
                (8, "account \"seo\" is in RUB on line 2; one account has one currency (split the rows into accounts)"),
                (9, "channel is empty"),
                (9, "cost is empty"),
            ]
        );
    }

    #[test]
    fn headers_are_checked_before_rows() {
        let err = spend(
            "date,chanel,campaign_id,cost,currency\n".as_bytes(),
            "UTC",
            false,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("unknown column(s) chanel"),
            "{err}"
        );
        let err = spend("date,channel,cost,currency\n".as_bytes(), "UTC", false).unwrap_err();
        assert!(
            err.to_string()
                .contains("lacks required column(s) campaign_id"),
            "{err}"
        );
        let err = spend(
            "date,channel,campaign_id,cost,currency\n".as_bytes(),
            "UTC",
            false,
        )
        .unwrap_err();
        assert!(matches!(err, ImportError::Empty));
    }

    #[test]
    fn replace_makes_the_file_authoritative_for_its_days() {
        let file = "date,channel,account,campaign_id,cost,currency\n\
                    2026-11-03,offline,expo,stand,1000,RUB\n\
                    2026-11-05,offline,expo,stand,500,RUB\n";
        let out = spend(file.as_bytes(), "UTC", true).unwrap();
        let windows: Vec<&SpendWindow> = out
            .records
            .iter()
            .filter_map(Record::as_spend_window)
            .collect();
        assert_eq!(windows.len(), 1);
        assert_eq!(
            (windows[0].from.to_string(), windows[0].to.to_string()),
            ("2026-11-03".into(), "2026-11-05".into())
        );
        assert_eq!(windows[0].provisional_from.to_string(), "2026-11-06");
    }

    #[test]
    fn rates_default_to_roubles_and_refuse_nonsense() {
        let file = "date;currency;rate\n2026-11-20;USD;81,4967\n2026-11-20;JPY;0,527431\n";
        let rates = fx(file.as_bytes()).unwrap();
        let Record::FxRate(usd) = &rates[0] else {
            panic!()
        };
        assert_eq!(
            (usd.base.as_str(), usd.rate),
            ("RUB", Decimal::from_str("81.4967").unwrap())
        );
        let bad = "date,currency,base,rate\n2026-11-20,USD,USD,1\n2026-11-20,EUR,RUB,0\n2026-11-21,EUR,RUB,94.1\n2026-11-21,EUR,RUB,94.2\n";
        let Err(ImportError::Rows(errors)) = fx(bad.as_bytes()) else {
            panic!()
        };
        let lines: Vec<u64> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [2, 3, 5]);
    }
}
