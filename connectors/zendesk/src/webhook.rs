//! Zendesk webhooks: signature check and the meaning of a delivery.
//!
//! Zendesk signs `X-Zendesk-Webhook-Signature` = base64(HMAC-SHA256(signing secret, timestamp +
//! raw body)) with the ISO 8601 `X-Zendesk-Webhook-Signature-Timestamp`. A delivery outside the
//! replay window (default 5 minutes, either way) is refused, so a captured request cannot be
//! replayed later. Two secrets are accepted while one is rotated.
//!
//! Bodies are treated as hints and the object is fetched again by id through the API, so what
//! lands in the store is the same as polling would give:
//! - event-subscription webhooks (`"type": "zen:event-type:ticket.status_changed"`, ...) name the
//!   object in `detail.id` (a string); ticket and user events are understood;
//! - trigger webhooks carry the body the trigger defines: use `{"ticket_id": "{{ticket.id}}"}`.
//!
//! Deduplication uses the event's `id` (unique per event, inside the signed body) when the body
//! has one, else `X-Zendesk-Webhook-Invocation-Id` together with a hash of the body: the header
//! is not signed, so on its own a forged id could make a real delivery look like a duplicate.

use chrono::{DateTime, Duration, Utc};
use okno_connector::signature::{verify_hmac, Algorithm, Encoding};
use okno_connector::webhook::{VerifyError, WebhookEvent, WebhookHandler, WebhookRequest};
use okno_connector::{ConnectorError, SecretString};
use serde::Deserialize;
use sha2::Digest;

const SIGNATURE: &str = "x-zendesk-webhook-signature";
const TIMESTAMP: &str = "x-zendesk-webhook-signature-timestamp";
const INVOCATION: &str = "x-zendesk-webhook-invocation-id";

pub(crate) struct Webhooks {
    pub(crate) secrets: Vec<SecretString>,
    pub(crate) max_age: Duration,
}

#[derive(Deserialize)]
struct Body {
    id: Option<serde_json::Value>,
    #[serde(rename = "type")]
    kind: Option<String>,
    detail: Option<Detail>,
    ticket_id: Option<serde_json::Value>,
    ticket: Option<Detail>,
}

#[derive(Deserialize)]
struct Detail {
    id: Option<serde_json::Value>,
}

