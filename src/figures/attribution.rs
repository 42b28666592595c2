//! Which campaign (or channel) a lead is counted for, by the rules of FIGURES.md, in order:
//!
//! 1. a click id on the lead that an ad source resolved (Google Ads `click_view` for gclid) →
//!    that campaign; a click id wins over a conflicting UTM mark;
//! 2. `utm_campaign` equal to a campaign's id, to its name (any case), or to the `utm_campaign`
//!    the platform's tracking template sets → that campaign;
//! 3. the configured `[[attribution.rule]]`s, first match wins: exact, any-case, prefix or
//!    regex on one UTM field → a campaign or a channel (`utm_source = "seo"` → channel `seo`);
//! 4. else **unattributed**, with the reason, so ops can fix marks or rules.
//!
//! Two campaigns sharing the matched id or name make the lead unattributed ("ambiguous") rather
//! than counting it for one of them by accident. This module is pure: the caller hands it the
//! campaigns and resolved click ids it knows.

use std::collections::HashMap;
use std::fmt;

use okno_connector::ClickKind;

/// A campaign as figures know it: (source instance, account, campaign id).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CampaignKey {
    pub source: String,
    pub account_id: String,
    pub campaign_id: String,
}

impl fmt::Display for CampaignKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.source, self.campaign_id)
    }
}

/// One campaign the attributor can match.
#[derive(Debug, Clone)]
pub struct KnownCampaign {
    pub key: CampaignKey,
    pub name: String,
    pub channel: String,
    /// What the platform's tracking template puts in `utm_campaign`, if it says.
    pub utm_campaign: Option<String>,
}

/// A UTM field a rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Source,
    Medium,
    Campaign,
    Content,
    Term,
}

impl Field {
    pub const NAMES: &'static [&'static str] = &[
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_content",
        "utm_term",
    ];

    pub fn parse(s: &str) -> Option<Field> {
        Some(match s {
            "utm_source" => Field::Source,
            "utm_medium" => Field::Medium,
            "utm_campaign" => Field::Campaign,
            "utm_content" => Field::Content,
            "utm_term" => Field::Term,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        Field::NAMES[self as usize]
    }
}

/// How a rule compares the field with its value.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// Equal, case and all.
    Exact(String),
    /// Equal in any case.
    AnyCase(String),
    /// Starts with, in any case.
    Prefix(String),
    Regex(regex::Regex),
}

impl Matcher {
    fn matches(&self, v: &str) -> bool {
        match self {
            Matcher::Exact(x) => v == x,
            Matcher::AnyCase(x) => v.to_lowercase() == x.to_lowercase(),
            Matcher::Prefix(x) => v.to_lowercase().starts_with(&x.to_lowercase()),
            Matcher::Regex(r) => r.is_match(v),
        }
    }
}

/// Where a rule sends the leads it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `instance:campaign_id`.
    Campaign {
        source: String,
        campaign_id: String,
    },
    Channel(String),
}

/// One `[[attribution.rule]]`.
#[derive(Debug, Clone)]
pub struct Rule {
    pub field: Field,
    pub matcher: Matcher,
    pub target: Target,
}

/// The marks of one lead.
#[derive(Debug, Clone, Default)]
pub struct Touch<'a> {
    pub utm_source: Option<&'a str>,
    pub utm_medium: Option<&'a str>,
    pub utm_campaign: Option<&'a str>,
    pub utm_content: Option<&'a str>,
    pub utm_term: Option<&'a str>,
    pub gclid: Option<&'a str>,
    pub yclid: Option<&'a str>,
    pub fbclid: Option<&'a str>,
}

impl<'a> Touch<'a> {
    fn field(&self, f: Field) -> Option<&'a str> {
        match f {
            Field::Source => self.utm_source,
            Field::Medium => self.utm_medium,
            Field::Campaign => self.utm_campaign,
            Field::Content => self.utm_content,
            Field::Term => self.utm_term,
        }
        .map(str::trim)
        .filter(|s| !s.is_empty())
    }

    fn clicks(&self) -> impl Iterator<Item = (ClickKind, &'a str)> {
        [
            (ClickKind::Gclid, self.gclid),
            (ClickKind::Yclid, self.yclid),
            (ClickKind::Fbclid, self.fbclid),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(str::trim).filter(|v| !v.is_empty()).map(|v| (k, v)))
    }
}

