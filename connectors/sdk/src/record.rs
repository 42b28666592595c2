//! Normalised records: what every vendor maps into. Columns and keys are described in MODEL.md.
//!
//! Each record carries the vendor's own id (the upsert key together with the connector instance)
//! and `raw`, the vendor's JSON for the object exactly as received, so any figure can be traced
//! back and a changed mapping can be replayed without calling the vendor again.

use chrono::{DateTime, Utc};
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
}

impl Record {
    /// The store table this record lands in; used for per-kind counters.
    pub fn kind(&self) -> &'static str {
        match self {
            Record::Ticket(_) => "ticket",
            Record::TicketMetrics(_) => "ticket_metric",
            Record::Identity(_) => "person_identity",
            Record::Group(_) => "work_group",
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
