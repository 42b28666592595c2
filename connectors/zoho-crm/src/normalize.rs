//! Pure mapping from Zoho records to okno records.
//!
//! A record is read as a map of its top-level keys to their raw JSON text, so `raw` is the
//! object exactly as Zoho sent it and money is parsed from the number's own digits
//! (`Decimal::from_str`), never through `f64`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use okno_connector::rust_decimal::Decimal;
use okno_connector::{
    Currency, Deleted, DeletedKind, Identity, Lead, LeadEntity, Marks, StageCategory,
};
use serde_json::value::RawValue;

use crate::config::{FieldRef, Settings};
use crate::model;

/// The two record modules okno reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Module {
    Leads,
    Deals,
}

impl Module {
    pub(crate) fn api_name(self) -> &'static str {
        match self {
            Module::Leads => "Leads",
            Module::Deals => "Deals",
        }
    }

    pub(crate) fn stream(self) -> &'static str {
        match self {
            Module::Leads => "leads",
            Module::Deals => "deals",
        }
    }

    pub(crate) fn entity(self) -> LeadEntity {
        match self {
            Module::Leads => LeadEntity::Lead,
            Module::Deals => LeadEntity::Deal,
        }
    }

    pub(crate) fn from_api_name(name: &str) -> Option<Module> {
        match name.trim() {
            n if n.eq_ignore_ascii_case("Leads") => Some(Module::Leads),
            n if n.eq_ignore_ascii_case("Deals") => Some(Module::Deals),
            _ => None,
        }
    }

    pub(crate) fn from_stream(stream: &str) -> Option<Module> {
        match stream {
            "leads" => Some(Module::Leads),
            "deals" => Some(Module::Deals),
            _ => None,
        }
    }
}

/// What `GET /org` told us, as far as normalisation needs it.
#[derive(Debug, Clone, Default)]
pub(crate) struct OrgFacts {
    pub(crate) name: Option<String>,
    pub(crate) id: Option<String>,
    pub(crate) currency: Option<Currency>,
    pub(crate) time_zone: Option<Tz>,
    pub(crate) time_zone_name: Option<String>,
}

impl OrgFacts {
    pub(crate) fn from_model(org: &model::Org) -> OrgFacts {
        // `iso_code` is the home currency; `currency` ends in it too ("Euro - EUR").
        let currency = org
            .iso_code
            .as_deref()
            .and_then(|c| c.parse::<Currency>().ok())
            .or_else(|| {
                org.currency
                    .as_deref()
                    .and_then(|c| c.rsplit(['-', ' ']).next())
                    .and_then(|c| c.parse::<Currency>().ok())
            });
        let time_zone = org.time_zone.as_deref().and_then(|tz| {
            let parsed = tz.trim().parse::<Tz>().ok();
            if parsed.is_none() {
                tracing::warn!(
                    time_zone = tz,
                    "the Zoho org's time zone is not an IANA name; closing dates are read as UTC"
                );
            }
            parsed
        });
        OrgFacts {
            name: org.company_name.clone(),
            id: org.id.as_ref().and_then(model::id_text),
            currency,
            time_zone,
            time_zone_name: org.time_zone.clone(),
        }
    }
}

/// What `GET /settings/fields?module=X` told us.
#[derive(Debug, Clone, Default)]
pub(crate) struct ModuleMeta {
    pub(crate) api_names: HashSet<String>,
    /// Deals: stage value (actual, display and reference value, lower case) → category, from
    /// the picklist's `forecast_type` (else `deal_category`).
    pub(crate) stages: HashMap<String, StageCategory>,
}

impl ModuleMeta {
    pub(crate) fn from_model(fields: &model::FieldsEnvelope) -> ModuleMeta {
        let mut meta = ModuleMeta::default();
        for f in &fields.fields {
            meta.api_names.insert(f.api_name.clone());
            if f.api_name != "Stage" {
                continue;
            }
            for v in f.pick_list_values.iter().flatten() {
                let category = v
                    .forecast_type
                    .as_deref()
                    .and_then(category_of)
                    .or_else(|| v.deal_category.as_deref().and_then(category_of));
                let Some(category) = category else { continue };
                for key in [&v.actual_value, &v.display_value, &v.reference_value]
                    .into_iter()
                    .flatten()
                {
                    meta.stages
                        .entry(key.trim().to_lowercase())
                        .or_insert(category);
                }
            }
        }
        meta
    }
}

