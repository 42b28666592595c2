//! Normalised records: what every vendor maps into. Columns and keys are described in MODEL.md.
//!
//! Each record carries the vendor's own id (the upsert key together with the connector instance)
//! and `raw`, the vendor's JSON for the object exactly as received, so any figure can be traced
//! back and a changed mapping can be replayed without calling the vendor again.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::value::RawValue;

/// One normalised record. New kinds are added as vendors of new categories arrive.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub enum Record {
    Ticket(Ticket),
    TicketMetrics(TicketMetrics),
    Identity(Identity),
    Group(Group),
    // Boxed: a lead is several times the size of the other records.
    Lead(Box<Lead>),
    Stage(Stage),
    // Boxed for the same reason as leads.
    Task(Box<Task>),
    Deleted(Deleted),
    AdAccount(AdAccount),
    Campaign(Campaign),
    AdSpend(AdSpend),
    ClickId(ClickId),
    SpendWindow(SpendWindow),
    FxRate(FxRate),
}

impl Record {
    /// The store table this record lands in; used for per-kind counters.
    pub fn kind(&self) -> &'static str {
        match self {
            Record::Ticket(_) => "ticket",
            Record::TicketMetrics(_) => "ticket_metric",
            Record::Identity(_) => "person_identity",
            Record::Group(_) => "work_group",
            Record::Lead(_) => "lead",
            Record::Stage(_) => "pipeline_stage",
            Record::Task(_) => "task",
            Record::Deleted(d) => d.kind.table(),
            Record::AdAccount(_) => "ad_account",
            Record::Campaign(_) => "campaign",
            Record::AdSpend(_) => "ad_spend_daily",
            Record::ClickId(_) => "click_id",
            Record::SpendWindow(_) => "ad_account",
            Record::FxRate(_) => "fx_rate",
        }
    }

    /// The advertising account, if this record is one.
    pub fn as_ad_account(&self) -> Option<&AdAccount> {
        match self {
            Record::AdAccount(a) => Some(a),
            _ => None,
        }
    }

    /// The campaign, if this record is one.
    pub fn as_campaign(&self) -> Option<&Campaign> {
        match self {
            Record::Campaign(c) => Some(c),
            _ => None,
        }
    }

    /// The day's spend row, if this record is one.
    pub fn as_ad_spend(&self) -> Option<&AdSpend> {
        match self {
            Record::AdSpend(s) => Some(s),
            _ => None,
        }
    }

    /// The click id, if this record is one.
    pub fn as_click_id(&self) -> Option<&ClickId> {
        match self {
            Record::ClickId(c) => Some(c),
            _ => None,
        }
    }

    /// The spend window, if this record is one.
    pub fn as_spend_window(&self) -> Option<&SpendWindow> {
        match self {
            Record::SpendWindow(w) => Some(w),
            _ => None,
        }
    }

    /// The exchange rate, if this record is one.
    pub fn as_fx_rate(&self) -> Option<&FxRate> {
        match self {
            Record::FxRate(f) => Some(f),
            _ => None,
        }
    }
}

/// A help-desk request (Zendesk ticket). Key: (source, ticket_id).
#[derive(Debug, Clone, Serialize)]
pub struct Ticket {
    pub ticket_id: String,
    pub subject: Option<String>,
    /// Vendor status, lower-case: new, open, pending, hold, solved, closed, deleted.
    pub status: String,
    pub priority: Option<String>,
    pub ticket_type: Option<String>,
    /// How the request arrived (Zendesk `via.channel`: email, web, api, chat...).
    pub channel: Option<String>,
    pub requester_id: Option<String>,
    pub assignee_id: Option<String>,
    pub group_id: Option<String>,
    pub organization_id: Option<String>,
    pub tags: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Set when the vendor reports the ticket deleted; the row is kept, never erased.
    pub deleted_at: Option<DateTime<Utc>>,
    pub raw: Box<RawValue>,
}

