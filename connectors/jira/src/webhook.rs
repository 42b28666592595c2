//! Jira webhooks: signature check and the meaning of a delivery.
//!
//! An admin webhook registered with a secret (Jira Cloud since February 2024) signs every
//! delivery with `X-Hub-Signature: sha256=<hex HMAC-SHA256 of the raw body>`. The current
//! `webhook_secret` and, during a rotation, `webhook_secret_previous` are both accepted. Jira
//! signs no timestamp, so there is no replay window; a replayed delivery can only make okno
//! fetch an issue again or mark an already deleted issue deleted.
//!
//! Jira retries failed deliveries (408, 409, 425, 429, 5xx, timeouts) for up to about 30 minutes
//! and may deliver one more than once. Every delivery carries `X-Atlassian-Webhook-Identifier`,
//! unique within the site and unchanged across retries: that is the delivery id the daemon
//! deduplicates on.
//!
//! Bodies (`{"timestamp": <ms>, "webhookEvent": "...", "issue": {"id": "10977", ...}, ...}`):
//! - `jira:issue_created`, `jira:issue_updated` → the issue is fetched again by id
//!   ([`WebhookEvent::Refetch`] of stream `issues`), so what is stored is what polling gives,
//!   changelog-derived started/done times included, and only within the configured projects
//!   and JQL;
//! - `jira:issue_deleted` → a [`Record::Deleted`] dated by the body's `timestamp` (when Jira
//!   sent it; the time of receipt if a body lacks it);
//! - every other event (comments, worklogs, sprints, ...) → nothing.

use chrono::{DateTime, Utc};
use okno_connector::signature::{verify_hmac, Algorithm, Encoding};
use okno_connector::webhook::{VerifyError, WebhookEvent, WebhookHandler, WebhookRequest};
use okno_connector::{ConnectorError, Deleted, DeletedKind, Record, SecretString};
use serde::Deserialize;

use crate::model::Text;

const SIGNATURE: &str = "x-hub-signature";
const IDENTIFIER: &str = "x-atlassian-webhook-identifier";

pub(crate) struct Webhooks {
    pub(crate) secrets: Vec<SecretString>,
}

#[derive(Deserialize)]
struct Body<'a> {
    #[serde(default, rename = "webhookEvent")]
    event: Option<String>,
    #[serde(default)]
    timestamp: Option<i64>,
    #[serde(borrow, default)]
    issue: Option<IssueRef<'a>>,
}

#[derive(Deserialize)]
struct IssueRef<'a> {
    #[serde(borrow, default)]
    id: Option<Text<'a>>,
}

impl WebhookHandler for Webhooks {
    fn verify(&self, request: &WebhookRequest<'_>) -> Result<(), VerifyError> {
        let signature = request
            .header(SIGNATURE)
            .ok_or(VerifyError::MissingHeader(SIGNATURE))?;
        if verify_hmac(
            Algorithm::Sha256,
            Encoding::Hex,
            &self.secrets,
            &[request.body],
            signature,
            Some("sha256="),
        ) {
            Ok(())
        } else {
            Err(VerifyError::BadSignature)
        }
    }

    fn delivery_id(&self, request: &WebhookRequest<'_>) -> Option<String> {
        request
            .header(IDENTIFIER)
            .map(str::trim)
            .filter(|id| !id.is_empty() && id.len() <= 200)
            .map(str::to_string)
    }

    fn parse(&self, body: &[u8]) -> Result<Vec<WebhookEvent>, ConnectorError> {
        const EP: &str = "webhook";
        let b: Body = serde_json::from_slice(body).map_err(|e| ConnectorError::decode(EP, e))?;
        let Some(event) = b.event.as_deref() else {
            return Err(ConnectorError::decode(
                EP,
                "not a Jira webhook body (no `webhookEvent`)",
            ));
        };
        let wanted = matches!(
            event,
            "jira:issue_created" | "jira:issue_updated" | "jira:issue_deleted"
        );
        if !wanted {
            return Ok(Vec::new());
        }
        let id = b
            .issue
            .as_ref()
            .and_then(|i| i.id.as_ref())
            .map(|id| id.as_str().trim().to_string())
            .ok_or_else(|| ConnectorError::decode(EP, format!("{event} without `issue.id`")))?;
        if id.is_empty() || id.len() > 19 || !id.bytes().all(|c| c.is_ascii_digit()) {
            return Err(ConnectorError::decode(
                EP,
                format!("issue id {id:?} is not a Jira id"),
            ));
        }
        if event == "jira:issue_deleted" {
            let deleted_at = b
                .timestamp
                .and_then(DateTime::from_timestamp_millis)
                .unwrap_or_else(|| {
                    tracing::warn!(issue = %id, "jira:issue_deleted without a timestamp; dated now");
                    Utc::now()
                });
            return Ok(vec![WebhookEvent::Records(vec![Record::Deleted(
                Deleted {
                    kind: DeletedKind::Task,
                    id,
                    deleted_at,
                },
            )])]);
        }
        Ok(vec![WebhookEvent::Refetch {
            stream: "issues".to_string(),
            ids: vec![id],
        }])
    }
}
