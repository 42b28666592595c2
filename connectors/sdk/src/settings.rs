//! Typed parsing of `[connector.settings]` that reports every unknown key, not just the first.

use serde::de::DeserializeOwned;

use crate::error::SettingsError;

/// Deserialises a connector's settings into `T`, collecting unknown keys (with a suggestion when
/// one is close to a known key) and the first type error with its key path.
pub fn parse<T: DeserializeOwned>(
    value: &serde_json::Value,
    known: &[&str],
) -> Result<T, Vec<SettingsError>> {
    let mut unknown = Vec::new();
    let mut track = |path: serde_ignored::Path<'_>| unknown.push(path.to_string());
    let de = serde_ignored::Deserializer::new(value, &mut track);
    let parsed: Result<T, _> = serde_path_to_error::deserialize(de);
    let mut errors: Vec<SettingsError> = unknown
        .into_iter()
        .map(|key| {
            let err = SettingsError::new(key.clone(), "unknown key");
            match closest(&key, known) {
                Some(k) => err.hint(format!("did you mean `{k}`?")),
                None => err.hint(format!("known keys: {}", known.join(", "))),
            }
        })
        .collect();
    match parsed {
        Ok(v) if errors.is_empty() => Ok(v),
        Ok(_) => Err(errors),
        Err(e) => {
            let path = e.path().to_string();
            let key = if path == "." { String::new() } else { path };
            errors.push(SettingsError::new(key, e.into_inner().to_string()));
            Err(errors)
        }
    }
}

/// The known key nearest to `key` by edit distance, if it is plausibly a typo.
pub fn closest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (edit_distance(key, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct S {
        subdomain: String,
        #[serde(default)]
        per_page: u32,
    }

    #[test]
    fn reports_every_unknown_key_with_a_suggestion() {
        let v = serde_json::json!({"subdomian": "x", "subdomain": "a", "colour": 1});
        let mut errs = parse::<S>(&v, &["subdomain", "per_page"]).unwrap_err();
        errs.sort_by(|a, b| a.key.cmp(&b.key));
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert_eq!(errs[0].key, "colour");
        assert_eq!(errs[1].key, "subdomian");
        assert_eq!(errs[1].hint.as_deref(), Some("did you mean `subdomain`?"));
    }

    #[test]
    fn names_the_key_of_a_type_error() {
        let v = serde_json::json!({"subdomain": "a", "per_page": "many"});
        let errs = parse::<S>(&v, &["subdomain", "per_page"]).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].key, "per_page");
    }
}
