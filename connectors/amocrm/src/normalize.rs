//! Pure mapping from amoCRM objects to okno records.

use std::borrow::Cow;
use std::collections::HashMap;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use okno_connector::{
    Currency, Deleted, DeletedKind, Identity, Lead, LeadEntity, Marks, Stage, StageCategory,
};
use rust_decimal::Decimal;
use serde_json::value::RawValue;

use crate::config::{FieldSelector, Fields};
use crate::model;

/// Status id of "won" (Успешно реализовано) in every pipeline.
pub(crate) const WON: i64 = 142;
/// Status id of "lost" (Закрыто и не реализовано) in every pipeline.
pub(crate) const LOST: i64 = 143;

/// `field_code`s of the analytics (tracking_data) fields read into [`Marks`], in slot order.
/// UTM_* are seen in real responses; GCLID and YCLID only in client code writing them; FBCLID is
/// inferred from amoCRM's export column names (no official list exists). The lower-case code is
/// also accepted as the `field_name` (real fields are named `utm_source` etc.).
pub(crate) const MARK_CODES: [&str; 8] = [
    "UTM_SOURCE",
    "UTM_MEDIUM",
    "UTM_CAMPAIGN",
    "UTM_CONTENT",
    "UTM_TERM",
    "GCLID",
    "YCLID",
    "FBCLID",
];

const PRODUCT: usize = 8;
const SEGMENT: usize = 9;
const REGION: usize = 10;
const DISCOUNT: usize = 11;
const LEAD_SOURCE: usize = 12;
const SLOTS: usize = 13;

/// Stage names by (pipeline id, status id): 142 and 143 repeat in every pipeline.
pub(crate) type StageNames = HashMap<(i64, i64), String>;

pub(crate) fn category(status_id: i64) -> StageCategory {
    match status_id {
        WON => StageCategory::Won,
        LOST => StageCategory::Lost,
        _ => StageCategory::Open,
    }
}

pub(crate) fn time(secs: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(secs, 0)
}

/// What a lead's mapping needs besides the lead.
pub(crate) struct LeadContext<'c> {
    pub fields: &'c Fields,
    pub stages: Option<&'c StageNames>,
    pub currency: Option<Currency>,
}

/// Which slots each custom field (by id) fills, remembered across the leads of one page: every
/// lead repeats the same fields, and a field id names one field of the account.
#[derive(Default)]
pub(crate) struct FieldMemo(Vec<(i64, [u8; SLOTS])>);

/// Fields remembered at most; an account rarely fills more on its leads.
const MEMO_CAP: usize = 512;

impl FieldMemo {
    fn ranks(&mut self, f: &model::CustomField<'_>, cfg: &Fields) -> [u8; SLOTS] {
        let Some(id) = f.field_id else {
            return ranks(f, cfg);
        };
        if let Some((_, r)) = self.0.iter().find(|(i, _)| *i == id) {
            return *r;
        }
        let r = ranks(f, cfg);
        if self.0.len() < MEMO_CAP {
            self.0.push((id, r));
        }
        r
    }
}