fn category_of(forecast: &str) -> Option<StageCategory> {
    match forecast.trim().to_ascii_lowercase().as_str() {
        "closed won" => Some(StageCategory::Won),
        "closed lost" => Some(StageCategory::Lost),
        "open" => Some(StageCategory::Open),
        _ => None,
    }
}

/// A record's top-level keys and their raw JSON.
pub(crate) struct Fields<'a> {
    map: BTreeMap<String, &'a RawValue>,
}

impl<'a> Fields<'a> {
    pub(crate) fn parse(raw: &'a RawValue) -> Result<Fields<'a>, String> {
        let map: BTreeMap<String, &'a RawValue> = serde_json::from_str(raw.get())
            .map_err(|e| format!("{e} in record {}", excerpt(raw)))?;
        Ok(Fields { map })
    }

    fn raw(&self, key: &str) -> Option<&'a RawValue> {
        self.map
            .get(key)
            .copied()
            .filter(|r| r.get().trim() != "null")
    }

    fn value(&self, key: &str) -> Option<serde_json::Value> {
        self.raw(key)
            .and_then(|r| serde_json::from_str(r.get()).ok())
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        self.raw(key).is_some()
    }

    /// A string field, trimmed; numbers and booleans as their text; a lookup by its name; a
    /// multi-select as its values joined by `;` (Zoho's own separator in exports).
    pub(crate) fn text(&self, key: &str) -> Option<String> {
        self.value(key).and_then(|v| value_text(&v))
    }

    /// The id of a lookup (`{name, id}`), or the value itself when it is a plain id.
    pub(crate) fn lookup_id(&self, key: &str) -> Option<String> {
        self.value(key).and_then(|v| match &v {
            serde_json::Value::Object(o) => o.get("id").and_then(model::id_text),
            other => model::id_text(other),
        })
    }

    pub(crate) fn time(&self, key: &str) -> Result<Option<DateTime<Utc>>, String> {
        match self.text(key) {
            None => Ok(None),
            Some(t) => DateTime::parse_from_rfc3339(&t)
                .map(|d| Some(d.with_timezone(&Utc)))
                .map_err(|e| format!("{key} {t:?} is not an ISO 8601 time: {e}")),
        }
    }

    pub(crate) fn date(&self, key: &str) -> Result<Option<NaiveDate>, String> {
        match self.text(key) {
            None => Ok(None),
            Some(t) => NaiveDate::parse_from_str(&t, "%Y-%m-%d")
                .map(Some)
                .map_err(|e| format!("{key} {t:?} is not a YYYY-MM-DD date: {e}")),
        }
    }

    /// An exact decimal from the number's JSON text (or a numeric string).
    pub(crate) fn decimal(&self, key: &str) -> Result<Option<Decimal>, String> {
        let Some(raw) = self.raw(key) else {
            return Ok(None);
        };
        let text = raw.get().trim();
        let owned;
        let digits = if text.starts_with('"') {
            owned = serde_json::from_str::<String>(text).map_err(|e| e.to_string())?;
            let t = owned.trim();
            if t.is_empty() {
                return Ok(None);
            }
            t
        } else {
            text
        };
        parse_decimal(digits)
            .map(Some)
            .ok_or_else(|| format!("{key} {digits:?} is not a number"))
    }
}

pub(crate) fn parse_decimal(text: &str) -> Option<Decimal> {
    if text.contains(['e', 'E']) {
        Decimal::from_scientific(text).ok()
    } else {
        Decimal::from_str(text).ok()
    }
}

fn value_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        serde_json::Value::Object(o) => o
            .get("name")
            .and_then(value_text)
            .or_else(|| o.get("id").and_then(model::id_text)),
        serde_json::Value::Array(items) => {
            let parts: Vec<String> = items.iter().filter_map(value_text).collect();
            (!parts.is_empty()).then(|| parts.join(";"))
        }
        serde_json::Value::Null => None,
    }
}

