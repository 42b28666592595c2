//! The parts of Trello's JSON that okno reads. Every field is optional or defaulted: a missing
//! field never fails a page, and everything else stays in `raw`.

use serde::Deserialize;

/// `GET /1/boards/{id}?fields=name,shortLink`.
#[derive(Debug, Deserialize)]
pub(crate) struct Board {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) name: Option<String>,
}

/// One entry of `GET /1/boards/{id}/lists`.
#[derive(Debug, Deserialize)]
pub(crate) struct List {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) name: Option<String>,
}

/// A label as embedded in a card. Trello's OpenAPI example shows `labels` as id strings (swapped
/// with `idLabels`), real answers as objects: both are accepted, strings carry no name.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum Label {
    Object {
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        color: Option<String>,
    },
    Other(serde::de::IgnoredAny),
}

/// One card of `GET /1/boards/{id}/cards` or `GET /1/cards/{id}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Card {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) short_link: Option<String>,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) id_board: Option<String>,
    #[serde(default)]
    pub(crate) id_list: Option<String>,
    #[serde(default)]
    pub(crate) id_members: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) labels: Option<Vec<Label>>,
    #[serde(default)]
    pub(crate) date_last_activity: Option<String>,
}

/// `{id, name}` of a board, list or card inside an action's `data`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Ref {
    #[serde(default)]
    pub(crate) id: Option<String>,
    #[serde(default)]
    pub(crate) name: Option<String>,
    /// Cards carry their list after the change in `idList` (list moves).
    #[serde(default)]
    pub(crate) id_list: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ActionData {
    #[serde(default)]
    pub(crate) card: Option<Ref>,
    #[serde(default)]
    pub(crate) list: Option<Ref>,
    #[serde(default)]
    pub(crate) list_after: Option<Ref>,
}

/// One action of `GET /1/boards/{id}/actions`, `GET /1/cards/{id}/actions`, or a webhook
/// delivery's `action`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Action {
    #[serde(default)]
    pub(crate) id: Option<String>,
    #[serde(default, rename = "type")]
    pub(crate) kind: Option<String>,
    #[serde(default)]
    pub(crate) date: Option<String>,
    #[serde(default)]
    pub(crate) id_member_creator: Option<String>,
    #[serde(default)]
    pub(crate) data: Option<ActionData>,
}

/// One board member of `GET /1/boards/{id}/members`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Member {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) full_name: Option<String>,
    #[serde(default)]
    pub(crate) username: Option<String>,
}

/// One webhook of `GET /1/tokens/{token}/webhooks` or `POST /1/webhooks`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Webhook {
    #[serde(default)]
    pub(crate) id: Option<String>,
    #[serde(default)]
    pub(crate) id_model: Option<String>,
    #[serde(rename = "callbackURL", default)]
    pub(crate) callback_url: Option<String>,
    #[serde(default)]
    pub(crate) active: Option<bool>,
}

/// A webhook delivery: `{"action": {...}, "model": {...}}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Delivery {
    pub(crate) action: Action,
}
