//! `[connector.settings]` of a Trello instance.

use std::collections::BTreeMap;

use okno_connector::settings::parse;
use okno_connector::{SecretString, SettingSpec, SettingsError, StatusCategory};
use serde::Deserialize;
use url::Url;

pub(crate) const SETTINGS: &[SettingSpec] = &[
    SettingSpec {
        name: "api_key",
        doc: "the API key of your Power-Up (trello.com/power-ups/admin → API key tab); Trello treats it as public",
        required: true,
        secret: false,
        example: "\"8f1c0e3b5d7a49c2b6e04f1a9d3c7e25\"",
    },
    SettingSpec {
        name: "token",
        doc: "a user token authorised for that key with scope `read` (and `write` only for `okno webhooks register`); okno sees what its member sees",
        required: true,
        secret: true,
        example: "\"${TRELLO_TOKEN}\"",
    },
    SettingSpec {
        name: "boards",
        doc: "the boards to read: 24-character board ids, short links (the `AbCd1234` of trello.com/b/AbCd1234/...), or such board URLs",
        required: true,
        secret: false,
        example: "[\"5f21eea50f40e30520c6cda3\", \"nH91E9Wf\"]",
    },
    SettingSpec {
        name: "lists",
        doc: "status category of lists, by list name (any case) or list id: todo, in_progress or done. Unlisted lists go by their name: done/готово/complete/closed/archive → done, doing/in progress/в работе/review/progress → in_progress, else todo",
        required: false,
        secret: false,
        example: "{ \"Done\" = \"done\", \"Doing\" = \"in_progress\" }",
    },
    SettingSpec {
        name: "app_secret",
        doc: "the Power-Up's OAuth secret (API key tab), with which Trello signs webhook deliveries; enables webhooks (needs callback_url)",
        required: false,
        secret: true,
        example: "\"${TRELLO_APP_SECRET}\"",
    },
    SettingSpec {
        name: "callback_url",
        doc: "the exact public URL Trello posts deliveries to; the signature covers it, so it must match what Trello calls byte for byte (needs app_secret)",
        required: false,
        secret: false,
        example: "\"https://okno.example.com/hooks/trello\"",
    },
];

/// A board as configured: its id, or a short link Trello resolves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BoardRef(pub(crate) String);

