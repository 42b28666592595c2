//! Lead facts: each counted lead with its attribution, days and revenue, kept in `lead_fact` so
//! figures aggregate in SQL instead of attributing a million leads per report, and their sums
//! per month in `lead_month` (leads created; won with revenue; the cohort: created and won by
//! now), which the ROI report reads for whole months.
//!
//! A source's facts are rebuilt whole when anything shared they derive from changed since they
//! were built: the campaigns and click ids of every source, the attribution rules, the
//! reporting time zone or currency (each table's change counter in `table_version` says which
//! changed). When only the source's leads changed, only the leads synced since the last build
//! began (less a margin for pages committed late) are attributed again, with the records paired
//! with them (a Zoho lead and the deal it converted into count as one lead), and the monthly
//! sums change by the difference.
//! Either way it is one transaction, so a report never sees half of it.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, Utc};
use sha2::{Digest, Sha256};

use super::attribution::{Attributed, Attributor};
use super::{attributor, counted_leads, revenue, touch};
use crate::config::Config;
use crate::store::{
    micros, FactState, LeadFact, LeadMonthCounts, LeadMonthKey, Store, StoreError, StoredLead,
};

/// How far before the last build's start changed leads are looked for: a page stamps its rows
/// before it begins (and on SQLite may wait up to the 10 s busy timeout for the write lock), so
/// it can commit after a build started reading with rows stamped a little earlier.
const LATE_PAGE_MARGIN_MINUTES: i64 = 2;

/// What a refresh did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refreshed {
    /// Sources whose facts were rebuilt, with the facts written.
    pub rebuilt: Vec<(String, usize)>,
    /// Sources whose changed leads were attributed again, with how many records were looked at.
    pub updated: Vec<(String, usize)>,
    /// Sources whose facts were current.
    pub current: usize,
}

/// Brings every source's lead facts up to date.
pub async fn refresh(store: &Store, config: &Config) -> Result<Refreshed, StoreError> {
    refresh_with_margin(store, config, Duration::minutes(LATE_PAGE_MARGIN_MINUTES)).await
}

/// [`refresh`], looking for changed leads `margin` before the last build began (tests use
/// zero to see that only the changed leads are attributed again).
#[doc(hidden)]
pub async fn refresh_with_margin(
    store: &Store,
    config: &Config,
    margin: Duration,
) -> Result<Refreshed, StoreError> {
    // Read before the leads, so a page landing meanwhile shows as a change next time.
    let versions = store.table_versions().await?;
    let of = |table: &str| -> Vec<(&str, i64)> {
        versions
            .iter()
            .filter(|(t, _, _)| t == table)
            .map(|(_, source, v)| (source.as_str(), *v))
            .collect()
    };
    let shared = hex::encode(Sha256::digest(format!(
        "rules={:?};tz={};currency={};campaigns={:?};clicks={:?}",
        config.attribution,
        config.report.timezone.name(),
        config.report.currency,
        of("campaign"),
        of("click_id"),
    )));
    let mut out = Refreshed::default();
    let mut attr: Option<Attributor> = None;
    for (source, version) in of("lead") {
        let source = source.to_string();
        let leads_state = format!("v{version}");
        let started = Utc::now();
        let built = store.fact_state(&source).await?;
        let same_shared = built.as_ref().is_some_and(|b| b.fingerprint == shared);
        if same_shared
            && built.as_ref().and_then(|b| b.leads_state.as_deref()) == Some(&leads_state)
        {
            out.current += 1;
            continue;
        }
        if attr.is_none() {
            attr = Some(attributor(store, &config.attribution).await?);
        }
        let Some(a) = attr.as_ref() else {
            continue;
        };
        let state = FactState {
            fingerprint: shared.clone(),
            leads_state: Some(leads_state),
            leads_since: Some(started),
        };
        match built.filter(|b| same_shared && b.leads_since.is_some() && b.leads_state.is_some()) {
            Some(previous) => {
                match update(store, config, a, &source, margin, &previous, &state).await? {
                    Some(n) => {
                        tracing::info!(source = %source, leads = n, "lead facts updated");
                        out.updated.push((source, n));
                    }
                    // Another refresh updated them meanwhile: they are as current as this one.
                    None => out.current += 1,
                }
            }
            None => {
                let rows = store.leads(&source).await?;
                let facts = facts_of(config, a, &rows, None);
                let sums = month_sums(config, &facts, &[]);
                store.replace_facts(&source, &facts, &sums, &state).await?;
                tracing::info!(source = %source, facts = facts.len(), "lead facts rebuilt");
                out.rebuilt.push((source, facts.len()));
            }
        }
    }
    Ok(out)
}

