//! `[[export]]` blocks: nightly report files for finance. Each block is one set of files written
//! every night on its schedule; see [`crate::export`] for how they are written.
//!
//! ```toml
//! [[export]]
//! name = "finance"
//! schedule = "0 3 * * *"          # in `timezone`; each run exports the day before
//! timezone = "Europe/Moscow"      # default: [report] timezone
//! reports = ["roi_by_campaign", "roi_by_channel", "unattributed"]
//! periods = ["month_to_date", "previous_month"]
//! formats = ["csv", "xlsx"]
//! directory = "exports/finance"
//! ```

use std::collections::BTreeSet;
use std::path::PathBuf;

use okno_connector::chrono_tz::Tz;
use serde::Deserialize;

use super::{parse_schedule, section, Issues};

/// A period relative to the exported night (the day that just ended).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelativePeriod {
    /// The night's day alone.
    Day,
    /// The first of the night's month to the night.
    MonthToDate,
    /// The whole month before the night's month.
    PreviousMonth,
    /// The first day of the night's quarter to the night.
    QuarterToDate,
    /// 1 January of the night's year to the night.
    YearToDate,
}

impl RelativePeriod {
    pub const ALL: [(&'static str, RelativePeriod); 5] = [
        ("day", RelativePeriod::Day),
        ("month_to_date", RelativePeriod::MonthToDate),
        ("previous_month", RelativePeriod::PreviousMonth),
        ("quarter_to_date", RelativePeriod::QuarterToDate),
        ("year_to_date", RelativePeriod::YearToDate),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, p)| *p == self)
            .map_or("day", |(n, _)| n)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FileFormat {
    Csv,
    Xlsx,
}

/// How CSV files are written for the spreadsheet that opens them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvStyle {
    /// `,` or `;` (Excel in a Russian locale expects `;`).
    pub delimiter: u8,
    /// Start with a UTF-8 byte order mark, so Excel reads the file as UTF-8.
    pub bom: bool,
    /// `.` or `,` between the whole and the fractional part of numbers.
    pub decimal_separator: char,
}

/// One `[[export]]` block.
#[derive(Debug, Clone)]
pub struct Export {
    /// Unique; names the lease, the run history and `okno export --name`.
    pub name: String,
    pub schedule: cron::Schedule,
    /// The schedule as written, for messages.
    pub schedule_text: String,
    /// The zone the schedule runs in and the night's date is taken in.
    pub timezone: Tz,
    /// Names from [`crate::figures::named::REPORTS`].
    pub reports: Vec<String>,
    pub periods: Vec<RelativePeriod>,
    pub formats: BTreeSet<FileFormat>,
    /// Each night's files go to `directory/<night>/`; relative paths are taken from the
    /// working directory, like the store's.
    pub directory: PathBuf,
    /// CSV file names; `{report}`, `{period}`, `{date}` and `{name}` are replaced.
    pub file_name: String,
    /// Workbook names (one per period, a sheet per report); same placeholders but `{report}`.
    pub workbook_name: String,
    /// Night folders older than this many days are deleted after a successful night.
    pub keep_days: u32,
    /// Nights missed while okno was down that are still made up at start.
    pub catch_up_days: u32,
    pub csv: CsvStyle,
}

#[derive(Deserialize)]
struct RawExport {
    name: String,
    schedule: Option<String>,
    timezone: Option<String>,
    reports: Vec<String>,
    periods: Option<Vec<String>>,
    formats: Option<Vec<String>>,
    directory: String,
    file_name: Option<String>,
    workbook_name: Option<String>,
    keep_days: Option<u32>,
    catch_up_days: Option<u32>,
    csv_delimiter: Option<String>,
    csv_bom: Option<bool>,
    decimal_separator: Option<String>,
}