/// The first 16 bytes of a digest in hex: enough to tell bodies apart.
fn hex_prefix(digest: &[u8]) -> String {
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// Zendesk writes ids as numbers in some bodies and strings in others.
fn id_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl WebhookHandler for Webhooks {
    fn verify(&self, request: &WebhookRequest<'_>) -> Result<(), VerifyError> {
        let signature = request
            .header(SIGNATURE)
            .ok_or(VerifyError::MissingHeader(SIGNATURE))?;
        let timestamp = request
            .header(TIMESTAMP)
            .ok_or(VerifyError::MissingHeader(TIMESTAMP))?;
        let sent: DateTime<Utc> = DateTime::parse_from_rfc3339(timestamp.trim())
            .map_err(|_| VerifyError::Malformed(TIMESTAMP))?
            .with_timezone(&Utc);
        if (request.received_at - sent).abs() > self.max_age {
            return Err(VerifyError::Stale);
        }
        let parts: [&[u8]; 2] = [timestamp.as_bytes(), request.body];
        if verify_hmac(
            Algorithm::Sha256,
            Encoding::Base64,
            &self.secrets,
            &parts,
            signature,
            None,
        ) {
            Ok(())
        } else {
            Err(VerifyError::BadSignature)
        }
    }

    fn delivery_id(&self, request: &WebhookRequest<'_>) -> Option<String> {
        let from_body = serde_json::from_slice::<Body>(request.body)
            .ok()
            .and_then(|b| b.id.as_ref().and_then(id_text))
            .map(|id| format!("event:{id}"));
        from_body.or_else(|| {
            request.header(INVOCATION).map(|id| {
                let digest = sha2::Sha256::digest(request.body);
                format!("invocation:{}:{}", id.trim(), hex_prefix(&digest))
            })
        })
    }

    fn parse(&self, body: &[u8]) -> Result<Vec<WebhookEvent>, ConnectorError> {
        const EP: &str = "webhook";
        let b: Body = serde_json::from_slice(body).map_err(|e| ConnectorError::decode(EP, e))?;
        let detail_id = b
            .detail
            .as_ref()
            .and_then(|d| d.id.as_ref())
            .and_then(id_text);
        let (stream, id) = match b.kind.as_deref() {
            Some(t) if t.starts_with("zen:event-type:ticket.") => ("tickets", detail_id),
            Some(t) if t.starts_with("zen:event-type:user.") => ("users", detail_id),
            Some(t) => {
                return Err(ConnectorError::decode(
                    EP,
                    format!("event type {t:?} is not one okno reads (ticket and user events are)"),
                ))
            }
            None => (
                "tickets",
                b.ticket_id.as_ref().and_then(id_text).or_else(|| {
                    b.ticket
                        .as_ref()
                        .and_then(|t| t.id.as_ref())
                        .and_then(id_text)
                }),
            ),
        };
        let id = id.ok_or_else(|| {
            ConnectorError::decode(
                EP,
                "no ticket id: send {\"ticket_id\": \"{{ticket.id}}\"} from the trigger, or subscribe the webhook to ticket events",
            )
        })?;
        if !id.chars().all(|c| c.is_ascii_digit()) {
            return Err(ConnectorError::decode(
                EP,
                format!("id {id:?} is not a Zendesk id"),
            ));
        }
        Ok(vec![WebhookEvent::Refetch {
            stream: stream.to_string(),
            ids: vec![id],
        }])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use okno_connector::signature::sign;

    fn hooks() -> Webhooks {
        Webhooks {
            secrets: vec![
                SecretString::from("new-secret".to_string()),
                SecretString::from("old-secret".to_string()),
            ],
            max_age: Duration::minutes(5),
        }
    }

    fn signed(secret: &str, ts: &str, body: &[u8]) -> Vec<(String, String)> {
        let sig = sign(
            Algorithm::Sha256,
            Encoding::Base64,
            &SecretString::from(secret.to_string()),
            &[ts.as_bytes(), body],
        );
        vec![(SIGNATURE.into(), sig), (TIMESTAMP.into(), ts.into())]
    }

    fn at(ts: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(ts)
            .unwrap()
            .with_timezone(&Utc)
    }

    const EVENT: &[u8] = br#"{"account_id":12514403,"detail":{"id":"35436","status":"OPEN"},"event":{},"id":"01JQMQH83YNAKWSWJ8B1QH2NSC","subject":"zen:ticket:35436","time":"2026-11-23T10:00:00Z","type":"zen:event-type:ticket.status_changed","zendesk_event_version":"2022-06-20"}"#;

    #[test]
    fn accepts_a_signed_delivery_with_either_secret() {
        let ts = "2026-11-23T10:00:00Z";
        for secret in ["new-secret", "old-secret"] {
            let headers = signed(secret, ts, EVENT);
            let req = WebhookRequest {
                received_at: at("2026-11-23T10:00:02Z"),
                headers: &headers,
                body: EVENT,
                path_token: None,
            };
            assert_eq!(hooks().verify(&req), Ok(()));
        }
    }

    #[test]
    fn refuses_tampering_other_secrets_missing_headers_and_old_or_future_timestamps() {
        let ts = "2026-11-23T10:00:00Z";
        let headers = signed("new-secret", ts, EVENT);
        let now = at("2026-11-23T10:00:02Z");
        let tampered = EVENT
            .to_vec()
            .into_iter()
            .map(|b| if b == b'6' { b'7' } else { b })
            .collect::<Vec<_>>();
        let req = WebhookRequest {
            received_at: now,
            headers: &headers,
            body: &tampered,
            path_token: None,
        };
        assert_eq!(hooks().verify(&req), Err(VerifyError::BadSignature));
        let wrong = signed("guess", ts, EVENT);
        let req = WebhookRequest {
            received_at: now,
            headers: &wrong,
            body: EVENT,
            path_token: None,
        };
        assert_eq!(hooks().verify(&req), Err(VerifyError::BadSignature));
        let req = WebhookRequest {
            received_at: now,
            headers: &headers[1..],
            body: EVENT,
            path_token: None,
        };
        assert_eq!(
            hooks().verify(&req),
            Err(VerifyError::MissingHeader(SIGNATURE))
        );
        for when in ["2026-11-23T10:05:01Z", "2026-11-23T09:54:59Z"] {
            let req = WebhookRequest {
                received_at: at(when),
                headers: &headers,
                body: EVENT,
                path_token: None,
            };
            assert_eq!(hooks().verify(&req), Err(VerifyError::Stale), "{when}");
        }
    }

    #[test]
    fn event_and_trigger_bodies_become_refetches() {
        let events = hooks().parse(EVENT).unwrap();
        assert!(
            matches!(&events[0], WebhookEvent::Refetch { stream, ids } if stream == "tickets" && ids == &["35436"])
        );
        let trigger = hooks().parse(br#"{"ticket_id": 812}"#).unwrap();
        assert!(matches!(&trigger[0], WebhookEvent::Refetch { ids, .. } if ids == &["812"]));
        let user = hooks().parse(br#"{"type":"zen:event-type:user.name_changed","detail":{"id":"6596848315901"},"id":"x"}"#).unwrap();
        assert!(matches!(&user[0], WebhookEvent::Refetch { stream, .. } if stream == "users"));
        assert!(hooks().parse(br#"{"hello": 1}"#).is_err());
        assert!(hooks().parse(br#"{"ticket_id": "1; drop"}"#).is_err());
        assert!(hooks().parse(b"not json").is_err());
    }

    #[test]
    fn deduplicates_on_the_event_id_else_the_invocation() {
        let headers = vec![(INVOCATION.to_string(), "8350205582".to_string())];
        let req = WebhookRequest {
            received_at: Utc::now(),
            headers: &headers,
            body: EVENT,
            path_token: None,
        };
        assert_eq!(
            hooks().delivery_id(&req).as_deref(),
            Some("event:01JQMQH83YNAKWSWJ8B1QH2NSC")
        );
        let req = WebhookRequest {
            received_at: Utc::now(),
            headers: &headers,
            body: br#"{"ticket_id":1}"#,
            path_token: None,
        };
        let id = hooks().delivery_id(&req).unwrap();
        assert!(id.starts_with("invocation:8350205582:"), "{id}");
        // The header is not signed: another body under the same id is another delivery.
        let other = WebhookRequest {
            received_at: Utc::now(),
            headers: &headers,
            body: br#"{"ticket_id":2}"#,
            path_token: None,
        };
        assert_ne!(hooks().delivery_id(&other).unwrap(), id);
    }
}