/// How a lead was attributed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    ClickId(ClickKind),
    CampaignId,
    CampaignName,
    PlatformUtm,
    /// The configured rule at this index (0-based, in file order).
    Rule(usize),
}

impl Via {
    /// A short label for tables and the store.
    pub fn label(&self) -> String {
        match self {
            Via::ClickId(k) => k.as_str().to_string(),
            Via::CampaignId => "campaign_id".into(),
            Via::CampaignName => "campaign_name".into(),
            Via::PlatformUtm => "platform_utm".into(),
            Via::Rule(i) => format!("rule[{i}]"),
        }
    }
}

/// Why a lead is unattributed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// No UTM mark and no click id.
    NoMarks,
    /// Its click ids were not resolved by any source, and nothing else matched.
    ClickNotResolved { kind: ClickKind, click_id: String },
    /// `utm_campaign` names no known campaign and no rule matched.
    NoCampaign { utm_campaign: String },
    /// Several campaigns share the id or name it carries.
    Ambiguous {
        utm_campaign: String,
        campaigns: usize,
    },
    /// Only source/medium marks, which no rule maps to a channel.
    SourceOnly {
        utm_source: Option<String>,
        utm_medium: Option<String>,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::NoMarks => f.write_str("no UTM marks or click ids"),
            Reason::ClickNotResolved { kind, click_id } => write!(
                f,
                "{} {click_id:?} is not among the click ids an ad source resolved",
                kind.as_str()
            ),
            Reason::NoCampaign { utm_campaign } => write!(
                f,
                "utm_campaign {utm_campaign:?} matches no campaign id or name and no rule"
            ),
            Reason::Ambiguous {
                utm_campaign,
                campaigns,
            } => write!(
                f,
                "utm_campaign {utm_campaign:?} matches {campaigns} campaigns; add a rule naming one"
            ),
            Reason::SourceOnly {
                utm_source,
                utm_medium,
            } => write!(
                f,
                "only utm_source={} utm_medium={}, which no rule maps to a channel",
                utm_source.as_deref().unwrap_or("-"),
                utm_medium.as_deref().unwrap_or("-")
            ),
        }
    }
}

/// The outcome for one lead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attributed {
    Campaign {
        key: CampaignKey,
        channel: String,
        via: Via,
    },
    Channel {
        channel: String,
        via: Via,
    },
    Unattributed(Reason),
}

/// Attributes leads against a fixed set of campaigns, click ids and rules.
#[derive(Debug)]
pub struct Attributor {
    campaigns: Vec<KnownCampaign>,
    by_id: HashMap<String, Vec<usize>>,
    by_name: HashMap<String, Vec<usize>>,
    by_platform_utm: HashMap<String, Vec<usize>>,
    by_key: HashMap<(String, String), Vec<usize>>,
    clicks: HashMap<(ClickKind, String), CampaignKey>,
    rules: Vec<Rule>,
}

impl Attributor {
    pub fn new(
        campaigns: Vec<KnownCampaign>,
        clicks: impl IntoIterator<Item = (ClickKind, String, CampaignKey)>,
        rules: Vec<Rule>,
    ) -> Attributor {
        let mut a = Attributor {
            campaigns,
            by_id: HashMap::new(),
            by_name: HashMap::new(),
            by_platform_utm: HashMap::new(),
            by_key: HashMap::new(),
            clicks: clicks
                .into_iter()
                .map(|(k, id, key)| ((k, id), key))
                .collect(),
            rules,
        };
        for (i, c) in a.campaigns.iter().enumerate() {
            a.by_id
                .entry(c.key.campaign_id.clone())
                .or_default()
                .push(i);
            a.by_name
                .entry(c.name.trim().to_lowercase())
                .or_default()
                .push(i);
            if let Some(u) = &c.utm_campaign {
                a.by_platform_utm
                    .entry(u.trim().to_lowercase())
                    .or_default()
                    .push(i);
            }
            a.by_key
                .entry((c.key.source.clone(), c.key.campaign_id.clone()))
                .or_default()
                .push(i);
        }
        a
    }

    fn campaign(&self, i: usize, via: Via) -> Attributed {
        let c = &self.campaigns[i];
        Attributed::Campaign {
            key: c.key.clone(),
            channel: c.channel.clone(),
            via,
        }
    }

