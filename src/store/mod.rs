//! The store: every normalised table, sync cursors and run history, on SQLite (embedded default)
//! or PostgreSQL (production), chosen by the URL scheme.
//!
//! The one rule this module exists to keep: **a page of records and its cursor commit in one
//! transaction**. A crash between pages costs one re-fetched page; upserts are idempotent and
//! never let an older version of a row overwrite a newer one, so re-fetching doubles nothing.
//!
//! SQL is written once in [`queries`] and instantiated for both backends; migrations live in
//! `migrations/sqlite` and `migrations/postgres` with the same file names and are embedded in the
//! binary.
//!
//! Tables so far (every vendor row keeps `source`, the vendor's id, `raw` and `synced_at`):
//! - `ticket`: help-desk requests. People are kept as the vendor's user ids
//!   (`requester_id`, `assignee_id`) and resolved through `person_identity` when figures are
//!   computed, so re-matching people (e-mail, `people.toml`) never rewrites tickets.
//! - `ticket_metric`: reply and resolution times per ticket, calendar and business minutes. A
//!   table of its own because Zendesk delivers metrics separately from tickets (sideloaded or
//!   listed), and either may arrive first.
//! - `person_identity` (one account in one tool) → `person` (one human across tools): identities
//!   sharing a lower-cased e-mail are one person (`email:<address>`); others are their own.
//! - `work_group`: groups of agents inside a tool (Zendesk groups); teams come from config.
//! - `lead`: CRM leads and deals, keyed by (source, entity, lead_id). amoCRM has one object
//!   (`entity` = `lead`); Zoho CRM keeps Leads and Deals apart, so they are two rows and a
//!   converted lead names its deal in `converted_deal_id`. Money is NUMERIC on PostgreSQL and the
//!   decimal's exact text on SQLite (whose NUMERIC would round through a double). Deletions set
//!   `deleted_at` (the earliest the vendor reports) and stay in force against any version of the
//!   lead not newer than the deletion.
//! - `pipeline_stage`: sales pipeline stages with their won/lost/open category.
//! - `task`: tracker work items (Jira issues, Trello cards) with status category, assignee
//!   (a vendor user id, resolved through `person_identity`), started and done times; deletions
//!   are marked like leads'.
//! - `oauth_token`: the OAuth pair of each instance and its refresh claim (see
//!   `okno_connector::oauth`); written durably, since the vendor may already have revoked the
//!   refresh token it replaces.
//! - `sync_state` (the cursor per source and stream) and `sync_run` (one row per run).
//! - `budget_line` (imported budget lines) and `budget_alert_sent` (alerts a webhook got, one
//!   per line, kind and day): see src/store/budget.rs.
//! - `sync_lease`: who syncs an instance, until when, and the claim's `epoch`; page commits
//!   carrying a [`Fence`] write only while their (holder, epoch) still owns the lease.

mod budget;
mod queries;
mod tokens;

pub use budget::{AccountCampaign, AccountSpendDay, BudgetLinesWritten, StoredBudgetLine};

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use okno_connector::{
    AdAccount, AdSpend, Campaign, ClickId, Cursor, Deleted, FxRate, Group, Identity, Lead, Record,
    SpendWindow, Stage, Task, Ticket, TicketMetrics,
};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

// Pages of vendor records may lose their last commits on power loss (data and cursor together,
// so the next run re-fetches them): SQLite runs WAL with synchronous=NORMAL, and PostgreSQL page
// transactions skip the commit flush. Writes that acknowledge something to the outside (webhook
// deliveries, OAuth tokens) must use fully durable transactions instead.
mod sqlite_q {
    super::queries::define_queries!(
        sqlx::Sqlite,
        "BEGIN IMMEDIATE",
        None,
        "",
        // Decimals are kept as their exact text; SQLite's NUMERIC would round them to doubles.
        "",
        // Row comparison that treats NULLs as values.
        "IS NOT",
        Some(("PRAGMA synchronous = FULL", "PRAGMA synchronous = NORMAL")),
        None
    );
}
mod pg_q {
    super::queries::define_queries!(
        sqlx::Postgres,
        "BEGIN",
        Some("SET LOCAL synchronous_commit = off"),
        // `raw` is sent as text and kept as `json`: the vendor's bytes exactly, validated but
        // not converted, which is what replay needs and a third of the server's insert work.
        "::json",
        "::numeric",
        "IS DISTINCT FROM",
        None,
        // Acknowledging writes flush their commit even where the server default does not.
        Some("SET LOCAL synchronous_commit = on")
    );
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// Store failures. The URL in messages has its password removed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store URL {url} is not understood: {reason} (hint: use sqlite://data/okno.db or postgres://user@host/db)")]
    BadUrl { url: String, reason: String },
    #[error("cannot open the store at {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot create the directory {path} for the SQLite store: {source}")]
    CreateDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("applying migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("store query failed: {0}")]
    Query(#[from] sqlx::Error),
    #[error("injected failure between the records and the cursor (test fault point)")]
    Injected,
    #[error("{instance} is now leased by another process (this run held epoch {epoch}); nothing was written")]
    Fenced { instance: String, epoch: i64 },
    #[error("{what} is out of the range the store keeps (±9.2 trillion); nothing was written")]
    OutOfRange { what: String },
}

/// An amount in millionths of its unit, rounded half away from zero: exact for every
/// platform's precision (micros at most), and summable as integers in SQL on SQLite too.
/// `None` beyond ±9.2 × 10¹² units.
pub fn micros(d: okno_connector::rust_decimal::Decimal) -> Option<i64> {
    use okno_connector::rust_decimal::prelude::ToPrimitive;
    use okno_connector::rust_decimal::{Decimal, RoundingStrategy};
    d.checked_mul(Decimal::from(1_000_000))?
        .round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero)
        .to_i64()
}

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Proof that a writer holds an instance's lease: the holder and the epoch of its claim. Page
/// commits carrying one write only while it still owns the lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub source: String,
    pub holder: String,
    pub epoch: i64,
}

/// Fault points for crash-safety tests; inert unless a test arms them.
#[derive(Debug, Default)]
pub struct Faults {
    fail_before_cursor: AtomicBool,
    failing_token_saves: std::sync::atomic::AtomicU32,
}

impl Faults {
    /// Makes the next page commit fail after its records were written and before its cursor.
    pub fn fail_next_commit_before_cursor(&self) {
        self.fail_before_cursor.store(true, Ordering::SeqCst);
    }

    /// Makes the next `n` OAuth token saves fail, as if the store went away between the
    /// vendor's answer and the durable write.
    pub fn fail_token_saves(&self, n: u32) {
        self.failing_token_saves.store(n, Ordering::SeqCst);
    }

    fn token_save_fails(&self) -> bool {
        self.failing_token_saves
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }
}

/// Accounts `people.toml` assigns to a person: (source, user id) → person id.
type Assignments = HashMap<(String, String), String>;

/// The store. Cheap to clone (pools are shared).
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    url: String,
    faults: Arc<Faults>,
    /// Accounts assigned to a person by `people.toml`: (source, user id) → person id.
    people: Arc<std::sync::RwLock<Arc<Assignments>>>,
    /// Instance lease lifetime (`[store] lease_ttl_secs`), in milliseconds.
    lease_ttl_ms: Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("url", &self.url).finish()
    }
}

/// Outcome of a sync run, as stored in `sync_run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Running,
    Succeeded,
    Failed,
    /// Stopped by shutdown between pages; the committed cursor is valid.
    Cancelled,
    Interrupted,
}

impl RunStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
            RunStatus::Interrupted => "interrupted",
        }
    }
}

#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub pages: u64,
    pub records: u64,
    pub status: RunStatus,
    pub error: Option<String>,
    /// The vendor's quota is spent until then: the scheduler runs nothing of the instance before.
    pub resume_at: Option<DateTime<Utc>>,
}

/// The latest run of one stream.
#[derive(Debug, Clone)]
pub struct RunRow {
    pub run_id: i64,
    pub source: String,
    pub stream: String,
    pub trigger: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub pages: i64,
    pub records: i64,
    pub status: String,
    pub error: Option<String>,
    pub resume_at: Option<DateTime<Utc>>,
}

/// A webhook delivery to store.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub source: String,
    pub delivery_id: String,
    pub received_at: DateTime<Utc>,
    /// Allow-listed headers, as a JSON object.
    pub headers: String,
    pub body: Vec<u8>,
}