/// Service-level timings of one ticket (Zendesk ticket metrics). Key: (source, ticket_id).
#[derive(Debug, Clone, Serialize)]
pub struct TicketMetrics {
    pub ticket_id: String,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub assigned_at: Option<DateTime<Utc>>,
    pub solved_at: Option<DateTime<Utc>>,
    pub reply_minutes_calendar: Option<i64>,
    pub reply_minutes_business: Option<i64>,
    pub resolution_minutes_calendar: Option<i64>,
    pub resolution_minutes_business: Option<i64>,
    pub reopens: Option<i64>,
    pub replies: Option<i64>,
    pub raw: Box<RawValue>,
}

/// A user account in one tool. Identities with the same e-mail are one person across tools.
/// Key: (source, user_id).
#[derive(Debug, Clone, Serialize)]
pub struct Identity {
    pub user_id: String,
    pub name: Option<String>,
    /// Lower-cased by the connector; None where the vendor hides it.
    pub email: Option<String>,
    /// Vendor role (Zendesk: end-user, agent, admin).
    pub role: Option<String>,
    pub active: bool,
    pub updated_at: DateTime<Utc>,
    pub raw: Box<RawValue>,
}

/// A group of agents inside one tool (Zendesk group). Key: (source, group_id).
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub group_id: String,
    pub name: String,
    pub deleted: bool,
    pub updated_at: DateTime<Utc>,
    pub raw: Box<RawValue>,
}

/// Where a lead stands: the vendor's own stage is kept by name; this is what figures count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StageCategory {
    Open,
    Won,
    Lost,
}

impl StageCategory {
    pub fn as_str(self) -> &'static str {
        match self {
            StageCategory::Open => "open",
            StageCategory::Won => "won",
            StageCategory::Lost => "lost",
        }
    }
}

/// Which CRM object a [`Lead`] row is. amoCRM has one object (its "lead" is the deal itself);
/// Zoho CRM has Leads that convert into Deals, kept as two rows and linked by
/// [`Lead::converted_deal_id`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LeadEntity {
    Lead,
    Deal,
}

impl LeadEntity {
    pub fn as_str(self) -> &'static str {
        match self {
            LeadEntity::Lead => "lead",
            LeadEntity::Deal => "deal",
        }
    }
}

/// Marketing marks a lead arrived with (`utm_*`) and the ad platforms' click ids.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Marks {
    pub utm_source: Option<String>,
    pub utm_medium: Option<String>,
    pub utm_campaign: Option<String>,
    pub utm_content: Option<String>,
    pub utm_term: Option<String>,
    /// Google Ads click id.
    pub gclid: Option<String>,
    /// Yandex Direct click id.
    pub yclid: Option<String>,
    /// Meta click id.
    pub fbclid: Option<String>,
}

/// A CRM lead or deal. Key: (source, entity, lead_id).
#[derive(Debug, Clone, Serialize)]
pub struct Lead {
    pub lead_id: String,
    pub entity: LeadEntity,
    pub name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub pipeline_id: Option<String>,
    pub stage_id: Option<String>,
    /// The vendor's own stage name (amoCRM status, Zoho Stage or Lead_Status).
    pub stage_name: Option<String>,
    pub stage_category: StageCategory,
    /// Deal value in `currency`, as the vendor holds it.
    pub amount: Option<Decimal>,
    /// Discount granted on this lead, from a configured field, in `currency`.
    pub discount: Option<Decimal>,
    /// ISO 4217; `None` only when the vendor states no currency at all.
    pub currency: Option<crate::Currency>,
    /// Zoho multi-currency: units of `currency` per unit of the organisation's home currency.
    pub exchange_rate: Option<Decimal>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Vendor user id of the responsible user (resolved through `person_identity`).
    pub owner_id: Option<String>,
    /// The vendor's "lead source" field (Zoho `Lead_Source`), when it has one.
    pub lead_source: Option<String>,
    pub marks: Marks,
    pub product: Option<String>,
    pub segment: Option<String>,
    pub region: Option<String>,
    /// The deal a converted lead became (Zoho `$converted_detail.deal`).
    pub converted_deal_id: Option<String>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub raw: Box<RawValue>,
}

