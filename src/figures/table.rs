//! One shape for every report's output: a titled table of typed cells with the facts a reader
//! needs to trust it (currency, zone, period, attribution model). The CLI prints it aligned,
//! as CSV or as JSON; the HTTP API serves the same JSON; exports write the same rows. A report
//! builds a [`Table`] once, so the three never disagree.
//!
//! Cells are text already rounded for presentation (FIGURES.md: money and CPL/CAC to 0.01,
//! ratios to 4 places, half up); `None` is "n/a" — an empty CSV cell, JSON `null`.

use okno_connector::rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{Map, Value};

/// How a column's cells are typed in JSON and aligned on a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Left-aligned text; a JSON string.
    Text,
    /// A whole number; a JSON number.
    Int,
    /// An exact decimal (money, ratios); a JSON string, so no reader rounds it through a float.
    Decimal,
    /// `true`/`false`; a JSON boolean.
    Bool,
    /// An ISO 8601 day (`2026-10-31`) or UTC instant (`2026-10-31T21:30:00Z`); a JSON string,
    /// a date cell in a workbook.
    Date,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// snake_case: the CSV header and the JSON key.
    pub name: String,
    pub kind: Kind,
    /// Shown on a terminal; CSV and JSON carry every column.
    pub on_terminal: bool,
    /// The total row holds the sum of the rows above in this column (money, counts), rather
    /// than a figure of its own (ratios).
    pub summed: bool,
}

impl Column {
    pub fn new(name: &str, kind: Kind) -> Column {
        Column {
            name: name.to_string(),
            kind,
            on_terminal: true,
            summed: false,
        }
    }

    /// A column whose total is the sum of the rows (see [`Table::exact_totals`]).
    pub fn sum(mut self) -> Column {
        self.summed = true;
        self
    }

    /// A column left out of the terminal table (too wide to be useful there).
    pub fn wide(mut self) -> Column {
        self.on_terminal = false;
        self
    }
}

/// A cell: presentation text, or `None` for "n/a".
pub type Cell = Option<String>;

#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// First line on a terminal, e.g. "ROI 2026-10-01 to 2026-10-31, RUB in Europe/Moscow".
    pub title: String,
    /// What the figures were computed with (currency, timezone, from, to, attribution...):
    /// JSON fields beside `rows`.
    pub meta: Map<String, Value>,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
    /// Lines printed under the terminal table (legends, warnings); also JSON `notes`.
    pub notes: Vec<String>,
    /// The last row is the total of the rows above it.
    pub total: bool,
}

impl Table {
    pub fn new(title: impl Into<String>, columns: Vec<Column>) -> Table {
        Table {
            title: title.into(),
            meta: Map::new(),
            columns,
            rows: Vec::new(),
            notes: Vec::new(),
            total: false,
        }
    }

    /// The table with the total row's summed columns replaced by the sum of the rows as shown,
    /// so a spreadsheet's SUM over a file gives its total to the cent. Figures are summed
    /// before rounding everywhere else (FIGURES.md); the two differ by at most half a unit of
    /// the last place per row. Ratios in the total stay the exact figure's.
    pub fn exact_totals(mut self) -> Table {
        let Some((total, rows)) = self.rows.split_last_mut().filter(|_| self.total) else {
            return self;
        };
        for (i, column) in self.columns.iter().enumerate() {
            if !column.summed || !matches!(column.kind, Kind::Decimal | Kind::Int) {
                continue;
            }
            let mut sum = Decimal::ZERO;
            let mut places = 0;
            for row in rows.iter() {
                if let Some(v) = row.get(i).and_then(|c| c.as_deref()) {
                    if let Ok(d) = v.parse::<Decimal>() {
                        sum += d;
                        places = places.max(d.scale());
                    }
                }
            }
            if let Some(cell) = total.get_mut(i) {
                if cell.is_some() {
                    *cell = Some(format!("{:.*}", places as usize, sum));
                }
            }
        }
        self
    }

    pub fn meta(mut self, key: &str, value: impl Into<Value>) -> Table {
        self.meta.insert(key.to_string(), value.into());
        self
    }

    /// Adds a row; it must have one cell per column.
    pub fn push(&mut self, row: Vec<Cell>) {
        debug_assert_eq!(row.len(), self.columns.len(), "{}", self.title);
        self.rows.push(row);
    }

