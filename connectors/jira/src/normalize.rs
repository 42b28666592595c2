//! Jira JSON → okno records.
//!
//! - An issue becomes a [`Task`]: `task_id` the issue id, `key`, `title` the summary, `project`
//!   the project key, `task_type` the issue type name, `labels` the labels (components stay in
//!   `raw`), assignee and reporter by `accountId` (Cloud) or `key`/`name` (Data Center), the
//!   status name and its category (`new` → todo, `indeterminate` → in progress, `done` → done),
//!   `campaign` and `estimate` from the configured custom fields.
//! - `started_at` is the first change into a status of the *in progress* category; `done_at`
//!   the last change into a *done* status, and only while the issue is done (a reopened issue
//!   has none until it is done again). An issue created straight into an in-progress status
//!   counts as started when created; a done issue whose changelog shows no move into done
//!   (imports, history cut off) falls back to `resolutiondate`, then to its creation when it was
//!   created done.
//! - A user becomes an [`Identity`], e-mail lower-cased, `None` when hidden.

use std::borrow::Cow;
use std::collections::HashMap;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};
use okno_connector::{Identity, StatusCategory, Task};
use rust_decimal::Decimal;
use serde_json::value::RawValue;

use crate::model::{Fields, History, Issue, User};

/// Parses Jira's timestamps: `2025-03-05T10:11:12.345+0100` (also `+01:00`, `Z`, no fraction).
pub(crate) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    fast_time(s.as_bytes()).or_else(|| {
        DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z")
            .or_else(|_| DateTime::parse_from_rfc3339(s))
            .ok()
            .map(|t| t.with_timezone(&Utc))
    })
}

fn digits(b: &[u8]) -> Option<u32> {
    let mut v = 0u32;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

/// The exact shape Jira writes, without chrono's format machinery (this runs for every issue).
fn fast_time(b: &[u8]) -> Option<DateTime<Utc>> {
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
        return None;
    }
    if b[16] != b':' {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(
        digits(&b[0..4])? as i32,
        digits(&b[5..7])?,
        digits(&b[8..10])?,
    )?;
    let (h, m, s) = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    let mut i = 19;
    let mut nanos = 0u32;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let frac = &b[start..i];
        if frac.is_empty() || frac.len() > 9 {
            return None;
        }
        nanos = digits(frac)? * 10u32.pow(9 - frac.len() as u32);
    }
    let rest = &b[i..];
    let offset_secs: i32 = match rest {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), hh1, hh2, mm1, mm2]
        | [sign @ (b'+' | b'-'), hh1, hh2, b':', mm1, mm2] => {
            let hh = digits(&[*hh1, *hh2])? as i32;
            let mm = digits(&[*mm1, *mm2])? as i32;
            let v = hh * 3600 + mm * 60;
            if *sign == b'-' {
                -v
            } else {
                v
            }
        }
        _ => return None,
    };
    let local = date.and_hms_nano_opt(h, m, s, nanos)?;
    let offset = FixedOffset::east_opt(offset_secs)?;
    offset
        .from_local_datetime(&local)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

/// A status category key → okno's category. `undefined` ("No Category") and anything new
/// count as to do.
pub(crate) fn category(key: Option<&str>) -> StatusCategory {
    match key {
        Some("indeterminate") => StatusCategory::InProgress,
        Some("done") => StatusCategory::Done,
        _ => StatusCategory::Todo,
    }
}

/// One status change, owned (changelog pages fetched separately outlive no body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Transition {
    pub at: DateTime<Utc>,
    /// The history id, to order changes made in the same millisecond.
    pub order: i64,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// The status changes of some histories (other fields are dropped).
pub(crate) fn transitions(histories: &[History<'_>], out: &mut Vec<Transition>) {
    for h in histories {
        let Some(at) = h.created.as_deref().and_then(parse_time) else {
            continue;
        };
        let order =
            h.id.as_ref()
                .and_then(|id| id.as_str().parse().ok())
                .unwrap_or(0);
        for item in h.items.as_deref().unwrap_or_default() {
            if item.is_status() {
                out.push(Transition {
                    at,
                    order,
                    from: item.from.as_deref().map(str::to_string),
                    to: item.to.as_deref().map(str::to_string),
                });
            }
        }
    }
}

/// When work started and finished, from the status changes (any order) and the status
/// categories by status id.
pub(crate) fn milestones(
    transitions: &mut [Transition],
    current: StatusCategory,
    created: DateTime<Utc>,
    resolved: Option<DateTime<Utc>>,
    categories: &HashMap<String, StatusCategory>,
) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    transitions.sort_by(|a, b| a.at.cmp(&b.at).then(a.order.cmp(&b.order)));
    let cat = |id: Option<&String>| id.and_then(|id| categories.get(id)).copied();
    let initial = match transitions.first() {
        Some(t) => cat(t.from.as_ref()),
        None => Some(current),
    };
    let started = transitions
        .iter()
        .find(|t| cat(t.to.as_ref()) == Some(StatusCategory::InProgress))
        .map(|t| t.at)
        .or_else(|| (initial == Some(StatusCategory::InProgress)).then_some(created));
    let done = if current == StatusCategory::Done {
        transitions
            .iter()
            .rev()
            .find(|t| cat(t.to.as_ref()) == Some(StatusCategory::Done))
            .map(|t| t.at)
            .or(resolved)
            .or_else(|| (initial == Some(StatusCategory::Done)).then_some(created))
    } else {
        None
    };
    (started, done)
}