/// Attributes again the leads of `source` synced since the `previous` build began (less
/// `margin`) and those paired with them; returns how many records' facts were replaced, or
/// `None` when another refresh changed the facts meanwhile.
async fn update(
    store: &Store,
    config: &Config,
    a: &Attributor,
    source: &str,
    margin: Duration,
    previous: &FactState,
    state: &FactState,
) -> Result<Option<usize>, StoreError> {
    let Some(since) = previous.leads_since else {
        return Ok(None);
    };
    let changed = store.leads_synced_since(source, since - margin).await?;
    // The records whose facts may change: the changed ones, the deal a changed lead converted
    // into (it stops or starts counting on its own), and the leads converted into a changed
    // deal (their won state and amount are the deal's).
    let mut keys: BTreeSet<(String, String)> = BTreeSet::new();
    let mut deals: BTreeSet<String> = BTreeSet::new();
    for l in &changed {
        keys.insert((l.entity.clone(), l.lead_id.clone()));
        match l.entity.as_str() {
            "lead" => {
                if let Some(d) = &l.converted_deal_id {
                    keys.insert(("deal".into(), d.clone()));
                    deals.insert(d.clone());
                }
            }
            _ => {
                deals.insert(l.lead_id.clone());
            }
        }
    }
    let keys: Vec<(String, String)> = keys.into_iter().collect();
    let deals: Vec<String> = deals.into_iter().collect();
    // Everything needed to count them: the records, the leads converted into their deals,
    // and the deals their leads converted into.
    let mut context = store.leads_by_keys(source, &keys, &deals).await?;
    let known: BTreeSet<(String, String)> = context
        .iter()
        .map(|l| (l.entity.clone(), l.lead_id.clone()))
        .collect();
    let more: Vec<(String, String)> = context
        .iter()
        .filter_map(|l| l.converted_deal_id.clone())
        .map(|d| ("deal".to_string(), d))
        .filter(|k| !known.contains(k))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    context.extend(store.leads_by_keys(source, &more, &[]).await?);
    let mut key_set: BTreeSet<(String, String)> = keys.iter().cloned().collect();
    // Leads converted into the changed deals were read as context; they are affected too.
    for l in &context {
        if l.entity == "lead"
            && l.converted_deal_id
                .as_ref()
                .is_some_and(|d| deals.binary_search(d).is_ok())
        {
            key_set.insert((l.entity.clone(), l.lead_id.clone()));
        }
    }
    // One record per key (a record may have been read twice).
    let mut seen = BTreeSet::new();
    context.retain(|l| seen.insert((l.entity.clone(), l.lead_id.clone())));
    let keys: Vec<(String, String)> = key_set.iter().cloned().collect();
    let new = facts_of(config, a, &context, Some(&key_set));
    let old = store.lead_facts(source, Some(&keys)).await?;
    let deltas = month_sums(config, &new, &old);
    let applied = store
        .update_facts(source, &keys, &new, &deltas, previous, state)
        .await?;
    Ok(applied.then_some(keys.len()))
}

