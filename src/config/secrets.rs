//! `${ENV}` references and `<key>_file` secrets.
//!
//! Any string value may contain `${NAME}` (write `$${` for a literal `${`). Inside a connector's
//! `settings`, a key the connector declares secret may instead be given as `<key>_file = "/path"`
//! (the file's content, without the trailing newline, becomes the value). A secret written
//! literally in the file is accepted with a warning. Values are never echoed in messages.

use okno_connector::ConnectorKind;
use serde_json::{Map, Value};

use super::{join_key, Issues};

/// Replaces `${NAME}` in every string outside connector settings (those are resolved with their
/// connector, which knows which keys are secret).
pub(super) fn substitute_env(
    value: Value,
    path: &str,
    env: &[(String, String)],
    issues: &mut Issues,
) -> Value {
    match value {
        Value::String(s) => Value::String(expand(&s, path, env, issues).unwrap_or_default()),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, v)| substitute_env(v, &format!("{path}[{i}]"), env, issues))
                .collect(),
        ),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let p = join_key(path, &k);
                    let v = if k == "settings" && path.starts_with("connector[") {
                        v
                    } else {
                        substitute_env(v, &p, env, issues)
                    };
                    (k, v)
                })
                .collect(),
        ),
        other => other,
    }
}

/// Expands `${NAME}` references in `s`; a missing variable is an issue naming the key.
fn expand(s: &str, key: &str, env: &[(String, String)], issues: &mut Issues) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix("${") {
            out.push_str("${");
            rest = tail;
        } else if let Some(tail) = after.strip_prefix('{') {
            let Some(end) = tail.find('}') else {
                issues.push(
                    key,
                    "unclosed ${ in value",
                    Some("write ${NAME}, or $${ for a literal ${".into()),
                );
                return None;
            };
            let name = &tail[..end];
            match env.iter().find(|(k, _)| k == name) {
                Some((_, v)) => out.push_str(v),
                None => {
                    issues.push(
                        key,
                        format!("environment variable {name} is not set"),
                        Some(format!(
                            "export {name}=..., or put it in the service's environment file"
                        )),
                    );
                    return None;
                }
            }
            rest = &tail[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Some(out)
}

/// Resolves a connector's settings: `${ENV}` in every string, `<secret>_file` paths, and a
/// warning for secrets written literally.
pub(super) fn resolve_files(
    settings: Value,
    kind: &ConnectorKind,
    prefix: &str,
    env: &[(String, String)],
    issues: &mut Issues,
    warnings: &mut Issues,
) -> Value {
    let Value::Object(map) = settings else {
        if !settings.is_null() {
            issues.push(
                prefix,
                "must be a table",
                Some(format!(
                    "write [connector.settings] with the keys of {}",
                    kind.kind
                )),
            );
        }
        return Value::Object(Map::new());
    };
    let mut out = Map::new();
    for spec in kind.settings.iter().filter(|s| s.secret) {
        let file_key = format!("{}_file", spec.name);
        if map.contains_key(spec.name) && map.contains_key(&file_key) {
            issues.push(
                join_key(prefix, &file_key),
                format!("{} is set too", spec.name),
                Some(format!("keep either {} or {file_key}", spec.name)),
            );
        }
    }
    for (k, v) in map {
        let key = join_key(prefix, &k);
        let secret_of_file = k
            .strip_suffix("_file")
            .and_then(|base| kind.settings.iter().find(|s| s.secret && s.name == base));
        if let Some(spec) = secret_of_file {
            let Value::String(path) = v else {
                issues.push(key, "must be a file path", None);
                continue;
            };
            let path = expand(&path, &key, env, issues).unwrap_or_default();
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    let text = text.trim_end_matches(['\n', '\r']).to_string();
                    if text.is_empty() {
                        issues.push(key, format!("secret file {path:?} is empty"), None);
                    } else {
                        out.insert(spec.name.to_string(), Value::String(text));
                    }
                }
                Err(e) => issues.push(
                    key,
                    format!("cannot read secret file {path:?}: {e}"),
                    Some("check the path and that the okno user may read it".into()),
                ),
            }
            continue;
        }
        let is_secret = kind.settings.iter().any(|s| s.secret && s.name == k);
        let v = match v {
            Value::String(s) => {
                if is_secret && !s.contains("${") {
                    warnings.push(
                        key.clone(),
                        "holds a literal secret",
                        Some(format!("use {k} = \"${{ENV_VAR}}\" or {k}_file = \"/run/secrets/...\" so the file can live in git")),
                    );
                }
                let value = expand(&s, &key, env, issues);
                if is_secret && value.as_deref() == Some("") {
                    issues.push(
                        key.clone(),
                        "the secret is empty",
                        Some("check that the environment variable has a value".into()),
                    );
                }
                Value::String(value.unwrap_or_default())
            }
            other => substitute_env(other, &key, env, issues),
        };
        if out.contains_key(&k) {
            issues.push(
                key,
                format!("set both as {k} and {k}_file"),
                Some("keep one".into()),
            );
            continue;
        }
        out.insert(k, v);
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn issues() -> Issues {
        Issues {
            file: PathBuf::from("okno.toml"),
            list: Vec::new(),
        }
    }

    #[test]
    fn expands_references_and_keeps_escaped_dollars() {
        let env = vec![("TOKEN".to_string(), "s3cret".to_string())];
        let mut i = issues();
        assert_eq!(
            expand("a${TOKEN}b $${LIT} $5", "k", &env, &mut i).unwrap(),
            "as3cretb ${LIT} $5"
        );
        assert!(i.list.is_empty());
    }

    #[test]
    fn a_missing_variable_names_the_key_and_the_variable() {
        let mut i = issues();
        assert!(expand("${NOPE}", "connector[0].settings.api_token", &[], &mut i).is_none());
        assert_eq!(i.list[0].key, "connector[0].settings.api_token");
        assert!(i.list[0].message.contains("NOPE"));
    }
}