fn excerpt(raw: &RawValue) -> String {
    let mut s: String = raw.get().chars().take(120).collect();
    s.push('…');
    s
}

/// Everything besides the record that decides how it maps.
pub(crate) struct Context<'a> {
    pub(crate) settings: &'a Settings,
    pub(crate) org: Option<&'a OrgFacts>,
    /// Field metadata of the record's module, when Zoho gave it.
    pub(crate) meta: Option<&'a ModuleMeta>,
}

/// A Lead or Deal record.
pub(crate) fn lead(module: Module, raw: &RawValue, ctx: &Context<'_>) -> Result<Lead, String> {
    let f = Fields::parse(raw)?;
    let lead_id = f
        .lookup_id("id")
        .ok_or_else(|| format!("record without an id: {}", excerpt(raw)))?;
    let at = |key: &str| -> Result<DateTime<Utc>, String> {
        f.time(key)?
            .ok_or_else(|| format!("record {lead_id} has no {key}"))
    };
    let created_at = at("Created_Time")?;
    let updated_at = at("Modified_Time")?;
    let s = ctx.settings;
    let configured = |r: &Option<FieldRef>| r.as_ref().and_then(|r| f.text(&r.api_name));
    let marks = Marks {
        utm_source: configured(&s.fields.utm_source),
        utm_medium: configured(&s.fields.utm_medium),
        utm_campaign: configured(&s.fields.utm_campaign),
        utm_content: configured(&s.fields.utm_content),
        utm_term: configured(&s.fields.utm_term),
        gclid: configured(&s.fields.gclid),
        yclid: configured(&s.fields.yclid),
        fbclid: configured(&s.fields.fbclid),
    };
    let discount = match &s.fields.discount {
        // A configured field of any type: a value that is not a number is left out, not fatal.
        Some(r) => f.decimal(&r.api_name).unwrap_or_else(|e| {
            tracing::warn!(record = %lead_id, error = %e, "discount field ignored");
            None
        }),
        None => None,
    };
    let currency = match f.text("Currency") {
        // Not an ISO code: the amount's currency is unknown, which is better than a wrong
        // one and better than a stream stuck on one record.
        Some(c) => match c.parse::<Currency>() {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(record = %lead_id, error = %e, "Currency ignored");
                None
            }
        },
        None => ctx.org.and_then(|o| o.currency),
    };
    let exchange_rate = f
        .decimal("Exchange_Rate")
        .map_err(|e| format!("record {lead_id}: {e}"))?;

    let mut out = Lead {
        lead_id: lead_id.clone(),
        entity: module.entity(),
        name: None,
        created_at,
        updated_at,
        pipeline_id: None,
        stage_id: None,
        stage_name: None,
        stage_category: StageCategory::Open,
        amount: None,
        discount,
        currency,
        exchange_rate,
        closed_at: None,
        owner_id: f.lookup_id("Owner"),
        lead_source: f.text("Lead_Source"),
        marks,
        product: configured(&s.fields.product),
        segment: configured(&s.fields.segment),
        region: configured(&s.fields.region),
        converted_deal_id: None,
        deleted_at: None,
        raw: raw.to_owned(),
    };
    match module {
        Module::Leads => {
            out.name = f.text("Full_Name").or_else(|| {
                let parts: Vec<String> = ["First_Name", "Last_Name"]
                    .iter()
                    .filter_map(|k| f.text(k))
                    .collect();
                (!parts.is_empty()).then(|| parts.join(" "))
            });
            out.name = out.name.or_else(|| f.text("Company"));
            out.stage_name = f.text("Lead_Status");
            let lost = out.stage_name.as_deref().is_some_and(|st| {
                s.lost_lead_statuses
                    .iter()
                    .any(|l| l.eq_ignore_ascii_case(st))
            });
            if lost {
                out.stage_category = StageCategory::Lost;
            }
            out.converted_deal_id = converted_deal(&f);
        }
        Module::Deals => {
            out.name = f.text("Deal_Name");
            out.stage_name = f.text("Stage");
            out.pipeline_id = f.value("Pipeline").and_then(|v| match &v {
                serde_json::Value::Object(o) => o
                    .get("id")
                    .and_then(model::id_text)
                    .or_else(|| o.get("name").and_then(value_text)),
                other => value_text(other),
            });
            out.stage_category = out
                .stage_name
                .as_deref()
                .map(|st| deal_category(st, s, ctx.meta))
                .unwrap_or(StageCategory::Open);
            out.amount = f
                .decimal("Amount")
                .map_err(|e| format!("record {lead_id}: {e}"))?;
            if out.stage_category != StageCategory::Open {
                out.closed_at = f
                    .date("Closing_Date")
                    .map_err(|e| format!("record {lead_id}: {e}"))?
                    .map(|d| local_midnight(d, ctx.org.and_then(|o| o.time_zone)));
            }
        }
    }
    Ok(out)
}