/// One stage of one sales pipeline. Key: (source, pipeline_id, stage_id) — amoCRM repeats the
/// won (142) and lost (143) ids in every pipeline.
#[derive(Debug, Clone, Serialize)]
pub struct Stage {
    pub pipeline_id: String,
    pub pipeline_name: Option<String>,
    pub stage_id: String,
    pub stage_name: String,
    pub category: StageCategory,
    pub sort: Option<i64>,
    pub archived: bool,
    pub raw: Box<RawValue>,
}

/// What a [`Deleted`] record marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub enum DeletedKind {
    Lead(LeadEntity),
    Task,
}

impl DeletedKind {
    pub fn table(self) -> &'static str {
        match self {
            DeletedKind::Lead(_) => "lead",
            DeletedKind::Task => "task",
        }
    }
}

/// The vendor says this row was deleted. Rows are marked (`deleted_at`), never erased; a
/// deletion of a row the store never saw changes nothing.
#[derive(Debug, Clone, Serialize)]
pub struct Deleted {
    pub kind: DeletedKind,
    pub id: String,
    pub deleted_at: DateTime<Utc>,
}

/// Where a task stands, as the tracker's own status category says (Jira's statusCategory, Trello
/// lists mapped by configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusCategory {
    Todo,
    InProgress,
    Done,
}

impl StatusCategory {
    pub fn as_str(self) -> &'static str {
        match self {
            StatusCategory::Todo => "todo",
            StatusCategory::InProgress => "in_progress",
            StatusCategory::Done => "done",
        }
    }
}

/// A unit of planned work in a task tracker (Jira issue, Trello card). Key: (source, task_id).
#[derive(Debug, Clone, Serialize)]
pub struct Task {
    /// The tracker's stable id (Jira issue id, Trello card id).
    pub task_id: String,
    /// The human key (Jira `MKT-123`, Trello short link).
    pub key: Option<String>,
    pub title: String,
    /// Jira project key, Trello board id.
    pub project: Option<String>,
    pub project_name: Option<String>,
    /// Jira issue type; Trello has none.
    pub task_type: Option<String>,
    pub labels: Vec<String>,
    /// Vendor user ids (resolved through `person_identity`).
    pub assignee_id: Option<String>,
    pub reporter_id: Option<String>,
    /// The tracker's status (Jira status name, Trello list name).
    pub status: String,
    pub status_category: StatusCategory,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// First move into an in-progress status.
    pub started_at: Option<DateTime<Utc>>,
    /// Last move into a done status (None while not done).
    pub done_at: Option<DateTime<Utc>>,
    /// The campaign this work is for, from a configured field.
    pub campaign: Option<String>,
    /// Story points or another configured estimate.
    pub estimate: Option<Decimal>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub raw: Box<RawValue>,
}

/// An advertising account: the currency it is billed in and the time zone its days are counted
/// in. Key: (source, account_id).
#[derive(Debug, Clone, Serialize)]
pub struct AdAccount {
    /// The platform's account id (Google customer id without dashes, Yandex client login, Meta
    /// `act_<id>`, VK account id).
    pub account_id: String,
    pub name: Option<String>,
    pub currency: crate::Currency,
    /// IANA time zone (`Europe/Moscow`) the platform reports this account's days in.
    pub time_zone: String,
    pub raw: Box<RawValue>,
}

/// An advertising campaign. Key: (source, account_id, campaign_id).
#[derive(Debug, Clone, Serialize)]
pub struct Campaign {
    pub account_id: String,
    pub campaign_id: String,
    pub name: String,
    /// The platform's status, as it spells it (ENABLED, ACTIVE, ON...).
    pub status: Option<String>,
    /// The channel figures group this campaign under: the connector kind (`google_ads`...)
    /// unless the instance configures another.
    pub channel: String,
    /// The `utm_campaign` value the platform's tracking template sets, when it knows one.
    pub utm_campaign: Option<String>,
    pub raw: Box<RawValue>,
}