/// Text of a custom field value: a string, a number, a select option (`value`, with a cascading
/// child as `parent / child`), a user or version (`displayName`/`name`), or a list of these
/// joined by ", ".
pub(crate) fn field_text(raw: &RawValue) -> Option<String> {
    let text = raw.get();
    if text.starts_with('"') {
        let s: Cow<'_, str> = serde_json::from_str(text).ok()?;
        let s = s.trim();
        return (!s.is_empty()).then(|| s.to_string());
    }
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    value_text(&value)
}

fn value_text(v: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    let out = match v {
        Value::Null => return None,
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().filter_map(value_text).collect();
            parts.join(", ")
        }
        Value::Object(o) => {
            let own = ["value", "name", "displayName", "key"]
                .iter()
                .find_map(|k| o.get(*k).and_then(|v| v.as_str()))
                .map(|s| s.trim().to_string())?;
            match o.get("child").and_then(value_text) {
                Some(child) => format!("{own} / {child}"),
                None => own,
            }
        }
    };
    (!out.is_empty()).then_some(out)
}

/// A number field as an exact decimal, read from its JSON text (never through f64). Strings
/// holding a number are accepted too; anything else is `Err` with what was there.
pub(crate) fn field_decimal(raw: &RawValue) -> Result<Option<Decimal>, String> {
    let text = raw.get().trim();
    if text == "null" {
        return Ok(None);
    }
    let owned;
    let number = if text.starts_with('"') {
        owned = serde_json::from_str::<String>(text).map_err(|e| e.to_string())?;
        let t = owned.trim();
        if t.is_empty() {
            return Ok(None);
        }
        t
    } else {
        text
    };
    Decimal::from_str(number)
        .or_else(|_| Decimal::from_scientific(number))
        .map(Some)
        .map_err(|_| {
            format!(
                "{} is not a number",
                text.chars().take(40).collect::<String>()
            )
        })
}

/// What normalising an issue needs besides the issue.
pub(crate) struct TaskInput<'a, 'b> {
    pub issue: &'b Issue<'a>,
    pub fields: &'b Fields<'a>,
    pub raw: &'a RawValue,
    pub updated: DateTime<Utc>,
    /// Status changes, all of them (the issue's own changelog, or the one fetched whole).
    pub transitions: Vec<Transition>,
}

/// Builds the task; `Err` names what is missing.
pub(crate) fn task(
    input: TaskInput<'_, '_>,
    categories: &HashMap<String, StatusCategory>,
    instance: &str,
) -> Task {
    let TaskInput {
        issue,
        fields: f,
        raw,
        updated,
        mut transitions,
    } = input;
    let status = f.status.as_ref();
    let current = category(
        status
            .and_then(|s| s.status_category.as_ref())
            .and_then(|c| c.key.as_deref()),
    );
    let created = f.created.as_deref().and_then(parse_time).unwrap_or(updated);
    let resolved = f.resolutiondate.as_deref().and_then(parse_time);
    let (started_at, done_at) =
        milestones(&mut transitions, current, created, resolved, categories);
    let estimate = f.estimate.and_then(|raw| match field_decimal(raw) {
        Ok(v) => v,
        Err(why) => {
            tracing::warn!(instance, issue = %issue.id.as_str(), "estimate field: {why}; left empty");
            None
        }
    });
    let nonempty = |s: Option<&Cow<'_, str>>| {
        s.map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    Task {
        task_id: issue.id.as_str().to_string(),
        key: nonempty(issue.key.as_ref()),
        title: f.summary.as_deref().map(str::to_string).unwrap_or_default(),
        project: nonempty(f.project.as_ref().and_then(|p| p.key.as_ref())),
        project_name: nonempty(f.project.as_ref().and_then(|p| p.name.as_ref())),
        task_type: nonempty(f.issuetype.as_ref().and_then(|t| t.name.as_ref())),
        labels: f
            .labels
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(|l| l.to_string())
            .collect(),
        assignee_id: f
            .assignee
            .as_ref()
            .and_then(User::user_id)
            .map(str::to_string),
        reporter_id: f
            .reporter
            .as_ref()
            .and_then(User::user_id)
            .map(str::to_string),
        status: status
            .and_then(|s| s.name.as_deref())
            .map(str::to_string)
            .unwrap_or_default(),
        status_category: current,
        created_at: created,
        updated_at: updated,
        started_at,
        done_at,
        campaign: f.campaign.and_then(field_text),
        estimate,
        deleted_at: None,
        raw: raw.to_owned(),
    }
}