/// The deal a converted lead became: `$converted_detail.deal` (an id string, or an object with
/// `id`: the shape is not documented), else the `Converted_Deal` lookup.
fn converted_deal(f: &Fields<'_>) -> Option<String> {
    let from_detail = f.value("$converted_detail").and_then(|d| {
        let deal = d.get("deal")?;
        match deal {
            serde_json::Value::Object(o) => o.get("id").and_then(model::id_text),
            other => model::id_text(other),
        }
    });
    from_detail.or_else(|| f.lookup_id("Converted_Deal"))
}

/// Won/lost by the stage's forecast type in Zoho's metadata, else by the configured names.
pub(crate) fn deal_category(
    stage: &str,
    settings: &Settings,
    meta: Option<&ModuleMeta>,
) -> StageCategory {
    let key = stage.trim().to_lowercase();
    if let Some(c) = meta.and_then(|m| m.stages.get(&key)) {
        return *c;
    }
    if settings
        .won_stages
        .iter()
        .any(|w| w.eq_ignore_ascii_case(stage.trim()))
    {
        StageCategory::Won
    } else if settings
        .lost_stages
        .iter()
        .any(|l| l.eq_ignore_ascii_case(stage.trim()))
    {
        StageCategory::Lost
    } else {
        StageCategory::Open
    }
}

/// Midnight of `date` in the org's time zone, as an instant; UTC midnight when the zone is not
/// known. A midnight that a DST change skips becomes the first instant of that day.
pub(crate) fn local_midnight(date: NaiveDate, tz: Option<Tz>) -> DateTime<Utc> {
    let naive = date.and_time(NaiveTime::MIN);
    let Some(tz) = tz else {
        return Utc.from_utc_datetime(&naive);
    };
    for hour in 0..3 {
        let local = naive + chrono::Duration::hours(hour);
        if let Some(t) = tz.from_local_datetime(&local).earliest() {
            return t.with_timezone(&Utc);
        }
    }
    Utc.from_utc_datetime(&naive)
}

/// One entry of a deleted-records list.
pub(crate) fn deleted(module: Module, raw: &RawValue) -> Result<(Deleted, DateTime<Utc>), String> {
    let e: model::DeletedEntry =
        serde_json::from_str(raw.get()).map_err(|e| format!("{e} in {}", excerpt(raw)))?;
    let id = model::id_text(&e.id)
        .ok_or_else(|| format!("deleted entry without an id: {}", excerpt(raw)))?;
    let when = e
        .deleted_time
        .as_deref()
        .ok_or_else(|| format!("deleted record {id} has no deleted_time"))?;
    let at = DateTime::parse_from_rfc3339(when.trim())
        .map_err(|err| format!("deleted_time {when:?} of {id}: {err}"))?
        .with_timezone(&Utc);
    Ok((
        Deleted {
            kind: DeletedKind::Lead(module.entity()),
            id,
            deleted_at: at,
        },
        at,
    ))
}

