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
//!
//! The file also says who owns which marketing channels, alone or as a team:
//!
//! ```toml
//! [[person]]
//! name = "Anna Smirnova"
//! channels = ["yandex_direct"]          # channels this person answers for (optional)
//!
//! [[team]]
//! name = "PPC"
//! group = "inbound"                     # optional: teams of one group are read together
//! members = ["Anna Smirnova", "boris@acme.example"]   # [[person]] names or e-mails
//! channels = ["yandex_direct", "google_ads"]
//! ```
//!
//! A channel belongs to at most one team, so the teams' channel figures add up to the channels'
//! without counting any lead twice (ROI `--by team` relies on it); several people may own the
//! same channel, since person rows are never summed. A person may sit in several teams.

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
    /// Channels (as campaigns and attribution rules name them) this person owns.
    pub channels: Vec<String>,
}

/// One `[[team]]` of `people.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    pub name: String,
    /// e.g. `inbound` or `outbound`; teams without one stand alone.
    pub group: Option<String>,
    /// Person ids (`email:<address>` or `people.toml:<name>`), in file order.
    pub members: Vec<String>,
    /// Channels the team owns; no other team owns them.
    pub channels: Vec<String>,
}

/// The people of `people.toml` and the accounts that are theirs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct People {
    pub file: Option<PathBuf>,
    pub people: Vec<Person>,
    /// (instance id, vendor user id) → index into `people`.
    pub accounts: BTreeMap<(String, String), usize>,
    pub teams: Vec<Team>,
}

impl People {
    /// The person an account was assigned to, if any.
    pub fn person_of(&self, instance: &str, user_id: &str) -> Option<&Person> {
        self.accounts
            .get(&(instance.to_string(), user_id.to_string()))
            .map(|&i| &self.people[i])
    }

    /// The listed person with this person id, if any.
    pub fn person(&self, person_id: &str) -> Option<&Person> {
        self.people.iter().find(|p| p.person_id == person_id)
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

/// Channel → the name of the team that owns it, for grouping channel figures by team (ROI
/// `--by team`). Each channel has one team at most (see the module docs).
pub fn channel_teams(people: &People) -> BTreeMap<String, String> {
    people
        .teams
        .iter()
        .flat_map(|t| t.channels.iter().map(|c| (c.clone(), t.name.clone())))
        .collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    person: Vec<RawPerson>,
    #[serde(default)]
    team: Vec<RawTeam>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPerson {
    name: String,
    email: Option<String>,
    #[serde(default)]
    accounts: Vec<String>,
    #[serde(default)]
    channels: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTeam {
    name: String,
    group: Option<String>,
    #[serde(default)]
    members: Vec<String>,
    #[serde(default)]
    channels: Vec<String>,
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
            Some("each [[person]] has name, optional email, accounts = [\"<instance>:<user id>\", ...] and channels; each [[team]] has name, optional group, members and channels".into()),
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
        let channels = channel_list(&p.channels, &format!("person[{i}]"), &mut |k, m| {
            issues.push(issue(k, m, None))
        });
        out.people.push(Person {
            person_id,
            name,
            email,
            channels,
        });
    }
    let mut owner: BTreeMap<String, String> = BTreeMap::new();
    let mut names = BTreeSet::new();
    for (i, t) in raw.team.into_iter().enumerate() {
        let key = |k: &str| format!("team[{i}].{k}");
        let name = t.name.trim().to_string();
        if name.is_empty() {
            issues.push(issue(key("name"), "is empty".into(), None));
            continue;
        }
        if !names.insert(name.clone()) {
            issues.push(issue(
                key("name"),
                format!("team {name:?} is listed twice"),
                Some("give each [[team]] its own name, or merge the two into one".into()),
            ));
            continue;
        }
        let group = t.group.map(|g| g.trim().to_string());
        if group.as_deref() == Some("") {
            issues.push(issue(
                key("group"),
                "is empty".into(),
                Some("leave `group` out, or name it, e.g. \"inbound\"".into()),
            ));
        }
        let mut members = Vec::new();
        for (j, m) in t.members.iter().enumerate() {
            let mkey = format!("team[{i}].members[{j}]");
            let Some(id) = member_id(&out.people, m) else {
                let known: Vec<&str> = out.people.iter().map(|p| p.name.as_str()).collect();
                issues.push(issue(
                    mkey,
                    format!("{m:?} is neither a [[person]] name nor an e-mail"),
                    Some(if known.is_empty() {
                        "add a [[person]] with this name, or write the member's e-mail".into()
                    } else {
                        format!(
                            "write a [[person]] name ({}) or an e-mail",
                            known.join(", ")
                        )
                    }),
                ));
                continue;
            };
            if members.contains(&id) {
                issues.push(issue(mkey, format!("{m:?} is already a member"), None));
                continue;
            }
            members.push(id);
        }
        let channels = channel_list(&t.channels, &format!("team[{i}]"), &mut |k, m| {
            issues.push(issue(k, m, None))
        });
        for (j, c) in channels.iter().enumerate() {
            if let Some(other) = owner.get(c) {
                issues.push(issue(
                    format!("team[{i}].channels[{j}]"),
                    format!("channel {c:?} is already owned by team {other:?}"),
                    Some("a channel's leads and spend count for one team only: keep it in one team's channels (people may still share it through [[person]] channels)".into()),
                ));
                continue;
            }
            owner.insert(c.clone(), name.clone());
        }
        let channels = channels
            .into_iter()
            .filter(|c| owner.get(c) == Some(&name))
            .collect();
        out.teams.push(Team {
            name,
            group: group.filter(|g| !g.is_empty()),
            members,
            channels,
        });
    }
    if issues.is_empty() {
        Ok(out)
    } else {
        Err(issues)
    }
}

/// The person id a team member stands for: a `[[person]]` by name or e-mail, else the
/// automatic person of an e-mail. `None` for a name no `[[person]]` has.
fn member_id(people: &[Person], member: &str) -> Option<String> {
    let m = member.trim();
    if let Some(p) = people.iter().find(|p| p.name == m) {
        return Some(p.person_id.clone());
    }
    if m.contains('@') {
        let email = m.to_lowercase();
        return Some(
            people
                .iter()
                .find(|p| p.email.as_deref() == Some(email.as_str()))
                .map(|p| p.person_id.clone())
                .unwrap_or_else(|| format!("email:{email}")),
        );
    }
    None
}

/// Trimmed channel names without repeats; an empty one is reported under `prefix.channels[j]`.
fn channel_list(
    raw: &[String],
    prefix: &str,
    report: &mut dyn FnMut(String, String),
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (j, c) in raw.iter().enumerate() {
        let c = c.trim();
        if c.is_empty() {
            report(format!("{prefix}.channels[{j}]"), "is empty".into());
        } else if !out.iter().any(|o| o == c) {
            out.push(c.to_string());
        }
    }
    out
}
