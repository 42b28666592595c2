//! `people.toml`: who is who across tools, for the accounts e-mail cannot match.
//!
//! okno treats identities that share an e-mail as one person. Some vendors hide e-mail (Jira
//! Cloud by default, Trello always), so a person's accounts can be listed here by hand:
//!
//! ```toml
//! [[person]]
//! name = "Anna Smirnova"
//! email = "anna.smirnova@acme.example"   # optional
//! accounts = ["jira:5b10ac8d82e05b22cc7d4ef5", "trello:5a3b2c1d0e9f8a7b6c5d4e3f"]
//! ```
//!
//! An account is `<instance id>:<the vendor's user id>` (what `person_identity.user_id` holds).
//! A person with an e-mail is the same person as every identity carrying that e-mail
//! (`email:<address>`); one without is `people.toml:<name>`. The file sits beside the main
//! configuration and is optional.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::ConfigIssue;

/// File name looked for beside the main configuration file.
pub const FILE_NAME: &str = "people.toml";

/// One person of `people.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub person_id: String,
    pub name: String,
    pub email: Option<String>,
}

/// The people of `people.toml` and the accounts that are theirs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct People {
    pub file: Option<PathBuf>,
    pub people: Vec<Person>,
    /// (instance id, vendor user id) → index into `people`.
    pub accounts: BTreeMap<(String, String), usize>,
}

impl People {
    /// The person an account was assigned to, if any.
    pub fn person_of(&self, instance: &str, user_id: &str) -> Option<&Person> {
        self.accounts
            .get(&(instance.to_string(), user_id.to_string()))
            .map(|&i| &self.people[i])
    }

    /// (instance, user id, person id) of every listed account.
    pub fn assignments(&self) -> Vec<(String, String, String)> {
        self.accounts
            .iter()
            .map(|((inst, user), &i)| {
                (inst.clone(), user.clone(), self.people[i].person_id.clone())
            })
            .collect()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    person: Vec<RawPerson>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPerson {
    name: String,
    email: Option<String>,
    #[serde(default)]
    accounts: Vec<String>,
}

/// Reads `people.toml` beside `config_path`, if there is one. `instances` are the configured
/// instance ids: an account of another instance is a mistake worth reporting.
pub fn load(config_path: &Path, instances: &BTreeSet<String>) -> Result<People, Vec<ConfigIssue>> {
    let file = config_path
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join(FILE_NAME);
    if !file.exists() {
        return Ok(People::default());
    }
    let issue = |key: String, message: String, hint: Option<String>| ConfigIssue {
        file: file.clone(),
        key,
        message,
        hint,
    };
    let text = std::fs::read_to_string(&file)
        .map_err(|e| vec![issue(String::new(), format!("cannot read: {e}"), None)])?;
    let raw: RawFile = toml::from_str(&text).map_err(|e| {
        vec![issue(
            String::new(),
            e.message().to_string(),
            Some("each [[person]] has name, optional email, and accounts = [\"<instance>:<user id>\", ...]".into()),
        )]
    })?;
    let mut out = People {
        file: Some(file.clone()),
        ..People::default()
    };
    let mut issues = Vec::new();
    let mut ids = BTreeSet::new();
    for (i, p) in raw.person.into_iter().enumerate() {
        let key = |k: &str| format!("person[{i}].{k}");
        let name = p.name.trim().to_string();
        if name.is_empty() {
            issues.push(issue(key("name"), "is empty".into(), None));
            continue;
        }
        let email = p
            .email
            .map(|e| e.trim().to_lowercase())
            .filter(|e| !e.is_empty());
        if let Some(e) = &email {
            if !e.contains('@') {
                issues.push(issue(
                    key("email"),
                    format!("{e:?} is not an e-mail address"),
                    None,
                ));
            }
        }
        let person_id = match &email {
            Some(e) => format!("email:{e}"),
            // '.' cannot occur in an instance id, so this never meets an account's own id.
            None => format!("people.toml:{name}"),
        };
        if !ids.insert(person_id.clone()) {
            issues.push(issue(
                key("name"),
                format!("{person_id} is listed twice"),
                Some("merge the two entries' accounts into one".into()),
            ));
            continue;
        }
        let index = out.people.len();
        for (j, account) in p.accounts.iter().enumerate() {
            let akey = format!("person[{i}].accounts[{j}]");
            let Some((inst, user)) = account
                .split_once(':')
                .filter(|(a, b)| !a.is_empty() && !b.is_empty())
            else {
                issues.push(issue(
                    akey,
                    format!("{account:?} is not <instance>:<user id>"),
                    Some("e.g. \"jira:5b10ac8d82e05b22cc7d4ef5\"; `okno status` and person_identity show user ids".into()),
                ));
                continue;
            };
            if !instances.contains(inst) {
                let known: Vec<&str> = instances.iter().map(String::as_str).collect();
                issues.push(issue(
                    akey,
                    format!("no connector instance {inst:?}"),
                    Some(format!("instances: {}", known.join(", "))),
                ));
                continue;
            }
            if let Some(&other) = out.accounts.get(&(inst.to_string(), user.to_string())) {
                let other = out
                    .people
                    .get(other)
                    .map(|p| p.name.clone())
                    .unwrap_or_default();
                issues.push(issue(akey, format!("{account} is already {other}'s"), None));
                continue;
            }
            out.accounts
                .insert((inst.to_string(), user.to_string()), index);
        }
        out.people.push(Person {
            person_id,
            name,
            email,
        });
    }
    if issues.is_empty() {
        Ok(out)
    } else {
        Err(issues)
    }
}