/// A CRM user.
pub(crate) fn identity(raw: &RawValue) -> Result<Identity, String> {
    let u: model::User =
        serde_json::from_str(raw.get()).map_err(|e| format!("{e} in user {}", excerpt(raw)))?;
    let user_id =
        model::id_text(&u.id).ok_or_else(|| format!("user without an id: {}", excerpt(raw)))?;
    let when = u
        .modified_time
        .as_deref()
        .or(u.created_time.as_deref())
        .ok_or_else(|| format!("user {user_id} has neither Modified_Time nor created_time"))?;
    let updated_at = DateTime::parse_from_rfc3339(when.trim())
        .map_err(|e| format!("user {user_id}: time {when:?}: {e}"))?
        .with_timezone(&Utc);
    let name = u.full_name.filter(|n| !n.trim().is_empty()).or_else(|| {
        let parts: Vec<String> = [u.first_name, u.last_name]
            .into_iter()
            .flatten()
            .filter(|p| !p.trim().is_empty())
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    });
    Ok(Identity {
        user_id,
        name,
        email: u
            .email
            .map(|e| e.trim().to_lowercase())
            .filter(|e| !e.is_empty()),
        role: u.role.and_then(|r| r.name),
        active: u
            .status
            .as_deref()
            .is_some_and(|s| s.trim().eq_ignore_ascii_case("active")),
        updated_at,
        raw: raw.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings(extra: serde_json::Value) -> Settings {
        let mut v = json!({"data_centre": "eu", "client_id": "c", "client_secret": "s"});
        if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        Settings::parse(&v, None).ok().unwrap()
    }

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_string()).unwrap()
    }

    #[test]
    fn money_keeps_every_digit() {
        let r = raw(
            r#"{"id":"1","Created_Time":"2025-03-01T10:00:00+01:00","Modified_Time":"2025-03-01T10:00:00+01:00","Deal_Name":"x","Stage":"Closed Won","Amount":12345678901234.56789,"Exchange_Rate":"1.0850","Currency":"usd","Closing_Date":"2025-03-30"}"#,
        );
        let s = settings(json!({}));
        let ctx = Context {
            settings: &s,
            org: None,
            meta: None,
        };
        let l = lead(Module::Deals, &r, &ctx).unwrap();
        assert_eq!(
            l.amount,
            Some(Decimal::from_str("12345678901234.56789").unwrap())
        );
        assert_eq!(l.amount.unwrap().to_string(), "12345678901234.56789");
        assert_eq!(l.exchange_rate.unwrap().to_string(), "1.0850");
        assert_eq!(l.currency.unwrap().as_str(), "USD");
        assert_eq!(l.stage_category, StageCategory::Won);
        // No org time zone: UTC midnight.
        assert_eq!(
            l.closed_at.unwrap().to_rfc3339(),
            "2025-03-30T00:00:00+00:00"
        );
        assert_eq!(l.raw.get(), r.get());
    }

    #[test]
    fn closing_dates_are_midnight_in_the_org_zone_across_dst() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let d = NaiveDate::from_ymd_opt(2025, 3, 30).unwrap(); // DST starts at 02:00 that day
        assert_eq!(
            local_midnight(d, Some(berlin)).to_rfc3339(),
            "2025-03-29T23:00:00+00:00"
        );
        let d = NaiveDate::from_ymd_opt(2025, 7, 1).unwrap();
        assert_eq!(
            local_midnight(d, Some(berlin)).to_rfc3339(),
            "2025-06-30T22:00:00+00:00"
        );
        // Havana skips midnight itself when DST starts (2025-03-09 00:00 → 01:00).
        let havana: Tz = "America/Havana".parse().unwrap();
        let d = NaiveDate::from_ymd_opt(2025, 3, 9).unwrap();
        assert_eq!(
            local_midnight(d, Some(havana)).to_rfc3339(),
            "2025-03-09T05:00:00+00:00"
        );
    }

    #[test]
    fn converted_detail_accepts_strings_objects_and_the_lookup() {
        let s = settings(json!({}));
        let ctx = Context {
            settings: &s,
            org: None,
            meta: None,
        };
        let base = r#""id":"9","Created_Time":"2025-03-01T10:00:00+01:00","Modified_Time":"2025-03-01T10:00:00+01:00""#;
        for (extra, want) in [
            (r#""$converted_detail":{"deal":"111"}"#, Some("111")),
            (
                r#""$converted_detail":{"deal":{"id":"222","name":"D"}}"#,
                Some("222"),
            ),
            (
                r#""$converted_detail":{},"Converted_Deal":{"name":"D","id":"333"}"#,
                Some("333"),
            ),
            (r#""$converted_detail":{},"Converted_Deal":null"#, None),
            (r#""$converted_detail":null"#, None),
        ] {
            let r = raw(&format!("{{{base},{extra}}}"));
            let l = lead(Module::Leads, &r, &ctx).unwrap();
            assert_eq!(l.converted_deal_id.as_deref(), want, "{extra}");
        }
    }

    #[test]
    fn configured_fields_become_marks_and_attributes() {
        let s = settings(json!({"fields": {
            "utm_source": "UTM_Source", "utm_campaign": "UTM_Campaign", "product": "Course",
            "region": "Region__c", "discount": "Discount"
        }}));
        let ctx = Context {
            settings: &s,
            org: None,
            meta: None,
        };
        let r = raw(
            r#"{"id":"9","Created_Time":"2025-03-01T10:00:00+01:00","Modified_Time":"2025-03-01T10:00:00+01:00","UTM_Source":" google ","UTM_Campaign":null,"GCLID":"Cj0KCQ","Course":["UX","Data"],"Region__c":{"name":"DACH","id":"5"},"Discount":"150.50","Lead_Status":"junk lead"}"#,
        );
        let l = lead(Module::Leads, &r, &ctx).unwrap();
        assert_eq!(l.marks.utm_source.as_deref(), Some("google"));
        assert_eq!(l.marks.utm_campaign, None);
        assert_eq!(l.marks.gclid.as_deref(), Some("Cj0KCQ"), "GCLID by default");
        assert_eq!(l.product.as_deref(), Some("UX;Data"));
        assert_eq!(l.region.as_deref(), Some("DACH"));
        assert_eq!(l.discount, Some(Decimal::from_str("150.50").unwrap()));
        assert_eq!(l.stage_category, StageCategory::Lost);
    }

    #[test]
    fn a_record_without_times_or_with_a_bad_amount_is_an_error() {
        let s = settings(json!({}));
        let ctx = Context {
            settings: &s,
            org: None,
            meta: None,
        };
        assert!(lead(Module::Leads, &raw(r#"{"id":"1"}"#), &ctx).is_err());
        assert!(lead(Module::Leads, &raw(r#"{"Created_Time":"x"}"#), &ctx).is_err());
        let bad = raw(
            r#"{"id":"1","Created_Time":"2025-03-01T10:00:00+01:00","Modified_Time":"2025-03-01T10:00:00+01:00","Amount":"lots"}"#,
        );
        assert!(lead(Module::Deals, &bad, &ctx).is_err());
        let odd = raw(
            r#"{"id":"1","Created_Time":"2025-03-01T10:00:00+01:00","Modified_Time":"2025-03-01T10:00:00+01:00","Currency":"Euro"}"#,
        );
        assert_eq!(lead(Module::Deals, &odd, &ctx).unwrap().currency, None);
        assert!(lead(Module::Deals, &raw("[1,2]"), &ctx).is_err());
    }

    #[test]
    fn stage_metadata_wins_over_the_configured_names() {
        let meta = ModuleMeta::from_model(
            &serde_json::from_value(json!({"fields": [{"api_name": "Stage", "pick_list_values": [
                {"display_value": "Signed", "actual_value": "Signed", "forecast_type": "Closed Won"},
                {"display_value": "Closed-Lost to Competition", "actual_value": "Closed Lost to Competition", "deal_category": "Closed Lost"},
                {"display_value": "Closed Won", "actual_value": "Closed Won", "forecast_type": "Open"}
            ]}]}))
            .unwrap(),
        );
        let s = settings(json!({}));
        assert_eq!(deal_category("Signed", &s, Some(&meta)), StageCategory::Won);
        assert_eq!(deal_category("Signed", &s, None), StageCategory::Open);
        assert_eq!(
            deal_category("Closed-Lost to Competition", &s, Some(&meta)),
            StageCategory::Lost
        );
        assert_eq!(
            deal_category("Closed Won", &s, Some(&meta)),
            StageCategory::Open
        );
        assert_eq!(deal_category("closed won", &s, None), StageCategory::Won);
        assert_eq!(
            deal_category("Unknown", &s, Some(&meta)),
            StageCategory::Open
        );
    }
}
