//! amoCRM webhooks: authenticity by a secret path token, and the meaning of a delivery.
//!
//! amoCRM signs nothing on CRM webhooks (no header, no HMAC is documented), so the webhook's
//! URL carries a secret: `https://okno.example.com/hooks/<instance>/<webhook_token>`, compared in
//! constant time. amoCRM sends no delivery id either, so [`WebhookHandler::delivery_id`] is
//! `None` and the daemon deduplicates on a hash of the body (amoCRM retries with the same body).
//!
//! Bodies are `application/x-www-form-urlencoded` with PHP-style nested keys,
//! `leads[<action>][<n>][<field>]=...`, in v2 field names, several events per body possible and
//! `account[...]` keys first or last. They are treated as hints:
//! - `leads[add|update|status|restore|responsible|...][n][id]` → the lead is fetched again by id
//!   ([`WebhookEvent::Refetch`] of stream `leads`), so what is stored is what polling gives;
//! - `leads[delete][n][id]` → a [`Record::Deleted`]: a deleted lead can no longer be fetched.
//!   A delete body carries only `id`, `status_id` and `pipeline_id`, no time, and the SDK's
//!   `parse` is not given the delivery's `received_at`, so the deletion is dated when the
//!   delivery is processed (normally within seconds of its arrival; later after an outage). The
//!   `deleted_leads` stream later sees the same deletion with amoCRM's own time; the store keeps
//!   the first deletion time it was told.
//!
//! A lead that is both deleted and restored in one body is only fetched again (the order of the
//! two inside a body is not documented): if it exists it is alive, and if not, the
//! `deleted_leads` stream marks it. Other entities (contacts, companies, tasks) are ignored.

use chrono::Utc;
use okno_connector::signature::verify_token;
use okno_connector::webhook::{VerifyError, WebhookEvent, WebhookHandler, WebhookRequest};
use okno_connector::{ConnectorError, Record, SecretString};

use crate::normalize;

pub(crate) struct Webhooks {
    pub(crate) token: SecretString,
}

/// A key `entity[a][b]...` split into `entity` and its bracketed parts; `None` if it is not
/// shaped like that.
fn split_key(key: &str) -> Option<(&str, Vec<&str>)> {
    let open = key.find('[')?;
    let (name, mut rest) = key.split_at(open);
    if name.is_empty() {
        return None;
    }
    let mut parts = Vec::with_capacity(4);
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[')?;
        let close = inner.find(']')?;
        parts.push(&inner[..close]);
        rest = &inner[close + 1..];
    }
    Some((name, parts))
}

/// Ids of one body, by what happened to them.
#[derive(Default, Debug)]
struct Ids {
    changed: Vec<String>,
    deleted: Vec<String>,
    restored: Vec<String>,
}

fn push_unique(list: &mut Vec<String>, id: String) {
    if !list.contains(&id) {
        list.push(id);
    }
}

fn read_body(body: &[u8]) -> Result<Ids, ConnectorError> {
    const EP: &str = "webhook";
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ConnectorError::decode(EP, "empty body"));
    }
    let mut recognised = false;
    let mut ids = Ids::default();
    for (key, value) in url::form_urlencoded::parse(body) {
        let Some((entity, parts)) = split_key(&key) else {
            continue;
        };
        if entity == "account" {
            recognised = true;
            continue;
        }
        // `<entity>[<action>][<n>][id]` exactly: deeper keys (custom_fields, tags) have ids too.
        let [action, index, "id"] = parts.as_slice() else {
            if parts.len() >= 3 {
                recognised = true;
            }
            continue;
        };
        if !index.bytes().all(|b| b.is_ascii_digit()) || index.is_empty() {
            continue;
        }
        recognised = true;
        if entity != "leads" {
            continue;
        }
        let id = value.trim();
        if id.is_empty() || id.len() > 19 || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ConnectorError::decode(
                EP,
                format!("leads[{action}][{index}][id] {id:?} is not an amoCRM lead id"),
            ));
        }
        let id = id.to_string();
        match *action {
            "delete" => push_unique(&mut ids.deleted, id),
            "restore" => {
                push_unique(&mut ids.restored, id.clone());
                push_unique(&mut ids.changed, id);
            }
            // add, update, status, responsible, and anything new: fetching again is always safe.
            _ => push_unique(&mut ids.changed, id),
        }
    }
    if !recognised {
        return Err(ConnectorError::decode(
            EP,
            "not an amoCRM webhook body (expected form fields such as leads[update][0][id])",
        ));
    }
    Ok(ids)
}

