//! The store's part of the advertising budget (migrations/*/0010_budget.sql): budget lines
//! imported from CSV, the alerts already sent to the webhook, and the per-account spend the
//! runway figure reads. Lines of `budgets.toml` are never copied here: the file stays the
//! source of truth for its own lines, and reports join both (src/figures/budget.rs).
//!
//! The SQL is the same text on both backends; only decimals differ in how they are written
//! (NUMERIC on PostgreSQL, exact text on SQLite), so each statement is run through
//! `on_pool!` with that one fragment.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use okno_connector::rust_decimal::Decimal;
use sqlx::Row;

use super::{Pool, Store, StoreError};
use crate::config::budgets::{BudgetLine, Funding, LineKind, Scope};

/// Runs `$body` with `$p` bound to the store's pool, `$num` to the cast that makes a bound
/// text a decimal column value, and `$begin` to the statement that opens a write transaction
/// (SQLite takes its write lock at once, so two writers wait instead of failing mid-way).
macro_rules! on_pool {
    ($store:expr, $p:ident, $num:ident, $begin:ident => $body:expr) => {
        match &$store.pool {
            Pool::Sqlite($p) => {
                let ($num, $begin) = ("", "BEGIN IMMEDIATE");
                let _ = ($num, $begin);
                $body
            }
            Pool::Postgres($p) => {
                let ($num, $begin) = ("::numeric", "BEGIN");
                let _ = ($num, $begin);
                $body
            }
        }
    };
}

/// A budget line as imported, with the import it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredBudgetLine {
    /// The import's name (`okno import budget --source`).
    pub source: String,
    pub line: BudgetLine,
}

/// What an import of budget lines did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BudgetLinesWritten {
    /// Lines inserted or changed.
    pub written: u64,
    /// Lines of the same source the file no longer has (`--replace` only).
    pub removed: u64,
    pub unchanged: u64,
    /// Line ids another source already holds: (id, that source). When any, nothing was written.
    pub taken: Vec<(String, String)>,
}

/// Spend of one ad account on one day, in the account's currency, summed in SQL.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountSpendDay {
    pub source: String,
    pub account_id: String,
    pub day: NaiveDate,
    pub currency: String,
    pub micros: i64,
}

/// An ad account and one of its campaigns (none when it has no campaign yet).
#[derive(Debug, Clone, PartialEq)]
pub struct AccountCampaign {
    pub source: String,
    pub account_id: String,
    pub campaign_id: Option<String>,
    pub channel: Option<String>,
}

/// A `budget_line` row as text, before it is read back into a [`BudgetLine`].
struct LineRow {
    line_id: String,
    source: String,
    from_day: NaiveDate,
    to_day: NaiveDate,
    channel: Option<String>,
    campaign_source: Option<String>,
    campaign_id: Option<String>,
    amount: String,
    currency: String,
    funding: String,
    target_cpl: Option<String>,
    planned_discount: Option<String>,
    kind: String,
    note: Option<String>,
}

const LINE_COLUMNS: &str = "line_id, source, from_day, to_day, channel, campaign_source, \
     campaign_id, CAST(amount AS TEXT) AS amount, currency, funding, \
     CAST(target_cpl AS TEXT) AS target_cpl, CAST(planned_discount AS TEXT) AS planned_discount, \
     kind, note";

macro_rules! line_row {
    ($r:expr) => {
        LineRow {
            line_id: $r.try_get("line_id")?,
            source: $r.try_get("source")?,
            from_day: $r.try_get("from_day")?,
            to_day: $r.try_get("to_day")?,
            channel: $r.try_get("channel")?,
            campaign_source: $r.try_get("campaign_source")?,
            campaign_id: $r.try_get("campaign_id")?,
            amount: $r.try_get("amount")?,
            currency: $r.try_get("currency")?,
            funding: $r.try_get("funding")?,
            target_cpl: $r.try_get("target_cpl")?,
            planned_discount: $r.try_get("planned_discount")?,
            kind: $r.try_get("kind")?,
            note: $r.try_get("note")?,
        }
    };
}

impl LineRow {
    /// The line, or `None` for a row okno did not write (an unknown funding, a bad amount).
    fn into_line(self) -> Option<StoredBudgetLine> {
        let dec = |t: &Option<String>| -> Option<Option<Decimal>> {
            match t {
                None => Some(None),
                Some(t) => t.parse::<Decimal>().ok().map(Some),
            }
        };
        let scope = match (self.channel, self.campaign_source, self.campaign_id) {
            (Some(c), None, None) => Scope::Channel(c),
            (None, Some(source), Some(campaign_id)) => Scope::Campaign {
                source,
                campaign_id,
            },
            (None, None, None) => Scope::Everything,
            _ => return None,
        };
        let line = BudgetLine {
            id: self.line_id,
            from: self.from_day,
            to: self.to_day,
            scope,
            amount: self.amount.parse().ok()?,
            currency: self.currency.parse().ok()?,
            funding: match self.funding.as_str() {
                "internal" => Funding::Internal,
                "partner" => Funding::Partner,
                "client" => Funding::Client,
                _ => return None,
            },
            target_cpl: dec(&self.target_cpl)?,
            planned_discount: dec(&self.planned_discount)?,
            kind: match self.kind.as_str() {
                "media" => LineKind::Media,
                "overhead" => LineKind::Overhead,
                _ => return None,
            },
            note: self.note,
        };
        Some(StoredBudgetLine {
            source: self.source,
            line,
        })
    }
}