const EXPORT_KEYS: &[&str] = &[
    "name",
    "schedule",
    "timezone",
    "reports",
    "periods",
    "formats",
    "directory",
    "file_name",
    "workbook_name",
    "keep_days",
    "catch_up_days",
    "csv_delimiter",
    "csv_bom",
    "decimal_separator",
];

const PLACEHOLDERS: [&str; 4] = ["{report}", "{period}", "{date}", "{name}"];

/// Parses every `[[export]]` block, reporting each problem with its key.
pub(super) fn exports(
    tree: &serde_json::Value,
    default_zone: Tz,
    issues: &mut Issues,
) -> Vec<Export> {
    let items = match tree.get("export") {
        None => return Vec::new(),
        Some(serde_json::Value::Array(items)) => items.clone(),
        Some(_) => {
            issues.push("export", "must be a list of [[export]] blocks", None);
            return Vec::new();
        }
    };
    let mut names = BTreeSet::new();
    let mut out = Vec::new();
    for (i, value) in items.iter().enumerate() {
        let prefix = format!("export[{i}]");
        let Some(raw) = section::<RawExport>(value, &prefix, EXPORT_KEYS, issues) else {
            continue;
        };
        let before = issues.list.len();
        let key = |k: &str| format!("{prefix}.{k}");
        let valid_name = !raw.name.is_empty()
            && raw
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if !valid_name {
            issues.push(
                key("name"),
                format!("{:?} is not a valid export name", raw.name),
                Some("lower-case letters, digits, - and _, e.g. name = \"finance\"".into()),
            );
        } else if !names.insert(raw.name.clone()) {
            issues.push(
                key("name"),
                format!("{:?} names two [[export]] blocks", raw.name),
                Some("give each block its own name".into()),
            );
        }
        let schedule_text = raw.schedule.unwrap_or_else(|| "0 3 * * *".into());
        let schedule = match parse_schedule(&schedule_text) {
            Ok(s) => Some(s),
            Err(e) => {
                issues.push(
                    key("schedule"),
                    format!("{schedule_text:?} is not a cron schedule: {e}"),
                    Some("five fields \"min hour day month weekday\", e.g. \"0 3 * * *\" for 03:00 every night".into()),
                );
                None
            }
        };
        let timezone = match raw.timezone.as_deref().map(str::parse::<Tz>) {
            None => default_zone,
            Some(Ok(tz)) => tz,
            Some(Err(_)) => {
                issues.push(
                    key("timezone"),
                    format!(
                        "{:?} is not an IANA time zone",
                        raw.timezone.unwrap_or_default()
                    ),
                    Some("e.g. timezone = \"Europe/Moscow\"".into()),
                );
                default_zone
            }
        };
        if raw.reports.is_empty() {
            issues.push(
                key("reports"),
                "lists no report",
                Some(format!("choose from {}", crate::figures::named::names())),
            );
        }
        for (j, r) in raw.reports.iter().enumerate() {
            if !crate::figures::named::exists(r) {
                issues.push(
                    format!("{prefix}.reports[{j}]"),
                    format!("{r:?} is not a report"),
                    Some(format!("choose from {}", crate::figures::named::names())),
                );
            }
        }
        let mut periods = Vec::new();
        for (j, p) in raw
            .periods
            .unwrap_or_else(|| vec!["month_to_date".into(), "previous_month".into()])
            .iter()
            .enumerate()
        {
            match RelativePeriod::ALL.iter().find(|(n, _)| n == p) {
                Some((_, period)) if !periods.contains(period) => periods.push(*period),
                Some(_) => {}
                None => issues.push(
                    format!("{prefix}.periods[{j}]"),
                    format!("{p:?} is not a period"),
                    Some(
                        "day, month_to_date, previous_month, quarter_to_date or year_to_date"
                            .into(),
                    ),
                ),
            }
        }
        let mut formats = BTreeSet::new();
        for (j, f) in raw
            .formats
            .unwrap_or_else(|| vec!["csv".into()])
            .iter()
            .enumerate()
        {
            match f.as_str() {
                "csv" => {
                    formats.insert(FileFormat::Csv);
                }
                "xlsx" => {
                    formats.insert(FileFormat::Xlsx);
                }
                other => issues.push(
                    format!("{prefix}.formats[{j}]"),
                    format!("{other:?} is not a file format"),
                    Some("csv or xlsx".into()),
                ),
            }
        }
        if raw.directory.trim().is_empty() {
            issues.push(
                key("directory"),
                "is empty",
                Some("e.g. directory = \"/var/lib/okno/exports\"".into()),
            );
        }
        let pattern = |issues: &mut Issues, k: &str, value: Option<String>, default: &str| {
            let p = value.unwrap_or_else(|| default.to_string());
            let plain = PLACEHOLDERS
                .iter()
                .fold(p.clone(), |acc, ph| acc.replace(ph, ""));
            if plain.contains(['/', '\\', '{', '}']) || plain.starts_with('.') || p.is_empty() {
                issues.push(
                    key(k),
                    format!("{p:?} is not a file name pattern"),
                    Some(format!(
                        "a plain file name with {}, e.g. {default:?}",
                        PLACEHOLDERS.join(", ")
                    )),
                );
            }
            p
        };
        let file_name = pattern(
            issues,
            "file_name",
            raw.file_name,
            "{report}_{period}_{date}.csv",
        );
        let workbook_name = pattern(
            issues,
            "workbook_name",
            raw.workbook_name,
            "{name}_{period}_{date}.xlsx",
        );
        if formats.contains(&FileFormat::Csv) && !file_name.contains("{report}") {
            issues.push(
                key("file_name"),
                format!("{file_name:?} has no {{report}}: every report would write the same file"),
                Some("e.g. \"{report}_{period}_{date}.csv\"".into()),
            );
        }
        if periods.len() > 1
            && !(file_name.contains("{period}") && workbook_name.contains("{period}"))
        {
            issues.push(
                key("file_name"),
                "with several periods, file_name and workbook_name need {period}",
                Some("e.g. \"{report}_{period}_{date}.csv\"".into()),
            );
        }
        let delimiter = match raw.csv_delimiter.as_deref().unwrap_or(",") {
            "," => b',',
            ";" => b';',
            "\t" => b'\t',
            other => {
                issues.push(
                    key("csv_delimiter"),
                    format!("{other:?} is not a delimiter okno writes"),
                    Some("\",\", \";\" (Excel in a Russian locale) or \"\\t\"".into()),
                );
                b','
            }
        };
        let decimal_separator = match raw.decimal_separator.as_deref().unwrap_or(".") {
            "." => '.',
            "," => ',',
            other => {
                issues.push(
                    key("decimal_separator"),
                    format!("{other:?} is not a decimal separator"),
                    Some("\".\" or \",\"".into()),
                );
                '.'
            }
        };
        if decimal_separator == ',' && delimiter == b',' {
            issues.push(
                key("decimal_separator"),
                "\",\" is also the delimiter: numbers would split into two cells",
                Some("with decimal_separator = \",\" use csv_delimiter = \";\"".into()),
            );
        }
        let keep_days = raw.keep_days.unwrap_or(35);
        if keep_days == 0 {
            issues.push(
                key("keep_days"),
                "0 would delete the night just written",
                Some("keep at least 1 day; default 35".into()),
            );
        }
        if issues.list.len() > before {
            continue;
        }
        let Some(schedule) = schedule else {
            continue;
        };
        out.push(Export {
            name: raw.name,
            schedule,
            schedule_text,
            timezone,
            reports: raw.reports,
            periods,
            formats,
            directory: PathBuf::from(raw.directory),
            file_name,
            workbook_name,
            keep_days,
            catch_up_days: raw.catch_up_days.unwrap_or(7),
            csv: CsvStyle {
                delimiter,
                bom: raw.csv_bom.unwrap_or(true),
                decimal_separator,
            },
        });
    }
    out
}
