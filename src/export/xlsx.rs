//! Workbooks: one sheet per report, the header frozen and bold, numbers and dates typed so
//! formulas and sorting work, money in the report's currency format and ratios to four places,
//! columns sized to their content.
//!
//! A workbook must be the same bytes for the same figures (a re-run night replaces its files
//! byte for byte), so its creation time is the night's date, never the clock; the zip entries
//! carry a fixed time already.
//!
//! Cells hold IEEE doubles: that is the format's only number. Amounts reach here as exact
//! decimals rounded for presentation (2 or 4 places), which a double shows exactly at that
//! precision; the CSV files and the API keep the exact text.

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, XlsxError};

use crate::figures::table::{Kind, Table};

/// Excel's limit on a sheet name.
const SHEET_NAME_MAX: usize = 31;
const WIDTH_MAX: usize = 60;

fn excel_day(d: NaiveDate) -> Result<ExcelDateTime, XlsxError> {
    ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8)
}

fn excel_instant(t: NaiveDateTime) -> Result<ExcelDateTime, XlsxError> {
    excel_day(t.date())?.and_hms(t.hour() as u16, t.minute() as u8, t.second())
}

/// A workbook of `sheets` (sheet name, table), created "on" `night`.
pub fn render(sheets: &[(&str, &Table)], night: NaiveDate) -> Result<Vec<u8>, XlsxError> {
    let mut book = Workbook::new();
    book.set_properties(
        &DocProperties::new()
            .set_creation_datetime(&excel_day(night)?)
            .set_author("okno"),
    );
    let head = Format::new().set_bold();
    let day = Format::new().set_num_format("yyyy-mm-dd");
    let instant = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    let ratio = Format::new().set_num_format("0.0000");
    let count = Format::new().set_num_format("0");
    for (name, table) in sheets {
        let currency = table
            .meta
            .get("currency")
            .and_then(|v| v.as_str())
            .unwrap_or("");
        let money = Format::new().set_num_format(if currency.is_empty() {
            "#,##0.00".to_string()
        } else {
            format!("#,##0.00 \"{currency}\"")
        });
        let sheet = book.add_worksheet();
        sheet.set_name(name.chars().take(SHEET_NAME_MAX).collect::<String>())?;
        let mut width: Vec<usize> = table.columns.iter().map(|c| c.name.len()).collect();
        for (c, column) in table.columns.iter().enumerate() {
            sheet.write_string_with_format(0, c as u16, &column.name, &head)?;
        }
        for (r, row) in table.rows.iter().enumerate() {
            let r = r as u32 + 1;
            for (c, (column, cell)) in table.columns.iter().zip(row).enumerate() {
                let Some(v) = cell else {
                    continue;
                };
                width[c] = width[c].max(v.chars().count());
                let c = c as u16;
                match column.kind {
                    Kind::Int => match v.parse::<i64>() {
                        Ok(n) => sheet.write_number_with_format(r, c, n as f64, &count)?,
                        Err(_) => sheet.write_string(r, c, v)?,
                    },
                    Kind::Decimal => match v.parse::<f64>() {
                        // Two places are money; four are ratios (table.rs rounds so).
                        Ok(n) if v.split_once('.').is_some_and(|(_, f)| f.len() == 4) => {
                            sheet.write_number_with_format(r, c, n, &ratio)?
                        }
                        Ok(n) => sheet.write_number_with_format(r, c, n, &money)?,
                        Err(_) => sheet.write_string(r, c, v)?,
                    },
                    Kind::Bool => sheet.write_boolean(r, c, v == "true")?,
                    Kind::Date => {
                        if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
                            sheet.write_datetime_with_format(r, c, excel_day(d)?, &day)?
                        } else if let Ok(t) = v.parse::<chrono::DateTime<chrono::Utc>>() {
                            sheet.write_datetime_with_format(
                                r,
                                c,
                                excel_instant(t.naive_utc())?,
                                &instant,
                            )?
                        } else {
                            sheet.write_string(r, c, v)?
                        }
                    }
                    // Written as a string, text is never evaluated as a formula.
                    Kind::Text => sheet.write_string(r, c, v)?,
                };
            }
        }
        for (c, w) in width.iter().enumerate() {
            sheet.set_column_width(c as u16, (w.min(&WIDTH_MAX) + 2) as f64)?;
        }
        sheet.set_freeze_panes(1, 0)?;
    }
    book.save_to_buffer()
}