/// Maps one lead. Fails only on what makes the lead unusable (bad timestamps); a bad custom
/// field value is logged and left out.
pub(crate) fn lead(
    l: model::Lead<'_>,
    raw: &RawValue,
    cx: &LeadContext<'_>,
    memo: &mut FieldMemo,
) -> Result<Lead, String> {
    let created_at = time(l.created_at)
        .ok_or_else(|| format!("lead {}: bad created_at {}", l.id, l.created_at))?;
    let updated_at = time(l.updated_at)
        .ok_or_else(|| format!("lead {}: bad updated_at {}", l.id, l.updated_at))?;
    let mut slots: [Option<String>; SLOTS] = Default::default();
    if let Some(fields) = &l.custom_fields_values {
        pick_fields(fields, cx.fields, &mut slots, memo);
    }
    let [utm_source, utm_medium, utm_campaign, utm_content, utm_term, gclid, yclid, fbclid, product, segment, region, discount, lead_source] =
        slots;
    let discount = discount.and_then(|text| match parse_decimal(&text) {
        Some(d) => Some(d),
        None => {
            tracing::warn!(
                lead_id = l.id,
                field = "discount",
                value = %text,
                "amoCRM lead: the discount field is not a number; left empty"
            );
            None
        }
    });
    let amount = match l.price {
        None => None,
        Some(p) => match raw_decimal(p) {
            Some(d) => Some(d),
            None => {
                tracing::warn!(lead_id = l.id, field = "price", value = %p.get(), "amoCRM lead: price is not a number; left empty");
                None
            }
        },
    };
    let stage_name = match (cx.stages, l.pipeline_id, l.status_id) {
        (Some(names), Some(p), Some(s)) => names.get(&(p, s)).cloned(),
        _ => None,
    };
    Ok(Lead {
        lead_id: l.id.to_string(),
        entity: LeadEntity::Lead,
        name: l.name.map(Cow::into_owned),
        created_at,
        updated_at,
        pipeline_id: l.pipeline_id.map(|v| v.to_string()),
        stage_id: l.status_id.map(|v| v.to_string()),
        stage_name,
        stage_category: l.status_id.map_or(StageCategory::Open, category),
        amount,
        discount,
        currency: cx.currency,
        exchange_rate: None,
        closed_at: l.closed_at.filter(|&t| t > 0).and_then(time),
        owner_id: l
            .responsible_user_id
            .filter(|&id| id > 0)
            .map(|v| v.to_string()),
        lead_source,
        marks: Marks {
            utm_source,
            utm_medium,
            utm_campaign,
            utm_content,
            utm_term,
            gclid,
            yclid,
            fbclid,
        },
        product,
        segment,
        region,
        converted_deal_id: None,
        // amoCRM keeps a deleted lead restorable; the list only shows it with `with=only_deleted`,
        // so a deleted lead seen here was deleted at its last update.
        deleted_at: (l.is_deleted == Some(true)).then_some(updated_at),
        raw: raw.to_owned(),
    })
}

/// How well a field matches a slot: a configured selector or the mark's code beats the mark's
/// name.
fn rank(slot: usize, f: &model::CustomField<'_>, configured: Option<&FieldSelector>) -> u8 {
    let code = f.field_code.as_deref();
    let name = f.field_name.as_deref();
    if let Some(sel) = configured {
        return if sel.matches(f.field_id, code, name) {
            2
        } else {
            0
        };
    }
    let Some(mark) = MARK_CODES.get(slot) else {
        return 0;
    };
    if code.is_some_and(|c| c.eq_ignore_ascii_case(mark)) {
        2
    } else if name.is_some_and(|n| n.eq_ignore_ascii_case(mark)) {
        1
    } else {
        0
    }
}

/// How well a field matches every slot.
fn ranks(f: &model::CustomField<'_>, cfg: &Fields) -> [u8; SLOTS] {
    let configured = |slot: usize| -> Option<&FieldSelector> {
        match slot {
            0..=7 => cfg.marks[slot].as_ref(),
            PRODUCT => cfg.product.as_ref(),
            SEGMENT => cfg.segment.as_ref(),
            REGION => cfg.region.as_ref(),
            DISCOUNT => cfg.discount.as_ref(),
            LEAD_SOURCE => cfg.lead_source.as_ref(),
            _ => None,
        }
    };
    let mut out = [0u8; SLOTS];
    for (slot, r) in out.iter_mut().enumerate() {
        *r = rank(slot, f, configured(slot));
    }
    out
}

fn pick_fields(
    fields: &[model::CustomField<'_>],
    cfg: &Fields,
    slots: &mut [Option<String>; SLOTS],
    memo: &mut FieldMemo,
) {
    let mut best = [0u8; SLOTS];
    for f in fields {
        let ranks = memo.ranks(f, cfg);
        if ranks.iter().zip(&best).all(|(r, b)| *r == 0 || r <= b) {
            continue;
        }
        // The text is extracted once per field, and only when some slot wants it.
        let Some(text) = field_text(f) else {
            continue;
        };
        for slot in 0..SLOTS {
            if ranks[slot] > best[slot] {
                slots[slot] = Some(text.clone());
                best[slot] = ranks[slot];
            }
        }
    }
}

/// The field's value as text: select fields carry their option's text in `value`; several
/// values (multiselect) are joined with ", ". Empty values count as none.
fn field_text(f: &model::CustomField<'_>) -> Option<String> {
    let values = f.values.as_deref()?;
    let mut out: Option<String> = None;
    for v in values {
        let Some(text) = v.value.and_then(value_text) else {
            continue;
        };
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        match &mut out {
            None => out = Some(text.to_string()),
            Some(o) => {
                o.push_str(", ");
                o.push_str(text);
            }
        }
    }
    out
}

/// A JSON scalar as text: strings unquoted, numbers as written, booleans as `true`/`false`.
/// Objects (address, legal entity fields) and null have no text.
pub(crate) fn value_text(raw: &RawValue) -> Option<Cow<'_, str>> {
    let s = raw.get();
    match s.as_bytes().first()? {
        b'"' => serde_json::from_str::<&str>(s)
            .map(Cow::Borrowed)
            .or_else(|_| serde_json::from_str::<String>(s).map(Cow::Owned))
            .ok(),
        b'-' | b'0'..=b'9' => Some(Cow::Borrowed(s)),
        b't' => Some(Cow::Borrowed("true")),
        b'f' => Some(Cow::Borrowed("false")),
        _ => None,
    }
}