/// A user as an identity; `None` without an id.
pub(crate) fn identity(u: &User<'_>, raw: &RawValue) -> Option<Identity> {
    let user_id = u.user_id()?.to_string();
    Some(Identity {
        user_id,
        name: u
            .display_name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string),
        email: u
            .email_address
            .as_deref()
            .map(|e| e.trim().to_lowercase())
            .filter(|e| !e.is_empty()),
        role: u
            .account_type
            .as_deref()
            .filter(|t| !t.is_empty())
            .map(str::to_string),
        active: u.active.unwrap_or(true),
        // Jira keeps no modification time for users.
        updated_at: DateTime::UNIX_EPOCH,
        raw: raw.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        parse_time(s).unwrap()
    }

    #[test]
    fn parses_jira_timestamps() {
        assert_eq!(
            t("2025-03-05T10:11:12.345+0100").to_rfc3339(),
            "2025-03-05T09:11:12.345+00:00"
        );
        assert_eq!(
            t("2020-01-28T18:45:57.987-0600").to_rfc3339(),
            "2020-01-29T00:45:57.987+00:00"
        );
        assert_eq!(
            t("2025-03-05T10:11:12+05:30").to_rfc3339(),
            "2025-03-05T04:41:12+00:00"
        );
        assert_eq!(
            t("2025-03-05T10:11:12.5Z").to_rfc3339(),
            "2025-03-05T10:11:12.500+00:00"
        );
        assert!(parse_time("05/Mar/25 10:11 AM").is_none());
        assert!(parse_time("2025-13-05T10:11:12.345+0100").is_none());
    }

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_string()).unwrap()
    }

    #[test]
    fn custom_field_values_become_text() {
        assert_eq!(
            field_text(&raw("\"spring-25\"")).as_deref(),
            Some("spring-25")
        );
        assert_eq!(
            field_text(&raw(r#"{"self":"x","value":"Spring sale","id":"10100"}"#)).as_deref(),
            Some("Spring sale")
        );
        assert_eq!(
            field_text(&raw(r#"[{"value":"A"},{"value":"B"}]"#)).as_deref(),
            Some("A, B")
        );
        assert_eq!(
            field_text(&raw(r#"{"value":"EMEA","child":{"value":"DACH"}}"#)).as_deref(),
            Some("EMEA / DACH")
        );
        assert_eq!(field_text(&raw("null")), None);
        assert_eq!(field_text(&raw("[]")), None);
    }

    #[test]
    fn estimates_keep_their_digits() {
        assert_eq!(
            field_decimal(&raw("0.1")).unwrap(),
            Some(Decimal::from_str("0.1").unwrap())
        );
        assert_eq!(
            field_decimal(&raw("3.0")).unwrap().unwrap().to_string(),
            "3.0"
        );
        assert_eq!(
            field_decimal(&raw("1.5E1")).unwrap(),
            Some(Decimal::from(15))
        );
        assert_eq!(
            field_decimal(&raw("\"8\"")).unwrap(),
            Some(Decimal::from(8))
        );
        assert_eq!(field_decimal(&raw("null")).unwrap(), None);
        assert!(field_decimal(&raw("{\"value\":1}")).is_err());
    }

    fn tr(at: &str, order: i64, from: &str, to: &str) -> Transition {
        Transition {
            at: t(at),
            order,
            from: Some(from.into()),
            to: Some(to.into()),
        }
    }

    #[test]
    fn milestones_take_the_first_start_and_the_last_finish() {
        let cats: HashMap<String, StatusCategory> = [
            ("1", StatusCategory::Todo),
            ("3", StatusCategory::InProgress),
            ("5", StatusCategory::Done),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let created = t("2025-03-01T09:00:00.000+0000");
        // Given newest first, as the expand doc says Jira may.
        let mut all = vec![
            tr("2025-03-06T09:00:00.000+0000", 14, "3", "5"),
            tr("2025-03-05T09:00:00.000+0000", 13, "1", "3"),
            tr("2025-03-04T09:00:00.000+0000", 12, "5", "1"),
            tr("2025-03-03T09:00:00.000+0000", 11, "3", "5"),
            tr("2025-03-02T09:00:00.000+0000", 10, "1", "3"),
        ];
        let (s, d) = milestones(&mut all, StatusCategory::Done, created, None, &cats);
        assert_eq!(s, Some(t("2025-03-02T09:00:00.000+0000")));
        assert_eq!(d, Some(t("2025-03-06T09:00:00.000+0000")));
        // Reopened and not done again (`all` is sorted now): no done time.
        let mut reopened = all[..3].to_vec();
        let (s, d) = milestones(&mut reopened, StatusCategory::Todo, created, None, &cats);
        assert_eq!(s, Some(t("2025-03-02T09:00:00.000+0000")));
        assert_eq!(d, None);
        // Created in progress, no changes.
        let (s, d) = milestones(&mut [], StatusCategory::InProgress, created, None, &cats);
        assert_eq!((s, d), (Some(created), None));
        // Done without a visible move: resolution date.
        let resolved = t("2025-03-09T09:00:00.000+0000");
        let (_, d) = milestones(
            &mut [],
            StatusCategory::Done,
            created,
            Some(resolved),
            &cats,
        );
        assert_eq!(d, Some(resolved));
    }
}
