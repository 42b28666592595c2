//! serde mirrors of the Zendesk JSON we read. Unknown fields are ignored; objects are kept whole
//! as `RawValue` beside the typed view so `raw` stores exactly what Zendesk sent.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;

/// A page of a cursor-based incremental export (`tickets` or `users` under `items`).
#[derive(Deserialize)]
pub(crate) struct ExportPage<'a> {
    #[serde(borrow, alias = "tickets", alias = "users")]
    pub items: Vec<&'a RawValue>,
    #[serde(borrow, default)]
    pub metric_sets: Vec<&'a RawValue>,
    pub after_cursor: Option<String>,
    pub end_of_stream: bool,
}

/// `tickets/show_many` or `users/show_many`.
#[derive(Deserialize)]
pub(crate) struct ShowMany<'a> {
    #[serde(borrow, alias = "tickets", alias = "users")]
    pub items: Vec<&'a RawValue>,
}

/// A page of a cursor-paginated list endpoint.
#[derive(Deserialize)]
pub(crate) struct ListPage<'a> {
    #[serde(borrow, alias = "groups", alias = "ticket_metrics")]
    pub items: Vec<&'a RawValue>,
    pub meta: ListMeta,
}

#[derive(Deserialize)]
pub(crate) struct ListMeta {
    pub has_more: bool,
    pub after_cursor: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct Ticket {
    pub id: i64,
    pub subject: Option<String>,
    pub status: String,
    pub priority: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub via: Option<Via>,
    pub requester_id: Option<i64>,
    pub assignee_id: Option<i64>,
    pub group_id: Option<i64>,
    pub organization_id: Option<i64>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Deserialize)]
pub(crate) struct Via {
    pub channel: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct User {
    pub id: i64,
    pub name: Option<String>,
    pub email: Option<String>,
    pub role: Option<String>,
    #[serde(default = "yes")]
    pub active: bool,
    pub updated_at: DateTime<Utc>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
pub(crate) struct Group {
    pub id: i64,
    pub name: String,
    #[serde(default)]
    pub deleted: bool,
    pub updated_at: DateTime<Utc>,
}

#[derive(Deserialize)]
pub(crate) struct TicketMetric {
    pub ticket_id: i64,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub assigned_at: Option<DateTime<Utc>>,
    pub solved_at: Option<DateTime<Utc>>,
    pub reopens: Option<i64>,
    pub replies: Option<i64>,
    pub reply_time_in_minutes: Option<Minutes>,
    pub full_resolution_time_in_minutes: Option<Minutes>,
}

/// Zendesk's `{calendar, business}` duration pair; either may be null.
#[derive(Deserialize)]
pub(crate) struct Minutes {
    pub calendar: Option<i64>,
    pub business: Option<i64>,
}

/// `GET /api/v2/users/me.json`.
#[derive(Deserialize)]
pub(crate) struct Me {
    pub user: MeUser,
}

#[derive(Deserialize)]
pub(crate) struct MeUser {
    pub id: Option<i64>,
    pub name: Option<String>,
    pub role: Option<String>,
}
