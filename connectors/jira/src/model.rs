//! serde mirrors of the Jira JSON read. Unknown fields are ignored; issues are kept whole as
//! `RawValue` beside the typed view, so `raw` stores exactly what Jira sent. Typed views borrow
//! from the response body where they can (strings without escapes are not copied), and an
//! issue's `fields` object is read in one pass that keeps only the fields okno maps
//! ([`FieldsSeed`]), whatever the configured custom field ids are.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

/// A string Jira may also write as a number (ids): kept as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Text<'a>(pub Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or a number")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_any(V)
    }
}

impl Text<'_> {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// An answer of `GET /rest/api/3/search/jql` (Cloud: `nextPageToken`, absent on the last page,
/// and `isLast`) or `GET /rest/api/2/search` (Data Center: `startAt`, `maxResults`, `total`).
#[derive(Deserialize)]
pub(crate) struct SearchPage<'a> {
    #[serde(borrow, default)]
    pub issues: Option<Vec<&'a RawValue>>,
    #[serde(default, rename = "nextPageToken")]
    pub next_page_token: Option<String>,
    #[serde(default, rename = "isLast")]
    pub is_last: Option<bool>,
    #[serde(default, rename = "startAt")]
    pub start_at: Option<u64>,
    #[serde(default)]
    pub total: Option<u64>,
}

impl<'a> SearchPage<'a> {
    pub fn issues(&self) -> &[&'a RawValue] {
        self.issues.as_deref().unwrap_or_default()
    }
}

/// One issue: id, key, the raw `fields` (read with [`FieldsSeed`]) and the expanded changelog.
#[derive(Deserialize)]
pub(crate) struct Issue<'a> {
    #[serde(borrow)]
    pub id: Text<'a>,
    #[serde(borrow, default)]
    pub key: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub fields: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub changelog: Option<Changelog<'a>>,
}

/// `changelog` of an issue expanded in a search (or a single issue): `histories`, and `total`
/// to tell when Jira cut it short (Cloud's enhanced search keeps at most 40).
#[derive(Deserialize)]
pub(crate) struct Changelog<'a> {
    #[serde(default)]
    pub total: Option<u64>,
    #[serde(borrow, default)]
    pub histories: Option<Vec<History<'a>>>,
}

/// One page of `GET /rest/api/3/issue/{id}/changelog` (PageBeanChangelog).
#[derive(Deserialize)]
pub(crate) struct ChangelogPage<'a> {
    #[serde(borrow, default)]
    pub values: Option<Vec<History<'a>>>,
    #[serde(default, rename = "isLast")]
    pub is_last: Option<bool>,
    #[serde(default)]
    pub total: Option<u64>,
}

/// One change set: when, and what changed.
#[derive(Deserialize)]
pub(crate) struct History<'a> {
    #[serde(borrow, default)]
    pub id: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub created: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub items: Option<Vec<Item<'a>>>,
}

/// One changed field. For `status`, `from`/`to` are status ids.
#[derive(Deserialize)]
pub(crate) struct Item<'a> {
    #[serde(borrow, default)]
    pub field: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "fieldId")]
    pub field_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub from: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub to: Option<Cow<'a, str>>,
}

impl Item<'_> {
    /// Whether this item is a status change (Cloud names it by `fieldId`, Data Center by `field`).
    pub fn is_status(&self) -> bool {
        match self.field_id.as_deref() {
            Some(id) => id == "status",
            None => self.field.as_deref() == Some("status"),
        }
    }
}

/// `status` of an issue, or one entry of `GET /rest/api/{3,2}/status`.
#[derive(Deserialize)]
pub(crate) struct Status<'a> {
    #[serde(borrow, default)]
    pub id: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub name: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "statusCategory")]
    pub status_category: Option<CategoryRef<'a>>,
}

#[derive(Deserialize)]
pub(crate) struct CategoryRef<'a> {
    #[serde(borrow, default)]
    pub key: Option<Cow<'a, str>>,
}

/// A user as embedded in issues and listed by the user searches. Cloud identifies users by
/// `accountId` (and may hide `emailAddress`); Data Center by `key` and `name`.
#[derive(Deserialize)]
pub(crate) struct User<'a> {
    #[serde(borrow, default, rename = "accountId")]
    pub account_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub key: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub name: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "displayName")]
    pub display_name: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "emailAddress")]
    pub email_address: Option<Cow<'a, str>>,
    #[serde(default)]
    pub active: Option<bool>,
    #[serde(borrow, default, rename = "accountType")]
    pub account_type: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "timeZone")]
    pub time_zone: Option<Cow<'a, str>>,
}

impl User<'_> {
    /// The id okno keys the user by: `accountId` on Cloud, else `key`, else `name` (Data Center).
    pub fn user_id(&self) -> Option<&str> {
        [&self.account_id, &self.key, &self.name]
            .into_iter()
            .filter_map(|v| v.as_deref())
            .map(str::trim)
            .find(|v| !v.is_empty())
    }
}

#[derive(Deserialize)]
pub(crate) struct Project<'a> {
    #[serde(borrow, default)]
    pub key: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub name: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
pub(crate) struct Named<'a> {
    #[serde(borrow, default)]
    pub name: Option<Cow<'a, str>>,
}

/// The fields of an issue okno maps. The configured custom fields are kept raw.
#[derive(Default)]
pub(crate) struct Fields<'a> {
    pub summary: Option<Cow<'a, str>>,
    pub status: Option<Status<'a>>,
    pub assignee: Option<User<'a>>,
    pub reporter: Option<User<'a>>,
    pub created: Option<Cow<'a, str>>,
    pub updated: Option<Cow<'a, str>>,
    pub resolutiondate: Option<Cow<'a, str>>,
    pub labels: Option<Vec<Cow<'a, str>>>,
    pub project: Option<Project<'a>>,
    pub issuetype: Option<Named<'a>>,
    pub campaign: Option<&'a RawValue>,
    pub estimate: Option<&'a RawValue>,
}

/// Reads an issue's `fields` object, keeping the configured custom fields as raw values and
/// skipping everything else without building it.
pub(crate) struct FieldsSeed<'s> {
    pub campaign: Option<&'s str>,
    pub estimate: Option<&'s str>,
}

/// A map key, borrowed when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field id")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de, 's> DeserializeSeed<'de> for FieldsSeed<'s> {
    type Value = Fields<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, 's> Visitor<'de> for FieldsSeed<'s> {
    type Value = Fields<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an issue's fields object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut f = Fields::default();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            match key.as_ref() {
                "summary" => f.summary = map.next_value()?,
                "status" => f.status = map.next_value()?,
                "assignee" => f.assignee = map.next_value()?,
                "reporter" => f.reporter = map.next_value()?,
                "created" => f.created = map.next_value()?,
                "updated" => f.updated = map.next_value()?,
                "resolutiondate" => f.resolutiondate = map.next_value()?,
                "labels" => f.labels = map.next_value()?,
                "project" => f.project = map.next_value()?,
                "issuetype" => f.issuetype = map.next_value()?,
                k if Some(k) == self.campaign || Some(k) == self.estimate => {
                    let v: Option<&'de RawValue> = map.next_value()?;
                    if Some(k) == self.campaign {
                        f.campaign = v;
                    }
                    if Some(k) == self.estimate {
                        f.estimate = v;
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(f)
    }
}
