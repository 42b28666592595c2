//! Lead facts: each counted lead with its attribution, days and revenue, kept in `lead_fact` so
//! figures aggregate in SQL instead of attributing a million leads per report.
//!
//! A source's facts are rebuilt whole when anything they derive from changed since they were
//! built: the source's leads (count and newest `synced_at`), the campaigns and click ids of every
//! source, the attribution rules, or the reporting time zone. Rebuilding a source is one
//! transaction, so a report never sees half of it.

use sha2::{Digest, Sha256};

use super::attribution::{Attributed, Attributor};
use super::{attributor, counted_leads, revenue, touch};
use crate::config::Config;
use crate::store::{micros, LeadFact, Store, StoreError};

/// What a refresh did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refreshed {
    /// Sources whose facts were rebuilt, with the facts written.
    pub rebuilt: Vec<(String, usize)>,
    /// Sources whose facts were current.
    pub current: usize,
}

/// Brings every source's lead facts up to date.
pub async fn refresh(store: &Store, config: &Config) -> Result<Refreshed, StoreError> {
    let shared = format!(
        "rules={:?};tz={};campaigns={:?};clicks={:?}",
        config.attribution,
        config.report.timezone.name(),
        store.table_state("campaign", None).await?,
        store.table_state("click_id", None).await?,
    );
    let mut out = Refreshed::default();
    let mut attr: Option<Attributor> = None;
    for source in store.lead_sources().await? {
        let leads = store.table_state("lead", Some(&source)).await?;
        let fingerprint = hex::encode(Sha256::digest(format!("{shared};leads={leads:?}")));
        if store.fact_fingerprint(&source).await?.as_deref() == Some(fingerprint.as_str()) {
            out.current += 1;
            continue;
        }
        if attr.is_none() {
            attr = Some(attributor(store, &config.attribution).await?);
        }
        let Some(a) = attr.as_ref() else {
            continue;
        };
        let rows = store.leads(&source).await?;
        let tz = config.report.timezone;
        let facts: Vec<LeadFact> = counted_leads(&rows)
            .into_iter()
            .map(|(lead, outcome)| {
                let won = revenue(outcome);
                let (campaign_source, campaign_id, channel, via, reason) = match a
                    .attribute(&touch(lead))
                {
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
            .collect();
        store.replace_facts(&source, &facts, &fingerprint).await?;
        tracing::info!(source = %source, facts = facts.len(), "lead facts rebuilt");
        out.rebuilt.push((source, facts.len()));
    }
    Ok(out)
}