    /// Aligned text for a terminal: text columns left, numbers right, "n/a" for no value.
    pub fn text(&self) -> String {
        let shown: Vec<usize> = (0..self.columns.len())
            .filter(|&i| self.columns[i].on_terminal)
            .collect();
        let head: Vec<String> = shown
            .iter()
            .map(|&i| self.columns[i].name.to_uppercase())
            .collect();
        let cell = |row: &[Cell], i: usize| -> String {
            row.get(i)
                .and_then(|c| c.clone())
                .unwrap_or_else(|| "n/a".into())
        };
        let mut width: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, &i) in width.iter_mut().zip(&shown) {
                *w = (*w).max(cell(row, i).chars().count());
            }
        }
        let line = |cells: Vec<String>| -> String {
            let mut out = String::new();
            for (k, (text, &i)) in cells.iter().zip(&shown).enumerate() {
                if k > 0 {
                    out.push_str("  ");
                }
                let pad = width[k].saturating_sub(text.chars().count());
                if self.columns[i].kind == Kind::Text {
                    out.push_str(text);
                    if k + 1 < shown.len() {
                        out.push_str(&" ".repeat(pad));
                    }
                } else {
                    out.push_str(&" ".repeat(pad));
                    out.push_str(text);
                }
            }
            out.push('\n');
            out
        };
        let mut out = String::new();
        if !self.title.is_empty() {
            out.push_str(&self.title);
            out.push('\n');
        }
        out.push_str(&line(head));
        for row in &self.rows {
            out.push_str(&line(shown.iter().map(|&i| cell(row, i)).collect()));
        }
        for n in &self.notes {
            out.push_str(n);
            out.push('\n');
        }
        out
    }

    /// CSV with a header row; "n/a" is an empty cell.
    pub fn csv(&self) -> Result<String, csv::Error> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(self.columns.iter().map(|c| c.name.as_str()))?;
        for row in &self.rows {
            w.write_record(row.iter().map(|c| c.as_deref().unwrap_or("")))?;
        }
        let bytes = w
            .into_inner()
            .map_err(|e| csv::Error::from(e.into_error()))?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// `{ ...meta, "rows": [{column: value}], "notes": [...] }`, cells typed by their column.
    pub fn json(&self) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|row| {
                let mut o = Map::new();
                for (c, v) in self.columns.iter().zip(row) {
                    let v = match (v, c.kind) {
                        (None, _) => Value::Null,
                        (Some(s), Kind::Int) => s
                            .parse::<i64>()
                            .map(Value::from)
                            .unwrap_or_else(|_| Value::String(s.clone())),
                        (Some(s), Kind::Bool) => Value::Bool(s == "true"),
                        (Some(s), _) => Value::String(s.clone()),
                    };
                    o.insert(c.name.clone(), v);
                }
                Value::Object(o)
            })
            .collect();
        let mut out = self.meta.clone();
        out.insert("rows".into(), Value::Array(rows));
        if !self.notes.is_empty() {
            out.insert(
                "notes".into(),
                Value::Array(self.notes.iter().cloned().map(Value::String).collect()),
            );
        }
        Value::Object(out)
    }
}

/// Money (and CPL, CAC, average deal) as presented: 0.01, half up, always two places.
pub fn money(d: Decimal) -> String {
    format!(
        "{:.2}",
        d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
    )
}

/// A money figure that may be n/a.
pub fn money_opt(d: Option<Decimal>) -> Cell {
    d.map(money)
}

/// A ratio (conversion, ROI, ROMI) as presented: 4 places, half up; n/a stays n/a.
pub fn ratio(d: Option<Decimal>) -> Cell {
    d.map(|d| {
        format!(
            "{:.4}",
            d.round_dp_with_strategy(4, RoundingStrategy::MidpointAwayFromZero)
        )
    })
}

/// A whole number cell.
pub fn int(n: impl ToString) -> Cell {
    Some(n.to_string())
}

/// A text cell.
pub fn text(s: impl Into<String>) -> Cell {
    Some(s.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn sample() -> Table {
        let mut t = Table::new(
            "T",
            vec![
                Column::new("key", Kind::Text),
                Column::new("leads", Kind::Int),
                Column::new("cpl", Kind::Decimal),
                Column::new("note", Kind::Text).wide(),
            ],
        )
        .meta("currency", "RUB");
        t.push(vec![text("google:1"), int(12), text("125.50"), text("x")]);
        t.push(vec![text("unattributed"), int(3), None, None]);
        t
    }

    #[test]
    fn text_aligns_numbers_right_and_says_na() {
        let out = sample().text();
        assert_eq!(
            out,
            "T\nKEY           LEADS     CPL\ngoogle:1         12  125.50\nunattributed      3     n/a\n"
        );
    }

    #[test]
    fn csv_keeps_every_column_and_leaves_na_empty() {
        assert_eq!(
            sample().csv().unwrap(),
            "key,leads,cpl,note\ngoogle:1,12,125.50,x\nunattributed,3,,\n"
        );
    }

    #[test]
    fn json_types_cells_by_column() {
        let j = sample().json();
        assert_eq!(j["currency"], "RUB");
        assert_eq!(j["rows"][0]["leads"], 12);
        assert_eq!(j["rows"][0]["cpl"], "125.50");
        assert!(j["rows"][1]["cpl"].is_null());
    }

    #[test]
    fn rounding_is_half_up_once() {
        let d = |s| Decimal::from_str(s).unwrap();
        assert_eq!(money(d("2.005")), "2.01");
        assert_eq!(money(d("-2.005")), "-2.01");
        assert_eq!(money(d("7")), "7.00");
        assert_eq!(ratio(Some(d("0.12345"))), Some("0.1235".into()));
        assert_eq!(ratio(None), None);
    }
}