fn kind_text(k: LineKind) -> &'static str {
    match k {
        LineKind::Media => "media",
        LineKind::Overhead => "overhead",
    }
}

/// A decimal as stored: normalised text, so equal amounts compare equal on SQLite too.
fn dec(d: Decimal) -> String {
    d.normalize().to_string()
}

fn unreadable(rows: &[StoredBudgetLine], skipped: usize) {
    if skipped > 0 {
        tracing::warn!(
            skipped,
            kept = rows.len(),
            "budget_line rows okno cannot read were ignored"
        );
    }
}

impl Store {
    /// Every imported budget line, by id.
    pub async fn budget_lines(&self) -> Result<Vec<StoredBudgetLine>, StoreError> {
        let sql = format!("SELECT {LINE_COLUMNS} FROM budget_line ORDER BY line_id");
        let rows: Vec<LineRow> = on_pool!(self, p, _num, _begin => {
            let rows = sqlx::query(&sql).fetch_all(p).await?;
            rows.iter()
                .map(|r| Ok(line_row!(r)))
                .collect::<Result<Vec<_>, sqlx::Error>>()?
        });
        let n = rows.len();
        let out: Vec<StoredBudgetLine> = rows.into_iter().filter_map(LineRow::into_line).collect();
        unreadable(&out, n - out.len());
        Ok(out)
    }

    /// Writes the lines of one import in one transaction. Lines equal to the stored ones are
    /// left alone (a re-import changes nothing); with `replace`, lines of `source` missing from
    /// `lines` are deleted, so the file is the whole truth for its source. A line id held by
    /// another source writes nothing and is returned in `taken`.
    pub async fn import_budget_lines(
        &self,
        source: &str,
        lines: &[BudgetLine],
        replace: bool,
    ) -> Result<BudgetLinesWritten, StoreError> {
        let now: DateTime<Utc> = Utc::now();
        let select = format!("SELECT {LINE_COLUMNS} FROM budget_line");
        let mut out = BudgetLinesWritten::default();
        on_pool!(self, p, num, begin => {
            let mut tx = p.begin_with(begin).await?;
            let rows = sqlx::query(&select).fetch_all(&mut *tx).await?;
            let mut owner: BTreeMap<String, String> = BTreeMap::new();
            let mut mine: BTreeMap<String, BudgetLine> = BTreeMap::new();
            for r in &rows {
                let row = line_row!(r);
                owner.insert(row.line_id.clone(), row.source.clone());
                if row.source == source {
                    let id = row.line_id.clone();
                    // An unreadable row of this source is rewritten from the file.
                    if let Some(l) = row.into_line() {
                        mine.insert(id, l.line);
                    }
                }
            }
            out.taken = lines
                .iter()
                .filter_map(|l| {
                    owner
                        .get(&l.id)
                        .filter(|o| o.as_str() != source)
                        .map(|o| (l.id.clone(), o.clone()))
                })
                .collect();
            if !out.taken.is_empty() {
                tx.rollback().await?;
                return Ok(out);
            }
            let upsert = format!(
                "INSERT INTO budget_line (line_id, source, from_day, to_day, channel, \
                 campaign_source, campaign_id, amount, currency, funding, target_cpl, \
                 planned_discount, kind, note, imported_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8{num}, $9, $10, $11{num}, $12{num}, $13, $14, $15) \
                 ON CONFLICT (line_id) DO UPDATE SET source = excluded.source, \
                 from_day = excluded.from_day, to_day = excluded.to_day, channel = excluded.channel, \
                 campaign_source = excluded.campaign_source, campaign_id = excluded.campaign_id, \
                 amount = excluded.amount, currency = excluded.currency, funding = excluded.funding, \
                 target_cpl = excluded.target_cpl, planned_discount = excluded.planned_discount, \
                 kind = excluded.kind, note = excluded.note, imported_at = excluded.imported_at"
            );
            for l in lines {
                if mine.get(&l.id) == Some(l) {
                    out.unchanged += 1;
                    continue;
                }
                let (channel, campaign_source, campaign_id) = match &l.scope {
                    Scope::Channel(c) => (Some(c.as_str()), None, None),
                    Scope::Campaign { source, campaign_id } => {
                        (None, Some(source.as_str()), Some(campaign_id.as_str()))
                    }
                    Scope::Everything => (None, None, None),
                };
                sqlx::query(&upsert)
                    .bind(&l.id)
                    .bind(source)
                    .bind(l.from)
                    .bind(l.to)
                    .bind(channel)
                    .bind(campaign_source)
                    .bind(campaign_id)
                    .bind(dec(l.amount))
                    .bind(l.currency.as_str())
                    .bind(l.funding.as_str())
                    .bind(l.target_cpl.map(dec))
                    .bind(l.planned_discount.map(dec))
                    .bind(kind_text(l.kind))
                    .bind(l.note.as_deref())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                out.written += 1;
            }
            if replace {
                let keep: BTreeSet<&str> = lines.iter().map(|l| l.id.as_str()).collect();
                for (id, o) in &owner {
                    if o == source && !keep.contains(id.as_str()) {
                        out.removed += sqlx::query("DELETE FROM budget_line WHERE line_id = $1")
                            .bind(id)
                            .execute(&mut *tx)
                            .await?
                            .rows_affected();
                    }
                }
            }
            tx.commit().await?;
        });
        Ok(out)
    }

