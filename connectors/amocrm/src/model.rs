//! serde mirrors of the amoCRM v4 JSON we read. Unknown fields are ignored; list items are kept
//! whole as `RawValue` beside the typed view, so `raw` stores exactly what amoCRM sent. Typed
//! views borrow from the response body where they can (strings without escapes are not copied).

use std::borrow::Cow;

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::value::RawValue;

/// HAL `_links`: only whether a `next` page exists matters. The href itself is never followed
/// (its echoed query string is not documented); the next request is built from the cursor.
#[derive(Deserialize, Default)]
pub(crate) struct Links {
    pub next: Option<IgnoredAny>,
}

/// A HAL list page: `{"_links": {...}, "_embedded": {"<items>": [...]}}`. `_page` is not
/// required: a real captured answer lacks it.
#[derive(Deserialize)]
pub(crate) struct ListPage<'a> {
    #[serde(rename = "_links", default)]
    pub links: Option<Links>,
    #[serde(borrow, rename = "_embedded", default)]
    pub embedded: Option<Embedded<'a>>,
}

#[derive(Deserialize, Default)]
pub(crate) struct Embedded<'a> {
    #[serde(
        borrow,
        default,
        rename = "leads",
        alias = "users",
        alias = "events",
        alias = "pipelines"
    )]
    pub items: Vec<&'a RawValue>,
}

impl<'a> ListPage<'a> {
    pub fn items(&self) -> &[&'a RawValue] {
        self.embedded.as_ref().map_or(&[], |e| e.items.as_slice())
    }

    pub fn has_next(&self) -> bool {
        self.links.as_ref().is_some_and(|l| l.next.is_some())
    }
}

/// One lead (`GET /api/v4/leads`). Timestamps are Unix seconds.
#[derive(Deserialize)]
pub(crate) struct Lead<'a> {
    pub id: i64,
    #[serde(borrow, default)]
    pub name: Option<Cow<'a, str>>,
    /// An integer in the account currency; read as written so no digit is lost.
    #[serde(borrow, default)]
    pub price: Option<&'a RawValue>,
    #[serde(default)]
    pub responsible_user_id: Option<i64>,
    #[serde(default)]
    pub status_id: Option<i64>,
    #[serde(default)]
    pub pipeline_id: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    #[serde(default)]
    pub closed_at: Option<i64>,
    #[serde(default)]
    pub is_deleted: Option<bool>,
    /// An array, or `null` when no field is filled.
    #[serde(borrow, default)]
    pub custom_fields_values: Option<Vec<CustomField<'a>>>,
}

/// One filled custom field of a lead.
#[derive(Deserialize)]
pub(crate) struct CustomField<'a> {
    #[serde(default)]
    pub field_id: Option<i64>,
    #[serde(borrow, default)]
    pub field_name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub field_code: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub values: Option<Vec<FieldValue<'a>>>,
}

/// `{"value": ...}`, plus `enum_id`/`enum_code` for select fields (not needed: the text is).
#[derive(Deserialize)]
pub(crate) struct FieldValue<'a> {
    #[serde(borrow, default)]
    pub value: Option<&'a RawValue>,
}

/// `GET /api/v4/leads/pipelines`: pipelines with their statuses embedded.
#[derive(Deserialize)]
pub(crate) struct Pipeline<'a> {
    pub id: i64,
    #[serde(borrow, default)]
    pub name: Option<Cow<'a, str>>,
    #[serde(default)]
    pub is_archive: bool,
    #[serde(borrow, rename = "_embedded", default)]
    pub embedded: Option<PipelineEmbedded<'a>>,
}

#[derive(Deserialize, Default)]
pub(crate) struct PipelineEmbedded<'a> {
    #[serde(borrow, default)]
    pub statuses: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
pub(crate) struct Status<'a> {
    pub id: i64,
    #[serde(borrow, default)]
    pub name: Option<Cow<'a, str>>,
    #[serde(default)]
    pub sort: Option<i64>,
}

/// `GET /api/v4/users`: `is_active` and `is_admin` live inside `rights`.
#[derive(Deserialize)]
pub(crate) struct User {
    pub id: i64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub rights: Option<Rights>,
}

#[derive(Deserialize)]
pub(crate) struct Rights {
    #[serde(default)]
    pub is_admin: Option<bool>,
    #[serde(default)]
    pub is_active: Option<bool>,
}

/// `GET /api/v4/events`. Only `type`, `entity_id` and `created_at` are used: the payload of
/// `lead_deleted` (`value_after`/`value_before`) is not documented.
#[derive(Deserialize)]
pub(crate) struct Event {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub entity_id: Option<i64>,
    pub created_at: i64,
    #[serde(rename = "_embedded", default)]
    pub embedded: Option<EventEmbedded>,
}

#[derive(Deserialize)]
pub(crate) struct EventEmbedded {
    #[serde(default)]
    pub entity: Option<EventEntity>,
}

#[derive(Deserialize)]
pub(crate) struct EventEntity {
    #[serde(default)]
    pub id: Option<i64>,
}

/// `GET /api/v4/account`. `currency` is documented by Kommo but missing from amoCRM.ru's
/// example, so it is optional.
#[derive(Deserialize)]
pub(crate) struct Account {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub subdomain: Option<String>,
    #[serde(default)]
    pub currency: Option<String>,
}

/// `POST /oauth2/access_token` answer. `server_time` (Kommo only) is not needed.
#[derive(Deserialize)]
pub(crate) struct TokenResponse {
    #[serde(default)]
    pub token_type: Option<String>,
    #[serde(default)]
    pub expires_in: Option<i64>,
    pub access_token: String,
    #[serde(default)]
    pub refresh_token: Option<String>,
}
