//! Zoho CRM notifications: authenticity and meaning of a delivery.
//!
//! Zoho signs nothing. A channel is subscribed with a `token` (at most 50 characters), which
//! Zoho echoes in the JSON body of every notification; that echo, compared in constant time
//! with `webhook_token`, is the only authenticity check Zoho offers, so it is required: a body
//! without it (or with `"token": null`, as Zoho sends for channels subscribed without one) is
//! refused. A secret path segment (`/hooks/<instance>/<token>`) is not consulted.
//!
//! A notification names the module, the operation and the record ids, but carries no record
//! (`affected_values` holds only the changed fields, and okno subscribes without them):
//! - `insert` / `update` (Zoho writes these although subscriptions say create/edit) → the
//!   records are fetched again by id through the API ([`WebhookEvent::Refetch`] of `leads` or
//!   `deals`), so what lands in the store is what polling would give;
//! - `delete` → the records are marked deleted at the notification's `server_time` (epoch
//!   milliseconds);
//! - other modules (a channel shared with other tools) are ignored.
//!
//! Zoho documents no delivery id, so none is given and the daemon deduplicates on a hash of the
//! body (`server_time` makes distinct notifications differ).

use chrono::{DateTime, TimeZone, Utc};
use okno_connector::signature::verify_token;
use okno_connector::webhook::{VerifyError, WebhookEvent, WebhookHandler, WebhookRequest};
use okno_connector::{ConnectorError, Deleted, DeletedKind, Record, SecretString};
use serde::Deserialize;

use crate::model::{self, Notification};
use crate::normalize::Module;

const EP: &str = "webhook";

pub(crate) struct Webhooks {
    pub(crate) tokens: Vec<SecretString>,
}

/// Only the token, read before anything else is trusted.
#[derive(Deserialize)]
struct TokenOnly {
    token: Option<serde_json::Value>,
}

fn server_time(v: &serde_json::Value) -> Option<DateTime<Utc>> {
    let ms = match v {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }?;
    Utc.timestamp_millis_opt(ms).single()
}

impl WebhookHandler for Webhooks {
    fn verify(&self, request: &WebhookRequest<'_>) -> Result<(), VerifyError> {
        let body: TokenOnly =
            serde_json::from_slice(request.body).map_err(|_| VerifyError::Malformed("body"))?;
        let token = match body.token {
            Some(serde_json::Value::String(t)) => t,
            Some(serde_json::Value::Null) | None => {
                return Err(VerifyError::MissingHeader("token"))
            }
            Some(_) => return Err(VerifyError::Malformed("token")),
        };
        if verify_token(&self.tokens, &token) {
            Ok(())
        } else {
            Err(VerifyError::BadSignature)
        }
    }

    fn delivery_id(&self, _request: &WebhookRequest<'_>) -> Option<String> {
        None
    }

