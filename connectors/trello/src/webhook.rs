//! Trello webhooks: the signature, and what a delivery means.
//!
//! Trello signs every delivery with `X-Trello-Webhook` = base64(HMAC-SHA1(application secret,
//! raw body followed by the callback URL exactly as given when the webhook was created)). okno
//! checks it in constant time over the raw bytes and the configured `callback_url`; a URL that
//! differs in any byte (scheme, host case, trailing slash, query) fails every delivery, so
//! `callback_url` must be the URL the webhooks were registered with (`okno webhooks register`
//! uses that same string). Trello sends no timestamp, so there is no replay window; a replayed
//! delivery is caught by deduplication on the action id, which lies inside the signed body.
//!
//! A delivery is `{"action": {...}, "model": {...}}`:
//! - card actions that change what a task row holds (creation, copies, moves between lists or
//!   boards, renames, archiving, due dates, labels, members: `createCard`, `copyCard`,
//!   `convertToCardFromCheckItem`, `emailCard`, `moveCardToBoard`, `moveCardFromBoard`,
//!   `updateCard`, `addLabelToCard`, `removeLabelFromCard`, `addMemberToCard`,
//!   `removeMemberFromCard`) → the card is fetched again by id ([`WebhookEvent::Refetch`] of
//!   stream `cards`), history included, so the row equals what polling writes;
//! - `deleteCard` → a [`Record::Deleted`] dated by the action's own `date`;
//! - anything else (comments, checklists, board and list changes) → nothing: the next `cards`
//!   run catches up the card's `updated_at`.
//!
//! Trello also sends `HEAD` to the callback URL when a webhook is created and expects 200; that
//! request carries no body or signature and is answered by the daemon's router, not here.

use okno_connector::signature::{verify_hmac, Algorithm, Encoding};
use okno_connector::webhook::{VerifyError, WebhookEvent, WebhookHandler, WebhookRequest};
use okno_connector::{ConnectorError, Record};

use crate::config::{is_object_id, WebhookSettings};
use crate::model;
use crate::normalize;

const SIGNATURE: &str = "x-trello-webhook";

/// Card actions after which the card is fetched again.
const REFETCH: &[&str] = &[
    "createCard",
    "copyCard",
    "convertToCardFromCheckItem",
    "emailCard",
    "moveCardToBoard",
    "moveCardFromBoard",
    "updateCard",
    "addLabelToCard",
    "removeLabelFromCard",
    "addMemberToCard",
    "removeMemberFromCard",
];

pub(crate) struct Webhooks {
    pub(crate) settings: WebhookSettings,
}

fn delivery(body: &[u8]) -> Result<model::Delivery, ConnectorError> {
    serde_json::from_slice(body).map_err(|e| ConnectorError::decode("webhook", e))
}

impl WebhookHandler for Webhooks {
    fn verify(&self, request: &WebhookRequest<'_>) -> Result<(), VerifyError> {
        let signature = request
            .header(SIGNATURE)
            .ok_or(VerifyError::MissingHeader(SIGNATURE))?;
        let parts: [&[u8]; 2] = [request.body, self.settings.callback_url.as_bytes()];
        if verify_hmac(
            Algorithm::Sha1,
            Encoding::Base64,
            std::slice::from_ref(&self.settings.app_secret),
            &parts,
            signature,
            None,
        ) {
            Ok(())
        } else {
            Err(VerifyError::BadSignature)
        }
    }

    /// The action id: one per change, the same in every retry of its delivery.
    fn delivery_id(&self, request: &WebhookRequest<'_>) -> Option<String> {
        delivery(request.body)
            .ok()?
            .action
            .id
            .map(|id| id.trim().to_string())
            .filter(|id| !id.is_empty())
    }

    fn parse(&self, body: &[u8]) -> Result<Vec<WebhookEvent>, ConnectorError> {
        const EP: &str = "webhook";
        let action = delivery(body)?.action;
        let kind = action
            .kind
            .as_deref()
            .ok_or_else(|| ConnectorError::decode(EP, "the action has no type"))?;
        if kind != "deleteCard" && !REFETCH.contains(&kind) {
            return Ok(Vec::new());
        }
        let card = action
            .data
            .as_ref()
            .and_then(|d| d.card.as_ref())
            .and_then(|c| c.id.as_deref())
            .map(str::trim)
            .ok_or_else(|| {
                ConnectorError::decode(EP, format!("{kind} action without data.card.id"))
            })?;
        if !is_object_id(card) {
            return Err(ConnectorError::decode(
                EP,
                format!("{card:?} is not a Trello card id"),
            ));
        }
        if kind == "deleteCard" {
            let at = action
                .date
                .as_deref()
                .and_then(normalize::time)
                .ok_or_else(|| {
                    ConnectorError::decode(EP, "deleteCard action without a valid date")
                })?;
            return Ok(vec![WebhookEvent::Records(vec![Record::Deleted(
                normalize::deleted(card.to_string(), at),
            )])]);
        }
        Ok(vec![WebhookEvent::Refetch {
            stream: "cards".to_string(),
            ids: vec![card.to_string()],
        }])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use okno_connector::SecretString;

    fn hooks() -> Webhooks {
        Webhooks {
            settings: WebhookSettings {
                app_secret: SecretString::from("s".to_string()),
                callback_url: "https://okno.example.com/hooks/trello".into(),
            },
        }
    }

    #[test]
    fn other_actions_mean_nothing_to_do() {
        let body = br#"{"action":{"id":"x","type":"commentCard","data":{"card":{"id":"52e42202a9d9de79714c228f"}}},"model":{}}"#;
        assert!(hooks().parse(body).unwrap().is_empty());
        let body =
            br#"{"action":{"id":"x","type":"updateList","data":{"list":{"id":"l"}}},"model":{}}"#;
        assert!(hooks().parse(body).unwrap().is_empty());
    }

    #[test]
    fn garbage_is_a_decode_error() {
        for body in [
            &b""[..],
            b"   ",
            b"null",
            b"[]",
            b"{\"model\":{}}",
            b"{\"action\":{}}",
            b"{\"action\":{\"type\":\"updateCard\",\"data\":{}}}",
            b"{\"action\":{\"type\":\"updateCard\",\"data\":{\"card\":{\"id\":\"../../etc\"}}}}",
            b"{\"action\":{\"type\":\"deleteCard\",\"date\":\"yesterday\",\"data\":{\"card\":{\"id\":\"52e42a7d5836cbf247244f48\"}}}}",
            b"\xff\xfe\x00garbage",
            b"action=1",
        ] {
            let err = hooks().parse(body).expect_err("garbage");
            assert_eq!(err.class(), "decode", "{body:?}");
        }
    }
}