/// A stored webhook delivery.
#[derive(Debug, Clone)]
pub struct InboxRow {
    pub seq: i64,
    pub source: String,
    pub delivery_id: String,
    pub body: Vec<u8>,
    pub attempts: i64,
    pub status: String,
    pub last_error: Option<String>,
    /// The worker holding it while `processing`.
    pub claimed_by: Option<String>,
}

/// A stored ticket's main columns (for `okno` commands and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTicket {
    pub ticket_id: String,
    pub subject: Option<String>,
    pub status: String,
    pub assignee_id: Option<String>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// A lead as stored, money as exact decimal text (for tests, `status` and reports).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredLead {
    pub entity: String,
    pub lead_id: String,
    pub name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub pipeline_id: Option<String>,
    pub stage_id: Option<String>,
    pub stage_name: Option<String>,
    pub stage_category: String,
    pub amount: Option<String>,
    pub discount: Option<String>,
    pub currency: Option<String>,
    pub exchange_rate: Option<String>,
    pub closed_at: Option<DateTime<Utc>>,
    pub owner_id: Option<String>,
    pub lead_source: Option<String>,
    /// utm_source, utm_medium, utm_campaign, utm_content, utm_term.
    pub utm: [Option<String>; 5],
    /// gclid, yclid, fbclid.
    pub click_ids: [Option<String>; 3],
    pub product: Option<String>,
    pub segment: Option<String>,
    pub region: Option<String>,
    pub converted_deal_id: Option<String>,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// A task as stored (for tests, `status` and reports).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTask {
    pub task_id: String,
    pub key: Option<String>,
    pub title: String,
    pub assignee_id: Option<String>,
    pub status: String,
    pub status_category: String,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub done_at: Option<DateTime<Utc>>,
    pub campaign: Option<String>,
    /// Exact decimal text.
    pub estimate: Option<String>,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// A day of a campaign's spend as stored (for tests, `status` and reports).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSpend {
    pub account_id: String,
    pub date: NaiveDate,
    pub campaign_id: String,
    /// Exact decimal text.
    pub cost: String,
    pub cost_micros: i64,
    pub currency: String,
    pub vat_included: Option<bool>,
    pub impressions: Option<i64>,
    pub clicks: Option<i64>,
    pub conversions: Option<String>,
    pub restated_at: Option<DateTime<Utc>>,
    pub previous_cost: Option<String>,
}

/// An ad account and how far its spend has been pulled (for `okno status`).
#[derive(Debug, Clone, PartialEq)]
pub struct AccountState {
    pub source: String,
    pub account_id: String,
    pub name: Option<String>,
    pub currency: String,
    pub time_zone: String,
    pub provisional_from: Option<NaiveDate>,
    pub pulled_through: Option<NaiveDate>,
    pub pulled_at: Option<DateTime<Utc>>,
    /// Rows a pull changed since `since` (restated by the platform).
    pub restated_rows: i64,
}

/// One counted lead as figures see it (a `lead_fact` row; see migrations/*/0008).
#[derive(Debug, Clone, PartialEq)]
pub struct LeadFact {
    pub entity: String,
    pub lead_id: String,
    /// In the reporting time zone.
    pub created_day: NaiveDate,
    pub won_day: Option<NaiveDate>,
    /// Won amount minus discount, in `currency`.
    pub revenue: Option<okno_connector::rust_decimal::Decimal>,
    pub revenue_micros: Option<i64>,
    pub currency: Option<String>,
    pub campaign_source: Option<String>,
    pub campaign_id: Option<String>,
    pub channel: Option<String>,
    pub via: Option<String>,
    /// Why the lead is unattributed.
    pub reason: Option<String>,
    pub product: Option<String>,
    pub segment: Option<String>,
    pub region: Option<String>,
    pub owner_id: Option<String>,
}

/// A lead attribution placed nowhere, with why: as the lead facts store the reason (text), or
/// as attribution gives it (`figures::Unmatched`, the typed reason).
#[derive(Debug, Clone, PartialEq)]
pub struct UnattributedLead<R = String> {
    pub source: String,
    pub entity: String,
    pub lead_id: String,
    pub name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub utm_source: Option<String>,
    pub utm_medium: Option<String>,
    pub utm_campaign: Option<String>,
    pub reason: R,
}

/// How an export's night ended.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExportOutcome {
    pub files: i64,
    pub rows: i64,
    pub manifest_sha256: Option<String>,
    /// Why it failed; `None` when every file was written.
    pub error: Option<String>,
}

/// One recorded night of an export.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportRun {
    pub name: String,
    pub night: NaiveDate,
    /// running, done or failed.
    pub status: String,
    /// schedule, catch_up or manual.
    pub trigger: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub files: i64,
    pub rows: i64,
    pub error: Option<String>,
}

/// What spend sums are joined with: each campaign's channel and each account's first
/// provisional day.
#[derive(Debug, Default)]
pub(crate) struct SpendContext {
    /// (source, account_id, campaign_id) → channel.
    channels: HashMap<(String, String, String), String>,
    /// (source, account_id) → provisional_from.
    provisional_from: HashMap<(String, String), NaiveDate>,
}

impl SpendContext {
    /// A campaign's channel; a campaign not (yet) known counts under its source.
    fn channel(&self, key: &(String, String, String)) -> String {
        self.channels
            .get(key)
            .cloned()
            .unwrap_or_else(|| key.0.clone())
    }

    /// Whether a sum whose last day is `max_day` holds provisional days.
    fn provisional(&self, source: &str, account: &str, max_day: NaiveDate) -> bool {
        self.provisional_from
            .get(&(source.to_string(), account.to_string()))
            .is_some_and(|p| max_day >= *p)
    }
}

/// How [`Store::spend_sums`] and [`Store::lead_sums`] sum a range of days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sums {
    /// Whole months, read from the monthly aggregates: `from` and `to` must be the first and
    /// last days of months.
    WholeMonths,
    /// Per day, from the daily rows.
    Days,
    /// Per calendar month, from the daily rows: part of a month, where the report's buckets
    /// are months or longer (a month to date sums to a row per campaign, not one per day).
    Months,
}

impl Sums {
    /// How many characters of an ISO day label a sum: `YYYY-MM-DD` or `YYYY-MM`.
    fn label_len(self) -> i32 {
        match self {
            Sums::Days => 10,
            Sums::WholeMonths | Sums::Months => 7,
        }
    }
}

/// Spend of one campaign per day or month (`bucket`: `YYYY-MM-DD` or `YYYY-MM`), summed in SQL
/// for the ROI report.
#[derive(Debug, Clone, PartialEq)]
pub struct SpendSum {
    pub source: String,
    pub campaign_id: String,
    pub channel: String,
    pub bucket: String,
    /// The day whose exchange rate (and VAT rate) applies, when the amount needs either.
    pub day: Option<NaiveDate>,
    pub currency: String,
    /// The platform's cost included VAT (Yandex `IncludeVAT`).
    pub vat_included: bool,
    pub provisional: bool,
    pub micros: i64,
    pub impressions: i64,
    pub clicks: i64,
}

/// Leads of one attribution and product/segment/region per day or month: created there, won
/// there (with revenue), and created there and won by now (the cohort, with revenue).
#[derive(Debug, Clone, PartialEq)]
pub struct LeadSum {
    pub campaign_source: Option<String>,
    pub campaign_id: Option<String>,
    pub channel: Option<String>,
    pub product: Option<String>,
    pub segment: Option<String>,
    pub region: Option<String>,
    /// `YYYY-MM-DD` or `YYYY-MM`.
    pub bucket: String,
    /// The won day, when the revenue is in another currency than the reporting one.
    pub fx_day: Option<NaiveDate>,
    /// The revenue's currency; `None`: the reporting currency.
    pub currency: Option<String>,
    pub leads: i64,
    pub won: i64,
    pub won_micros: i64,
    pub cohort: i64,
    pub cohort_micros: i64,
}

/// The key of one `lead_month` row (migrations/*/0009); `""` stands for none, and `fx_day` and
/// `currency` are `""` for revenue in the reporting currency the facts were built for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LeadMonthKey {
    pub month: String,
    pub campaign_source: String,
    pub campaign_id: String,
    pub channel: String,
    pub product: String,
    pub segment: String,
    pub region: String,
    pub fx_day: String,
    pub currency: String,
}

/// The counts of one `lead_month` row: leads created, won, won revenue in millionths, cohort
/// (created and won by now), cohort revenue in millionths.
pub type LeadMonthCounts = [i64; 5];