/// The facts of the counted leads among `rows` (of `only` those keys when given).
fn facts_of(
    config: &Config,
    a: &Attributor,
    rows: &[StoredLead],
    only: Option<&BTreeSet<(String, String)>>,
) -> Vec<LeadFact> {
    let tz = config.report.timezone;
    counted_leads(rows)
        .into_iter()
        .filter(|(lead, _)| {
            only.is_none_or(|k| k.contains(&(lead.entity.clone(), lead.lead_id.clone())))
        })
        .map(|(lead, outcome)| {
            let won = revenue(outcome);
            let (campaign_source, campaign_id, channel, via, reason) =
                match a.attribute(&touch(lead)) {
                    Attributed::Campaign { key, channel, via } => (
                        Some(key.source),
                        Some(key.campaign_id),
                        Some(channel),
                        Some(via.label()),
                        None,
                    ),
                    Attributed::Channel { channel, via } => {
                        (None, None, Some(channel), Some(via.label()), None)
                    }
                    Attributed::Unattributed(r) => (None, None, None, None, Some(r.to_string())),
                };
            LeadFact {
                entity: lead.entity.clone(),
                lead_id: lead.lead_id.clone(),
                created_day: lead.created_at.with_timezone(&tz).date_naive(),
                won_day: won
                    .as_ref()
                    .map(|_| outcome.closed_at.unwrap_or(outcome.updated_at))
                    .map(|t| t.with_timezone(&tz).date_naive()),
                revenue_micros: won.as_ref().and_then(|(_, r)| micros(*r)),
                revenue: won.as_ref().map(|(_, r)| *r),
                currency: won.map(|(c, _)| c),
                campaign_source,
                campaign_id,
                channel,
                via,
                reason,
                product: outcome.product.clone().or_else(|| lead.product.clone()),
                segment: lead.segment.clone(),
                region: lead.region.clone(),
                owner_id: outcome.owner_id.clone(),
            }
        })
        .collect()
}

/// The `lead_month` rows of `add` less those of `remove`, without the keys that net to
/// nothing. A fact counts as a lead in its creation month and, when won, as won (with revenue)
/// in its won month and in its creation month's cohort; revenue in another currency than the
/// reporting one keeps its won day and currency for conversion.
fn month_sums(
    config: &Config,
    add: &[LeadFact],
    remove: &[LeadFact],
) -> Vec<(LeadMonthKey, LeadMonthCounts)> {
    let rep = config.report.currency.as_str();
    let mut sums: BTreeMap<LeadMonthKey, LeadMonthCounts> = BTreeMap::new();
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    for (facts, sign) in [(add, 1_i64), (remove, -1_i64)] {
        for f in facts {
            let key = |month: String, fx_day: String, currency: String| LeadMonthKey {
                month,
                campaign_source: text(&f.campaign_source),
                campaign_id: text(&f.campaign_id),
                channel: text(&f.channel),
                product: text(&f.product),
                segment: text(&f.segment),
                region: text(&f.region),
                fx_day,
                currency,
            };
            let created = f.created_day.format("%Y-%m").to_string();
            sums.entry(key(created.clone(), String::new(), String::new()))
                .or_default()[0] += sign;
            if let Some(won) = f.won_day {
                let (fx_day, currency) = match f.currency.as_deref() {
                    Some(c) if c == rep => (String::new(), String::new()),
                    c => (
                        won.format("%Y-%m-%d").to_string(),
                        c.unwrap_or_default().to_string(),
                    ),
                };
                let m = f.revenue_micros.unwrap_or(0) * sign;
                let w = sums
                    .entry(key(
                        won.format("%Y-%m").to_string(),
                        fx_day.clone(),
                        currency.clone(),
                    ))
                    .or_default();
                w[1] += sign;
                w[2] += m;
                let h = sums.entry(key(created, fx_day, currency)).or_default();
                h[3] += sign;
                h[4] += m;
            }
        }
    }
    sums.into_iter()
        .filter(|(_, n)| n.iter().any(|v| *v != 0))
        .collect()
}