impl WebhookHandler for Webhooks {
    fn verify(&self, request: &WebhookRequest<'_>) -> Result<(), VerifyError> {
        let given = request
            .path_token
            .ok_or(VerifyError::MissingHeader("path token"))?;
        if verify_token(std::slice::from_ref(&self.token), given) {
            Ok(())
        } else {
            Err(VerifyError::BadSignature)
        }
    }

    fn delivery_id(&self, _request: &WebhookRequest<'_>) -> Option<String> {
        None
    }

    fn parse(&self, body: &[u8]) -> Result<Vec<WebhookEvent>, ConnectorError> {
        let mut ids = read_body(body)?;
        let now = Utc::now();
        // Deleted and restored in one body: fetch again and let amoCRM say which is true.
        ids.deleted.retain(|id| !ids.restored.contains(id));
        // A deleted lead cannot be fetched (lists leave deleted leads out).
        ids.changed
            .retain(|id| ids.restored.contains(id) || !ids.deleted.contains(id));
        let mut events = Vec::with_capacity(2);
        if !ids.changed.is_empty() {
            events.push(WebhookEvent::Refetch {
                stream: "leads".to_string(),
                ids: ids.changed,
            });
        }
        if !ids.deleted.is_empty() {
            let mut records = Vec::with_capacity(ids.deleted.len());
            for id in &ids.deleted {
                let id: i64 = id.parse().map_err(|_| {
                    ConnectorError::decode("webhook", format!("lead id {id:?} out of range"))
                })?;
                records.push(Record::Deleted(normalize::deleted(id, now)));
            }
            events.push(WebhookEvent::Records(records));
        }
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hooks() -> Webhooks {
        Webhooks {
            token: SecretString::from("k3y".to_string()),
        }
    }

    #[test]
    fn keys_split_into_brackets() {
        assert_eq!(
            split_key("leads[add][0][id]"),
            Some(("leads", vec!["add", "0", "id"]))
        );
        assert_eq!(split_key("leads"), None);
        assert_eq!(split_key("[x]"), None);
        assert_eq!(split_key("leads[add"), None);
        assert_eq!(split_key("leads[add]x"), None);
    }

    #[test]
    fn nested_ids_are_not_lead_ids_and_mixed_bodies_split() {
        let body = b"leads%5Bupdate%5D%5B0%5D%5Bid%5D=11&leads%5Bupdate%5D%5B0%5D%5Bcustom_fields%5D%5B0%5D%5Bid%5D=99\
&leads%5Bdelete%5D%5B0%5D%5Bid%5D=12&leads%5Bstatus%5D%5B0%5D%5Bid%5D=11&contacts%5Bupdate%5D%5B0%5D%5Bid%5D=5";
        let events = hooks().parse(body).unwrap();
        assert_eq!(events.len(), 2);
        assert!(
            matches!(&events[0], WebhookEvent::Refetch { stream, ids } if stream == "leads" && ids == &["11"])
        );
        assert!(
            matches!(&events[1], WebhookEvent::Records(r) if matches!(&r[..], [Record::Deleted(d)] if d.id == "12"))
        );
    }

    #[test]
    fn deleted_and_restored_in_one_body_is_only_fetched() {
        let body = b"leads[delete][0][id]=7&leads[restore][0][id]=7";
        let events = hooks().parse(body).unwrap();
        assert_eq!(events.len(), 1);
        assert!(matches!(&events[0], WebhookEvent::Refetch { ids, .. } if ids == &["7"]));
    }

    #[test]
    fn other_entities_alone_mean_nothing_to_do() {
        let events = hooks()
            .parse(b"contacts[update][0][id]=5&account[id]=1")
            .unwrap();
        assert!(events.is_empty());
    }

    #[test]
    fn garbage_is_a_decode_error() {
        for body in [
            &b""[..],
            b"   ",
            b"{\"leads\": 1}",
            b"hello=world",
            b"\xff\xfe\x00garbage",
            b"leads[add][0][id]=1;drop",
            b"leads[add][0][id]=-4",
            b"leads[add][0][id]=99999999999999999999999",
        ] {
            let err = hooks().parse(body).expect_err("garbage");
            assert_eq!(err.class(), "decode", "{body:?}");
        }
    }
}