/// Which leads `select_leads` reads.
pub(crate) enum LeadFilter<'a> {
    All,
    SyncedSince(DateTime<Utc>),
    /// (entity, lead_id).
    Keys(&'a [(String, String)]),
    /// Leads whose `converted_deal_id` is one of these.
    ConvertedInto(&'a [String]),
}

/// What a source's lead facts were built from (`fact_state`).
#[derive(Debug, Clone, PartialEq)]
pub struct FactState {
    /// Rules, zone, currency, campaigns and click ids.
    pub fingerprint: String,
    /// The source's lead change counter (`table_version`).
    pub leads_state: Option<String>,
    /// When the build began reading leads: leads synced since then are the changed ones.
    pub leads_since: Option<DateTime<Utc>>,
}

/// A campaign as stored: (account_id, campaign_id, name, status, channel).
pub type StoredCampaign = (String, String, String, Option<String>, String);

/// An exchange rate as stored: (date, currency, base, exact rate text, origin).
pub type StoredRate = (NaiveDate, String, String, String, String);

/// What `okno status` shows of an instance's OAuth tokens (never the tokens).
#[derive(Debug, Clone)]
pub struct TokenState {
    pub source: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub version: i64,
    pub updated_at: DateTime<Utc>,
    pub can_refresh: bool,
}

/// Who a ticket or task is assigned to: the vendor account, and its person and name where
/// `person_identity` knows the account (people figures).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignee {
    pub source: String,
    pub user_id: String,
    pub person_id: Option<String>,
    /// The person's display name, else the account's own name.
    pub name: Option<String>,
}

/// A ticket solved (or closed) with its times, for people figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SolvedTicket {
    pub assignee: Assignee,
    pub ticket_id: String,
    pub solved_at: DateTime<Utc>,
    pub reply_minutes_calendar: Option<i64>,
    pub reply_minutes_business: Option<i64>,
    pub resolution_minutes_calendar: Option<i64>,
    pub resolution_minutes_business: Option<i64>,
}

/// A task done, for people figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoneTask {
    pub assignee: Assignee,
    pub task_id: String,
    pub created_at: DateTime<Utc>,
    pub done_at: DateTime<Utc>,
}

/// Work assigned to one account now: unsolved tickets and tasks in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenWork {
    pub assignee: Assignee,
    pub tickets: i64,
    pub tasks: i64,
}

/// Where one stream's cursor stands.
#[derive(Debug, Clone)]
pub struct StateRow {
    pub source: String,
    pub stream: String,
    pub has_cursor: bool,
    pub updated_at: DateTime<Utc>,
}

/// One page's records grouped by table, deduplicated on their keys (the newest version wins),
/// because one multi-row upsert may not touch the same row twice.
pub(crate) struct Batch<'a> {
    tickets: Vec<&'a Ticket>,
    metrics: Vec<&'a TicketMetrics>,
    identities: Vec<(&'a Identity, String)>,
    people: Vec<(String, Option<&'a str>, Option<&'a str>)>,
    groups: Vec<&'a Group>,
    leads: Vec<&'a Lead>,
    stages: Vec<&'a Stage>,
    tasks: Vec<&'a Task>,
    /// Applied after the upserts, so a page holding a lead and its deletion ends deleted.
    deletions: Vec<&'a Deleted>,
    accounts: Vec<&'a AdAccount>,
    campaigns: Vec<&'a Campaign>,
    spend: Vec<&'a AdSpend>,
    clicks: Vec<&'a ClickId>,
    /// Applied after the spend rows: rows of these days the page did not repeat are zeroed.
    windows: Vec<&'a SpendWindow>,
    rates: Vec<&'a FxRate>,
}

/// An OAuth token row as stored (secrets in clear text: the store is a credential store too).
pub(crate) struct TokenRow {
    access_token: String,
    refresh_token: Option<String>,
    expires_at: Option<DateTime<Utc>>,
    api_domain: Option<String>,
    version: i64,
}

fn newest<'a, T, K: std::hash::Hash + Eq>(
    items: impl Iterator<Item = &'a T>,
    key: impl Fn(&T) -> K,
    updated: impl Fn(&T) -> DateTime<Utc>,
) -> Vec<&'a T>
where
    T: 'a,
{
    let mut index: HashMap<K, usize> = HashMap::new();
    let mut out: Vec<&T> = Vec::new();
    for item in items {
        match index.get(&key(item)) {
            Some(&i) => {
                if updated(item) >= updated(out[i]) {
                    out[i] = item;
                }
            }
            None => {
                index.insert(key(item), out.len());
                out.push(item);
            }
        }
    }
    out
}

/// The person an identity belongs to: the one `people.toml` assigns it to, else one per e-mail
/// across tools, else one per account.
pub fn person_id(
    source: &str,
    identity: &Identity,
    assigned: &HashMap<(String, String), String>,
) -> String {
    if let Some(p) = assigned.get(&(source.to_string(), identity.user_id.clone())) {
        return p.clone();
    }
    match &identity.email {
        Some(email) => format!("email:{email}"),
        None => format!("{source}:{}", identity.user_id),
    }
}

impl<'a> Batch<'a> {
    fn new(
        source: &str,
        records: &'a [Record],
        assigned: &HashMap<(String, String), String>,
    ) -> Batch<'a> {
        let tickets = newest(
            records.iter().filter_map(|r| match r {
                Record::Ticket(t) => Some(t),
                _ => None,
            }),
            |t| t.ticket_id.clone(),
            |t| t.updated_at,
        );
        let metrics = newest(
            records.iter().filter_map(|r| match r {
                Record::TicketMetrics(m) => Some(m),
                _ => None,
            }),
            |m| m.ticket_id.clone(),
            |m| m.updated_at,
        );
        let identities: Vec<(&Identity, String)> = newest(
            records.iter().filter_map(|r| match r {
                Record::Identity(i) => Some(i),
                _ => None,
            }),
            |i| i.user_id.clone(),
            |i| i.updated_at,
        )
        .into_iter()
        .map(|i| (i, person_id(source, i, assigned)))
        .collect();
        let mut seen = std::collections::HashSet::new();
        let people = identities
            .iter()
            .filter(|(_, pid)| seen.insert(pid.clone()))
            .map(|(i, pid)| (pid.clone(), i.name.as_deref(), i.email.as_deref()))
            .collect();
        let groups = newest(
            records.iter().filter_map(|r| match r {
                Record::Group(g) => Some(g),
                _ => None,
            }),
            |g| g.group_id.clone(),
            |g| g.updated_at,
        );
        let leads = newest(
            records.iter().filter_map(|r| match r {
                Record::Lead(l) => Some(&**l),
                _ => None,
            }),
            |l| (l.entity, l.lead_id.clone()),
            |l| l.updated_at,
        );
        // Stages have no modification time: the last one in the page wins.
        let stages = newest(
            records.iter().filter_map(|r| match r {
                Record::Stage(s) => Some(s),
                _ => None,
            }),
            |s| (s.pipeline_id.clone(), s.stage_id.clone()),
            |_| DateTime::<Utc>::MIN_UTC,
        );
        let tasks = newest(
            records.iter().filter_map(|r| match r {
                Record::Task(t) => Some(&**t),
                _ => None,
            }),
            |t| t.task_id.clone(),
            |t| t.updated_at,
        );
        let deletions = records
            .iter()
            .filter_map(|r| match r {
                Record::Deleted(d) => Some(d),
                _ => None,
            })
            .collect();
        // Ad rows have no modification time: the last one in the page wins.
        let accounts = newest(
            records.iter().filter_map(Record::as_ad_account),
            |a| a.account_id.clone(),
            |_| DateTime::<Utc>::MIN_UTC,
        );
        let campaigns = newest(
            records.iter().filter_map(Record::as_campaign),
            |c| (c.account_id.clone(), c.campaign_id.clone()),
            |_| DateTime::<Utc>::MIN_UTC,
        );
        let spend = newest(
            records.iter().filter_map(Record::as_ad_spend),
            |s| (s.account_id.clone(), s.date, s.campaign_id.clone()),
            |_| DateTime::<Utc>::MIN_UTC,
        );
        let clicks = newest(
            records.iter().filter_map(Record::as_click_id),
            |c| c.click_id.clone(),
            |_| DateTime::<Utc>::MIN_UTC,
        );
        let windows = records.iter().filter_map(Record::as_spend_window).collect();
        let rates = newest(
            records.iter().filter_map(Record::as_fx_rate),
            |f| (f.date, f.currency, f.base),
            |_| DateTime::<Utc>::MIN_UTC,
        );
        let mut batch = Batch {
            tickets,
            metrics,
            identities,
            people,
            groups,
            leads,
            stages,
            tasks,
            deletions,
            accounts,
            campaigns,
            spend,
            clicks,
            windows,
            rates,
        };
        // Rows are written in key order, so two transactions touching the same rows (two
        // instances sharing people, on PostgreSQL) lock them in the same order and cannot deadlock.
        batch
            .tickets
            .sort_unstable_by(|a, b| a.ticket_id.cmp(&b.ticket_id));
        batch
            .metrics
            .sort_unstable_by(|a, b| a.ticket_id.cmp(&b.ticket_id));
        batch
            .identities
            .sort_unstable_by(|a, b| a.0.user_id.cmp(&b.0.user_id));
        batch.people.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        batch
            .groups
            .sort_unstable_by(|a, b| a.group_id.cmp(&b.group_id));
        batch.leads.sort_unstable_by(|a, b| {
            (a.entity.as_str(), &a.lead_id).cmp(&(b.entity.as_str(), &b.lead_id))
        });
        batch.stages.sort_unstable_by(|a, b| {
            (&a.pipeline_id, &a.stage_id).cmp(&(&b.pipeline_id, &b.stage_id))
        });
        batch
            .tasks
            .sort_unstable_by(|a, b| a.task_id.cmp(&b.task_id));
        batch
            .accounts
            .sort_unstable_by(|a, b| a.account_id.cmp(&b.account_id));
        batch.campaigns.sort_unstable_by(|a, b| {
            (&a.account_id, &a.campaign_id).cmp(&(&b.account_id, &b.campaign_id))
        });
        batch.spend.sort_unstable_by(|a, b| {
            (&a.account_id, a.date, &a.campaign_id).cmp(&(&b.account_id, b.date, &b.campaign_id))
        });
        batch
            .clicks
            .sort_unstable_by(|a, b| a.click_id.cmp(&b.click_id));
        batch.rates.sort_unstable_by(|a, b| {
            (a.date, a.currency, a.base).cmp(&(b.date, b.currency, b.base))
        });
        batch
    }

    fn len(&self) -> usize {
        self.tickets.len()
            + self.metrics.len()
            + self.identities.len()
            + self.groups.len()
            + self.leads.len()
            + self.stages.len()
            + self.tasks.len()
            + self.deletions.len()
            + self.accounts.len()
            + self.campaigns.len()
            + self.spend.len()
            + self.clicks.len()
            + self.windows.len()
            + self.rates.len()
    }
}