impl BoardRef {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether `s` is a 24-character hexadecimal Trello object id.
pub(crate) fn is_object_id(s: &str) -> bool {
    s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether `s` looks like a short link (letters and digits; Trello's are 8 characters).
fn is_short_link(s: &str) -> bool {
    (4..=16).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A board id, a short link, or a `https://trello.com/b/<shortLink>/<name>` URL.
fn board_ref(given: &str) -> Result<BoardRef, String> {
    let s = given.trim();
    if is_object_id(s) || is_short_link(s) {
        return Ok(BoardRef(s.to_string()));
    }
    if let Ok(url) = Url::parse(s) {
        let host = url.host_str().unwrap_or_default();
        let mut segments = url.path_segments().into_iter().flatten();
        if (host == "trello.com" || host.ends_with(".trello.com")) && segments.next() == Some("b") {
            if let Some(link) = segments.next().filter(|l| is_short_link(l)) {
                return Ok(BoardRef(link.to_string()));
            }
        }
    }
    Err(format!("{given:?} is not a board id or short link"))
}

/// How a configured list entry is matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ListKey {
    /// A list id, compared exactly.
    Id(String),
    /// A list name, lower-cased and trimmed.
    Name(String),
}

/// `lists` from the settings: list id or name → category.
#[derive(Debug, Clone, Default)]
pub(crate) struct ListMap {
    by_id: BTreeMap<String, StatusCategory>,
    by_name: BTreeMap<String, StatusCategory>,
}

impl ListMap {
    /// The configured category of the list with this id and name, if any (id first).
    pub(crate) fn get(&self, id: Option<&str>, name: Option<&str>) -> Option<StatusCategory> {
        if let Some(c) = id.and_then(|i| self.by_id.get(i)) {
            return Some(*c);
        }
        name.and_then(|n| self.by_name.get(&normal_name(n)))
            .copied()
    }

    fn insert(&mut self, key: ListKey, category: StatusCategory) {
        match key {
            ListKey::Id(id) => self.by_id.insert(id, category),
            ListKey::Name(name) => self.by_name.insert(name, category),
        };
    }
}

/// List names are compared trimmed and lower-cased (Unicode-aware, for Cyrillic names).
pub(crate) fn normal_name(name: &str) -> String {
    name.trim().to_lowercase()
}

fn category(value: &str) -> Option<StatusCategory> {
    match value
        .trim()
        .to_ascii_lowercase()
        .replace(['-', ' '], "_")
        .as_str()
    {
        "todo" | "to_do" => Some(StatusCategory::Todo),
        "in_progress" | "inprogress" | "doing" => Some(StatusCategory::InProgress),
        "done" => Some(StatusCategory::Done),
        _ => None,
    }
}

#[derive(Deserialize)]
struct Raw {
    api_key: Option<String>,
    token: Option<SecretString>,
    boards: Option<Vec<String>>,
    // Not an Option: serde_ignored would name unknown keys below it `lists.?.key`. A map, so
    // any list name is accepted as a key.
    #[serde(default)]
    lists: BTreeMap<String, String>,
    app_secret: Option<SecretString>,
    callback_url: Option<String>,
}

/// Webhook settings: both or neither.
#[derive(Clone)]
pub(crate) struct WebhookSettings {
    pub(crate) app_secret: SecretString,
    /// Exactly as configured (trimmed): signed and registered byte for byte.
    pub(crate) callback_url: String,
}

/// Validated settings.
#[derive(Clone)]
pub struct Settings {
    pub(crate) base_url: Url,
    pub(crate) api_key: String,
    pub(crate) token: SecretString,
    pub(crate) boards: Vec<BoardRef>,
    pub(crate) lists: ListMap,
    pub(crate) webhooks: Option<WebhookSettings>,
}

impl Settings {
    pub(crate) fn parse(
        value: &serde_json::Value,
        base_url: Option<&Url>,
    ) -> Result<Settings, Vec<SettingsError>> {
        let known: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
        let raw: Raw = parse(value, &known)?;
        let mut errors = Vec::new();

        let api_key = match raw.api_key.as_deref().map(str::trim) {
            Some(k) if !k.is_empty() && !k.contains(char::is_whitespace) => Some(k.to_string()),
            Some(_) => {
                errors.push(
                    SettingsError::new("api_key", "is empty or contains spaces")
                        .hint("the key shown on the API key tab of trello.com/power-ups/admin"),
                );
                None
            }
            None => {
                errors.push(SettingsError::new("api_key", "missing").hint(
                    "the key shown on the API key tab of your Power-Up at trello.com/power-ups/admin",
                ));
                None
            }
        };
        if raw.token.is_none() {
            errors.push(SettingsError::new("token", "missing").hint(
                "set `token = \"${TRELLO_TOKEN}\"`: a token from https://trello.com/1/authorize?expiration=never&scope=read&response_type=token&key=<api_key>",
            ));
        }

        let mut boards = Vec::new();
        match raw.boards {
            None => errors.push(
                SettingsError::new("boards", "missing")
                    .hint("list the boards to read: `boards = [\"nH91E9Wf\"]` (the short link in the board's URL) or board ids"),
            ),
            Some(list) if list.is_empty() => errors.push(
                SettingsError::new("boards", "is empty").hint("name at least one board"),
            ),
            Some(list) => {
                for (i, given) in list.iter().enumerate() {
                    match board_ref(given) {
                        Ok(b) if boards.contains(&b) => errors.push(SettingsError::new(
                            format!("boards[{i}]"),
                            format!("board {:?} is listed twice", b.as_str()),
                        )),
                        Ok(b) => boards.push(b),
                        Err(why) => errors.push(
                            SettingsError::new(format!("boards[{i}]"), why).hint(
                                "give the 24-character board id, or the short link from the board's URL (`AbCd1234` in https://trello.com/b/AbCd1234/name)",
                            ),
                        ),
                    }
                }
            }
        }

        let mut lists = ListMap::default();
        for (key, value) in &raw.lists {
            let Some(cat) = category(value) else {
                errors.push(
                    SettingsError::new(
                        format!("lists.{key}"),
                        format!("{value:?} is not a status category"),
                    )
                    .hint("use todo, in_progress or done"),
                );
                continue;
            };
            let k = key.trim();
            if k.is_empty() {
                errors.push(SettingsError::new("lists", "a list name is empty"));
                continue;
            }
            let key = if is_object_id(k) {
                ListKey::Id(k.to_string())
            } else {
                ListKey::Name(normal_name(k))
            };
            lists.insert(key, cat);
        }

        let callback_url = raw
            .callback_url
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        if let Some(url) = callback_url {
            match Url::parse(url) {
                Ok(u) if matches!(u.scheme(), "https" | "http") && u.host_str().is_some() => {}
                _ => errors.push(
                    SettingsError::new("callback_url", format!("{url:?} is not an http(s) URL"))
                        .hint("the public URL of okno's webhook endpoint, such as https://okno.example.com/hooks/trello"),
                ),
            }
        }
        let webhooks = match (raw.app_secret, callback_url) {
            (Some(app_secret), Some(url)) => Some(WebhookSettings {
                app_secret,
                callback_url: url.to_string(),
            }),
            (Some(_), None) => {
                errors.push(
                    SettingsError::new("callback_url", "missing: required with app_secret").hint(
                        "Trello signs each delivery over its body followed by the callback URL, so okno needs the exact URL the webhooks were registered with, e.g. `callback_url = \"https://okno.example.com/hooks/trello\"`",
                    ),
                );
                None
            }
            (None, Some(_)) => {
                errors.push(
                    SettingsError::new("app_secret", "missing: required with callback_url").hint(
                        "deliveries cannot be verified without the Power-Up's OAuth secret: set `app_secret = \"${TRELLO_APP_SECRET}\"`, or remove callback_url",
                    ),
                );
                None
            }
            (None, None) => None,
        };

        let base_url = match base_url {
            Some(u) => u.clone(),
            None => match Url::parse("https://api.trello.com") {
                Ok(u) => u,
                Err(e) => {
                    errors.push(SettingsError::new("", e.to_string()));
                    return Err(errors);
                }
            },
        };

        match (api_key, raw.token) {
            (Some(api_key), Some(token)) if errors.is_empty() => Ok(Settings {
                base_url,
                api_key,
                token,
                boards,
                lists,
                webhooks,
            }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn keys(errs: &[SettingsError]) -> Vec<&str> {
        errs.iter().map(|e| e.key.as_str()).collect()
    }

    fn base() -> serde_json::Value {
        json!({"api_key": "k", "token": "t", "boards": ["nH91E9Wf"]})
    }

    #[test]
    fn boards_accept_ids_short_links_and_board_urls() {
        let s = Settings::parse(
            &json!({"api_key": "k", "token": "t", "boards": [
                "50eda21570cb352222003326", " nH91E9Wf ", "https://trello.com/b/AbCd1234/marketing-plan"
            ]}),
            None,
        )
        .ok()
        .unwrap();
        let b: Vec<&str> = s.boards.iter().map(BoardRef::as_str).collect();
        assert_eq!(b, ["50eda21570cb352222003326", "nH91E9Wf", "AbCd1234"]);
        assert_eq!(s.base_url.as_str(), "https://api.trello.com/");
        assert!(s.webhooks.is_none());
    }

    #[test]
    fn bad_and_duplicate_boards_are_named_by_index() {
        let errs = Settings::parse(
            &json!({"api_key": "k", "token": "t", "boards": ["nH91E9Wf", "my board", "nH91E9Wf"]}),
            None,
        )
        .err()
        .unwrap();
        assert_eq!(keys(&errs), ["boards[1]", "boards[2]"]);
    }

    #[test]
    fn lists_map_by_id_or_name_and_reject_unknown_categories() {
        let mut v = base();
        v["lists"] =
            json!({"Готово ": "done", "50eda27e70cb35222200333e": "in-progress", "Ideas": "TODO"});
        let s = Settings::parse(&v, None).ok().unwrap();
        assert_eq!(
            s.lists.get(None, Some("готово")),
            Some(StatusCategory::Done)
        );
        assert_eq!(
            s.lists
                .get(Some("50eda27e70cb35222200333e"), Some("whatever")),
            Some(StatusCategory::InProgress)
        );
        assert_eq!(s.lists.get(None, Some("IDEAS")), Some(StatusCategory::Todo));
        assert_eq!(s.lists.get(Some("x"), Some("Doing")), None);
        v["lists"] = json!({"Done": "finished"});
        let errs = Settings::parse(&v, None).err().unwrap();
        assert_eq!(keys(&errs), ["lists.Done"]);
    }

    #[test]
    fn webhook_settings_come_in_pairs() {
        let mut v = base();
        v["app_secret"] = json!("s");
        let errs = Settings::parse(&v, None).err().unwrap();
        assert_eq!(keys(&errs), ["callback_url"]);
        let mut v = base();
        v["callback_url"] = json!("https://okno.example.com/hooks/trello");
        let errs = Settings::parse(&v, None).err().unwrap();
        assert_eq!(keys(&errs), ["app_secret"]);
        v["app_secret"] = json!("s");
        let s = Settings::parse(&v, None).ok().unwrap();
        assert_eq!(
            s.webhooks.unwrap().callback_url,
            "https://okno.example.com/hooks/trello"
        );
        v["callback_url"] = json!("okno.example.com/hooks");
        let errs = Settings::parse(&v, None).err().unwrap();
        assert_eq!(keys(&errs), ["callback_url"]);
    }

    #[test]
    fn missing_credentials_are_all_reported() {
        let errs = Settings::parse(&json!({}), None).err().unwrap();
        assert_eq!(keys(&errs), ["api_key", "token", "boards"]);
    }
}