    /// Claims the sending of an alert of `line_id` (`kind`: `overspend` or `cpl`) on `day`.
    /// `true` means this caller is the first and should send it; `false` that it was sent (or
    /// is being sent by another replica) already.
    pub async fn claim_budget_alert(
        &self,
        line_id: &str,
        kind: &str,
        day: NaiveDate,
    ) -> Result<bool, StoreError> {
        let now: DateTime<Utc> = Utc::now();
        let sql = "INSERT INTO budget_alert_sent (line_id, kind, alert_day, sent_at) \
                   VALUES ($1, $2, $3, $4) ON CONFLICT (line_id, kind, alert_day) DO NOTHING";
        let n = on_pool!(self, p, _num, _begin => {
            sqlx::query(sql)
                .bind(line_id)
                .bind(kind)
                .bind(day)
                .bind(now)
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(n == 1)
    }

    /// Gives a claim back after every attempt to send the alert failed, so the next check
    /// tries again.
    pub async fn release_budget_alert(
        &self,
        line_id: &str,
        kind: &str,
        day: NaiveDate,
    ) -> Result<(), StoreError> {
        let sql =
            "DELETE FROM budget_alert_sent WHERE line_id = $1 AND kind = $2 AND alert_day = $3";
        on_pool!(self, p, _num, _begin => {
            sqlx::query(sql)
                .bind(line_id)
                .bind(kind)
                .bind(day)
                .execute(p)
                .await?;
        });
        Ok(())
    }

    /// The alerts sent on `day`: (line id, kind), in order.
    pub async fn sent_budget_alerts(
        &self,
        day: NaiveDate,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let sql = "SELECT line_id, kind FROM budget_alert_sent WHERE alert_day = $1 \
                   ORDER BY line_id, kind";
        Ok(on_pool!(self, p, _num, _begin => {
            sqlx::query_as(sql).bind(day).fetch_all(p).await?
        }))
    }

    /// Spend per ad account and day of `from..=to`, in each account's currency.
    pub async fn account_spend_days(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<AccountSpendDay>, StoreError> {
        let sql = "SELECT source, account_id, spend_date, currency, \
                   CAST(SUM(cost_micros) AS BIGINT) AS micros FROM ad_spend_daily \
                   WHERE spend_date >= $1 AND spend_date <= $2 \
                   GROUP BY source, account_id, spend_date, currency \
                   ORDER BY source, account_id, spend_date";
        Ok(on_pool!(self, p, _num, _begin => {
            let rows = sqlx::query(sql).bind(from).bind(to).fetch_all(p).await?;
            rows.iter()
                .map(|r| {
                    Ok(AccountSpendDay {
                        source: r.try_get("source")?,
                        account_id: r.try_get("account_id")?,
                        day: r.try_get("spend_date")?,
                        currency: r.try_get("currency")?,
                        micros: r.try_get("micros")?,
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()?
        }))
    }

    /// Every ad account with each of its campaigns and their channel.
    pub async fn account_campaigns(&self) -> Result<Vec<AccountCampaign>, StoreError> {
        let sql = "SELECT a.source, a.account_id, c.campaign_id, c.channel FROM ad_account a \
                   LEFT JOIN campaign c ON c.source = a.source AND c.account_id = a.account_id \
                   ORDER BY a.source, a.account_id, c.campaign_id";
        Ok(on_pool!(self, p, _num, _begin => {
            let rows = sqlx::query(sql).fetch_all(p).await?;
            rows.iter()
                .map(|r| {
                    Ok(AccountCampaign {
                        source: r.try_get("source")?,
                        account_id: r.try_get("account_id")?,
                        campaign_id: r.try_get("campaign_id")?,
                        channel: r.try_get("channel")?,
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()?
        }))
    }
}