    fn parse(&self, body: &[u8]) -> Result<Vec<WebhookEvent>, ConnectorError> {
        let n: Notification =
            serde_json::from_slice(body).map_err(|e| ConnectorError::decode(EP, e))?;
        let module_name = n
            .module
            .as_deref()
            .ok_or_else(|| ConnectorError::decode(EP, "no module in the notification"))?;
        let operation = n
            .operation
            .as_deref()
            .ok_or_else(|| ConnectorError::decode(EP, "no operation in the notification"))?
            .trim()
            .to_ascii_lowercase();
        let ids = n
            .ids
            .as_ref()
            .ok_or_else(|| ConnectorError::decode(EP, "no ids in the notification"))?
            .iter()
            .map(|v| {
                model::id_text(v)
                    .filter(|id| id.chars().all(|c| c.is_ascii_digit()))
                    .ok_or_else(|| {
                        ConnectorError::decode(EP, format!("{v} is not a Zoho record id"))
                    })
            })
            .collect::<Result<Vec<String>, _>>()?;
        let Some(module) = Module::from_api_name(module_name) else {
            tracing::info!(module = module_name, channel = ?n.channel_id, "notification for a module okno does not read; ignored");
            return Ok(vec![WebhookEvent::Records(Vec::new())]);
        };
        if ids.is_empty() {
            return Ok(vec![WebhookEvent::Records(Vec::new())]);
        }
        match operation.as_str() {
            "delete" => {
                let at = n
                    .server_time
                    .as_ref()
                    .and_then(server_time)
                    // The SDK hands `parse` no receipt time; Zoho's bodies always carry
                    // server_time, so this is only for a body that lacks it.
                    .unwrap_or_else(Utc::now);
                let records = ids
                    .into_iter()
                    .map(|id| {
                        Record::Deleted(Deleted {
                            kind: DeletedKind::Lead(module.entity()),
                            id,
                            deleted_at: at,
                        })
                    })
                    .collect();
                Ok(vec![WebhookEvent::Records(records)])
            }
            op => {
                if !matches!(op, "insert" | "update" | "create" | "edit") {
                    // A record named by an unknown operation (restore?) is simply read again.
                    tracing::info!(
                        operation = op,
                        "unknown Zoho notification operation; refetching the records"
                    );
                }
                Ok(vec![WebhookEvent::Refetch {
                    stream: module.stream().to_string(),
                    ids,
                }])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hooks() -> Webhooks {
        Webhooks {
            tokens: vec![SecretString::from("tok-1".to_string())],
        }
    }

    fn req(body: &[u8]) -> WebhookRequest<'_> {
        WebhookRequest {
            received_at: Utc::now(),
            headers: &[],
            body,
            path_token: None,
        }
    }

    #[test]
    fn the_echoed_token_is_required_and_compared_whole() {
        assert_eq!(
            hooks().verify(&req(br#"{"token":"tok-1","ids":[]}"#)),
            Ok(())
        );
        assert_eq!(
            hooks().verify(&req(br#"{"token":"tok-12"}"#)),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            hooks().verify(&req(br#"{"token":null}"#)),
            Err(VerifyError::MissingHeader("token"))
        );
        assert_eq!(
            hooks().verify(&req(br#"{"token":5}"#)),
            Err(VerifyError::Malformed("token"))
        );
        assert_eq!(
            hooks().verify(&req(b"\xff\xfe")),
            Err(VerifyError::Malformed("body"))
        );
        // The path token is not an alternative.
        let mut r = req(br#"{"ids":["1"]}"#);
        r.path_token = Some("tok-1");
        assert_eq!(hooks().verify(&r), Err(VerifyError::MissingHeader("token")));
    }

    #[test]
    fn operations_map_to_refetches_and_deletions() {
        let events = hooks()
            .parse(br#"{"module":"Leads","ids":["1","2"],"operation":"insert","server_time":1}"#)
            .unwrap();
        assert!(
            matches!(&events[0], WebhookEvent::Refetch { stream, ids } if stream == "leads" && ids == &["1", "2"])
        );
        let events = hooks()
            .parse(
                br#"{"module":"Deals","ids":[3],"operation":"delete","server_time":1741259700207}"#,
            )
            .unwrap();
        let WebhookEvent::Records(r) = &events[0] else {
            panic!("{events:?}")
        };
        let Record::Deleted(d) = &r[0] else {
            panic!("{r:?}")
        };
        assert_eq!(d.id, "3");
        assert_eq!(d.kind, DeletedKind::Lead(okno_connector::LeadEntity::Deal));
        assert_eq!(d.deleted_at.timestamp_millis(), 1741259700207);
        let other = hooks()
            .parse(br#"{"module":"Contacts","ids":["1"],"operation":"update"}"#)
            .unwrap();
        assert!(matches!(&other[0], WebhookEvent::Records(r) if r.is_empty()));
    }

    #[test]
    fn garbage_is_a_decode_error() {
        for body in [
            &b"not json"[..],
            br#"[]"#,
            br#"{"module":"Leads","operation":"update"}"#,
            br#"{"module":"Leads","ids":["1; drop"],"operation":"update"}"#,
            br#"{"ids":["1"],"operation":"update"}"#,
            br#"{"module":"Leads","ids":"1","operation":"update"}"#,
        ] {
            let e = hooks().parse(body).unwrap_err();
            assert_eq!(e.class(), "decode", "{}", String::from_utf8_lossy(body));
        }
    }
}
