//! SQL shared by both backends. The statements are the same text on SQLite and PostgreSQL
//! (`$n` placeholders, `ON CONFLICT ... DO UPDATE`, `RETURNING`); only the sqlx database type
//! differs, so the bodies are written once and instantiated per backend by `define_queries!`.

/// Rows per multi-row statement. 17 columns × 500 rows stays under SQLite's 32,766 and
/// PostgreSQL's 65,535 bind parameters, and one fixed size keeps the statement cache warm.
pub(super) const CHUNK: usize = 500;

/// Vendor text without NUL characters: PostgreSQL refuses them in text and JSON columns, and
/// one such subject would otherwise fail its page on every run. Both backends store the same.
pub(super) fn clean(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains('\0') {
        std::borrow::Cow::Owned(s.replace('\0', ""))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

pub(super) fn clean_opt(s: &Option<String>) -> Option<std::borrow::Cow<'_, str>> {
    s.as_deref().map(clean)
}

macro_rules! define_queries {
    (
        $db:ty,
        $begin:expr,
        $page_setup:expr,
        $raw_cast:expr,
        $num_cast:expr,
        $distinct:literal,
        $durable:expr,
        $durable_tx:expr
    ) => {
        use chrono::{DateTime, NaiveDate, Utc};
        use okno_connector::rust_decimal::Decimal;
        use okno_connector::{
            AdAccount, AdSpend, Campaign, ClickId, Cursor, Deleted, DeletedKind, FxRate, Group,
            Identity, Lead, SpendWindow, Stage, Task, Ticket, TicketMetrics,
        };
        use sqlx::types::Json;
        use sqlx::{Pool, QueryBuilder, Row, Transaction};

        use super::queries::{clean, clean_opt, CHUNK};
        use super::{
            AccountState, Assignee, Batch, DoneTask, FactState, InboxRow, LeadFact, LeadFilter,
            LeadMonthCounts, LeadMonthKey, LeadSum, NewDelivery, OpenWork, RunOutcome, RunRow,
            SolvedTicket, SpendContext, SpendSum, StateRow, StoredCampaign, StoredLead, StoredRate, StoredSpend, StoredTask,
            StoredTicket, TokenRow, TokenState,
        };

        type Tx<'c> = Transaction<'c, $db>;

        pub(super) async fn begin(pool: &Pool<$db>) -> Result<Tx<'static>, sqlx::Error> {
            pool.begin_with($begin).await
        }

        /// A transaction for a page of vendor records: see the backend's `$page_setup`.
        pub(super) async fn begin_page(pool: &Pool<$db>) -> Result<Tx<'static>, sqlx::Error> {
            let mut tx = begin(pool).await?;
            let setup: Option<&str> = $page_setup;
            if let Some(sql) = setup {
                sqlx::query(sql).execute(&mut *tx).await?;
            }
            Ok(tx)
        }

        pub(super) async fn write_batch(
            tx: &mut Tx<'_>,
            source: &str,
            batch: &Batch<'_>,
            now: DateTime<Utc>,
        ) -> Result<u64, sqlx::Error> {
            let mut n = 0;
            for chunk in batch.tickets.chunks(CHUNK) {
                n += upsert_tickets(tx, source, chunk, now).await?;
            }
            for chunk in batch.metrics.chunks(CHUNK) {
                n += upsert_metrics(tx, source, chunk, now).await?;
            }
            for chunk in batch.identities.chunks(CHUNK) {
                n += upsert_identities(tx, source, chunk, now).await?;
            }
            for chunk in batch.people.chunks(CHUNK) {
                upsert_people(tx, chunk, now).await?;
            }
            for chunk in batch.groups.chunks(CHUNK) {
                n += upsert_groups(tx, source, chunk, now).await?;
            }
            // Rows changed in the tables lead facts derive from: each bumps its counter once.
            let (mut leads, mut campaigns, mut clicks) = (0, 0, 0);
            for chunk in batch.leads.chunks(CHUNK) {
                leads += upsert_leads(tx, source, chunk, now).await?;
            }
            for chunk in batch.stages.chunks(CHUNK) {
                n += upsert_stages(tx, source, chunk, now).await?;
            }
            for chunk in batch.tasks.chunks(CHUNK) {
                n += upsert_tasks(tx, source, chunk, now).await?;
            }
            for d in &batch.deletions {
                let marked = mark_deleted(tx, source, d, now).await?;
                match d.kind {
                    DeletedKind::Lead(_) => leads += marked,
                    _ => n += marked,
                }
            }
            for chunk in batch.accounts.chunks(CHUNK) {
                n += upsert_accounts(tx, source, chunk, now).await?;
            }
            for chunk in batch.campaigns.chunks(CHUNK) {
                campaigns += upsert_campaigns(tx, source, chunk, now).await?;
            }
            for chunk in batch.spend.chunks(CHUNK) {
                n += upsert_spend(tx, source, chunk, now).await?;
            }
            for w in &batch.windows {
                n += apply_window(tx, source, w, &batch.spend, now).await?;
            }
            mark_spend_months(tx, source, &batch.spend, &batch.windows).await?;
            for chunk in batch.clicks.chunks(CHUNK) {
                clicks += upsert_clicks(tx, source, chunk, now).await?;
            }
            for chunk in batch.rates.chunks(CHUNK) {
                n += upsert_rates(tx, source, chunk, now).await?;
            }
            for (table, changed) in [("lead", leads), ("campaign", campaigns), ("click_id", clicks)] {
                if changed > 0 {
                    bump_version(tx, table, source).await?;
                }
                n += changed;
            }
            Ok(n)
        }

        /// Counts a change to `table`'s rows of `source` (see `table_version`), in the
        /// transaction that made it.
        async fn bump_version(tx: &mut Tx<'_>, table: &str, source: &str) -> Result<(), sqlx::Error> {
            sqlx::query(
                "INSERT INTO table_version (tbl, source, version) VALUES ($1, $2, 1) \
                 ON CONFLICT (tbl, source) DO UPDATE SET version = table_version.version + 1",
            )
            .bind(table)
            .bind(source)
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        /// A decimal as the store keeps it: normalised text, so equal amounts compare equal on
        /// SQLite too.
        fn dec(d: Decimal) -> String {
            d.normalize().to_string()
        }

        /// An amount in millionths; callers have checked it fits (`super::micros`).
        fn micros(d: Decimal) -> i64 {
            super::micros(d).unwrap_or_default()
        }

        async fn upsert_accounts(
            tx: &mut Tx<'_>,
            source: &str,
            rows: &[&AdAccount],
            now: DateTime<Utc>,
        ) -> Result<u64, sqlx::Error> {
            let mut q: QueryBuilder<$db> = QueryBuilder::new(
                "INSERT INTO ad_account (source, account_id, name, currency, time_zone, raw, \
                 synced_at) ",
            );
            q.push_values(rows, |mut b, a| {
                b.push_bind(source)
                    .push_bind(clean(&a.account_id))
                    .push_bind(clean_opt(&a.name))
                    .push_bind(a.currency.as_str().to_string())
                    .push_bind(clean(&a.time_zone))
                    .push_bind(a.raw.get())
                    .push_unseparated($raw_cast)
                    .push_bind(now);
            });
            q.push(concat!(
                " ON CONFLICT (source, account_id) DO UPDATE SET name = excluded.name, \
                 currency = excluded.currency, time_zone = excluded.time_zone, raw = excluded.raw, \
                 synced_at = excluded.synced_at \
                 WHERE CAST(excluded.raw AS TEXT) <> CAST(ad_account.raw AS TEXT) \
                 OR (excluded.name, excluded.currency, excluded.time_zone) ",
                $distinct,
                " (ad_account.name, ad_account.currency, ad_account.time_zone)",
            ));
            Ok(q.build().persistent(true).execute(&mut **tx).await?.rows_affected())
        }

        async fn upsert_campaigns(
            tx: &mut Tx<'_>,
            source: &str,
            rows: &[&Campaign],
            now: DateTime<Utc>,
        ) -> Result<u64, sqlx::Error> {
            let mut q: QueryBuilder<$db> = QueryBuilder::new(
                "INSERT INTO campaign (source, account_id, campaign_id, name, status, channel, \
                 utm_campaign, raw, synced_at) ",
            );
            q.push_values(rows, |mut b, c| {
                b.push_bind(source)
                    .push_bind(clean(&c.account_id))
                    .push_bind(clean(&c.campaign_id))
                    .push_bind(clean(&c.name))
                    .push_bind(clean_opt(&c.status))
                    .push_bind(clean(&c.channel))
                    .push_bind(clean_opt(&c.utm_campaign))
                    .push_bind(c.raw.get())
                    .push_unseparated($raw_cast)
                    .push_bind(now);
            });
            q.push(concat!(
                " ON CONFLICT (source, account_id, campaign_id) DO UPDATE SET \
                 name = excluded.name, status = excluded.status, channel = excluded.channel, \
                 utm_campaign = excluded.utm_campaign, raw = excluded.raw, \
                 synced_at = excluded.synced_at \
                 WHERE CAST(excluded.raw AS TEXT) <> CAST(campaign.raw AS TEXT) \
                 OR (excluded.name, excluded.status, excluded.channel, excluded.utm_campaign) ",
                $distinct,
                " (campaign.name, campaign.status, campaign.channel, campaign.utm_campaign)",
            ));
            Ok(q.build().persistent(true).execute(&mut **tx).await?.rows_affected())
        }

        /// Spend rows overwrite what an earlier pull stored for the same day; a change of the
        /// figures is a restatement, stamped with its time and the cost it replaced.
        async fn upsert_spend(
            tx: &mut Tx<'_>,
            source: &str,
            rows: &[&AdSpend],
            now: DateTime<Utc>,
        ) -> Result<u64, sqlx::Error> {
            let mut q: QueryBuilder<$db> = QueryBuilder::new(
                "INSERT INTO ad_spend_daily (source, account_id, spend_date, campaign_id, cost, \
                 cost_micros, currency, vat_included, impressions, clicks, conversions, raw, \
                 synced_at) ",
            );
            q.push_values(rows, |mut b, r| {
                b.push_bind(source)
                    .push_bind(clean(&r.account_id))
                    .push_bind(r.date)
                    .push_bind(clean(&r.campaign_id))
                    .push_bind(dec(r.cost))
                    .push_unseparated($num_cast)
                    .push_bind(micros(r.cost))
                    .push_bind(r.currency.as_str().to_string())
                    .push_bind(r.vat_included)
                    .push_bind(r.impressions)
                    .push_bind(r.clicks)
                    .push_bind(r.conversions.map(dec))
                    .push_unseparated($num_cast)
                    .push_bind(r.raw.get())
                    .push_unseparated($raw_cast)
                    .push_bind(now);
            });
            q.push(concat!(
                " ON CONFLICT (source, account_id, spend_date, campaign_id) DO UPDATE SET \
                 restated_at = CASE WHEN (excluded.cost, excluded.currency, excluded.impressions, \
                     excluded.clicks, excluded.conversions) ",
                $distinct,
                " (ad_spend_daily.cost, ad_spend_daily.currency, ad_spend_daily.impressions, \
                     ad_spend_daily.clicks, ad_spend_daily.conversions) \
                     THEN excluded.synced_at ELSE ad_spend_daily.restated_at END, \
                 previous_cost = CASE WHEN excluded.cost <> ad_spend_daily.cost \
                     THEN ad_spend_daily.cost ELSE ad_spend_daily.previous_cost END, \
                 cost = excluded.cost, cost_micros = excluded.cost_micros, \
                 currency = excluded.currency, \
                 vat_included = excluded.vat_included, impressions = excluded.impressions, \
                 clicks = excluded.clicks, conversions = excluded.conversions, \
                 raw = excluded.raw, synced_at = excluded.synced_at \
                 WHERE CAST(excluded.raw AS TEXT) <> CAST(ad_spend_daily.raw AS TEXT) \
                 OR (excluded.cost, excluded.currency, excluded.vat_included, excluded.impressions, \
                     excluded.clicks, excluded.conversions) ",
                $distinct,
                " (ad_spend_daily.cost, ad_spend_daily.currency, ad_spend_daily.vat_included, \
                     ad_spend_daily.impressions, ad_spend_daily.clicks, ad_spend_daily.conversions)",
            ));
            Ok(q.build().persistent(true).execute(&mut **tx).await?.rows_affected())
        }

        /// The page holds every row of the window's days: a stored row it did not repeat was
        /// restated to nothing (platforms omit days without activity) and is zeroed, keeping
        /// what it cost before. Then the account records how far it has been pulled.
        async fn apply_window(
            tx: &mut Tx<'_>,
            source: &str,
            w: &SpendWindow,
            page: &[&AdSpend],
            now: DateTime<Utc>,
        ) -> Result<u64, sqlx::Error> {
            let stored = sqlx::query(
                "SELECT campaign_id, spend_date FROM ad_spend_daily WHERE source = $1 \
                 AND account_id = $2 AND spend_date >= $3 AND spend_date <= $4",
            )
            .bind(source)
            .bind(clean(&w.account_id))
            .bind(w.from)
            .bind(w.to)
            .fetch_all(&mut **tx)
            .await?;
            let present: std::collections::HashSet<(&str, NaiveDate)> = page
                .iter()
                .filter(|r| r.account_id == w.account_id)
                .map(|r| (r.campaign_id.as_str(), r.date))
                .collect();
            let zero = dec(Decimal::ZERO);
            let mut n = 0;
            for row in &stored {
                let campaign: String = row.try_get("campaign_id")?;
                let day: NaiveDate = row.try_get("spend_date")?;
                if present.contains(&(campaign.as_str(), day)) {
                    continue;
                }
                n += sqlx::query(concat!(
                    "UPDATE ad_spend_daily SET previous_cost = cost, cost_micros = 0, cost = $1",
                    $num_cast,
                    ", impressions = CASE WHEN impressions IS NULL THEN NULL ELSE 0 END, \
                     clicks = CASE WHEN clicks IS NULL THEN NULL ELSE 0 END, \
                     conversions = CASE WHEN conversions IS NULL THEN NULL ELSE $1",
                    $num_cast,
                    " END, restated_at = $2, synced_at = $2 \
                     WHERE source = $3 AND account_id = $4 AND spend_date = $5 AND campaign_id = $6 \
                     AND NOT (cost = $1",
                    $num_cast,
                    " AND COALESCE(impressions, 0) = 0 AND COALESCE(clicks, 0) = 0)",
                ))
                .bind(&zero)
                .bind(now)
                .bind(source)
                .bind(clean(&w.account_id))
                .bind(day)
                .bind(&campaign)
                .execute(&mut **tx)
                .await?
                .rows_affected();
            }
            sqlx::query(
                "UPDATE ad_account SET provisional_from = $1, pulled_at = $2, \
                 pulled_through = CASE WHEN pulled_through IS NULL OR pulled_through < $3 \
                     THEN $3 ELSE pulled_through END \
                 WHERE source = $4 AND account_id = $5",
            )
            .bind(w.provisional_from)
            .bind(now)
            .bind(w.to)
            .bind(source)
            .bind(clean(&w.account_id))
            .execute(&mut **tx)
            .await?;
            Ok(n)
        }

        async fn upsert_clicks(
            tx: &mut Tx<'_>,
            source: &str,
            rows: &[&ClickId],
            now: DateTime<Utc>,
        ) -> Result<u64, sqlx::Error> {
            let mut q: QueryBuilder<$db> = QueryBuilder::new(
                "INSERT INTO click_id (source, click_id, kind, account_id, campaign_id, \
                 click_date, synced_at) ",
            );
            q.push_values(rows, |mut b, c| {
                b.push_bind(source)
                    .push_bind(clean(&c.click_id))
                    .push_bind(c.kind.as_str())
                    .push_bind(clean(&c.account_id))
                    .push_bind(clean(&c.campaign_id))
                    .push_bind(c.date)
                    .push_bind(now);
            });
            q.push(concat!(
                " ON CONFLICT (source, click_id) DO UPDATE SET kind = excluded.kind, \
                 account_id = excluded.account_id, campaign_id = excluded.campaign_id, \
                 click_date = excluded.click_date, synced_at = excluded.synced_at \
                 WHERE (excluded.kind, excluded.account_id, excluded.campaign_id, excluded.click_date) ",
                $distinct,
                " (click_id.kind, click_id.account_id, click_id.campaign_id, click_id.click_date)",
            ));
            Ok(q.build().persistent(true).execute(&mut **tx).await?.rows_affected())
        }

        async fn upsert_rates(
            tx: &mut Tx<'_>,
            origin: &str,
            rows: &[&FxRate],
            now: DateTime<Utc>,
        ) -> Result<u64, sqlx::Error> {
            let mut q: QueryBuilder<$db> = QueryBuilder::new(
                "INSERT INTO fx_rate (rate_date, currency, base, rate, origin, synced_at) ",
            );
            q.push_values(rows, |mut b, f| {
                b.push_bind(f.date)
                    .push_bind(f.currency.as_str().to_string())
                    .push_bind(f.base.as_str().to_string())
                    .push_bind(dec(f.rate))
                    .push_unseparated($num_cast)
                    .push_bind(origin)
                    .push_bind(now);
            });
            q.push(concat!(
                " ON CONFLICT (rate_date, currency, base) DO UPDATE SET rate = excluded.rate, \
                 origin = excluded.origin, synced_at = excluded.synced_at \
                 WHERE (excluded.rate, excluded.origin) ",
                $distinct,
                " (fx_rate.rate, fx_rate.origin)",
            ));
            Ok(q.build().persistent(true).execute(&mut **tx).await?.rows_affected())
        }

        async fn upsert_tickets(
            tx: &mut Tx<'_>,
            source: &str,
            rows: &[&Ticket],
            now: DateTime<Utc>,
        ) -> Result<u64, sqlx::Error> {
            let mut q: QueryBuilder<$db> = QueryBuilder::new(
                "INSERT INTO ticket (source, ticket_id, subject, status, priority, ticket_type, \
                 channel, requester_id, assignee_id, group_id, organization_id, tags, created_at, \
                 updated_at, deleted_at, raw, synced_at) ",
            );
            q.push_values(rows, |mut b, t| {
                b.push_bind(source)
                    .push_bind(clean(&t.ticket_id))
                    .push_bind(clean_opt(&t.subject))
                    .push_bind(clean(&t.status))
                    .push_bind(clean_opt(&t.priority))
                    .push_bind(clean_opt(&t.ticket_type))
                    .push_bind(clean_opt(&t.channel))
                    .push_bind(clean_opt(&t.requester_id))
                    .push_bind(clean_opt(&t.assignee_id))
                    .push_bind(clean_opt(&t.group_id))
                    .push_bind(clean_opt(&t.organization_id))
                    .push_bind(Json(t.tags.iter().map(|t| clean(t)).collect::<Vec<_>>()))
                    .push_bind(t.created_at)
                    .push_bind(t.updated_at)
                    .push_bind(t.deleted_at)
                    .push_bind(t.raw.get())
                    .push_unseparated($raw_cast)
                    .push_bind(now);
            });
            // An older version (a late webhook, an overlapping window) never overwrites a newer one; the
            // same version again changes nothing, so `rows_affected` counts real changes. A change
            // within the vendor's timestamp precision still lands, because its body differs.
            q.push(
                " ON CONFLICT (source, ticket_id) DO UPDATE SET subject = excluded.subject, \
                 status = excluded.status, priority = excluded.priority, \
                 ticket_type = excluded.ticket_type, channel = excluded.channel, \
                 requester_id = excluded.requester_id, assignee_id = excluded.assignee_id, \
                 group_id = excluded.group_id, organization_id = excluded.organization_id, \
                 tags = excluded.tags, created_at = excluded.created_at, \
                 updated_at = excluded.updated_at, deleted_at = excluded.deleted_at, \
                 raw = excluded.raw, synced_at = excluded.synced_at \
                 WHERE excluded.updated_at > ticket.updated_at \
                 OR (excluded.updated_at = ticket.updated_at AND CAST(excluded.raw AS TEXT) <> CAST(ticket.raw AS TEXT))",
            );
            Ok(q.build().persistent(true).execute(&mut **tx).await?.rows_affected())
        }

        async fn upsert_metrics(
            tx: &mut Tx<'_>,
            source: &str,
            rows: &[&TicketMetrics],
            now: DateTime<Utc>,
        ) -> Result<u64, sqlx::Error> {
            let mut q: QueryBuilder<$db> = QueryBuilder::new(
                "INSERT INTO ticket_metric (source, ticket_id, created_at, updated_at, \
                 assigned_at, solved_at, reply_minutes_calendar, reply_minutes_business, \
                 resolution_minutes_calendar, resolution_minutes_business, reopens, replies, \
                 raw, synced_at) ",
            );
            q.push_values(rows, |mut b, m| {
                b.push_bind(source)
                    .push_bind(clean(&m.ticket_id))
                    .push_bind(m.created_at)
                    .push_bind(m.updated_at)
                    .push_bind(m.assigned_at)
                    .push_bind(m.solved_at)
                    .push_bind(m.reply_minutes_calendar)
                    .push_bind(m.reply_minutes_business)
                    .push_bind(m.resolution_minutes_calendar)
                    .push_bind(m.resolution_minutes_business)
                    .push_bind(m.reopens)
                    .push_bind(m.replies)
                    .push_bind(m.raw.get())
                    .push_unseparated($raw_cast)
                    .push_bind(now);
            });
            q.push(
                " ON CONFLICT (source, ticket_id) DO UPDATE SET created_at = excluded.created_at, \
                 updated_at = excluded.updated_at, assigned_at = excluded.assigned_at, \
                 solved_at = excluded.solved_at, \
                 reply_minutes_calendar = excluded.reply_minutes_calendar, \
                 reply_minutes_business = excluded.reply_minutes_business, \
                 resolution_minutes_calendar = excluded.resolution_minutes_calendar, \
                 resolution_minutes_business = excluded.resolution_minutes_business, \
                 reopens = excluded.reopens, replies = excluded.replies, raw = excluded.raw, \
                 synced_at = excluded.synced_at \
                 WHERE excluded.updated_at > ticket_metric.updated_at \
                 OR (excluded.updated_at = ticket_metric.updated_at AND CAST(excluded.raw AS TEXT) <> CAST(ticket_metric.raw AS TEXT))",
            );
            Ok(q.build().persistent(true).execute(&mut **tx).await?.rows_affected())
        }

        async fn upsert_identities(
            tx: &mut Tx<'_>,
            source: &str,
            rows: &[(&Identity, String)],
            now: DateTime<Utc>,
        ) -> Result<u64, sqlx::Error> {
            let mut q: QueryBuilder<$db> = QueryBuilder::new(
                "INSERT INTO person_identity (source, user_id, person_id, name, email, role, \
                 active, updated_at, raw, synced_at) ",
            );
            q.push_values(rows, |mut b, (i, person_id)| {
                b.push_bind(source)
                    .push_bind(clean(&i.user_id))
                    .push_bind(clean(person_id))
                    .push_bind(clean_opt(&i.name))
                    .push_bind(clean_opt(&i.email))
                    .push_bind(clean_opt(&i.role))
                    .push_bind(i.active)
                    .push_bind(i.updated_at)
                    .push_bind(i.raw.get())
                    .push_unseparated($raw_cast)
                    .push_bind(now);
            });
            q.push(
                " ON CONFLICT (source, user_id) DO UPDATE SET person_id = excluded.person_id, \
                 name = excluded.name, email = excluded.email, role = excluded.role, \
                 active = excluded.active, updated_at = excluded.updated_at, raw = excluded.raw, \
                 synced_at = excluded.synced_at \
                 WHERE excluded.updated_at > person_identity.updated_at \
                 OR (excluded.updated_at = person_identity.updated_at AND CAST(excluded.raw AS TEXT) <> CAST(person_identity.raw AS TEXT))",
            );
            Ok(q.build().persistent(true).execute(&mut **tx).await?.rows_affected())
        }

        async fn upsert_people(
            tx: &mut Tx<'_>,
            rows: &[(String, Option<&str>, Option<&str>)],
            now: DateTime<Utc>,
        ) -> Result<u64, sqlx::Error> {
            let mut q: QueryBuilder<$db> =
                QueryBuilder::new("INSERT INTO person (person_id, display_name, email, updated_at) ");
            q.push_values(rows, |mut b, (id, name, email)| {
                b.push_bind(clean(id))
                    .push_bind(name.map(clean))
                    .push_bind(email.map(clean))
                    .push_bind(now);
            });
            // A tool that knows no name does not erase the one another tool gave.
            q.push(
                " ON CONFLICT (person_id) DO UPDATE SET \
                 display_name = COALESCE(excluded.display_name, person.display_name), \
                 email = COALESCE(excluded.email, person.email), updated_at = excluded.updated_at",
            );
            Ok(q.build().persistent(true).execute(&mut **tx).await?.rows_affected())
        }

        async fn upsert_groups(
            tx: &mut Tx<'_>,
            source: &str,
            rows: &[&Group],
            now: DateTime<Utc>,
        ) -> Result<u64, sqlx::Error> {
            let mut q: QueryBuilder<$db> = QueryBuilder::new(
                "INSERT INTO work_group (source, group_id, name, deleted, updated_at, raw, synced_at) ",
            );
            q.push_values(rows, |mut b, g| {
                b.push_bind(source)
                    .push_bind(clean(&g.group_id))
                    .push_bind(clean(&g.name))
                    .push_bind(g.deleted)
                    .push_bind(g.updated_at)
                    .push_bind(g.raw.get())
                    .push_unseparated($raw_cast)
                    .push_bind(now);
            });
            q.push(
                " ON CONFLICT (source, group_id) DO UPDATE SET name = excluded.name, \
                 deleted = excluded.deleted, updated_at = excluded.updated_at, raw = excluded.raw, \
                 synced_at = excluded.synced_at \
                 WHERE excluded.updated_at > work_group.updated_at \
                 OR (excluded.updated_at = work_group.updated_at AND CAST(excluded.raw AS TEXT) <> CAST(work_group.raw AS TEXT))",
            );
            Ok(q.build().persistent(true).execute(&mut **tx).await?.rows_affected())
        }

        async fn upsert_leads(
            tx: &mut Tx<'_>,
            source: &str,
            rows: &[&Lead],
            now: DateTime<Utc>,
        ) -> Result<u64, sqlx::Error> {
            let mut q: QueryBuilder<$db> = QueryBuilder::new(
                "INSERT INTO lead (source, entity, lead_id, name, created_at, updated_at, \
                 pipeline_id, stage_id, stage_name, stage_category, amount, discount, currency, \
                 exchange_rate, closed_at, owner_id, lead_source, utm_source, utm_medium, \
                 utm_campaign, utm_content, utm_term, gclid, yclid, fbclid, product, segment, \
                 region, converted_deal_id, deleted_at, raw, synced_at) ",
            );
            let num = |d: &Option<okno_connector::rust_decimal::Decimal>| d.map(|d| d.normalize().to_string());
            q.push_values(rows, |mut b, l| {
                b.push_bind(source)
                    .push_bind(l.entity.as_str())
                    .push_bind(clean(&l.lead_id))
                    .push_bind(clean_opt(&l.name))
                    .push_bind(l.created_at)
                    .push_bind(l.updated_at)
                    .push_bind(clean_opt(&l.pipeline_id))
                    .push_bind(clean_opt(&l.stage_id))
                    .push_bind(clean_opt(&l.stage_name))
                    .push_bind(l.stage_category.as_str())
                    .push_bind(num(&l.amount))
                    .push_unseparated($num_cast)
                    .push_bind(num(&l.discount))
                    .push_unseparated($num_cast)
                    .push_bind(l.currency.map(|c| c.as_str().to_string()))
                    .push_bind(num(&l.exchange_rate))
                    .push_unseparated($num_cast)
                    .push_bind(l.closed_at)
                    .push_bind(clean_opt(&l.owner_id))
                    .push_bind(clean_opt(&l.lead_source))
                    .push_bind(clean_opt(&l.marks.utm_source))
                    .push_bind(clean_opt(&l.marks.utm_medium))
                    .push_bind(clean_opt(&l.marks.utm_campaign))
                    .push_bind(clean_opt(&l.marks.utm_content))
                    .push_bind(clean_opt(&l.marks.utm_term))
                    .push_bind(clean_opt(&l.marks.gclid))
                    .push_bind(clean_opt(&l.marks.yclid))
                    .push_bind(clean_opt(&l.marks.fbclid))
                    .push_bind(clean_opt(&l.product))
                    .push_bind(clean_opt(&l.segment))
                    .push_bind(clean_opt(&l.region))
                    .push_bind(clean_opt(&l.converted_deal_id))
                    .push_bind(l.deleted_at)
                    .push_bind(l.raw.get())
                    .push_unseparated($raw_cast)
                    .push_bind(now);
            });
            // A deletion (webhook or deleted-records list) stays in force against any version
            // of the lead that is not newer than the deletion itself.
            q.push(concat!(
                " ON CONFLICT (source, entity, lead_id) DO UPDATE SET name = excluded.name, \
                 created_at = excluded.created_at, updated_at = excluded.updated_at, \
                 pipeline_id = excluded.pipeline_id, stage_id = excluded.stage_id, \
                 stage_name = excluded.stage_name, stage_category = excluded.stage_category, \
                 amount = excluded.amount, discount = excluded.discount, \
                 currency = excluded.currency, exchange_rate = excluded.exchange_rate, \
                 closed_at = excluded.closed_at, owner_id = excluded.owner_id, \
                 lead_source = excluded.lead_source, utm_source = excluded.utm_source, \
                 utm_medium = excluded.utm_medium, utm_campaign = excluded.utm_campaign, \
                 utm_content = excluded.utm_content, utm_term = excluded.utm_term, \
                 gclid = excluded.gclid, yclid = excluded.yclid, fbclid = excluded.fbclid, \
                 product = excluded.product, segment = excluded.segment, region = excluded.region, \
                 converted_deal_id = excluded.converted_deal_id, \
                 deleted_at = CASE WHEN excluded.deleted_at IS NULL AND lead.deleted_at IS NOT NULL \
                     AND excluded.updated_at <= lead.deleted_at THEN lead.deleted_at \
                     ELSE excluded.deleted_at END, \
                 raw = excluded.raw, synced_at = excluded.synced_at \
                 WHERE excluded.updated_at > lead.updated_at \
                 OR (excluded.updated_at = lead.updated_at AND (CAST(excluded.raw AS TEXT) <> CAST(lead.raw AS TEXT) \
                 OR (excluded.stage_category, excluded.stage_name, excluded.amount, excluded.discount, \
                     excluded.currency, excluded.lead_source, excluded.utm_source, excluded.utm_medium, \
                     excluded.utm_campaign, excluded.utm_content, excluded.utm_term, excluded.gclid, \
                     excluded.yclid, excluded.fbclid, excluded.product, excluded.segment, excluded.region, \
                     excluded.converted_deal_id, excluded.owner_id, excluded.closed_at) ",
                 $distinct,
                 " (lead.stage_category, lead.stage_name, lead.amount, lead.discount, lead.currency, \
                     lead.lead_source, lead.utm_source, lead.utm_medium, lead.utm_campaign, \
                     lead.utm_content, lead.utm_term, lead.gclid, lead.yclid, lead.fbclid, lead.product, \
                     lead.segment, lead.region, lead.converted_deal_id, lead.owner_id, lead.closed_at)))",
            ));
            Ok(q.build().persistent(true).execute(&mut **tx).await?.rows_affected())
        }

        async fn upsert_tasks(
            tx: &mut Tx<'_>,
            source: &str,
            rows: &[&Task],
            now: DateTime<Utc>,
        ) -> Result<u64, sqlx::Error> {
            let mut q: QueryBuilder<$db> = QueryBuilder::new(
                "INSERT INTO task (source, task_id, task_key, title, project, project_name, \
                 task_type, labels, assignee_id, reporter_id, status, status_category, \
                 created_at, updated_at, started_at, done_at, campaign, estimate, deleted_at, \
                 raw, synced_at) ",
            );
            q.push_values(rows, |mut b, t| {
                b.push_bind(source)
                    .push_bind(clean(&t.task_id))
                    .push_bind(clean_opt(&t.key))
                    .push_bind(clean(&t.title))
                    .push_bind(clean_opt(&t.project))
                    .push_bind(clean_opt(&t.project_name))
                    .push_bind(clean_opt(&t.task_type))
                    .push_bind(Json(t.labels.iter().map(|l| clean(l)).collect::<Vec<_>>()))
                    .push_bind(clean_opt(&t.assignee_id))
                    .push_bind(clean_opt(&t.reporter_id))
                    .push_bind(clean(&t.status))
                    .push_bind(t.status_category.as_str())
                    .push_bind(t.created_at)
                    .push_bind(t.updated_at)
                    .push_bind(t.started_at)
                    .push_bind(t.done_at)
                    .push_bind(clean_opt(&t.campaign))
                    .push_bind(t.estimate.map(|d| d.normalize().to_string()))
                    .push_unseparated($num_cast)
                    .push_bind(t.deleted_at)
                    .push_bind(t.raw.get())
                    .push_unseparated($raw_cast)
                    .push_bind(now);
            });
            // As for leads: a deletion stays in force against versions not newer than it.
            q.push(concat!(
                " ON CONFLICT (source, task_id) DO UPDATE SET task_key = excluded.task_key, \
                 title = excluded.title, project = excluded.project, \
                 project_name = excluded.project_name, task_type = excluded.task_type, \
                 labels = excluded.labels, assignee_id = excluded.assignee_id, \
                 reporter_id = excluded.reporter_id, status = excluded.status, \
                 status_category = excluded.status_category, created_at = excluded.created_at, \
                 updated_at = excluded.updated_at, started_at = excluded.started_at, \
                 done_at = excluded.done_at, campaign = excluded.campaign, \
                 estimate = excluded.estimate, \
                 deleted_at = CASE WHEN excluded.deleted_at IS NULL AND task.deleted_at IS NOT NULL \
                     AND excluded.updated_at <= task.deleted_at THEN task.deleted_at \
                     ELSE excluded.deleted_at END, \
                 raw = excluded.raw, synced_at = excluded.synced_at \
                 WHERE excluded.updated_at > task.updated_at \
                 OR (excluded.updated_at = task.updated_at AND (CAST(excluded.raw AS TEXT) <> CAST(task.raw AS TEXT) \
                 OR (excluded.status_category, excluded.started_at, excluded.done_at, \
                     excluded.campaign, excluded.estimate, excluded.assignee_id, excluded.status) ",
                 $distinct,
                 " (task.status_category, task.started_at, task.done_at, task.campaign, \
                     task.estimate, task.assignee_id, task.status)))",
            ));
            Ok(q.build().persistent(true).execute(&mut **tx).await?.rows_affected())
        }

        pub(super) async fn tasks(
            pool: &Pool<$db>,
            source: &str,
        ) -> Result<Vec<StoredTask>, sqlx::Error> {
            let rows = sqlx::query(
                "SELECT task_id, task_key, title, assignee_id, status, status_category, \
                 updated_at, started_at, done_at, campaign, CAST(estimate AS TEXT) AS estimate, \
                 deleted_at FROM task WHERE source = $1 ORDER BY task_id",
            )
            .bind(source)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(StoredTask {
                        task_id: r.try_get("task_id")?,
                        key: r.try_get("task_key")?,
                        title: r.try_get("title")?,
                        assignee_id: r.try_get("assignee_id")?,
                        status: r.try_get("status")?,
                        status_category: r.try_get("status_category")?,
                        updated_at: r.try_get("updated_at")?,
                        started_at: r.try_get("started_at")?,
                        done_at: r.try_get("done_at")?,
                        campaign: r.try_get("campaign")?,
                        estimate: r.try_get("estimate")?,
                        deleted_at: r.try_get("deleted_at")?,
                    })
                })
                .collect()
        }

        pub(super) async fn spend(
            pool: &Pool<$db>,
            source: &str,
        ) -> Result<Vec<StoredSpend>, sqlx::Error> {
            let rows = sqlx::query(
                "SELECT account_id, spend_date, campaign_id, CAST(cost AS TEXT) AS cost, \
                 cost_micros, currency, \
                 vat_included, impressions, clicks, CAST(conversions AS TEXT) AS conversions, \
                 restated_at, CAST(previous_cost AS TEXT) AS previous_cost FROM ad_spend_daily \
                 WHERE source = $1 ORDER BY account_id, spend_date, campaign_id",
            )
            .bind(source)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(StoredSpend {
                        account_id: r.try_get("account_id")?,
                        date: r.try_get("spend_date")?,
                        campaign_id: r.try_get("campaign_id")?,
                        cost: r.try_get("cost")?,
                        cost_micros: r.try_get("cost_micros")?,
                        currency: r.try_get("currency")?,
                        vat_included: r.try_get("vat_included")?,
                        impressions: r.try_get("impressions")?,
                        clicks: r.try_get("clicks")?,
                        conversions: r.try_get("conversions")?,
                        restated_at: r.try_get("restated_at")?,
                        previous_cost: r.try_get("previous_cost")?,
                    })
                })
                .collect()
        }

        pub(super) async fn ad_accounts(
            pool: &Pool<$db>,
            since: DateTime<Utc>,
        ) -> Result<Vec<AccountState>, sqlx::Error> {
            let rows = sqlx::query(
                "SELECT a.source, a.account_id, a.name, a.currency, a.time_zone, \
                 a.provisional_from, a.pulled_through, a.pulled_at, \
                 (SELECT COUNT(*) FROM ad_spend_daily s WHERE s.source = a.source \
                  AND s.account_id = a.account_id AND s.restated_at >= $1) AS restated \
                 FROM ad_account a ORDER BY a.source, a.account_id",
            )
            .bind(since)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(AccountState {
                        source: r.try_get("source")?,
                        account_id: r.try_get("account_id")?,
                        name: r.try_get("name")?,
                        currency: r.try_get("currency")?,
                        time_zone: r.try_get("time_zone")?,
                        provisional_from: r.try_get("provisional_from")?,
                        pulled_through: r.try_get("pulled_through")?,
                        pulled_at: r.try_get("pulled_at")?,
                        restated_rows: r.try_get("restated")?,
                    })
                })
                .collect()
        }

        pub(super) async fn campaigns(
            pool: &Pool<$db>,
            source: &str,
        ) -> Result<Vec<StoredCampaign>, sqlx::Error> {
            let rows = sqlx::query(
                "SELECT account_id, campaign_id, name, status, channel FROM campaign \
                 WHERE source = $1 ORDER BY account_id, campaign_id",
            )
            .bind(source)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok((
                        r.try_get("account_id")?,
                        r.try_get("campaign_id")?,
                        r.try_get("name")?,
                        r.try_get("status")?,
                        r.try_get("channel")?,
                    ))
                })
                .collect()
        }

        /// `COUNT(*)` and the newest `synced_at` of a table's rows (of one source when given):
        /// what a derived table was built from.
        pub(super) async fn table_versions(
            pool: &Pool<$db>,
        ) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
            let rows = sqlx::query(
                "SELECT tbl, source, version FROM table_version ORDER BY tbl, source",
            )
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| Ok((r.try_get("tbl")?, r.try_get("source")?, r.try_get("version")?)))
                .collect()
        }

        pub(super) async fn fact_state(
            pool: &Pool<$db>,
            source: &str,
        ) -> Result<Option<FactState>, sqlx::Error> {
            let row = sqlx::query(
                "SELECT fingerprint, leads_state, leads_since FROM fact_state WHERE source = $1",
            )
            .bind(source)
            .fetch_optional(pool)
            .await?;
            row.map(|r| {
                Ok(FactState {
                    fingerprint: r.try_get("fingerprint")?,
                    leads_state: r.try_get("leads_state")?,
                    leads_since: r.try_get("leads_since")?,
                })
            })
            .transpose()
        }

        async fn insert_facts(
            tx: &mut Tx<'_>,
            source: &str,
            rows: &[LeadFact],
        ) -> Result<(), sqlx::Error> {
            for chunk in rows.chunks(CHUNK) {
                let mut q: QueryBuilder<$db> = QueryBuilder::new(
                    "INSERT INTO lead_fact (source, entity, lead_id, created_day, won_day, revenue, \
                     revenue_micros, currency, campaign_source, campaign_id, channel, via, reason, \
                     product, segment, region, owner_id) ",
                );
                q.push_values(chunk, |mut b, f| {
                    b.push_bind(source)
                        .push_bind(&f.entity)
                        .push_bind(&f.lead_id)
                        .push_bind(f.created_day)
                        .push_bind(f.won_day)
                        .push_bind(f.revenue.map(dec))
                        .push_unseparated($num_cast)
                        .push_bind(f.revenue_micros)
                        .push_bind(&f.currency)
                        .push_bind(&f.campaign_source)
                        .push_bind(&f.campaign_id)
                        .push_bind(&f.channel)
                        .push_bind(&f.via)
                        .push_bind(&f.reason)
                        .push_bind(&f.product)
                        .push_bind(&f.segment)
                        .push_bind(&f.region)
                        .push_bind(&f.owner_id);
                });
                q.build().persistent(true).execute(&mut **tx).await?;
            }
            Ok(())
        }

        /// Adds `sums` to `lead_month` (inserting missing keys), then drops keys left at zero.
        async fn add_lead_months(
            tx: &mut Tx<'_>,
            source: &str,
            sums: &[(LeadMonthKey, LeadMonthCounts)],
            fresh: bool,
        ) -> Result<(), sqlx::Error> {
            for chunk in sums.chunks(CHUNK) {
                let mut q: QueryBuilder<$db> = QueryBuilder::new(
                    "INSERT INTO lead_month (source, month, campaign_source, campaign_id, \
                     channel, product, segment, region, fx_day, currency, leads, won, won_micros, \
                     cohort, cohort_micros) ",
                );
                q.push_values(chunk, |mut b, (k, n)| {
                    b.push_bind(source)
                        .push_bind(&k.month)
                        .push_bind(&k.campaign_source)
                        .push_bind(&k.campaign_id)
                        .push_bind(&k.channel)
                        .push_bind(&k.product)
                        .push_bind(&k.segment)
                        .push_bind(&k.region)
                        .push_bind(&k.fx_day)
                        .push_bind(&k.currency)
                        .push_bind(n[0])
                        .push_bind(n[1])
                        .push_bind(n[2])
                        .push_bind(n[3])
                        .push_bind(n[4]);
                });
                if !fresh {
                    q.push(
                        " ON CONFLICT (month, source, campaign_source, campaign_id, channel, \
                         product, segment, region, fx_day, currency) DO UPDATE SET \
                         leads = lead_month.leads + excluded.leads, \
                         won = lead_month.won + excluded.won, \
                         won_micros = lead_month.won_micros + excluded.won_micros, \
                         cohort = lead_month.cohort + excluded.cohort, \
                         cohort_micros = lead_month.cohort_micros + excluded.cohort_micros",
                    );
                }
                q.build().persistent(true).execute(&mut **tx).await?;
            }
            if !fresh && !sums.is_empty() {
                sqlx::query(
                    "DELETE FROM lead_month WHERE source = $1 AND leads = 0 AND won = 0 \
                     AND won_micros = 0 AND cohort = 0 AND cohort_micros = 0",
                )
                    .bind(source)
                    .execute(&mut **tx)
                    .await?;
            }
            Ok(())
        }

        async fn save_fact_state(
            tx: &mut Tx<'_>,
            source: &str,
            state: &FactState,
            now: DateTime<Utc>,
        ) -> Result<(), sqlx::Error> {
            sqlx::query(
                "INSERT INTO fact_state (source, fingerprint, built_at, leads_state, leads_since) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (source) DO UPDATE SET fingerprint = excluded.fingerprint, \
                 built_at = excluded.built_at, leads_state = excluded.leads_state, \
                 leads_since = excluded.leads_since",
            )
            .bind(source)
            .bind(&state.fingerprint)
            .bind(now)
            .bind(&state.leads_state)
            .bind(state.leads_since)
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        pub(super) async fn replace_facts(
            pool: &Pool<$db>,
            source: &str,
            rows: &[LeadFact],
            sums: &[(LeadMonthKey, LeadMonthCounts)],
            state: &FactState,
            now: DateTime<Utc>,
        ) -> Result<(), sqlx::Error> {
            let mut tx = begin_page(pool).await?;
            // The state row first: a concurrent rebuild of the source waits here, then deletes
            // what this one wrote.
            save_fact_state(&mut tx, source, state, now).await?;
            for table in ["lead_fact", "lead_month"] {
                // `table` is one of the two literals above.
                sqlx::query(&format!("DELETE FROM {table} WHERE source = $1"))
                    .bind(source)
                    .execute(&mut *tx)
                    .await?;
            }
            insert_facts(&mut tx, source, rows).await?;
            add_lead_months(&mut tx, source, sums, true).await?;
            tx.commit().await
        }

        #[allow(clippy::too_many_arguments)]
        pub(super) async fn update_facts(
            pool: &Pool<$db>,
            source: &str,
            keys: &[(String, String)],
            rows: &[LeadFact],
            deltas: &[(LeadMonthKey, LeadMonthCounts)],
            previous: &FactState,
            state: &FactState,
            now: DateTime<Utc>,
        ) -> Result<bool, sqlx::Error> {
            let mut tx = begin_page(pool).await?;
            // Deltas must apply once: take the state row (a concurrent updater waits here) and
            // go on only if the facts are still as they were when the deltas were computed.
            let unchanged = sqlx::query(
                "UPDATE fact_state SET built_at = $1 WHERE source = $2 AND fingerprint = $3 \
                 AND leads_state = $4",
            )
            .bind(now)
            .bind(source)
            .bind(&previous.fingerprint)
            .bind(&previous.leads_state)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if unchanged == 0 {
                tx.rollback().await?;
                return Ok(false);
            }
            for chunk in keys.chunks(CHUNK) {
                let mut q: QueryBuilder<$db> =
                    QueryBuilder::new("DELETE FROM lead_fact WHERE source = ");
                q.push_bind(source);
                push_keys(&mut q, chunk);
                q.build().execute(&mut *tx).await?;
            }
            insert_facts(&mut tx, source, rows).await?;
            add_lead_months(&mut tx, source, deltas, false).await?;
            save_fact_state(&mut tx, source, state, now).await?;
            tx.commit().await?;
            Ok(true)
        }

        /// ` AND ((entity = 'lead' AND lead_id IN (...)) OR (entity = 'deal' AND ...))`: a form
        /// both backends answer from the primary key (a row-value IN list makes PostgreSQL
        /// scan the table).
        fn push_keys<'a>(q: &mut QueryBuilder<'a, $db>, keys: &'a [(String, String)]) {
            let mut groups: std::collections::BTreeMap<&'a str, Vec<&'a str>> =
                std::collections::BTreeMap::new();
            for (e, id) in keys {
                groups.entry(e.as_str()).or_default().push(id.as_str());
            }
            if groups.is_empty() {
                q.push(" AND FALSE");
                return;
            }
            q.push(" AND (");
            for (i, (entity, ids)) in groups.into_iter().enumerate() {
                if i > 0 {
                    q.push(" OR ");
                }
                q.push("(entity = ").push_bind(entity).push(" AND lead_id IN (");
                let mut sep = q.separated(", ");
                for id in ids {
                    sep.push_bind(id);
                }
                q.push("))");
            }
            q.push(")");
        }

        pub(super) async fn lead_facts(
            pool: &Pool<$db>,
            source: &str,
            keys: Option<&[(String, String)]>,
        ) -> Result<Vec<LeadFact>, sqlx::Error> {
            let chunks: Vec<Option<&[(String, String)]>> = match keys {
                None => vec![None],
                Some(k) => k.chunks(CHUNK).map(Some).collect(),
            };
            let mut out = Vec::new();
            for chunk in chunks {
                let mut q: QueryBuilder<$db> = QueryBuilder::new(
                    "SELECT entity, lead_id, created_day, won_day, CAST(revenue AS TEXT) AS revenue, \
                     revenue_micros, currency, campaign_source, campaign_id, channel, via, reason, \
                     product, segment, region, owner_id FROM lead_fact WHERE source = ",
                );
                q.push_bind(source);
                if let Some(chunk) = chunk {
                    push_keys(&mut q, chunk);
                }
                q.push(" ORDER BY entity, lead_id");
                for r in q.build().fetch_all(pool).await? {
                    let revenue: Option<String> = r.try_get("revenue")?;
                    out.push(LeadFact {
                        entity: r.try_get("entity")?,
                        lead_id: r.try_get("lead_id")?,
                        created_day: r.try_get("created_day")?,
                        won_day: r.try_get("won_day")?,
                        revenue: revenue.and_then(|t| t.parse::<Decimal>().ok()),
                        revenue_micros: r.try_get("revenue_micros")?,
                        currency: r.try_get("currency")?,
                        campaign_source: r.try_get("campaign_source")?,
                        campaign_id: r.try_get("campaign_id")?,
                        channel: r.try_get("channel")?,
                        via: r.try_get("via")?,
                        reason: r.try_get("reason")?,
                        product: r.try_get("product")?,
                        segment: r.try_get("segment")?,
                        region: r.try_get("region")?,
                        owner_id: r.try_get("owner_id")?,
                    });
                }
            }
            Ok(out)
        }

        /// The months spend pages marked, recomputed from `ad_spend_daily`, each in its own
        /// transaction. The mark is taken first (an UPDATE, so on PostgreSQL a concurrent
        /// refresher waits and then finds it gone) and cleared only if no page moved its
        /// version meanwhile; a page committed during the recompute leaves it marked.
        pub(super) async fn refresh_spend_months(pool: &Pool<$db>) -> Result<usize, sqlx::Error> {
            let marked = sqlx::query(
                "SELECT source, account_id, month FROM spend_month_dirty \
                 ORDER BY source, account_id, month",
            )
            .fetch_all(pool)
            .await?;
            let mut n = 0;
            for r in &marked {
                let source: String = r.try_get("source")?;
                let account: String = r.try_get("account_id")?;
                let month: String = r.try_get("month")?;
                let Some((first, last)) = month_days(&month) else {
                    continue;
                };
                let mut tx = begin(pool).await?;
                let version: Option<i64> = sqlx::query_scalar(
                    "UPDATE spend_month_dirty SET version = version WHERE source = $1 \
                     AND account_id = $2 AND month = $3 RETURNING version",
                )
                .bind(&source)
                .bind(&account)
                .bind(&month)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(version) = version else {
                    tx.rollback().await?;
                    continue;
                };
                sqlx::query(
                    "DELETE FROM spend_month WHERE source = $1 AND account_id = $2 AND month = $3",
                )
                .bind(&source)
                .bind(&account)
                .bind(&month)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO spend_month (source, account_id, month, campaign_id, currency, \
                     vat_included, cost_micros, impressions, clicks, max_day, day_rows) \
                     SELECT source, account_id, $3, campaign_id, currency, \
                     COALESCE(vat_included, FALSE), CAST(SUM(cost_micros) AS BIGINT), \
                     CAST(SUM(COALESCE(impressions, 0)) AS BIGINT), \
                     CAST(SUM(COALESCE(clicks, 0)) AS BIGINT), MAX(spend_date), \
                     CAST(COUNT(*) AS BIGINT) \
                     FROM ad_spend_daily WHERE source = $1 AND account_id = $2 \
                     AND spend_date >= $4 AND spend_date <= $5 \
                     GROUP BY source, account_id, campaign_id, currency, COALESCE(vat_included, FALSE)",
                )
                .bind(&source)
                .bind(&account)
                .bind(&month)
                .bind(first)
                .bind(last)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "DELETE FROM spend_month_dirty WHERE source = $1 AND account_id = $2 \
                     AND month = $3 AND version = $4",
                )
                .bind(&source)
                .bind(&account)
                .bind(&month)
                .bind(version)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                n += 1;
            }
            Ok(n)
        }

        /// First and last day of a `YYYY-MM` month.
        fn month_days(month: &str) -> Option<(NaiveDate, NaiveDate)> {
            let first = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").ok()?;
            let last = first
                .checked_add_months(chrono::Months::new(1))
                .and_then(|d| d.pred_opt())?;
            Some((first, last))
        }

        /// The pages that write spend mark the months they touched (rows, and the days of
        /// windows that may zero rows), so `spend_month` is recomputed for them.
        async fn mark_spend_months(
            tx: &mut Tx<'_>,
            source: &str,
            spend: &[&AdSpend],
            windows: &[&SpendWindow],
        ) -> Result<(), sqlx::Error> {
            use chrono::Datelike;
            let mut months: std::collections::BTreeSet<(&str, String)> = spend
                .iter()
                .map(|r| (r.account_id.as_str(), r.date.format("%Y-%m").to_string()))
                .collect();
            for w in windows {
                let mut d = NaiveDate::from_ymd_opt(w.from.year(), w.from.month(), 1);
                while let Some(day) = d.filter(|d| *d <= w.to) {
                    months.insert((w.account_id.as_str(), day.format("%Y-%m").to_string()));
                    d = day.checked_add_months(chrono::Months::new(1));
                }
            }
            let months: Vec<_> = months.into_iter().collect();
            for chunk in months.chunks(CHUNK) {
                let mut q: QueryBuilder<$db> = QueryBuilder::new(
                    "INSERT INTO spend_month_dirty (source, account_id, month, version) ",
                );
                q.push_values(chunk, |mut b, (account, month)| {
                    b.push_bind(source)
                        .push_bind(clean(account))
                        .push_bind(month.as_str())
                        .push_bind(1_i64);
                });
                q.push(
                    " ON CONFLICT (source, account_id, month) DO UPDATE SET \
                     version = spend_month_dirty.version + 1",
                );
                q.build().persistent(true).execute(&mut **tx).await?;
            }
            Ok(())
        }

        /// Every (source, account) with spend (`spend_month` being current).
        pub(super) async fn spend_accounts(
            pool: &Pool<$db>,
        ) -> Result<Vec<(String, String)>, sqlx::Error> {
            let rows = sqlx::query(
                "SELECT DISTINCT source, account_id FROM spend_month ORDER BY source, account_id",
            )
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| Ok((r.try_get("source")?, r.try_get("account_id")?)))
                .collect()
        }

        /// Monthly spend sums of the months `from..=to` (`YYYY-MM`) in `currency` and not
        /// needing a VAT rate per day; the (source, account, first day, last day) of the
        /// months whose sums do need days.
        #[allow(clippy::type_complexity)]
        /// Channels and provisional days, from the small tables: spend sums are joined with
        /// them in Rust rather than in SQL, where a plan misjudging the spend rows (days newer
        /// than the statistics) loops over the campaigns once per row.
        pub(super) async fn spend_context(pool: &Pool<$db>) -> Result<SpendContext, sqlx::Error> {
            let mut ctx = SpendContext::default();
            for r in sqlx::query("SELECT source, account_id, campaign_id, channel FROM campaign")
                .fetch_all(pool)
                .await?
            {
                ctx.channels.insert(
                    (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?),
                    r.try_get(3)?,
                );
            }
            for r in sqlx::query(
                "SELECT source, account_id, provisional_from FROM ad_account \
                 WHERE provisional_from IS NOT NULL",
            )
            .fetch_all(pool)
            .await?
            {
                ctx.provisional_from.insert((r.try_get(0)?, r.try_get(1)?), r.try_get(2)?);
            }
            Ok(ctx)
        }

        pub(super) async fn spend_month_sums(
            pool: &Pool<$db>,
            ctx: &SpendContext,
            from: &str,
            to: &str,
            currency: &str,
            vat_days: bool,
        ) -> Result<(Vec<SpendSum>, Vec<(String, String, NaiveDate, NaiveDate)>), sqlx::Error> {
            let rows = sqlx::query(
                "SELECT source, account_id, month, campaign_id, currency, vat_included, max_day, \
                 cost_micros, impressions, clicks FROM spend_month \
                 WHERE month >= $1 AND month <= $2",
            )
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await?;
            let mut sums = Vec::with_capacity(rows.len());
            let mut need: std::collections::BTreeSet<(String, String, String)> =
                std::collections::BTreeSet::new();
            for r in &rows {
                let source: String = r.try_get(0)?;
                let account: String = r.try_get(1)?;
                let month: String = r.try_get(2)?;
                let cur: String = r.try_get(4)?;
                let vat: bool = r.try_get(5)?;
                if cur != currency || (vat && vat_days) {
                    need.insert((source, account, month));
                    continue;
                }
                let campaign_id: String = r.try_get(3)?;
                let max_day: NaiveDate = r.try_get(6)?;
                let key = (source, account, campaign_id);
                let provisional = ctx.provisional(&key.0, &key.1, max_day);
                let channel = ctx.channel(&key);
                let (source, _, campaign_id) = key;
                sums.push(SpendSum {
                    source,
                    campaign_id,
                    channel,
                    bucket: month,
                    day: None,
                    currency: cur,
                    vat_included: vat,
                    provisional,
                    micros: r.try_get(7)?,
                    impressions: r.try_get(8)?,
                    clicks: r.try_get(9)?,
                });
            }
            let need = need
                .into_iter()
                .filter_map(|(s, a, m)| month_days(&m).map(|(f, l)| (s, a, f, l)))
                .collect();
            Ok((sums, need))
        }

        /// Spend of one account in `from..=to` per campaign and bucket (the first `len`
        /// characters of the day: 10 a day, 7 a month); a sum keeps its day where it needs that
        /// day's exchange or VAT rate. Grouped by position so both backends take the same text.
        #[allow(clippy::too_many_arguments)]
        pub(super) async fn spend_sums(
            pool: &Pool<$db>,
            ctx: &SpendContext,
            source: &str,
            account: &str,
            from: NaiveDate,
            to: NaiveDate,
            currency: &str,
            len: i32,
            vat_days: bool,
        ) -> Result<Vec<SpendSum>, sqlx::Error> {
            let rows = sqlx::query(
                "SELECT campaign_id, substr(CAST(spend_date AS TEXT), 1, $4) AS bucket, \
                 CASE WHEN currency = $3 AND NOT (COALESCE(vat_included, FALSE) AND $5) \
                     THEN NULL ELSE spend_date END AS day, currency, \
                 COALESCE(vat_included, FALSE) AS vat, MAX(spend_date) AS max_day, \
                 CAST(SUM(cost_micros) AS BIGINT) AS micros, \
                 CAST(SUM(COALESCE(impressions, 0)) AS BIGINT) AS impressions, \
                 CAST(SUM(COALESCE(clicks, 0)) AS BIGINT) AS clicks \
                 FROM ad_spend_daily WHERE source = $6 AND account_id = $7 \
                 AND spend_date >= $1 AND spend_date <= $2 \
                 GROUP BY 1, 2, 3, 4, 5",
            )
            .bind(from)
            .bind(to)
            .bind(currency)
            .bind(len)
            .bind(vat_days)
            .bind(source)
            .bind(account)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    let key = (source.to_string(), account.to_string(), r.try_get("campaign_id")?);
                    Ok(SpendSum {
                        channel: ctx.channel(&key),
                        provisional: ctx.provisional(source, account, r.try_get("max_day")?),
                        source: key.0,
                        campaign_id: key.2,
                        bucket: r.try_get("bucket")?,
                        day: r.try_get("day")?,
                        currency: r.try_get("currency")?,
                        vat_included: r.try_get("vat")?,
                        micros: r.try_get("micros")?,
                        impressions: r.try_get("impressions")?,
                        clicks: r.try_get("clicks")?,
                    })
                })
                .collect()
        }

        /// The monthly lead sums of the months `from..=to` (`YYYY-MM`): one row per key, so
        /// no grouping is needed.
        pub(super) async fn lead_month_sums(
            pool: &Pool<$db>,
            from: &str,
            to: &str,
        ) -> Result<Vec<LeadSum>, sqlx::Error> {
            let rows = sqlx::query(
                "SELECT month, campaign_source, campaign_id, channel, product, segment, region, \
                 fx_day, currency, leads, won, won_micros, cohort, cohort_micros FROM lead_month \
                 WHERE month >= $1 AND month <= $2",
            )
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await?;
            let some = |v: String| (!v.is_empty()).then_some(v);
            rows.iter()
                .map(|r| {
                    let fx_day: String = r.try_get("fx_day")?;
                    Ok(LeadSum {
                        campaign_source: some(r.try_get("campaign_source")?),
                        campaign_id: some(r.try_get("campaign_id")?),
                        channel: some(r.try_get("channel")?),
                        product: some(r.try_get("product")?),
                        segment: some(r.try_get("segment")?),
                        region: some(r.try_get("region")?),
                        bucket: r.try_get("month")?,
                        fx_day: NaiveDate::parse_from_str(&fx_day, "%Y-%m-%d").ok(),
                        currency: some(r.try_get("currency")?),
                        leads: r.try_get("leads")?,
                        won: r.try_get("won")?,
                        won_micros: r.try_get("won_micros")?,
                        cohort: r.try_get("cohort")?,
                        cohort_micros: r.try_get("cohort_micros")?,
                    })
                })
                .collect()
        }

        /// Leads created, won and (cohort) created-and-won per day (per month: `len` 7) of
        /// `from..=to`: three groupings of `lead_fact` in one statement. Revenue in `currency` has no currency and
        /// no day (it needs no conversion), as in `lead_month`.
        pub(super) async fn lead_sums(
            pool: &Pool<$db>,
            from: NaiveDate,
            to: NaiveDate,
            currency: &str,
            len: i32,
        ) -> Result<Vec<LeadSum>, sqlx::Error> {
            let rows = sqlx::query(
                "SELECT campaign_source, campaign_id, channel, product, segment, region, \
                 substr(CAST(created_day AS TEXT), 1, $4) AS bucket, NULL AS fx_day, NULL AS currency, \
                 CAST(COUNT(*) AS BIGINT) AS leads, CAST(0 AS BIGINT) AS won, \
                 CAST(0 AS BIGINT) AS won_micros, CAST(0 AS BIGINT) AS cohort, \
                 CAST(0 AS BIGINT) AS cohort_micros \
                 FROM lead_fact WHERE created_day >= $1 AND created_day <= $2 \
                 GROUP BY 1, 2, 3, 4, 5, 6, 7 \
                 UNION ALL \
                 SELECT campaign_source, campaign_id, channel, product, segment, region, \
                 substr(CAST(won_day AS TEXT), 1, $4), \
                 CASE WHEN currency = $3 THEN NULL ELSE won_day END, \
                 CASE WHEN currency = $3 THEN NULL ELSE currency END, \
                 CAST(0 AS BIGINT), CAST(COUNT(*) AS BIGINT), \
                 CAST(SUM(COALESCE(revenue_micros, 0)) AS BIGINT), CAST(0 AS BIGINT), \
                 CAST(0 AS BIGINT) \
                 FROM lead_fact WHERE won_day >= $1 AND won_day <= $2 \
                 GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9 \
                 UNION ALL \
                 SELECT campaign_source, campaign_id, channel, product, segment, region, \
                 substr(CAST(created_day AS TEXT), 1, $4), \
                 CASE WHEN currency = $3 THEN NULL ELSE won_day END, \
                 CASE WHEN currency = $3 THEN NULL ELSE currency END, \
                 CAST(0 AS BIGINT), CAST(0 AS BIGINT), CAST(0 AS BIGINT), \
                 CAST(COUNT(*) AS BIGINT), CAST(SUM(COALESCE(revenue_micros, 0)) AS BIGINT) \
                 FROM lead_fact WHERE created_day >= $1 AND created_day <= $2 AND won_day IS NOT NULL \
                 GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9",
            )
            .bind(from)
            .bind(to)
            .bind(currency)
            .bind(len)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(LeadSum {
                        campaign_source: r.try_get("campaign_source")?,
                        campaign_id: r.try_get("campaign_id")?,
                        channel: r.try_get("channel")?,
                        product: r.try_get("product")?,
                        segment: r.try_get("segment")?,
                        region: r.try_get("region")?,
                        bucket: r.try_get("bucket")?,
                        fx_day: r.try_get("fx_day")?,
                        currency: r.try_get("currency")?,
                        leads: r.try_get("leads")?,
                        won: r.try_get("won")?,
                        won_micros: r.try_get("won_micros")?,
                        cohort: r.try_get("cohort")?,
                        cohort_micros: r.try_get("cohort_micros")?,
                    })
                })
                .collect()
        }

        pub(super) async fn known_campaigns(
            pool: &Pool<$db>,
        ) -> Result<Vec<crate::figures::attribution::KnownCampaign>, sqlx::Error> {
            let rows = sqlx::query(
                "SELECT source, account_id, campaign_id, name, channel, utm_campaign FROM campaign \
                 ORDER BY source, account_id, campaign_id",
            )
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(crate::figures::attribution::KnownCampaign {
                        key: crate::figures::attribution::CampaignKey {
                            source: r.try_get("source")?,
                            account_id: r.try_get("account_id")?,
                            campaign_id: r.try_get("campaign_id")?,
                        },
                        name: r.try_get("name")?,
                        channel: r.try_get("channel")?,
                        utm_campaign: r.try_get("utm_campaign")?,
                    })
                })
                .collect()
        }

        pub(super) async fn unattributed_leads(
            pool: &Pool<$db>,
            from: NaiveDate,
            to: NaiveDate,
        ) -> Result<Vec<super::UnattributedLead>, sqlx::Error> {
            let rows = sqlx::query(
                "SELECT f.source, f.entity, f.lead_id, l.name, l.created_at, l.utm_source, \
                 l.utm_medium, l.utm_campaign, f.reason FROM lead_fact f \
                 JOIN lead l ON l.source = f.source AND l.entity = f.entity AND l.lead_id = f.lead_id \
                 WHERE f.reason IS NOT NULL AND f.created_day >= $1 AND f.created_day <= $2 \
                 ORDER BY l.created_at, f.source, f.lead_id",
            )
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(super::UnattributedLead {
                        source: r.try_get("source")?,
                        entity: r.try_get("entity")?,
                        lead_id: r.try_get("lead_id")?,
                        name: r.try_get("name")?,
                        created_at: r.try_get("created_at")?,
                        utm_source: r.try_get("utm_source")?,
                        utm_medium: r.try_get("utm_medium")?,
                        utm_campaign: r.try_get("utm_campaign")?,
                        reason: r.try_get("reason")?,
                    })
                })
                .collect()
        }

        pub(super) async fn start_export(
            pool: &Pool<$db>,
            name: &str,
            night: NaiveDate,
            trigger: &str,
            now: DateTime<Utc>,
        ) -> Result<(), sqlx::Error> {
            sqlx::query(
                "INSERT INTO export_run (name, night, status, trigger, started_at) \
                 VALUES ($1, $2, 'running', $3, $4) \
                 ON CONFLICT (name, night) DO UPDATE SET status = 'running', \
                 trigger = excluded.trigger, started_at = excluded.started_at, \
                 finished_at = NULL, error = NULL",
            )
            .bind(name)
            .bind(night)
            .bind(trigger)
            .bind(now)
            .execute(pool)
            .await?;
            Ok(())
        }

        /// Records how a night ended; `false` (nothing written) when `fence` no longer holds.
        pub(super) async fn finish_export(
            pool: &Pool<$db>,
            name: &str,
            night: NaiveDate,
            outcome: &super::ExportOutcome,
            fence: Option<&super::Fence>,
            now: DateTime<Utc>,
        ) -> Result<bool, sqlx::Error> {
            let mut tx = begin(pool).await?;
            if let Some(f) = fence {
                if !check_fence(&mut tx, f).await? {
                    return Ok(false);
                }
            }
            sqlx::query(
                "UPDATE export_run SET status = $3, finished_at = $4, files = $5, row_count = $6, \
                 manifest_sha256 = $7, error = $8 WHERE name = $1 AND night = $2",
            )
            .bind(name)
            .bind(night)
            .bind(if outcome.error.is_some() { "failed" } else { "done" })
            .bind(now)
            .bind(outcome.files)
            .bind(outcome.rows)
            .bind(&outcome.manifest_sha256)
            .bind(&outcome.error)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(true)
        }

        pub(super) async fn export_runs(
            pool: &Pool<$db>,
            name: Option<&str>,
        ) -> Result<Vec<super::ExportRun>, sqlx::Error> {
            let rows = sqlx::query(
                "SELECT name, night, status, trigger, started_at, finished_at, files, row_count, \
                 error FROM export_run WHERE $1 IS NULL OR name = $1 ORDER BY name, night",
            )
            .bind(name)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(super::ExportRun {
                        name: r.try_get("name")?,
                        night: r.try_get("night")?,
                        status: r.try_get("status")?,
                        trigger: r.try_get("trigger")?,
                        started_at: r.try_get("started_at")?,
                        finished_at: r.try_get("finished_at")?,
                        files: r.try_get("files")?,
                        rows: r.try_get("row_count")?,
                        error: r.try_get("error")?,
                    })
                })
                .collect()
        }

        /// Per segment, the leads created in `from..=to` and how many of them are won so far.
        pub(super) async fn segment_outcomes(
            pool: &Pool<$db>,
            from: NaiveDate,
            to: NaiveDate,
        ) -> Result<Vec<(String, i64, i64)>, sqlx::Error> {
            sqlx::query_as(
                "SELECT segment, CAST(COUNT(*) AS BIGINT), \
                 CAST(SUM(CASE WHEN won_day IS NULL THEN 0 ELSE 1 END) AS BIGINT) \
                 FROM lead_fact WHERE created_day >= $1 AND created_day <= $2 \
                 AND segment IS NOT NULL GROUP BY segment ORDER BY segment",
            )
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await
        }

        pub(super) async fn resolved_clicks(
            pool: &Pool<$db>,
        ) -> Result<Vec<(String, String, crate::figures::attribution::CampaignKey)>, sqlx::Error>
        {
            let rows = sqlx::query(
                "SELECT kind, click_id, source, account_id, campaign_id FROM click_id",
            )
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok((
                        r.try_get("kind")?,
                        r.try_get("click_id")?,
                        crate::figures::attribution::CampaignKey {
                            source: r.try_get("source")?,
                            account_id: r.try_get("account_id")?,
                            campaign_id: r.try_get("campaign_id")?,
                        },
                    ))
                })
                .collect()
        }

        pub(super) async fn lead_sources(pool: &Pool<$db>) -> Result<Vec<String>, sqlx::Error> {
            // Every source with leads has a counter: the write that added them bumped it.
            sqlx::query_scalar("SELECT source FROM table_version WHERE tbl = 'lead' ORDER BY source")
                .fetch_all(pool)
                .await
        }

        pub(super) async fn click_ids(
            pool: &Pool<$db>,
            source: &str,
        ) -> Result<Vec<(String, String, String, String, NaiveDate)>, sqlx::Error> {
            let rows = sqlx::query(
                "SELECT click_id, kind, account_id, campaign_id, click_date FROM click_id \
                 WHERE source = $1 ORDER BY click_id",
            )
            .bind(source)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok((
                        r.try_get("click_id")?,
                        r.try_get("kind")?,
                        r.try_get("account_id")?,
                        r.try_get("campaign_id")?,
                        r.try_get("click_date")?,
                    ))
                })
                .collect()
        }

        pub(super) async fn fx_rates(pool: &Pool<$db>) -> Result<Vec<StoredRate>, sqlx::Error> {
            let rows = sqlx::query(
                "SELECT rate_date, currency, base, CAST(rate AS TEXT) AS rate, origin FROM fx_rate \
                 ORDER BY rate_date, currency, base",
            )
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok((
                        r.try_get("rate_date")?,
                        r.try_get("currency")?,
                        r.try_get("base")?,
                        r.try_get("rate")?,
                        r.try_get("origin")?,
                    ))
                })
                .collect()
        }

        async fn upsert_stages(
            tx: &mut Tx<'_>,
            source: &str,
            rows: &[&Stage],
            now: DateTime<Utc>,
        ) -> Result<u64, sqlx::Error> {
            let mut q: QueryBuilder<$db> = QueryBuilder::new(
                "INSERT INTO pipeline_stage (source, pipeline_id, stage_id, pipeline_name, \
                 stage_name, category, sort, archived, raw, synced_at) ",
            );
            q.push_values(rows, |mut b, st| {
                b.push_bind(source)
                    .push_bind(clean(&st.pipeline_id))
                    .push_bind(clean(&st.stage_id))
                    .push_bind(clean_opt(&st.pipeline_name))
                    .push_bind(clean(&st.stage_name))
                    .push_bind(st.category.as_str())
                    .push_bind(st.sort)
                    .push_bind(st.archived)
                    .push_bind(st.raw.get())
                    .push_unseparated($raw_cast)
                    .push_bind(now);
            });
            // Stages carry no modification time: a row changes when anything in it does.
            q.push(
                " ON CONFLICT (source, pipeline_id, stage_id) DO UPDATE SET \
                 pipeline_name = excluded.pipeline_name, stage_name = excluded.stage_name, \
                 category = excluded.category, sort = excluded.sort, archived = excluded.archived, \
                 raw = excluded.raw, synced_at = excluded.synced_at \
                 WHERE CAST(excluded.raw AS TEXT) <> CAST(pipeline_stage.raw AS TEXT) \
                 OR COALESCE(excluded.pipeline_name, '') <> COALESCE(pipeline_stage.pipeline_name, '') \
                 OR excluded.archived <> pipeline_stage.archived",
            );
            Ok(q.build().persistent(true).execute(&mut **tx).await?.rows_affected())
        }

        async fn mark_deleted(
            tx: &mut Tx<'_>,
            source: &str,
            d: &Deleted,
            now: DateTime<Utc>,
        ) -> Result<u64, sqlx::Error> {
            let (sql, entity) = match d.kind {
                DeletedKind::Lead(entity) => (
                    // A webhook's deletion is dated when it was processed; the vendor's own
                    // (earlier) time from a deleted-records list replaces it.
                    "UPDATE lead SET deleted_at = $1, synced_at = $2 WHERE source = $3 \
                     AND entity = $4 AND lead_id = $5 \
                     AND (deleted_at IS NULL OR deleted_at > $1)",
                    entity.as_str(),
                ),
                DeletedKind::Task => (
                    // Tasks have no entity: the condition on $4 is always true.
                    "UPDATE task SET deleted_at = $1, synced_at = $2 WHERE source = $3 \
                     AND $4 = 'task' AND task_id = $5 \
                     AND (deleted_at IS NULL OR deleted_at > $1)",
                    "task",
                ),
                // New kinds of deletable rows are added together with their tables.
                #[allow(unreachable_patterns)]
                _ => return Ok(0),
            };
            Ok(sqlx::query(sql)
                .bind(d.deleted_at)
                .bind(now)
                .bind(source)
                .bind(entity)
                .bind(clean(&d.id))
                .execute(&mut **tx)
                .await?
                .rows_affected())
        }

        pub(super) async fn apply_people(
            pool: &Pool<$db>,
            people: &[(String, String, Option<String>)],
            assignments: &[(String, String, String)],
            now: DateTime<Utc>,
        ) -> Result<(), sqlx::Error> {
            let mut tx = begin(pool).await?;
            for (id, name, email) in people {
                sqlx::query(
                    "INSERT INTO person (person_id, display_name, email, updated_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (person_id) DO UPDATE SET \
                     display_name = excluded.display_name, \
                     email = COALESCE(excluded.email, person.email), updated_at = excluded.updated_at",
                )
                .bind(id)
                .bind(name)
                .bind(email)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            // Everyone back to the automatic rule, then the listed accounts to their people: an
            // account taken out of the file is matched by e-mail again.
            sqlx::query(
                "UPDATE person_identity SET person_id = CASE WHEN email IS NOT NULL \
                 THEN 'email:' || email ELSE source || ':' || user_id END \
                 WHERE person_id <> CASE WHEN email IS NOT NULL \
                 THEN 'email:' || email ELSE source || ':' || user_id END",
            )
            .execute(&mut *tx)
            .await?;
            for (source, user, person) in assignments {
                sqlx::query(
                    "UPDATE person_identity SET person_id = $1 WHERE source = $2 AND user_id = $3 \
                     AND person_id <> $1",
                )
                .bind(person)
                .bind(source)
                .bind(user)
                .execute(&mut *tx)
                .await?;
            }
            // People the automatic rule made who no longer have an identity.
            sqlx::query(
                "DELETE FROM person WHERE person_id NOT LIKE 'email:%' \
                 AND person_id NOT LIKE 'people.toml:%' \
                 AND NOT EXISTS (SELECT 1 FROM person_identity i WHERE i.person_id = person.person_id)",
            )
            .execute(&mut *tx)
            .await?;
            tx.commit().await
        }

        pub(super) async fn identities(
            pool: &Pool<$db>,
        ) -> Result<Vec<(String, String, String)>, sqlx::Error> {
            let rows = sqlx::query(
                "SELECT source, user_id, person_id FROM person_identity ORDER BY source, user_id",
            )
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| Ok((r.try_get("source")?, r.try_get("user_id")?, r.try_get("person_id")?)))
                .collect()
        }

        /// The assignee columns every people query selects (`a_source`, `a_user`, `a_person`,
        /// `a_name`), read back.
        fn assignee(r: &<$db as sqlx::Database>::Row) -> Result<Assignee, sqlx::Error> {
            Ok(Assignee {
                source: r.try_get("a_source")?,
                user_id: r.try_get("a_user")?,
                person_id: r.try_get("a_person")?,
                name: r.try_get("a_name")?,
            })
        }

        pub(super) async fn solved_tickets(
            pool: &Pool<$db>,
            from: DateTime<Utc>,
            to: DateTime<Utc>,
        ) -> Result<Vec<SolvedTicket>, sqlx::Error> {
            let rows = sqlx::query(
                "SELECT t.source AS a_source, t.assignee_id AS a_user, i.person_id AS a_person, \
                 COALESCE(p.display_name, i.name) AS a_name, t.ticket_id, m.solved_at, \
                 m.reply_minutes_calendar, m.reply_minutes_business, \
                 m.resolution_minutes_calendar, m.resolution_minutes_business \
                 FROM ticket t JOIN ticket_metric m \
                   ON m.source = t.source AND m.ticket_id = t.ticket_id \
                 LEFT JOIN person_identity i ON i.source = t.source AND i.user_id = t.assignee_id \
                 LEFT JOIN person p ON p.person_id = i.person_id \
                 WHERE t.status IN ('solved', 'closed') AND t.deleted_at IS NULL \
                 AND t.assignee_id IS NOT NULL AND m.solved_at >= $1 AND m.solved_at < $2 \
                 ORDER BY t.source, t.ticket_id",
            )
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(SolvedTicket {
                        assignee: assignee(r)?,
                        ticket_id: r.try_get("ticket_id")?,
                        solved_at: r.try_get("solved_at")?,
                        reply_minutes_calendar: r.try_get("reply_minutes_calendar")?,
                        reply_minutes_business: r.try_get("reply_minutes_business")?,
                        resolution_minutes_calendar: r.try_get("resolution_minutes_calendar")?,
                        resolution_minutes_business: r.try_get("resolution_minutes_business")?,
                    })
                })
                .collect()
        }

        pub(super) async fn done_tasks(
            pool: &Pool<$db>,
            from: DateTime<Utc>,
            to: DateTime<Utc>,
        ) -> Result<Vec<DoneTask>, sqlx::Error> {
            let rows = sqlx::query(
                "SELECT t.source AS a_source, t.assignee_id AS a_user, i.person_id AS a_person, \
                 COALESCE(p.display_name, i.name) AS a_name, t.task_id, t.created_at, t.done_at \
                 FROM task t \
                 LEFT JOIN person_identity i ON i.source = t.source AND i.user_id = t.assignee_id \
                 LEFT JOIN person p ON p.person_id = i.person_id \
                 WHERE t.status_category = 'done' AND t.deleted_at IS NULL \
                 AND t.assignee_id IS NOT NULL AND t.done_at >= $1 AND t.done_at < $2 \
                 ORDER BY t.source, t.task_id",
            )
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(DoneTask {
                        assignee: assignee(r)?,
                        task_id: r.try_get("task_id")?,
                        created_at: r.try_get("created_at")?,
                        done_at: r.try_get("done_at")?,
                    })
                })
                .collect()
        }

        pub(super) async fn open_work(pool: &Pool<$db>) -> Result<Vec<OpenWork>, sqlx::Error> {
            let rows = sqlx::query(
                "SELECT w.source AS a_source, w.assignee_id AS a_user, i.person_id AS a_person, \
                 COALESCE(p.display_name, i.name) AS a_name, \
                 CAST(SUM(w.tickets) AS BIGINT) AS tickets, CAST(SUM(w.tasks) AS BIGINT) AS tasks \
                 FROM ( \
                   SELECT source, assignee_id, CAST(COUNT(*) AS BIGINT) AS tickets, \
                   CAST(0 AS BIGINT) AS tasks FROM ticket \
                   WHERE status IN ('new', 'open', 'pending', 'hold') AND deleted_at IS NULL \
                   AND assignee_id IS NOT NULL GROUP BY source, assignee_id \
                   UNION ALL \
                   SELECT source, assignee_id, CAST(0 AS BIGINT), CAST(COUNT(*) AS BIGINT) FROM task \
                   WHERE status_category = 'in_progress' AND deleted_at IS NULL \
                   AND assignee_id IS NOT NULL GROUP BY source, assignee_id \
                 ) w \
                 LEFT JOIN person_identity i ON i.source = w.source AND i.user_id = w.assignee_id \
                 LEFT JOIN person p ON p.person_id = i.person_id \
                 GROUP BY w.source, w.assignee_id, i.person_id, p.display_name, i.name \
                 ORDER BY w.source, w.assignee_id",
            )
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(OpenWork {
                        assignee: assignee(r)?,
                        tickets: r.try_get("tickets")?,
                        tasks: r.try_get("tasks")?,
                    })
                })
                .collect()
        }

        pub(super) async fn person_name(
            pool: &Pool<$db>,
            person_id: &str,
        ) -> Result<Option<String>, sqlx::Error> {
            let row = sqlx::query("SELECT display_name FROM person WHERE person_id = $1")
                .bind(person_id)
                .fetch_optional(pool)
                .await?;
            Ok(match row {
                Some(r) => r.try_get("display_name")?,
                None => None,
            })
        }

        pub(super) async fn load_token(
            pool: &Pool<$db>,
            source: &str,
        ) -> Result<Option<TokenRow>, sqlx::Error> {
            let row = sqlx::query(
                "SELECT access_token, refresh_token, expires_at, api_domain, version \
                 FROM oauth_token WHERE source = $1",
            )
            .bind(source)
            .fetch_optional(pool)
            .await?;
            row.map(|r| {
                Ok(TokenRow {
                    access_token: r.try_get("access_token")?,
                    refresh_token: r.try_get("refresh_token")?,
                    expires_at: r.try_get("expires_at")?,
                    api_domain: r.try_get("api_domain")?,
                    version: r.try_get("version")?,
                })
            })
            .transpose()
        }

        pub(super) async fn token_states(
            pool: &Pool<$db>,
        ) -> Result<Vec<TokenState>, sqlx::Error> {
            let rows = sqlx::query(
                "SELECT source, expires_at, version, updated_at, refresh_token IS NOT NULL AS can_refresh \
                 FROM oauth_token ORDER BY source",
            )
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(TokenState {
                        source: r.try_get("source")?,
                        expires_at: r.try_get("expires_at")?,
                        version: r.try_get("version")?,
                        updated_at: r.try_get("updated_at")?,
                        can_refresh: r.try_get("can_refresh")?,
                    })
                })
                .collect()
        }

        pub(super) async fn claim_token_refresh(
            pool: &Pool<$db>,
            source: &str,
            version: i64,
            holder: &str,
            now: DateTime<Utc>,
            until: DateTime<Utc>,
        ) -> Result<bool, sqlx::Error> {
            let done = sqlx::query(
                "UPDATE oauth_token SET refresh_holder = $1, refresh_until = $2 \
                 WHERE source = $3 AND version = $4 \
                 AND (refresh_holder IS NULL OR refresh_until <= $5)",
            )
            .bind(holder)
            .bind(until)
            .bind(source)
            .bind(version)
            .bind(now)
            .execute(pool)
            .await?;
            Ok(done.rows_affected() == 1)
        }

        pub(super) async fn release_token_claim(
            pool: &Pool<$db>,
            source: &str,
            holder: &str,
        ) -> Result<(), sqlx::Error> {
            sqlx::query(
                "UPDATE oauth_token SET refresh_holder = NULL, refresh_until = NULL \
                 WHERE source = $1 AND refresh_holder = $2",
            )
            .bind(source)
            .bind(holder)
            .execute(pool)
            .await?;
            Ok(())
        }

        /// Stores a token pair durably: a refresh while its claim holds or the row has not moved
        /// past the version it refreshed, an authorisation unconditionally. Returns the new version.
        pub(super) async fn save_token(
            pool: &Pool<$db>,
            source: &str,
            mode: okno_connector::oauth::Save<'_>,
            t: &TokenRow,
            now: DateTime<Utc>,
        ) -> Result<Option<i64>, sqlx::Error> {
            let mut conn = durable_conn(pool).await?;
            let result = save_token_on(&mut conn, source, mode, t, now).await;
            restore(&mut conn).await;
            result
        }

        async fn save_token_on(
            conn: &mut sqlx::pool::PoolConnection<$db>,
            source: &str,
            mode: okno_connector::oauth::Save<'_>,
            t: &TokenRow,
            now: DateTime<Utc>,
        ) -> Result<Option<i64>, sqlx::Error> {
            use okno_connector::oauth::Save;
            let mut tx = sqlx::Connection::begin_with(&mut **conn, $begin).await?;
            durable_tx(&mut tx).await?;
            let q = match mode {
                Save::Authorize => sqlx::query(
                    "INSERT INTO oauth_token (source, access_token, refresh_token, expires_at, \
                     api_domain, version, updated_at) VALUES ($1, $2, $3, $4, $5, 1, $6) \
                     ON CONFLICT (source) DO UPDATE SET access_token = excluded.access_token, \
                     refresh_token = excluded.refresh_token, expires_at = excluded.expires_at, \
                     api_domain = excluded.api_domain, version = oauth_token.version + 1, \
                     refresh_holder = NULL, refresh_until = NULL, updated_at = excluded.updated_at \
                     RETURNING version",
                ),
                Save::Seed => sqlx::query(
                    "INSERT INTO oauth_token (source, access_token, refresh_token, expires_at, \
                     api_domain, version, updated_at) VALUES ($1, $2, $3, $4, $5, 1, $6) \
                     ON CONFLICT (source) DO NOTHING RETURNING version",
                ),
                Save::Refresh { .. } => sqlx::query(
                    "UPDATE oauth_token SET access_token = $2, \
                     refresh_token = COALESCE($3, refresh_token), expires_at = $4, \
                     api_domain = COALESCE($5, api_domain), version = version + 1, \
                     refresh_holder = NULL, refresh_until = NULL, updated_at = $6 \
                     WHERE source = $1 AND (refresh_holder = $7 OR version = $8) RETURNING version",
                ),
            };
            let mut q = q
                .bind(source)
                .bind(&t.access_token)
                .bind(&t.refresh_token)
                .bind(t.expires_at)
                .bind(&t.api_domain)
                .bind(now);
            if let Save::Refresh {
                holder,
                from_version,
            } = mode
            {
                q = q.bind(holder).bind(from_version);
            }
            let row = q.fetch_optional(&mut *tx).await?;
            let version = row.map(|r| r.try_get::<i64, _>("version")).transpose()?;
            tx.commit().await?;
            Ok(version)
        }

        pub(super) async fn write_cursor(
            tx: &mut Tx<'_>,
            source: &str,
            stream: &str,
            cursor: Option<&Cursor>,
            now: DateTime<Utc>,
        ) -> Result<(), sqlx::Error> {
            sqlx::query(
                "INSERT INTO sync_state (source, stream, cursor, updated_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (source, stream) DO UPDATE SET cursor = excluded.cursor, \
                 updated_at = excluded.updated_at",
            )
            .bind(source)
            .bind(stream)
            .bind(cursor.map(|c| Json(&c.0)))
            .bind(now)
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        pub(super) async fn load_cursor(
            pool: &Pool<$db>,
            source: &str,
            stream: &str,
        ) -> Result<Option<Cursor>, sqlx::Error> {
            let row = sqlx::query("SELECT cursor FROM sync_state WHERE source = $1 AND stream = $2")
                .bind(source)
                .bind(stream)
                .fetch_optional(pool)
                .await?;
            Ok(match row {
                Some(r) => r
                    .try_get::<Option<Json<serde_json::Value>>, _>("cursor")?
                    .map(|j| Cursor(j.0)),
                None => None,
            })
        }

        pub(super) async fn start_run(
            pool: &Pool<$db>,
            source: &str,
            stream: &str,
            trigger: &str,
            now: DateTime<Utc>,
        ) -> Result<i64, sqlx::Error> {
            let row = sqlx::query(
                "INSERT INTO sync_run (source, stream, trigger, started_at, status) \
                 VALUES ($1, $2, $3, $4, 'running') RETURNING run_id",
            )
            .bind(source)
            .bind(stream)
            .bind(trigger)
            .bind(now)
            .fetch_one(pool)
            .await?;
            row.try_get("run_id")
        }

        pub(super) async fn finish_run(
            pool: &Pool<$db>,
            run_id: i64,
            outcome: &RunOutcome,
            now: DateTime<Utc>,
        ) -> Result<(), sqlx::Error> {
            sqlx::query(
                "UPDATE sync_run SET finished_at = $1, pages = $2, records = $3, status = $4, \
                 error = $5, resume_at = $6 WHERE run_id = $7",
            )
            .bind(now)
            .bind(outcome.pages as i64)
            .bind(outcome.records as i64)
            .bind(outcome.status.as_str())
            .bind(&outcome.error)
            .bind(outcome.resume_at)
            .bind(run_id)
            .execute(pool)
            .await?;
            Ok(())
        }

        pub(super) async fn mark_interrupted(
            pool: &Pool<$db>,
            now: DateTime<Utc>,
        ) -> Result<u64, sqlx::Error> {
            // A run whose instance is still leased belongs to a live process.
            Ok(sqlx::query(
                "UPDATE sync_run SET status = 'interrupted', finished_at = $1, \
                 error = 'the process stopped before the run finished' WHERE status = 'running' \
                 AND NOT EXISTS (SELECT 1 FROM sync_lease l \
                                 WHERE l.source = sync_run.source AND l.expires_at > $1)",
            )
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected())
        }

        /// Claims `source` for `holder` if it is free, expired, or held by `stale_holder`;
        /// returns the claim's epoch (one more than the previous claim's).
        pub(super) async fn claim_lease(
            pool: &Pool<$db>,
            source: &str,
            holder: &str,
            stale_holder: Option<&str>,
            now: DateTime<Utc>,
            until: DateTime<Utc>,
        ) -> Result<Option<i64>, sqlx::Error> {
            let row = sqlx::query(
                "INSERT INTO sync_lease (source, holder, acquired_at, expires_at, epoch) \
                 VALUES ($1, $2, $3, $4, 1) ON CONFLICT (source) DO UPDATE SET \
                 holder = excluded.holder, acquired_at = excluded.acquired_at, \
                 expires_at = excluded.expires_at, epoch = sync_lease.epoch + 1 \
                 WHERE sync_lease.expires_at <= $3 OR sync_lease.holder = $5 RETURNING epoch",
            )
            .bind(source)
            .bind(holder)
            .bind(now)
            .bind(until)
            .bind(stale_holder.unwrap_or(""))
            .fetch_optional(pool)
            .await?;
            row.map(|r| r.try_get::<i64, _>("epoch")).transpose()
        }

        /// Inside a page's transaction: proves `fence` still owns its lease and, on PostgreSQL,
        /// locks the lease row until commit, so nobody can take over between this check and
        /// the commit. A writer that lost its lease writes nothing.
        pub(super) async fn check_fence(
            tx: &mut Tx<'_>,
            fence: &super::Fence,
        ) -> Result<bool, sqlx::Error> {
            let done = sqlx::query(
                "UPDATE sync_lease SET epoch = epoch WHERE source = $1 AND holder = $2 AND epoch = $3",
            )
            .bind(&fence.source)
            .bind(&fence.holder)
            .bind(fence.epoch)
            .execute(&mut **tx)
            .await?;
            Ok(done.rows_affected() == 1)
        }

        pub(super) async fn live_leases(
            pool: &Pool<$db>,
            now: DateTime<Utc>,
        ) -> Result<Vec<(String, String)>, sqlx::Error> {
            let rows = sqlx::query(
                "SELECT source, holder FROM sync_lease WHERE expires_at > $1 ORDER BY source",
            )
            .bind(now)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| Ok((r.try_get("source")?, r.try_get("holder")?)))
                .collect()
        }

        pub(super) async fn lease_holder(
            pool: &Pool<$db>,
            source: &str,
        ) -> Result<Option<(String, DateTime<Utc>)>, sqlx::Error> {
            let row = sqlx::query("SELECT holder, expires_at FROM sync_lease WHERE source = $1")
                .bind(source)
                .fetch_optional(pool)
                .await?;
            row.map(|r| Ok((r.try_get("holder")?, r.try_get("expires_at")?)))
                .transpose()
        }

        pub(super) async fn renew_lease(
            pool: &Pool<$db>,
            source: &str,
            holder: &str,
            until: DateTime<Utc>,
        ) -> Result<bool, sqlx::Error> {
            let done = sqlx::query(
                "UPDATE sync_lease SET expires_at = $1 WHERE source = $2 AND holder = $3",
            )
            .bind(until)
            .bind(source)
            .bind(holder)
            .execute(pool)
            .await?;
            Ok(done.rows_affected() == 1)
        }

        pub(super) async fn release_lease(
            pool: &Pool<$db>,
            source: &str,
            holder: &str,
        ) -> Result<(), sqlx::Error> {
            // The row stays, expired and without a holder, so the next claim's epoch is higher
            // than every earlier one.
            sqlx::query(
                "UPDATE sync_lease SET holder = '', expires_at = acquired_at \
                 WHERE source = $1 AND holder = $2",
            )
            .bind(source)
            .bind(holder)
            .execute(pool)
            .await?;
            Ok(())
        }

        pub(super) async fn states(pool: &Pool<$db>) -> Result<Vec<StateRow>, sqlx::Error> {
            let rows = sqlx::query(
                "SELECT source, stream, cursor IS NOT NULL AS has_cursor, updated_at \
                 FROM sync_state ORDER BY source, stream",
            )
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(StateRow {
                        source: r.try_get("source")?,
                        stream: r.try_get("stream")?,
                        has_cursor: r.try_get("has_cursor")?,
                        updated_at: r.try_get("updated_at")?,
                    })
                })
                .collect()
        }

        pub(super) async fn latest_runs(
            pool: &Pool<$db>,
            source: Option<&str>,
        ) -> Result<Vec<RunRow>, sqlx::Error> {
            let rows = sqlx::query(
                "SELECT r.run_id, r.source, r.stream, r.trigger, r.started_at, r.finished_at, \
                 r.pages, r.records, r.status, r.error, r.resume_at FROM sync_run r \
                 WHERE r.run_id = (SELECT MAX(l.run_id) FROM sync_run l \
                                   WHERE l.source = r.source AND l.stream = r.stream) \
                 AND ($1 IS NULL OR r.source = $1) ORDER BY r.source, r.stream",
            )
            .bind(source)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(RunRow {
                        run_id: r.try_get("run_id")?,
                        source: r.try_get("source")?,
                        stream: r.try_get("stream")?,
                        trigger: r.try_get("trigger")?,
                        started_at: r.try_get("started_at")?,
                        finished_at: r.try_get("finished_at")?,
                        pages: r.try_get("pages")?,
                        records: r.try_get("records")?,
                        status: r.try_get("status")?,
                        error: r.try_get("error")?,
                        resume_at: r.try_get("resume_at")?,
                    })
                })
                .collect()
        }

        pub(super) async fn get_ticket(
            pool: &Pool<$db>,
            source: &str,
            ticket_id: &str,
        ) -> Result<Option<StoredTicket>, sqlx::Error> {
            let row = sqlx::query(
                "SELECT ticket_id, subject, status, assignee_id, updated_at, deleted_at \
                 FROM ticket WHERE source = $1 AND ticket_id = $2",
            )
            .bind(source)
            .bind(ticket_id)
            .fetch_optional(pool)
            .await?;
            row.map(|r| {
                Ok(StoredTicket {
                    ticket_id: r.try_get("ticket_id")?,
                    subject: r.try_get("subject")?,
                    status: r.try_get("status")?,
                    assignee_id: r.try_get("assignee_id")?,
                    updated_at: r.try_get("updated_at")?,
                    deleted_at: r.try_get("deleted_at")?,
                })
            })
            .transpose()
        }

        pub(super) async fn leads(
            pool: &Pool<$db>,
            source: &str,
        ) -> Result<Vec<StoredLead>, sqlx::Error> {
            select_leads(pool, source, LeadFilter::All).await
        }

        /// Leads of a source as `filter` says, by entity and id.
        pub(super) async fn select_leads(
            pool: &Pool<$db>,
            source: &str,
            filter: LeadFilter<'_>,
        ) -> Result<Vec<StoredLead>, sqlx::Error> {
            let mut q: QueryBuilder<$db> = QueryBuilder::new(
                "SELECT entity, lead_id, name, created_at, updated_at, pipeline_id, stage_id, stage_name, \
                 stage_category, CAST(amount AS TEXT) AS amount, CAST(discount AS TEXT) AS discount, \
                 currency, CAST(exchange_rate AS TEXT) AS exchange_rate, closed_at, owner_id, \
                 lead_source, utm_source, utm_medium, utm_campaign, utm_content, utm_term, gclid, \
                 yclid, fbclid, product, segment, region, converted_deal_id, deleted_at \
                 FROM lead WHERE source = ",
            );
            q.push_bind(source);
            match filter {
                LeadFilter::All => {}
                LeadFilter::SyncedSince(since) => {
                    q.push(" AND synced_at >= ").push_bind(since);
                }
                LeadFilter::Keys(keys) => push_keys(&mut q, keys),
                LeadFilter::ConvertedInto(ids) => {
                    q.push(" AND converted_deal_id IN (");
                    let mut sep = q.separated(", ");
                    for id in ids {
                        sep.push_bind(id.as_str());
                    }
                    q.push(")");
                }
            }
            q.push(" ORDER BY entity, lead_id");
            // Streamed: a million leads are not held twice (as rows and as leads).
            use futures::TryStreamExt;
            let mut rows = q.build().fetch(pool);
            let mut out = Vec::new();
            while let Some(r) = rows.try_next().await? {
                out.push(StoredLead {
                        entity: r.try_get("entity")?,
                        lead_id: r.try_get("lead_id")?,
                        name: r.try_get("name")?,
                        created_at: r.try_get("created_at")?,
                        updated_at: r.try_get("updated_at")?,
                        pipeline_id: r.try_get("pipeline_id")?,
                        stage_id: r.try_get("stage_id")?,
                        stage_name: r.try_get("stage_name")?,
                        stage_category: r.try_get("stage_category")?,
                        amount: r.try_get("amount")?,
                        discount: r.try_get("discount")?,
                        currency: r.try_get("currency")?,
                        exchange_rate: r.try_get("exchange_rate")?,
                        closed_at: r.try_get("closed_at")?,
                        owner_id: r.try_get("owner_id")?,
                        lead_source: r.try_get("lead_source")?,
                        utm: [
                            r.try_get("utm_source")?,
                            r.try_get("utm_medium")?,
                            r.try_get("utm_campaign")?,
                            r.try_get("utm_content")?,
                            r.try_get("utm_term")?,
                        ],
                        click_ids: [r.try_get("gclid")?, r.try_get("yclid")?, r.try_get("fbclid")?],
                        product: r.try_get("product")?,
                        segment: r.try_get("segment")?,
                        region: r.try_get("region")?,
                        converted_deal_id: r.try_get("converted_deal_id")?,
                        deleted_at: r.try_get("deleted_at")?,
                });
            }
            Ok(out)
        }

        pub(super) async fn stages(
            pool: &Pool<$db>,
            source: &str,
        ) -> Result<Vec<(String, String, String, String)>, sqlx::Error> {
            let rows = sqlx::query(
                "SELECT pipeline_id, stage_id, stage_name, category FROM pipeline_stage \
                 WHERE source = $1 ORDER BY pipeline_id, stage_id",
            )
            .bind(source)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok((
                        r.try_get("pipeline_id")?,
                        r.try_get("stage_id")?,
                        r.try_get("stage_name")?,
                        r.try_get("category")?,
                    ))
                })
                .collect()
        }

        pub(super) async fn ticket_ids(
            pool: &Pool<$db>,
            source: &str,
        ) -> Result<Vec<String>, sqlx::Error> {
            sqlx::query_scalar("SELECT ticket_id FROM ticket WHERE source = $1 ORDER BY ticket_id")
                .bind(source)
                .fetch_all(pool)
                .await
        }

        /// A connection whose next transaction is flushed to disk before it reports success,
        /// for writes that acknowledge something to the outside world. `restore` undoes it.
        async fn durable_conn(
            pool: &Pool<$db>,
        ) -> Result<sqlx::pool::PoolConnection<$db>, sqlx::Error> {
            let mut conn = pool.acquire().await?;
            let durable: Option<(&str, &str)> = $durable;
            if let Some((on, _)) = durable {
                sqlx::query(on).execute(&mut *conn).await?;
            }
            Ok(conn)
        }

        /// Puts the connection back to the pool's setting. A failure here cannot undo a commit;
        /// the connection is then closed instead of being reused with the slower setting.
        async fn restore(conn: &mut sqlx::pool::PoolConnection<$db>) {
            let durable: Option<(&str, &str)> = $durable;
            if let Some((_, off)) = durable {
                if sqlx::query(off).execute(&mut **conn).await.is_err() {
                    conn.close_on_drop();
                }
            }
        }

        /// In-transaction durability (PostgreSQL: flush the commit whatever the server default).
        async fn durable_tx(tx: &mut Tx<'_>) -> Result<(), sqlx::Error> {
            let setup: Option<&str> = $durable_tx;
            if let Some(sql) = setup {
                sqlx::query(sql).execute(&mut **tx).await?;
            }
            Ok(())
        }

        /// Stores deliveries in one durable transaction; returns the (source, delivery_id) of
        /// those that were new (the others were seen before).
        pub(super) async fn insert_deliveries(
            pool: &Pool<$db>,
            rows: &[NewDelivery],
            now: DateTime<Utc>,
        ) -> Result<Vec<(String, String)>, sqlx::Error> {
            let mut conn = durable_conn(pool).await?;
            let result = insert_deliveries_on(&mut conn, rows, now).await;
            restore(&mut conn).await;
            result
        }

        async fn insert_deliveries_on(
            conn: &mut sqlx::pool::PoolConnection<$db>,
            rows: &[NewDelivery],
            now: DateTime<Utc>,
        ) -> Result<Vec<(String, String)>, sqlx::Error> {
            let mut tx = sqlx::Connection::begin_with(&mut **conn, $begin).await?;
            durable_tx(&mut tx).await?;
            let mut inserted = Vec::with_capacity(rows.len());
            for chunk in rows.chunks(CHUNK) {
                let mut q: QueryBuilder<$db> = QueryBuilder::new(
                    "INSERT INTO webhook_inbox (source, delivery_id, received_at, headers, body, \
                     status, attempts, next_attempt_at) ",
                );
                q.push_values(chunk, |mut b, d| {
                    b.push_bind(&d.source)
                        .push_bind(&d.delivery_id)
                        .push_bind(d.received_at)
                        .push_bind(&d.headers)
                        .push_bind(&d.body)
                        .push_bind("pending")
                        .push_bind(0i64)
                        .push_bind(now);
                });
                q.push(
                    " ON CONFLICT (source, delivery_id) DO NOTHING RETURNING source, delivery_id",
                );
                for row in q.build().fetch_all(&mut *tx).await? {
                    inserted.push((row.try_get("source")?, row.try_get("delivery_id")?));
                }
            }
            tx.commit().await?;
            Ok(inserted)
        }

        /// Writes a delivery's records and marks it done in one durable transaction.
        pub(super) async fn complete_delivery(
            pool: &Pool<$db>,
            seq: i64,
            holder: &str,
            source: &str,
            batch: &Batch<'_>,
            now: DateTime<Utc>,
        ) -> Result<Option<u64>, sqlx::Error> {
            let mut conn = durable_conn(pool).await?;
            let result = complete_delivery_on(&mut conn, seq, holder, source, batch, now).await;
            restore(&mut conn).await;
            result
        }

        /// `None` when `holder` no longer holds the delivery's claim (it stalled past it and
        /// another worker took over): nothing is written.
        async fn complete_delivery_on(
            conn: &mut sqlx::pool::PoolConnection<$db>,
            seq: i64,
            holder: &str,
            source: &str,
            batch: &Batch<'_>,
            now: DateTime<Utc>,
        ) -> Result<Option<u64>, sqlx::Error> {
            let mut tx = sqlx::Connection::begin_with(&mut **conn, $begin).await?;
            durable_tx(&mut tx).await?;
            // First, so the claim's row is locked (PostgreSQL) before any record is written.
            let claimed = sqlx::query(
                "UPDATE webhook_inbox SET status = 'done', processed_at = $1, last_error = NULL \
                 WHERE delivery_seq = $2 AND status = 'processing' AND claimed_by = $3",
            )
            .bind(now)
            .bind(seq)
            .bind(holder)
            .execute(&mut *tx)
            .await?;
            if claimed.rows_affected() != 1 {
                tx.rollback().await?;
                return Ok(None);
            }
            let n = write_batch(&mut tx, source, batch, now).await?;
            tx.commit().await?;
            Ok(Some(n))
        }

        pub(super) async fn fail_delivery(
            pool: &Pool<$db>,
            seq: i64,
            holder: &str,
            attempts: i64,
            next_attempt_at: DateTime<Utc>,
            error: &str,
            dead: bool,
        ) -> Result<(), sqlx::Error> {
            sqlx::query(
                "UPDATE webhook_inbox SET attempts = $1, next_attempt_at = $2, last_error = $3, \
                 status = $4 WHERE delivery_seq = $5 AND status = 'processing' AND claimed_by = $6",
            )
            .bind(attempts)
            .bind(next_attempt_at)
            .bind(error)
            .bind(if dead { "dead" } else { "pending" })
            .bind(seq)
            .bind(holder)
            .execute(pool)
            .await?;
            Ok(())
        }

        /// Takes a due delivery for processing until `until`; `false` if another worker has it.
        pub(super) async fn claim_delivery(
            pool: &Pool<$db>,
            seq: i64,
            holder: &str,
            dead_holder: Option<&str>,
            now: DateTime<Utc>,
            until: DateTime<Utc>,
        ) -> Result<bool, sqlx::Error> {
            let done = sqlx::query(
                "UPDATE webhook_inbox SET status = 'processing', next_attempt_at = $1, \
                 claimed_by = $4 WHERE delivery_seq = $2 AND ( \
                 (status IN ('pending', 'processing') AND next_attempt_at <= $3) \
                 OR (status = 'processing' AND claimed_by = $5))",
            )
            .bind(until)
            .bind(seq)
            .bind(now)
            .bind(holder)
            .bind(dead_holder.unwrap_or(""))
            .execute(pool)
            .await?;
            Ok(done.rows_affected() == 1)
        }

        /// Forgets deliveries processed before `before` (their bodies may hold personal data).
        pub(super) async fn prune_deliveries(
            pool: &Pool<$db>,
            before: DateTime<Utc>,
        ) -> Result<u64, sqlx::Error> {
            Ok(
                sqlx::query("DELETE FROM webhook_inbox WHERE status = 'done' AND processed_at < $1")
                    .bind(before)
                    .execute(pool)
                    .await?
                    .rows_affected(),
            )
        }

        pub(super) async fn due_deliveries(
            pool: &Pool<$db>,
            now: DateTime<Utc>,
            limit: i64,
        ) -> Result<Vec<InboxRow>, sqlx::Error> {
            let rows = sqlx::query(
                "SELECT delivery_seq, source, delivery_id, body, attempts, status, last_error, \
                 claimed_by FROM webhook_inbox \
                 WHERE (status = 'pending' AND next_attempt_at <= $1) OR status = 'processing' \
                 ORDER BY CASE WHEN status = 'pending' THEN 0 ELSE 1 END, delivery_seq LIMIT $2",
            )
            .bind(now)
            .bind(limit)
            .fetch_all(pool)
            .await?;
            rows.iter().map(inbox_row).collect()
        }

        pub(super) async fn dead_deliveries(
            pool: &Pool<$db>,
            limit: i64,
        ) -> Result<Vec<InboxRow>, sqlx::Error> {
            let rows = sqlx::query(
                "SELECT delivery_seq, source, delivery_id, body, attempts, status, last_error, \
                 claimed_by FROM webhook_inbox WHERE status = 'dead' ORDER BY delivery_seq DESC LIMIT $1",
            )
            .bind(limit)
            .fetch_all(pool)
            .await?;
            rows.iter().map(inbox_row).collect()
        }

        pub(super) async fn delivery(
            pool: &Pool<$db>,
            seq: i64,
        ) -> Result<Option<InboxRow>, sqlx::Error> {
            let row = sqlx::query(
                "SELECT delivery_seq, source, delivery_id, body, attempts, status, last_error, \
                 claimed_by FROM webhook_inbox WHERE delivery_seq = $1",
            )
            .bind(seq)
            .fetch_optional(pool)
            .await?;
            row.as_ref().map(inbox_row).transpose()
        }

        /// Puts a delivery back in the queue, due now, with a fresh attempt count.
        pub(super) async fn requeue_delivery(
            pool: &Pool<$db>,
            seq: i64,
            now: DateTime<Utc>,
        ) -> Result<bool, sqlx::Error> {
            let done = sqlx::query(
                "UPDATE webhook_inbox SET status = 'pending', attempts = 0, next_attempt_at = $1 \
                 WHERE delivery_seq = $2",
            )
            .bind(now)
            .bind(seq)
            .execute(pool)
            .await?;
            Ok(done.rows_affected() == 1)
        }

        pub(super) async fn inbox_counts(
            pool: &Pool<$db>,
        ) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
            let rows = sqlx::query(
                "SELECT source, status, COUNT(*) AS n FROM webhook_inbox \
                 WHERE status <> 'done' GROUP BY source, status ORDER BY source, status",
            )
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| Ok((r.try_get("source")?, r.try_get("status")?, r.try_get("n")?)))
                .collect()
        }

        fn inbox_row(r: &<$db as sqlx::Database>::Row) -> Result<InboxRow, sqlx::Error> {
            Ok(InboxRow {
                seq: r.try_get("delivery_seq")?,
                source: r.try_get("source")?,
                delivery_id: r.try_get("delivery_id")?,
                body: r.try_get("body")?,
                attempts: r.try_get("attempts")?,
                status: r.try_get("status")?,
                last_error: r.try_get("last_error")?,
                claimed_by: r.try_get("claimed_by")?,
            })
        }

        pub(super) async fn count_rows(pool: &Pool<$db>, table: &str) -> Result<i64, sqlx::Error> {
            // `table` comes from the fixed list in `Store::table_counts`, never from input.
            sqlx::query(&format!("SELECT COUNT(*) AS n FROM {table}"))
                .fetch_one(pool)
                .await?
                .try_get("n")
        }
    };
}

pub(super) use define_queries;