/// A store URL fit to show: the password (in the authority or a `password=` parameter) is
/// replaced by `***`, also when the URL does not parse (an unescaped `#` or `@` in a password).
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (s, r),
        None => return url.to_string(),
    };
    // The authority ends at the first '/' after the last '@' (a password may contain '/').
    let shown_rest = match rest.rfind('@') {
        Some(at) => {
            let userinfo = &rest[..at];
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            if userinfo.contains(':') {
                format!("{user}:***{}", &rest[at..])
            } else {
                rest.to_string()
            }
        }
        None => rest.to_string(),
    };
    let shown = format!("{scheme}://{shown_rest}");
    match shown.split_once('?') {
        Some((base, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => kv.to_string(),
                })
                .collect();
            format!("{base}?{}", query.join("&"))
        }
        None => shown,
    }
}

/// Tables `okno status` and the quick start count.
pub const COUNTED_TABLES: &[&str] = &[
    "ticket",
    "ticket_metric",
    "person",
    "person_identity",
    "work_group",
    "lead",
    "pipeline_stage",
    "task",
    "ad_account",
    "campaign",
    "ad_spend_daily",
    "click_id",
    "fx_rate",
];

impl Store {
    /// Opens the store at `url`: `sqlite://path` (created with its directory if missing) or
    /// `postgres://...`. Does not migrate; call [`Store::migrate`].
    pub async fn connect(url: &str, max_connections: u32) -> Result<Store, StoreError> {
        let shown = redact_url(url);
        let pool = if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url).map_err(|e| StoreError::BadUrl {
                url: shown.clone(),
                reason: e.to_string(),
            })?;
            let file = opts.get_filename().to_path_buf();
            if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                    path: dir.display().to_string(),
                    source,
                })?;
            }
            Pool::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(max_connections.max(1))
                    .connect_with(sqlite_options(opts))
                    .await
                    .map_err(|source| StoreError::Connect {
                        url: shown.clone(),
                        source,
                    })?,
            )
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let opts = PgConnectOptions::from_str(url).map_err(|e| StoreError::BadUrl {
                url: shown.clone(),
                reason: e.to_string(),
            })?;
            Self::pg_pool(opts, max_connections, &shown).await?
        } else {
            return Err(StoreError::BadUrl {
                url: shown,
                reason: "the scheme must be sqlite: or postgres:".into(),
            });
        };
        Ok(Store {
            pool,
            url: shown,
            faults: Arc::default(),
            people: Arc::default(),
            lease_ttl_ms: Arc::new(std::sync::atomic::AtomicU64::new(
                crate::sync::LEASE_TTL.as_millis() as u64,
            )),
        })
    }

    /// Opens a PostgreSQL store from options (tests use this to pick a schema per test).
    pub async fn connect_postgres(
        opts: PgConnectOptions,
        max_connections: u32,
    ) -> Result<Store, StoreError> {
        let shown = format!(
            "postgres://{}:{}/{}",
            opts.get_host(),
            opts.get_port(),
            opts.get_database().unwrap_or("")
        );
        let pool = Self::pg_pool(opts, max_connections, &shown).await?;
        Ok(Store {
            pool,
            url: shown,
            faults: Arc::default(),
            people: Arc::default(),
            lease_ttl_ms: Arc::new(std::sync::atomic::AtomicU64::new(
                crate::sync::LEASE_TTL.as_millis() as u64,
            )),
        })
    }

    async fn pg_pool(
        opts: PgConnectOptions,
        max_connections: u32,
        shown: &str,
    ) -> Result<Pool, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(2))
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await
            .map_err(|source| StoreError::Connect {
                url: shown.to_string(),
                source,
            })?;
        Ok(Pool::Postgres(pool))
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// The database file of a SQLite store (`None` on PostgreSQL or in memory).
    pub fn sqlite_file(&self) -> Option<std::path::PathBuf> {
        match &self.pool {
            Pool::Sqlite(p) => {
                let file = p.connect_options().get_filename().to_path_buf();
                (!file.as_os_str().is_empty() && file != std::path::Path::new(":memory:"))
                    .then_some(file)
            }
            Pool::Postgres(_) => None,
        }
    }

    /// The accounts `people.toml` assigns, as of the last [`Store::apply_people`].
    fn assigned(&self) -> Arc<Assignments> {
        self.people
            .read()
            .map(|m| Arc::clone(&m))
            .unwrap_or_default()
    }

    /// How long instance leases last without renewal.
    pub fn lease_ttl(&self) -> Duration {
        Duration::from_millis(self.lease_ttl_ms.load(Ordering::Relaxed))
    }

    pub fn set_lease_ttl(&self, ttl: Duration) {
        self.lease_ttl_ms
            .store(ttl.as_millis() as u64, Ordering::Relaxed);
    }

    /// The URL with any password removed, for messages.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Applies pending migrations of this backend's folder.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &self.pool {
            Pool::Sqlite(p) => SQLITE_MIGRATIONS.run(p).await?,
            Pool::Postgres(p) => POSTGRES_MIGRATIONS.run(p).await?,
        }
        Ok(())
    }

    /// Whether every migration this binary knows is applied (for readiness).
    pub async fn migrations_current(&self) -> Result<bool, StoreError> {
        let (applied, known): (i64, usize) = match &self.pool {
            Pool::Sqlite(p) => (
                sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
                    .fetch_one(p)
                    .await?,
                SQLITE_MIGRATIONS.iter().count(),
            ),
            Pool::Postgres(p) => (
                sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
                    .fetch_one(p)
                    .await?,
                POSTGRES_MIGRATIONS.iter().count(),
            ),
        };
        Ok(applied as usize == known)
    }

    /// Writes a page of records and the stream's new cursor in one transaction. Returns the
    /// number of rows inserted or changed (an unchanged or older record changes nothing).
    pub async fn commit_page(
        &self,
        source: &str,
        stream: &str,
        records: &[Record],
        cursor: Option<&Cursor>,
    ) -> Result<u64, StoreError> {
        self.commit_page_fenced(source, stream, records, cursor, None)
            .await
    }

    /// [`Store::commit_page`] for a writer holding a lease: the transaction first proves
    /// `fence` still owns it (and on PostgreSQL locks the lease row until commit), so a
    /// process that stalled past its lease and was replaced writes nothing.
    pub async fn commit_page_fenced(
        &self,
        source: &str,
        stream: &str,
        records: &[Record],
        cursor: Option<&Cursor>,
        fence: Option<&Fence>,
    ) -> Result<u64, StoreError> {
        self.write(source, Some((stream, cursor)), records, fence)
            .await
    }

    /// Writes records that no stream produced (a CSV import) in one transaction, without a
    /// cursor. Returns the rows inserted or changed.
    pub async fn import_records(
        &self,
        source: &str,
        records: &[Record],
    ) -> Result<u64, StoreError> {
        self.write(source, None, records, None).await
    }

    /// One transaction: the fence check, the records, and the stream's cursor when given.
    async fn write(
        &self,
        source: &str,
        cursor_of: Option<(&str, Option<&Cursor>)>,
        records: &[Record],
        fence: Option<&Fence>,
    ) -> Result<u64, StoreError> {
        let stream = cursor_of.map_or("", |(s, _)| s);
        let fenced = |f: &Fence| StoreError::Fenced {
            instance: f.source.clone(),
            epoch: f.epoch,
        };
        let assigned = self.assigned();
        let batch = Batch::new(source, records, &assigned);
        if let Some(s) = batch.spend.iter().find(|s| micros(s.cost).is_none()) {
            return Err(StoreError::OutOfRange {
                what: format!(
                    "the cost {} of campaign {} on {}",
                    s.cost, s.campaign_id, s.date
                ),
            });
        }
        let now = Utc::now();
        let fail = self.faults.fail_before_cursor.swap(false, Ordering::SeqCst);
        let written = match &self.pool {
            Pool::Sqlite(p) => {
                let mut tx = sqlite_q::begin_page(p).await?;
                if let Some(f) = fence {
                    if !sqlite_q::check_fence(&mut tx, f).await? {
                        return Err(fenced(f));
                    }
                }
                let n = sqlite_q::write_batch(&mut tx, source, &batch, now).await?;
                if fail {
                    return Err(StoreError::Injected);
                }
                if let Some((stream, cursor)) = cursor_of {
                    sqlite_q::write_cursor(&mut tx, source, stream, cursor, now).await?;
                }
                tx.commit().await?;
                n
            }
            Pool::Postgres(p) => {
                let mut tx = pg_q::begin_page(p).await?;
                if let Some(f) = fence {
                    // The fence locks the lease row until commit. A writer that stalls inside
                    // this transaction (SIGSTOP, a cut network) must not hold that lock, and so
                    // the instance, forever: the server ends such a session after one lease
                    // lifetime, rolling its writes back, and the takeover proceeds.
                    sqlx::query(
                        "SELECT set_config('idle_in_transaction_session_timeout', $1, true)",
                    )
                    .bind(format!("{}ms", self.lease_ttl().as_millis()))
                    .execute(&mut *tx)
                    .await?;
                    if !pg_q::check_fence(&mut tx, f).await? {
                        return Err(fenced(f));
                    }
                }
                let n = pg_q::write_batch(&mut tx, source, &batch, now).await?;
                if fail {
                    return Err(StoreError::Injected);
                }
                if let Some((stream, cursor)) = cursor_of {
                    pg_q::write_cursor(&mut tx, source, stream, cursor, now).await?;
                }
                tx.commit().await?;
                n
            }
        };
        tracing::trace!(
            source,
            stream,
            records = batch.len(),
            written,
            "page committed"
        );
        Ok(written)
    }

    /// Stores webhook deliveries durably (flushed to disk) in one transaction, before anything
    /// is acknowledged. Returns, per delivery, whether it was new; a delivery seen before (same
    /// source and delivery id) is not stored again.
    pub async fn insert_deliveries(&self, rows: &[NewDelivery]) -> Result<Vec<bool>, StoreError> {
        let now = Utc::now();
        let inserted = match &self.pool {
            Pool::Sqlite(p) => sqlite_q::insert_deliveries(p, rows, now).await?,
            Pool::Postgres(p) => pg_q::insert_deliveries(p, rows, now).await?,
        };
        let inserted: std::collections::HashSet<(String, String)> = inserted.into_iter().collect();
        let mut seen = std::collections::HashSet::new();
        Ok(rows
            .iter()
            .map(|d| {
                let key = (d.source.clone(), d.delivery_id.clone());
                // The same delivery twice in one batch: only the first counts as new.
                inserted.contains(&key) && seen.insert(key)
            })
            .collect())
    }

    /// Takes a delivery for `holder` for `lease`: a due pending one, one whose claim expired, or
    /// one claimed by `dead_holder` (known gone). `false` when another worker has it.
    pub async fn claim_delivery(
        &self,
        seq: i64,
        holder: &str,
        dead_holder: Option<&str>,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        let now = Utc::now();
        let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        Ok(match &self.pool {
            Pool::Sqlite(p) => {
                sqlite_q::claim_delivery(p, seq, holder, dead_holder, now, until).await?
            }
            Pool::Postgres(p) => {
                pg_q::claim_delivery(p, seq, holder, dead_holder, now, until).await?
            }
        })
    }

    /// Deletes deliveries processed before `before`; returns how many.
    pub async fn prune_deliveries(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlite_q::prune_deliveries(p, before).await?,
            Pool::Postgres(p) => pg_q::prune_deliveries(p, before).await?,
        })
    }

    /// Deliveries due now, oldest first: pending ones, and ones whose worker's claim expired.
    pub async fn due_deliveries(&self, limit: i64) -> Result<Vec<InboxRow>, StoreError> {
        let now = Utc::now();
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlite_q::due_deliveries(p, now, limit).await?,
            Pool::Postgres(p) => pg_q::due_deliveries(p, now, limit).await?,
        })
    }

    /// The most recent dead deliveries, newest first.
    pub async fn dead_deliveries(&self, limit: i64) -> Result<Vec<InboxRow>, StoreError> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlite_q::dead_deliveries(p, limit).await?,
            Pool::Postgres(p) => pg_q::dead_deliveries(p, limit).await?,
        })
    }

    pub async fn delivery(&self, seq: i64) -> Result<Option<InboxRow>, StoreError> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlite_q::delivery(p, seq).await?,
            Pool::Postgres(p) => pg_q::delivery(p, seq).await?,
        })
    }

    /// Upserts a delivery's records and marks it done, together and durably, if `holder` still
    /// holds its claim; `None` (nothing written) when another worker has taken it over.
    pub async fn complete_delivery(
        &self,
        seq: i64,
        holder: &str,
        source: &str,
        records: &[Record],
    ) -> Result<Option<u64>, StoreError> {
        let assigned = self.assigned();
        let batch = Batch::new(source, records, &assigned);
        let now = Utc::now();
        Ok(match &self.pool {
            Pool::Sqlite(p) => {
                sqlite_q::complete_delivery(p, seq, holder, source, &batch, now).await?
            }
            Pool::Postgres(p) => {
                pg_q::complete_delivery(p, seq, holder, source, &batch, now).await?
            }
        })
    }

    /// Records a failed attempt; `dead` parks the delivery for a human (`okno webhooks replay`).
    pub async fn fail_delivery(
        &self,
        seq: i64,
        holder: &str,
        attempts: i64,
        next_attempt_at: DateTime<Utc>,
        error: &str,
        dead: bool,
    ) -> Result<(), StoreError> {
        match &self.pool {
            Pool::Sqlite(p) => {
                sqlite_q::fail_delivery(p, seq, holder, attempts, next_attempt_at, error, dead)
                    .await?
            }
            Pool::Postgres(p) => {
                pg_q::fail_delivery(p, seq, holder, attempts, next_attempt_at, error, dead).await?
            }
        }
        Ok(())
    }

    /// Queues a delivery again (dead or done), due now with its attempts reset.
    pub async fn requeue_delivery(&self, seq: i64) -> Result<bool, StoreError> {
        let now = Utc::now();
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlite_q::requeue_delivery(p, seq, now).await?,
            Pool::Postgres(p) => pg_q::requeue_delivery(p, seq, now).await?,
        })
    }

    /// Deliveries not yet done, per source and status (`pending`, `dead`).
    pub async fn inbox_counts(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlite_q::inbox_counts(p).await?,
            Pool::Postgres(p) => pg_q::inbox_counts(p).await?,
        })
    }

    /// Forgets a stream's cursor, so its next run starts from `start_date` (`sync --full`).
    pub async fn reset_cursor(&self, source: &str, stream: &str) -> Result<(), StoreError> {
        let now = Utc::now();
        match &self.pool {
            Pool::Sqlite(p) => {
                let mut tx = sqlite_q::begin(p).await?;
                sqlite_q::write_cursor(&mut tx, source, stream, None, now).await?;
                tx.commit().await?;
            }
            Pool::Postgres(p) => {
                let mut tx = pg_q::begin(p).await?;
                pg_q::write_cursor(&mut tx, source, stream, None, now).await?;
                tx.commit().await?;
            }
        }
        Ok(())
    }

    pub async fn load_cursor(
        &self,
        source: &str,
        stream: &str,
    ) -> Result<Option<Cursor>, StoreError> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlite_q::load_cursor(p, source, stream).await?,
            Pool::Postgres(p) => pg_q::load_cursor(p, source, stream).await?,
        })
    }

    pub async fn start_run(
        &self,
        source: &str,
        stream: &str,
        trigger: &str,
    ) -> Result<i64, StoreError> {
        let now = Utc::now();
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlite_q::start_run(p, source, stream, trigger, now).await?,
            Pool::Postgres(p) => pg_q::start_run(p, source, stream, trigger, now).await?,
        })
    }

    pub async fn finish_run(&self, run_id: i64, outcome: &RunOutcome) -> Result<(), StoreError> {
        let now = Utc::now();
        match &self.pool {
            Pool::Sqlite(p) => sqlite_q::finish_run(p, run_id, outcome, now).await?,
            Pool::Postgres(p) => pg_q::finish_run(p, run_id, outcome, now).await?,
        }
        Ok(())
    }

    /// Marks runs left `running` by a process that died as `interrupted`. Called at start by the
    /// only process allowed on this store.
    pub async fn mark_interrupted_runs(&self) -> Result<u64, StoreError> {
        let now = Utc::now();
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlite_q::mark_interrupted(p, now).await?,
            Pool::Postgres(p) => pg_q::mark_interrupted(p, now).await?,
        })
    }

    /// Claims the right to sync `source` for `holder` until `now + ttl`. Succeeds when the
    /// instance is free, its lease expired, or it is held by `stale_holder` (a holder known to
    /// be dead). Returns the current holder and its expiry otherwise.
    pub async fn claim_lease(
        &self,
        source: &str,
        holder: &str,
        stale_holder: Option<&str>,
        ttl: Duration,
    ) -> Result<Result<i64, (String, DateTime<Utc>)>, StoreError> {
        let now = Utc::now();
        let until = now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX);
        let claimed = match &self.pool {
            Pool::Sqlite(p) => {
                sqlite_q::claim_lease(p, source, holder, stale_holder, now, until).await?
            }
            Pool::Postgres(p) => {
                pg_q::claim_lease(p, source, holder, stale_holder, now, until).await?
            }
        };
        if let Some(epoch) = claimed {
            return Ok(Ok(epoch));
        }
        let current = match &self.pool {
            Pool::Sqlite(p) => sqlite_q::lease_holder(p, source).await?,
            Pool::Postgres(p) => pg_q::lease_holder(p, source).await?,
        };
        // Released between the two statements: report it as held a moment ago; a retry wins.
        Ok(Err(
            current.unwrap_or_else(|| ("(just released)".into(), now))
        ))
    }

    /// (instance, holder) of every lease not yet expired.
    pub async fn live_leases(&self) -> Result<Vec<(String, String)>, StoreError> {
        let now = Utc::now();
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlite_q::live_leases(p, now).await?,
            Pool::Postgres(p) => pg_q::live_leases(p, now).await?,
        })
    }

    /// Extends a held lease; `false` means it was lost (expired and taken over).
    pub async fn renew_lease(
        &self,
        source: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let until = Utc::now() + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX);
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlite_q::renew_lease(p, source, holder, until).await?,
            Pool::Postgres(p) => pg_q::renew_lease(p, source, holder, until).await?,
        })
    }

    pub async fn release_lease(&self, source: &str, holder: &str) -> Result<(), StoreError> {
        match &self.pool {
            Pool::Sqlite(p) => sqlite_q::release_lease(p, source, holder).await?,
            Pool::Postgres(p) => pg_q::release_lease(p, source, holder).await?,
        }
        Ok(())
    }

    /// The latest run of every stream (of one source when given).
    pub async fn latest_runs(&self, source: Option<&str>) -> Result<Vec<RunRow>, StoreError> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlite_q::latest_runs(p, source).await?,
            Pool::Postgres(p) => pg_q::latest_runs(p, source).await?,
        })
    }

    pub async fn states(&self) -> Result<Vec<StateRow>, StoreError> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlite_q::states(p).await?,
            Pool::Postgres(p) => pg_q::states(p).await?,
        })
    }

    pub async fn get_ticket(
        &self,
        source: &str,
        ticket_id: &str,
    ) -> Result<Option<StoredTicket>, StoreError> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlite_q::get_ticket(p, source, ticket_id).await?,
            Pool::Postgres(p) => pg_q::get_ticket(p, source, ticket_id).await?,
        })
    }

    /// Every lead and deal of a source, by entity and id.
    pub async fn leads(&self, source: &str) -> Result<Vec<StoredLead>, StoreError> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlite_q::leads(p, source).await?,
            Pool::Postgres(p) => pg_q::leads(p, source).await?,
        })
    }

    /// Every task of a source, by id.
    pub async fn tasks(&self, source: &str) -> Result<Vec<StoredTask>, StoreError> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlite_q::tasks(p, source).await?,
            Pool::Postgres(p) => pg_q::tasks(p, source).await?,
        })
    }

    /// The spend rows of a source, in key order.
    pub async fn spend(&self, source: &str) -> Result<Vec<StoredSpend>, StoreError> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlite_q::spend(p, source).await?,
            Pool::Postgres(p) => pg_q::spend(p, source).await?,
        })
    }

    /// Every ad account, with the rows restated since `since`.
    pub async fn ad_accounts(&self, since: DateTime<Utc>) -> Result<Vec<AccountState>, StoreError> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlite_q::ad_accounts(p, since).await?,
            Pool::Postgres(p) => pg_q::ad_accounts(p, since).await?,
        })
    }

    /// The campaigns of a source, in key order.
    pub async fn campaigns(&self, source: &str) -> Result<Vec<StoredCampaign>, StoreError> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlite_q::campaigns(p, source).await?,
            Pool::Postgres(p) => pg_q::campaigns(p, source).await?,
        })
    }

    /// The change counters of `lead`, `campaign` and `click_id` per source: (table, source,
    /// version), bumped by every transaction that changes their rows; what derived figures
    /// were built from.
    pub async fn table_versions(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlite_q::table_versions(p).await?,
            Pool::Postgres(p) => pg_q::table_versions(p).await?,
        })
    }

    /// What a source's lead facts were built from.
    pub async fn fact_state(&self, source: &str) -> Result<Option<FactState>, StoreError> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlite_q::fact_state(p, source).await?,
            Pool::Postgres(p) => pg_q::fact_state(p, source).await?,
        })
    }

    /// Replaces a source's lead facts and their monthly sums in one transaction.
    pub async fn replace_facts(
        &self,
        source: &str,
        rows: &[LeadFact],
        sums: &[(LeadMonthKey, LeadMonthCounts)],
        state: &FactState,
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        match &self.pool {
            Pool::Sqlite(p) => sqlite_q::replace_facts(p, source, rows, sums, state, now).await?,
            Pool::Postgres(p) => {
                pg_q::replace_facts(p, source, rows, sums, state, now).await?;
                // Freshly filled tables have no statistics until autovacuum gets to them, and
                // without them PostgreSQL reads a lead's facts by scanning every fact of its
                // source: give it statistics now.
                sqlx::query("ANALYZE lead_fact, lead_month")
                    .execute(p)
                    .await?;
            }
        }
        Ok(())
    }

    /// Replaces the facts of the leads `keys` (entity, lead_id) by `rows` (some may be gone:
    /// deleted or now counted through another record) and adds `deltas` (key, counts)
    /// to the monthly sums, in one transaction, if the facts are still built from `previous`;
    /// `false` (nothing written) when another refresh changed them meanwhile.
    #[allow(clippy::too_many_arguments)]
    pub async fn update_facts(
        &self,
        source: &str,
        keys: &[(String, String)],
        rows: &[LeadFact],
        deltas: &[(LeadMonthKey, LeadMonthCounts)],
        previous: &FactState,
        state: &FactState,
    ) -> Result<bool, StoreError> {
        let now = Utc::now();
        Ok(match &self.pool {
            Pool::Sqlite(p) => {
                sqlite_q::update_facts(p, source, keys, rows, deltas, previous, state, now).await?
            }
            Pool::Postgres(p) => {
                pg_q::update_facts(p, source, keys, rows, deltas, previous, state, now).await?
            }
        })
    }

    /// The lead facts of a source (of the leads `keys` when given), by entity and id.
    pub async fn lead_facts(
        &self,
        source: &str,
        keys: Option<&[(String, String)]>,
    ) -> Result<Vec<LeadFact>, StoreError> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlite_q::lead_facts(p, source, keys).await?,
            Pool::Postgres(p) => pg_q::lead_facts(p, source, keys).await?,
        })
    }

    /// Leads and deals of a source synced at or after `since`.
    pub async fn leads_synced_since(
        &self,
        source: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<StoredLead>, StoreError> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => {
                sqlite_q::select_leads(p, source, LeadFilter::SyncedSince(since)).await?
            }
            Pool::Postgres(p) => {
                pg_q::select_leads(p, source, LeadFilter::SyncedSince(since)).await?
            }
        })
    }

    /// The leads and deals `keys` (entity, lead_id) of a source, and the leads converted into
    /// the deals `converted_into`.
    pub async fn leads_by_keys(
        &self,
        source: &str,
        keys: &[(String, String)],
        converted_into: &[String],
    ) -> Result<Vec<StoredLead>, StoreError> {
        if let Pool::Postgres(p) = &self.pool {
            // After a large load `lead` may have no statistics yet, and PostgreSQL then reads
            // listed leads by scanning all of a source's (measured: a minute for 10,000 of a
            // million). Sampling it first costs a fraction of a second.
            if !keys.is_empty() {
                sqlx::query("ANALYZE lead").execute(p).await?;
            }
        }
        let mut out = Vec::new();
        for chunk in keys.chunks(queries::CHUNK) {
            out.extend(match &self.pool {
                Pool::Sqlite(p) => {
                    sqlite_q::select_leads(p, source, LeadFilter::Keys(chunk)).await?
                }
                Pool::Postgres(p) => pg_q::select_leads(p, source, LeadFilter::Keys(chunk)).await?,
            });
        }
        for chunk in converted_into.chunks(queries::CHUNK) {
            out.extend(match &self.pool {
                Pool::Sqlite(p) => {
                    sqlite_q::select_leads(p, source, LeadFilter::ConvertedInto(chunk)).await?
                }
                Pool::Postgres(p) => {
                    pg_q::select_leads(p, source, LeadFilter::ConvertedInto(chunk)).await?
                }
            });
        }
        Ok(out)
    }

    /// Recomputes the monthly spend sums of the months spend pages marked since; returns how
    /// many months it recomputed.
    pub async fn refresh_spend_months(&self) -> Result<usize, StoreError> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlite_q::refresh_spend_months(p).await?,
            Pool::Postgres(p) => pg_q::refresh_spend_months(p).await?,
        })
    }

    /// The unattributed leads created on the report-zone days `from..=to`, per the lead facts
    /// (current only after [`crate::figures::facts::refresh`]), oldest first.
    pub async fn unattributed_leads(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<UnattributedLead>, StoreError> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlite_q::unattributed_leads(p, from, to).await?,
            Pool::Postgres(p) => pg_q::unattributed_leads(p, from, to).await?,
        })
    }

    /// Marks an export's night as being written.
    pub async fn start_export(
        &self,
        name: &str,
        night: NaiveDate,
        trigger: &str,
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        match &self.pool {
            Pool::Sqlite(p) => sqlite_q::start_export(p, name, night, trigger, now).await?,
            Pool::Postgres(p) => pg_q::start_export(p, name, night, trigger, now).await?,
        }
        Ok(())
    }

    /// Records how an export's night ended, if `fence` (the export's lease) still holds;
    /// `false` means another process took the export over and this record was not written.
    pub async fn finish_export(
        &self,
        name: &str,
        night: NaiveDate,
        outcome: &ExportOutcome,
        fence: Option<&Fence>,
    ) -> Result<bool, StoreError> {
        let now = Utc::now();
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlite_q::finish_export(p, name, night, outcome, fence, now).await?,
            Pool::Postgres(p) => pg_q::finish_export(p, name, night, outcome, fence, now).await?,
        })
    }

    /// The recorded nights of one export (or of all), oldest first.
    pub async fn export_runs(&self, name: Option<&str>) -> Result<Vec<ExportRun>, StoreError> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlite_q::export_runs(p, name).await?,
            Pool::Postgres(p) => pg_q::export_runs(p, name).await?,
        })
    }

    /// Per segment (as the CRM names it): the leads created in `from..=to` (report-zone days,
    /// from the lead facts) and how many of them are won so far.
    pub async fn segment_outcomes(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<(String, i64, i64)>, StoreError> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlite_q::segment_outcomes(p, from, to).await?,
            Pool::Postgres(p) => pg_q::segment_outcomes(p, from, to).await?,
        })
    }

    /// Spend of `from..=to` per campaign and day or month (see [`Sums`]). A sum keeps its day
    /// when its currency is not `currency` or (`vat_days`) when it includes VAT, so it can be
    /// converted at that day's rates. Whole months come from `spend_month` (recomputed first
    /// where marked), other ranges from `ad_spend_daily` one account at a time (its primary
    /// key's range).
    pub async fn spend_sums(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        currency: &str,
        sums: Sums,
        vat_days: bool,
    ) -> Result<Vec<SpendSum>, StoreError> {
        self.refresh_spend_months().await?;
        let month = |d: NaiveDate| d.format("%Y-%m").to_string();
        let ctx = match &self.pool {
            Pool::Sqlite(p) => sqlite_q::spend_context(p).await?,
            Pool::Postgres(p) => pg_q::spend_context(p).await?,
        };
        let (mut out, ranges) = match sums {
            Sums::WholeMonths => match &self.pool {
                Pool::Sqlite(p) => {
                    sqlite_q::spend_month_sums(
                        p,
                        &ctx,
                        &month(from),
                        &month(to),
                        currency,
                        vat_days,
                    )
                    .await?
                }
                Pool::Postgres(p) => {
                    pg_q::spend_month_sums(p, &ctx, &month(from), &month(to), currency, vat_days)
                        .await?
                }
            },
            Sums::Days | Sums::Months => {
                let accounts = match &self.pool {
                    Pool::Sqlite(p) => sqlite_q::spend_accounts(p).await?,
                    Pool::Postgres(p) => pg_q::spend_accounts(p).await?,
                };
                let ranges = accounts
                    .into_iter()
                    .map(|(s, a)| (s, a, from, to))
                    .collect::<Vec<_>>();
                (Vec::new(), ranges)
            }
        };
        // Each account's range, or the months whose sums need their days (for a rate): from
        // the daily rows, per day or per month.
        let len = sums.label_len();
        for (source, account, a, b) in ranges {
            out.extend(match &self.pool {
                Pool::Sqlite(p) => {
                    sqlite_q::spend_sums(p, &ctx, &source, &account, a, b, currency, len, vat_days)
                        .await?
                }
                Pool::Postgres(p) => {
                    pg_q::spend_sums(p, &ctx, &source, &account, a, b, currency, len, vat_days)
                        .await?
                }
            });
        }
        Ok(out)
    }

    /// Leads created, won and (cohort) created-and-won in `from..=to` per attribution, product,
    /// segment, region and day or month (see [`Sums`]; from `lead_month` for whole months,
    /// where `currency` must be the one the facts were built for, else from `lead_fact`).
    pub async fn lead_sums(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        currency: &str,
        sums: Sums,
    ) -> Result<Vec<LeadSum>, StoreError> {
        if sums == Sums::WholeMonths {
            let (a, b) = (
                from.format("%Y-%m").to_string(),
                to.format("%Y-%m").to_string(),
            );
            return Ok(match &self.pool {
                Pool::Sqlite(p) => sqlite_q::lead_month_sums(p, &a, &b).await?,
                Pool::Postgres(p) => pg_q::lead_month_sums(p, &a, &b).await?,
            });
        }
        let len = sums.label_len();
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlite_q::lead_sums(p, from, to, currency, len).await?,
            Pool::Postgres(p) => pg_q::lead_sums(p, from, to, currency, len).await?,
        })
    }

    /// Every campaign of every source, with what attribution matches on.
    pub async fn known_campaigns(
        &self,
    ) -> Result<Vec<crate::figures::attribution::KnownCampaign>, StoreError> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlite_q::known_campaigns(p).await?,
            Pool::Postgres(p) => pg_q::known_campaigns(p).await?,
        })
    }

    /// Every resolved click id: (kind, click id, campaign).
    pub async fn resolved_clicks(
        &self,
    ) -> Result<Vec<(String, String, crate::figures::attribution::CampaignKey)>, StoreError> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlite_q::resolved_clicks(p).await?,
            Pool::Postgres(p) => pg_q::resolved_clicks(p).await?,
        })
    }

    /// The sources that have written leads.
    pub async fn lead_sources(&self) -> Result<Vec<String>, StoreError> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlite_q::lead_sources(p).await?,
            Pool::Postgres(p) => pg_q::lead_sources(p).await?,
        })
    }

    /// Click ids of a source: (click_id, kind, account_id, campaign_id, date).
    pub async fn click_ids(
        &self,
        source: &str,
    ) -> Result<Vec<(String, String, String, String, NaiveDate)>, StoreError> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlite_q::click_ids(p, source).await?,
            Pool::Postgres(p) => pg_q::click_ids(p, source).await?,
        })
    }

    /// Every exchange rate, by date, currency and base.
    pub async fn fx_rates(&self) -> Result<Vec<StoredRate>, StoreError> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlite_q::fx_rates(p).await?,
            Pool::Postgres(p) => pg_q::fx_rates(p).await?,
        })
    }

    /// Pipeline stages of a source: (pipeline_id, stage_id, stage_name, category).
    pub async fn stages(
        &self,
        source: &str,
    ) -> Result<Vec<(String, String, String, String)>, StoreError> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlite_q::stages(p, source).await?,
            Pool::Postgres(p) => pg_q::stages(p, source).await?,
        })
    }

    pub async fn token_states(&self) -> Result<Vec<TokenState>, StoreError> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlite_q::token_states(p).await?,
            Pool::Postgres(p) => pg_q::token_states(p).await?,
        })
    }

    /// Applies `people.toml`: its people are stored with their names, their accounts point at
    /// them (also the identities already stored), and accounts no longer listed go back to
    /// matching by e-mail. New identities are assigned as they arrive.
    pub async fn apply_people(
        &self,
        people: &crate::config::people::People,
    ) -> Result<(), StoreError> {
        let rows: Vec<(String, String, Option<String>)> = people
            .people
            .iter()
            .map(|p| (p.person_id.clone(), p.name.clone(), p.email.clone()))
            .collect();
        let assignments = people.assignments();
        let now = Utc::now();
        match &self.pool {
            Pool::Sqlite(p) => sqlite_q::apply_people(p, &rows, &assignments, now).await?,
            Pool::Postgres(p) => pg_q::apply_people(p, &rows, &assignments, now).await?,
        }
        let map: HashMap<(String, String), String> = assignments
            .into_iter()
            .map(|(s, u, p)| ((s, u), p))
            .collect();
        if let Ok(mut current) = self.people.write() {
            *current = Arc::new(map);
        }
        Ok(())
    }

    /// (source, user id, person id) of every stored identity, for tests and reports.
    pub async fn identities(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlite_q::identities(p).await?,
            Pool::Postgres(p) => pg_q::identities(p).await?,
        })
    }

    /// Tickets solved or closed, not deleted, with an assignee, whose metrics say they were
    /// solved in `from..to` (UTC, `to` excluded), by source and ticket id.
    pub async fn solved_tickets(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<SolvedTicket>, StoreError> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlite_q::solved_tickets(p, from, to).await?,
            Pool::Postgres(p) => pg_q::solved_tickets(p, from, to).await?,
        })
    }

    /// Tasks in the done category, not deleted, with an assignee, done in `from..to` (UTC, `to`
    /// excluded), by source and task id.
    pub async fn done_tasks(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<DoneTask>, StoreError> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlite_q::done_tasks(p, from, to).await?,
            Pool::Postgres(p) => pg_q::done_tasks(p, from, to).await?,
        })
    }

    /// Per assigned account: tickets not yet solved (new, open, pending, on hold) and tasks in
    /// progress, neither deleted.
    pub async fn open_work(&self) -> Result<Vec<OpenWork>, StoreError> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlite_q::open_work(p).await?,
            Pool::Postgres(p) => pg_q::open_work(p).await?,
        })
    }

    /// The stored display name of a person, if any.
    pub async fn person_name(&self, person_id: &str) -> Result<Option<String>, StoreError> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlite_q::person_name(p, person_id).await?,
            Pool::Postgres(p) => pg_q::person_name(p, person_id).await?,
        })
    }

    /// Lets OAuth connectors of `vault`'s configuration keep their tokens in this store.
    pub fn attach_tokens(&self, vault: &okno_connector::TokenVault) {
        vault.attach(Arc::new(tokens::StoreTokens(self.clone())));
    }

    /// Every ticket id of a source, sorted as text.
    pub async fn ticket_ids(&self, source: &str) -> Result<Vec<String>, StoreError> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlite_q::ticket_ids(p, source).await?,
            Pool::Postgres(p) => pg_q::ticket_ids(p, source).await?,
        })
    }

    /// Row counts of the normalised tables, in [`COUNTED_TABLES`] order.
    pub async fn table_counts(&self) -> Result<Vec<(&'static str, i64)>, StoreError> {
        let mut out = Vec::new();
        for table in COUNTED_TABLES {
            let n = match &self.pool {
                Pool::Sqlite(p) => sqlite_q::count_rows(p, table).await?,
                Pool::Postgres(p) => pg_q::count_rows(p, table).await?,
            };
            out.push((*table, n));
        }
        Ok(out)
    }

    /// Column names per table as the database reports them (for the migration-parity test).
    pub async fn schema(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut cols: Vec<(String, String)> = match &self.pool {
            Pool::Sqlite(p) => sqlx::query_as(
                "SELECT m.name, c.name FROM sqlite_master m, pragma_table_info(m.name) c \
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_sqlx%'",
            )
            .fetch_all(p)
            .await?,
            Pool::Postgres(p) => sqlx::query_as(
                "SELECT table_name::text, column_name::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name NOT LIKE '_sqlx%'",
            )
            .fetch_all(p)
            .await?,
        };
        cols.sort();
        Ok(cols)
    }

    /// Runs one administrative statement (benchmarks and tests create and drop schemas).
    #[doc(hidden)]
    pub async fn execute_admin(&self, sql: &str) -> Result<(), StoreError> {
        match &self.pool {
            Pool::Sqlite(p) => {
                sqlx::query(sql).execute(p).await?;
            }
            Pool::Postgres(p) => {
                sqlx::query(sql).execute(p).await?;
            }
        }
        Ok(())
    }

    /// Closes the pools, waiting for connections to finish (SQLite checkpoints its WAL).
    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(p) => p.close().await,
            Pool::Postgres(p) => p.close().await,
        }
    }
}