/// A JSON number or numeric string as an exact decimal.
fn raw_decimal(raw: &RawValue) -> Option<Decimal> {
    let text = value_text(raw)?;
    parse_decimal(&text)
}

/// Decimal text such as `5000`, `5000.50`, `-12.5`, `1e3`, or `5000,50` (a comma as the decimal
/// separator, as Russian-locale users type it). Anything else is `None`.
pub(crate) fn parse_decimal(text: &str) -> Option<Decimal> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    let swapped;
    let t = if t.contains(',') && !t.contains('.') && t.matches(',').count() == 1 {
        swapped = t.replace(',', ".");
        swapped.as_str()
    } else {
        t
    };
    Decimal::from_str(t)
        .or_else(|_| Decimal::from_scientific(t))
        .ok()
}

/// One status of one pipeline.
pub(crate) fn stage(pipeline: &model::Pipeline<'_>, s: model::Status<'_>, raw: &RawValue) -> Stage {
    Stage {
        pipeline_id: pipeline.id.to_string(),
        pipeline_name: pipeline.name.as_deref().map(str::to_string),
        stage_id: s.id.to_string(),
        stage_name: s.name.map(Cow::into_owned).unwrap_or_default(),
        category: category(s.id),
        sort: s.sort,
        archived: pipeline.is_archive,
        raw: raw.to_owned(),
    }
}

/// amoCRM users carry no modification time: `updated_at` is fixed at the Unix epoch, so the
/// store rewrites an identity only when its JSON changed.
pub(crate) fn identity(u: model::User, raw: &RawValue) -> Identity {
    let rights = u.rights.as_ref();
    Identity {
        user_id: u.id.to_string(),
        name: u.name.filter(|n| !n.trim().is_empty()),
        email: u
            .email
            .map(|e| e.trim().to_lowercase())
            .filter(|e| !e.is_empty()),
        role: Some(
            if rights.and_then(|r| r.is_admin).unwrap_or(false) {
                "admin"
            } else {
                "user"
            }
            .to_string(),
        ),
        active: rights.and_then(|r| r.is_active).unwrap_or(true),
        updated_at: DateTime::UNIX_EPOCH,
        raw: raw.to_owned(),
    }
}

/// A lead deletion at `deleted_at`.
pub(crate) fn deleted(lead_id: i64, deleted_at: DateTime<Utc>) -> Deleted {
    Deleted {
        kind: DeletedKind::Lead(LeadEntity::Lead),
        id: lead_id.to_string(),
        deleted_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_parse_exactly_or_not_at_all() {
        assert_eq!(parse_decimal("5000"), Some(Decimal::new(5000, 0)));
        assert_eq!(parse_decimal(" 5000.50 "), Some(Decimal::new(500050, 2)));
        assert_eq!(parse_decimal("5000,5"), Some(Decimal::new(50005, 1)));
        assert_eq!(parse_decimal("1e3"), Some(Decimal::new(1000, 0)));
        assert_eq!(parse_decimal("десять"), None);
        assert_eq!(parse_decimal("1,000,000"), None);
        assert_eq!(parse_decimal(""), None);
    }

    #[test]
    fn scalar_values_become_text() {
        let v = |s: &str| RawValue::from_string(s.to_string()).unwrap();
        assert_eq!(value_text(&v("\"a\\\"b\"")).as_deref(), Some("a\"b"));
        assert_eq!(value_text(&v("14012")).as_deref(), Some("14012"));
        assert_eq!(value_text(&v("true")).as_deref(), Some("true"));
        assert_eq!(value_text(&v("null")), None);
        assert_eq!(value_text(&v("{\"a\":1}")), None);
    }
}
