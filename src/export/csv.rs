//! CSV for spreadsheet users: a header row, UTF-8 (with a byte order mark unless switched off),
//! `,` `;` or tab between cells, CRLF line ends, numbers with the configured decimal separator
//! and no thousands separator, ISO 8601 dates, and text that a spreadsheet would run as a formula
//! neutralised.

use crate::config::export::CsvStyle;
use crate::figures::table::{Kind, Table};

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Text a spreadsheet would take for a formula (`=`, `+`, `-`, `@`) or that a tab or carriage
/// return turns into one, is prefixed with `'`: Excel and LibreOffice then show it as text and
/// hide the apostrophe. Numbers are typed columns and never pass through here, so `-5.00` stays
/// a number.
pub fn neutralise(text: &str) -> std::borrow::Cow<'_, str> {
    match text.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => format!("'{text}").into(),
        _ => text.into(),
    }
}

/// The table as CSV bytes.
pub fn render(table: &Table, style: &CsvStyle) -> Result<Vec<u8>, csv::Error> {
    let mut out = Vec::new();
    if style.bom {
        out.extend_from_slice(BOM);
    }
    let mut w = csv::WriterBuilder::new()
        .delimiter(style.delimiter)
        .terminator(csv::Terminator::CRLF)
        .from_writer(out);
    w.write_record(
        table
            .columns
            .iter()
            .map(|c| neutralise(&c.name).into_owned()),
    )?;
    for row in &table.rows {
        let cells = table.columns.iter().zip(row).map(|(c, v)| {
            let Some(v) = v else {
                return std::borrow::Cow::Borrowed("");
            };
            match c.kind {
                Kind::Decimal | Kind::Int if style.decimal_separator != '.' => {
                    v.replace('.', &style.decimal_separator.to_string()).into()
                }
                Kind::Decimal | Kind::Int | Kind::Bool | Kind::Date => v.as_str().into(),
                Kind::Text => neutralise(v),
            }
        });
        w.write_record(cells.map(std::borrow::Cow::into_owned))?;
    }
    w.flush()?;
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::table::{int, text, Column};

    fn style(delimiter: u8, bom: bool, decimal_separator: char) -> CsvStyle {
        CsvStyle {
            delimiter,
            bom,
            decimal_separator,
        }
    }

    #[test]
    fn formulas_in_text_are_neutralised_and_numbers_are_not() {
        let mut t = Table::new(
            "",
            vec![
                Column::new("name", Kind::Text),
                Column::new("spend", Kind::Decimal),
                Column::new("leads", Kind::Int),
            ],
        );
        for name in [
            "=HYPERLINK(\"http://x\")",
            "+1",
            "-2",
            "@SUM(A1)",
            "\tx",
            "\rx",
            "ok",
        ] {
            t.push(vec![text(name), text("-5.00"), int(3)]);
        }
        let out = String::from_utf8(render(&t, &style(b',', false, '.')).unwrap()).unwrap();
        let lines: Vec<&str> = out.split("\r\n").collect();
        assert_eq!(lines[0], "name,spend,leads");
        assert_eq!(lines[1], "\"'=HYPERLINK(\"\"http://x\"\")\",-5.00,3");
        assert_eq!(lines[2], "'+1,-5.00,3");
        assert_eq!(lines[3], "'-2,-5.00,3");
        assert_eq!(lines[4], "'@SUM(A1),-5.00,3");
        assert_eq!(lines[5], "'\tx,-5.00,3");
        assert_eq!(lines[6], "\"'\rx\",-5.00,3");
        assert_eq!(lines[7], "ok,-5.00,3");
    }

    #[test]
    fn russian_excel_style_has_a_bom_semicolons_and_decimal_commas() {
        let mut t = Table::new(
            "",
            vec![
                Column::new("campaign", Kind::Text),
                Column::new("cpl", Kind::Decimal),
            ],
        );
        t.push(vec![text("Поиск, бренд"), text("1234.50")]);
        t.push(vec![text("n/a"), None]);
        let out = render(&t, &style(b';', true, ',')).unwrap();
        assert_eq!(
            out,
            "\u{feff}campaign;cpl\r\nПоиск, бренд;1234,50\r\nn/a;\r\n".as_bytes()
        );
    }
}