fn sqlite_options(opts: SqliteConnectOptions) -> SqliteConnectOptions {
    opts.create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // NORMAL in WAL mode keeps the database consistent on power loss and may lose only the
        // last commits; those are re-fetched from the vendor because their cursor was lost too.
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true)
        // 16 MiB of page cache per connection (the default is 2 MiB): upserts probe the primary
        // key b-tree for every row, and a warm cache keeps that in memory.
        .pragma("cache_size", "-16384")
        // Checkpoint the WAL every ~16 MiB instead of every 4 MiB: fewer, larger copies into the
        // database file during a backfill; readers see the same data either way.
        .pragma("wal_autocheckpoint", "4000")
        .pragma("temp_store", "memory")
        .page_size(8192)
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn micros_round_half_away_from_zero_and_refuse_what_does_not_fit() {
        use okno_connector::rust_decimal::Decimal;
        let m = |s: &str| super::micros(s.parse::<Decimal>().unwrap());
        assert_eq!(m("1234.56"), Some(1_234_560_000));
        assert_eq!(m("0.0000005"), Some(1));
        assert_eq!(m("0.00000049"), Some(0));
        assert_eq!(m("-0.0000005"), Some(-1));
        assert_eq!(m("9223372036854.775807"), Some(i64::MAX));
        assert_eq!(m("9223372036854.775808"), None);
    }

    #[test]
    fn passwords_never_survive_redaction() {
        assert_eq!(
            redact_url("postgres://okno:s3cret@db:5432/okno"),
            "postgres://okno:***@db:5432/okno"
        );
        // Unescaped characters that make the URL unparsable.
        assert_eq!(
            redact_url("postgres://okno:p@ss#w/rd@db/okno"),
            "postgres://okno:***@db/okno"
        );
        assert_eq!(
            redact_url("postgres://db/okno?user=okno&password=s3cret&sslmode=require"),
            "postgres://db/okno?user=okno&password=***&sslmode=require"
        );
        assert_eq!(redact_url("sqlite://data/okno.db"), "sqlite://data/okno.db");
        assert_eq!(
            redact_url("postgres://okno@db/okno"),
            "postgres://okno@db/okno"
        );
    }
}