/// What one campaign cost on one day. Key: (source, account_id, campaign_id, date).
/// Platforms restate recent days; a later pull of the same day overwrites the row.
#[derive(Debug, Clone, Serialize)]
pub struct AdSpend {
    pub account_id: String,
    pub campaign_id: String,
    /// The day in the **account's** time zone, as the platform reports it.
    pub date: NaiveDate,
    /// Exact: micros and decimal strings are converted without floating point.
    pub cost: Decimal,
    pub currency: crate::Currency,
    /// Whether `cost` includes VAT (Yandex Direct `IncludeVAT`); `None` where the platform
    /// does not say (Google, Meta and VK report without VAT).
    pub vat_included: Option<bool>,
    pub impressions: Option<i64>,
    pub clicks: Option<i64>,
    /// Conversions as the platform counts them (Google reports fractions).
    pub conversions: Option<Decimal>,
    pub raw: Box<RawValue>,
}

/// Which platform a click id comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClickKind {
    Gclid,
    Yclid,
    Fbclid,
    Vk,
}

impl ClickKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ClickKind::Gclid => "gclid",
            ClickKind::Yclid => "yclid",
            ClickKind::Fbclid => "fbclid",
            ClickKind::Vk => "vk",
        }
    }
}

/// A click id resolved to the campaign it came from (Google Ads `click_view`), so a lead
/// carrying it is attributed exactly. Key: (source, click_id).
#[derive(Debug, Clone, Serialize)]
pub struct ClickId {
    pub click_id: String,
    pub kind: ClickKind,
    pub account_id: String,
    pub campaign_id: String,
    /// The day of the click in the account's time zone.
    pub date: NaiveDate,
}

/// Says that the page holds **every** spend row of `account_id` from `from` to `to` (inclusive,
/// account days): a row stored for those days that the page does not repeat was restated to
/// nothing and is zeroed. Days from `provisional_from` on may still be restated by the
/// platform, so figures that include them are marked provisional.
#[derive(Debug, Clone, Serialize)]
pub struct SpendWindow {
    pub account_id: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub provisional_from: NaiveDate,
}

/// An exchange rate on one day: one unit of `currency` is worth `rate` units of `base`.
/// Key: (date, currency, base); the rate of a day replaces an earlier one for the same day.
#[derive(Debug, Clone, Serialize)]
pub struct FxRate {
    pub date: NaiveDate,
    pub currency: crate::Currency,
    pub base: crate::Currency,
    /// Units of `base` per one unit of `currency`, exact (the Bank of Russia's `VunitRate`).
    pub rate: Decimal,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accessors_pick_their_own_kind_only() {
        let day: NaiveDate = "2026-12-05".parse().unwrap();
        let records = [
            Record::SpendWindow(SpendWindow {
                account_id: "a".into(),
                from: day,
                to: day,
                provisional_from: day,
            }),
            Record::FxRate(FxRate {
                date: day,
                currency: "USD".parse().unwrap(),
                base: "RUB".parse().unwrap(),
                rate: Decimal::new(9_512, 2),
            }),
            Record::ClickId(ClickId {
                click_id: "g1".into(),
                kind: ClickKind::Gclid,
                account_id: "a".into(),
                campaign_id: "c".into(),
                date: day,
            }),
        ];
        let windows: Vec<_> = records.iter().filter_map(Record::as_spend_window).collect();
        assert_eq!(windows.len(), 1);
        assert_eq!(windows[0].account_id, "a");
        assert_eq!(
            records[1].as_fx_rate().unwrap().rate,
            Decimal::new(9_512, 2)
        );
        assert_eq!(records[2].as_click_id().unwrap().click_id, "g1");
        assert!(records.iter().all(|r| r.as_ad_spend().is_none()
            && r.as_campaign().is_none()
            && r.as_ad_account().is_none()));
        assert!(records[0].as_fx_rate().is_none() && records[1].as_click_id().is_none());
    }
}
