//! `[connector.settings]` of a Bank of Russia instance. There are no credentials: the rates are
//! public. The host comes from the block's `base_url` (tests, a proxy) or is `https://www.cbr.ru/`.

use std::collections::BTreeSet;

use okno_connector::settings::parse;
use okno_connector::{Currency, SettingSpec, SettingsError};
use serde::Deserialize;

pub(crate) const SETTINGS: &[SettingSpec] = &[SettingSpec {
    name: "currencies",
    doc: "ISO 4217 codes of the currencies to keep (the bank sets rates for about 40–55); every currency the bank lists when left out",
    required: false,
    secret: false,
    example: "[\"USD\", \"EUR\", \"CNY\", \"KZT\"]",
}];

#[derive(Deserialize)]
struct Raw {
    currencies: Option<Vec<String>>,
}

/// Validated settings.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// The currencies to keep; `None` keeps every one.
    pub(crate) currencies: Option<BTreeSet<Currency>>,
}

impl Settings {
    /// Parses the settings, reporting every problem at once.
    pub(crate) fn parse(value: &serde_json::Value) -> Result<Settings, Vec<SettingsError>> {
        // An instance without a settings table is valid: every currency is kept.
        let empty = serde_json::Value::Object(serde_json::Map::new());
        let value = if value.is_null() { &empty } else { value };
        let known: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
        let raw: Raw = parse(value, &known)?;
        let mut errors = Vec::new();

        let currencies = match raw.currencies {
            None => None,
            Some(list) if list.is_empty() => {
                errors.push(
                    SettingsError::new("currencies", "is empty, so no rate would be kept")
                        .hint("leave `currencies` out to keep every currency the bank sets"),
                );
                None
            }
            Some(list) => {
                let mut set = BTreeSet::new();
                for (i, code) in list.iter().enumerate() {
                    let key = format!("currencies[{i}]");
                    match code.parse::<Currency>() {
                        Ok(c) if c.as_str() == "RUB" => errors.push(
                            SettingsError::new(key, "RUB is the base of every rate, not a rate")
                                .hint("leave RUB out: each rate is the roubles one unit of the currency is worth"),
                        ),
                        Ok(c) => {
                            set.insert(c);
                        }
                        Err(e) => errors.push(
                            SettingsError::new(key, e.to_string())
                                .hint("the bank's CharCode, such as USD, EUR, CNY or KZT"),
                        ),
                    }
                }
                Some(set)
            }
        };

        if errors.is_empty() {
            Ok(Settings { currencies })
        } else {
            Err(errors)
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

    #[test]
    fn no_settings_keep_every_currency() {
        let s = Settings::parse(&serde_json::Value::Null).unwrap();
        assert!(s.currencies.is_none());
        let s = Settings::parse(&json!({})).unwrap();
        assert!(s.currencies.is_none());
    }

    #[test]
    fn currency_codes_are_normalised() {
        let s = Settings::parse(&json!({"currencies": ["usd", " EUR", "USD"]})).unwrap();
        let codes: Vec<String> = s
            .currencies
            .unwrap()
            .iter()
            .map(|c| c.to_string())
            .collect();
        assert_eq!(codes, ["EUR", "USD"]);
    }

    #[test]
    fn every_bad_code_is_reported_with_its_index() {
        let errs =
            Settings::parse(&json!({"currencies": ["USD", "US", "RUB", "ДОЛ"], "lookbak": 3}))
                .unwrap_err();
        assert_eq!(
            keys(&errs),
            ["lookbak"],
            "unknown keys come first: {errs:?}"
        );
        let errs =
            Settings::parse(&json!({"currencies": ["USD", "US", "RUB", "ДОЛ"]})).unwrap_err();
        assert_eq!(
            keys(&errs),
            ["currencies[1]", "currencies[2]", "currencies[3]"]
        );
        assert!(errs.iter().all(|e| e.hint.is_some()));
    }

    #[test]
    fn an_empty_list_is_refused_and_a_wrong_type_is_named() {
        let errs = Settings::parse(&json!({"currencies": []})).unwrap_err();
        assert_eq!(keys(&errs), ["currencies"]);
        let errs = Settings::parse(&json!({"currencies": "USD"})).unwrap_err();
        assert_eq!(keys(&errs), ["currencies"]);
    }
}