    /// The channel of a campaign key, when the campaign is known.
    fn channel_of(&self, key: &CampaignKey) -> Option<&str> {
        self.by_key
            .get(&(key.source.clone(), key.campaign_id.clone()))
            .and_then(|v| v.first())
            .map(|&i| self.campaigns[i].channel.as_str())
    }

    pub fn attribute(&self, t: &Touch<'_>) -> Attributed {
        let mut unresolved = None;
        for (kind, id) in t.clicks() {
            match self.clicks.get(&(kind, id.to_string())) {
                Some(key) => {
                    return Attributed::Campaign {
                        channel: self.channel_of(key).unwrap_or(&key.source).to_string(),
                        key: key.clone(),
                        via: Via::ClickId(kind),
                    }
                }
                None => {
                    unresolved.get_or_insert((kind, id.to_string()));
                }
            }
        }
        let mut ambiguous = None;
        if let Some(uc) = t.field(Field::Campaign) {
            let lower = uc.to_lowercase();
            for (index, via) in [
                (&self.by_id, Via::CampaignId),
                (&self.by_name, Via::CampaignName),
                (&self.by_platform_utm, Via::PlatformUtm),
            ] {
                let key = if via == Via::CampaignId {
                    uc
                } else {
                    lower.as_str()
                };
                match index.get(key).map(Vec::as_slice) {
                    Some([i]) => return self.campaign(*i, via),
                    Some(many) if many.len() > 1 => {
                        ambiguous.get_or_insert(many.len());
                    }
                    _ => {}
                }
            }
        }
        for (i, rule) in self.rules.iter().enumerate() {
            let Some(v) = t.field(rule.field) else {
                continue;
            };
            if !rule.matcher.matches(v) {
                continue;
            }
            match &rule.target {
                Target::Channel(c) => {
                    return Attributed::Channel {
                        channel: c.clone(),
                        via: Via::Rule(i),
                    }
                }
                Target::Campaign {
                    source,
                    campaign_id,
                } => {
                    if let Some(&[j]) = self
                        .by_key
                        .get(&(source.clone(), campaign_id.clone()))
                        .map(Vec::as_slice)
                    {
                        return self.campaign(j, Via::Rule(i));
                    }
                    // A rule naming a campaign no source has pulled yet still decides.
                    return Attributed::Campaign {
                        key: CampaignKey {
                            source: source.clone(),
                            account_id: String::new(),
                            campaign_id: campaign_id.clone(),
                        },
                        channel: source.clone(),
                        via: Via::Rule(i),
                    };
                }
            }
        }
        let reason = match (t.field(Field::Campaign), ambiguous, unresolved) {
            (Some(uc), Some(n), _) => Reason::Ambiguous {
                utm_campaign: uc.to_string(),
                campaigns: n,
            },
            (_, _, Some((kind, click_id))) => Reason::ClickNotResolved { kind, click_id },
            (Some(uc), None, None) => Reason::NoCampaign {
                utm_campaign: uc.to_string(),
            },
            (None, _, None) => {
                let (s, m) = (t.field(Field::Source), t.field(Field::Medium));
                if s.is_none()
                    && m.is_none()
                    && t.field(Field::Content).is_none()
                    && t.field(Field::Term).is_none()
                {
                    Reason::NoMarks
                } else {
                    Reason::SourceOnly {
                        utm_source: s.map(str::to_string),
                        utm_medium: m.map(str::to_string),
                    }
                }
            }
        };
        Attributed::Unattributed(reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(source: &str, id: &str) -> CampaignKey {
        CampaignKey {
            source: source.into(),
            account_id: "acc".into(),
            campaign_id: id.into(),
        }
    }

    fn known(
        source: &str,
        id: &str,
        name: &str,
        channel: &str,
        utm: Option<&str>,
    ) -> KnownCampaign {
        KnownCampaign {
            key: key(source, id),
            name: name.into(),
            channel: channel.into(),
            utm_campaign: utm.map(str::to_string),
        }
    }

    fn attributor() -> Attributor {
        let campaigns = vec![
            known("direct", "70000012", "Brand Search", "yandex_direct", None),
            known(
                "google",
                "20871234",
                "Autumn Sale",
                "google_ads",
                Some("autumn_sale_2026"),
            ),
            // Two platforms share a campaign name: matching it by name alone is ambiguous.
            known("direct", "70000013", "Retargeting", "yandex_direct", None),
            known("vk", "555", "Retargeting", "vk_ads", None),
        ];
        let clicks = vec![(
            ClickKind::Gclid,
            "Cj0KCQ-abc".to_string(),
            key("google", "20871234"),
        )];
        let rules = vec![
            Rule {
                field: Field::Campaign,
                matcher: Matcher::Prefix("retarget_vk".into()),
                target: Target::Campaign {
                    source: "vk".into(),
                    campaign_id: "555".into(),
                },
            },
            Rule {
                field: Field::Source,
                matcher: Matcher::Regex(regex::Regex::new("^(google|yandex)$").unwrap()),
                target: Target::Channel("organic".into()),
            },
            Rule {
                field: Field::Medium,
                matcher: Matcher::AnyCase("Email".into()),
                target: Target::Channel("email".into()),
            },
        ];
        Attributor::new(campaigns, clicks, rules)
    }

    fn campaign_of(a: Attributed) -> (String, Via) {
        match a {
            Attributed::Campaign { key, via, .. } => (key.to_string(), via),
            other => panic!("expected a campaign, got {other:?}"),
        }
    }

    #[test]
    fn a_click_id_wins_over_a_conflicting_utm_mark() {
        let t = Touch {
            gclid: Some("Cj0KCQ-abc"),
            utm_campaign: Some("Brand Search"),
            ..Touch::default()
        };
        assert_eq!(
            campaign_of(attributor().attribute(&t)),
            ("google:20871234".into(), Via::ClickId(ClickKind::Gclid))
        );
    }

    #[test]
    fn utm_campaign_matches_id_name_in_any_case_or_the_platforms_own_mark() {
        let a = attributor();
        let by = |uc| {
            campaign_of(a.attribute(&Touch {
                utm_campaign: Some(uc),
                ..Touch::default()
            }))
        };
        assert_eq!(by("70000012"), ("direct:70000012".into(), Via::CampaignId));
        assert_eq!(
            by("brand search"),
            ("direct:70000012".into(), Via::CampaignName)
        );
        assert_eq!(
            by(" AUTUMN_SALE_2026 "),
            ("google:20871234".into(), Via::PlatformUtm)
        );
        assert_eq!(by("retarget_vk_lookalike"), ("vk:555".into(), Via::Rule(0)));
    }

    #[test]
    fn rules_map_sources_and_media_to_channels_in_order() {
        let a = attributor();
        let t = Touch {
            utm_source: Some("yandex"),
            utm_medium: Some("organic"),
            ..Touch::default()
        };
        assert_eq!(
            a.attribute(&t),
            Attributed::Channel {
                channel: "organic".into(),
                via: Via::Rule(1)
            }
        );
        let t = Touch {
            utm_source: Some("sendpulse"),
            utm_medium: Some("EMAIL"),
            ..Touch::default()
        };
        assert_eq!(
            a.attribute(&t),
            Attributed::Channel {
                channel: "email".into(),
                via: Via::Rule(2)
            }
        );
    }

    #[test]
    fn every_other_lead_is_unattributed_with_its_reason() {
        let a = attributor();
        let reason = |t: Touch| match a.attribute(&t) {
            Attributed::Unattributed(r) => r,
            other => panic!("expected unattributed, got {other:?}"),
        };
        assert_eq!(reason(Touch::default()), Reason::NoMarks);
        assert_eq!(
            reason(Touch {
                utm_campaign: Some("  "),
                ..Touch::default()
            }),
            Reason::NoMarks
        );
        assert_eq!(
            reason(Touch {
                utm_campaign: Some("black_friday"),
                ..Touch::default()
            }),
            Reason::NoCampaign {
                utm_campaign: "black_friday".into()
            }
        );
        assert_eq!(
            reason(Touch {
                utm_campaign: Some("retargeting"),
                ..Touch::default()
            }),
            Reason::Ambiguous {
                utm_campaign: "retargeting".into(),
                campaigns: 2
            }
        );
        assert_eq!(
            reason(Touch {
                yclid: Some("1234567890"),
                ..Touch::default()
            }),
            Reason::ClickNotResolved {
                kind: ClickKind::Yclid,
                click_id: "1234567890".into()
            }
        );
        let r = reason(Touch {
            utm_source: Some("telegram"),
            ..Touch::default()
        });
        assert_eq!(
            r.to_string(),
            "only utm_source=telegram utm_medium=-, which no rule maps to a channel"
        );
    }
}
