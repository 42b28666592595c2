//! Pure mapping from Trello objects to okno records, and what a board's action history says
//! about each card (who created it, when it first went into progress, when it was last done).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use okno_connector::{Deleted, DeletedKind, Identity, StatusCategory, Task};
use serde_json::value::RawValue;

use crate::config::{is_object_id, ListMap};
use crate::model;

/// Action types that bring a card into existence on a board, in a list.
pub(crate) const CREATED: &[&str] = &[
    "createCard",
    "copyCard",
    "convertToCardFromCheckItem",
    "emailCard",
];

/// The `filter` of every history request: card creation, arrival from another board, list
/// moves and deletions. Every name is in Trello's documented list of action types.
pub(crate) const HISTORY_FILTER: &str = "createCard,copyCard,convertToCardFromCheckItem,emailCard,moveCardToBoard,updateCard:idList,deleteCard";

/// Substrings of list names (lower-cased) that make a list "done" when `lists` does not name it.
/// Checked before [`IN_PROGRESS_WORDS`].
pub(crate) const DONE_WORDS: &[&str] = &[
    "done",
    "complete",
    "closed",
    "archive",
    "готово",
    "выполнено",
    "завершен",
    "сделано",
    "архив",
];

/// Substrings of list names (lower-cased) that make a list "in progress".
pub(crate) const IN_PROGRESS_WORDS: &[&str] = &[
    "doing",
    "in progress",
    "progress",
    "review",
    "в работе",
    "в процессе",
    "на проверке",
];

/// The category of a list named `name` when the settings do not map it.
pub(crate) fn default_category(name: &str) -> StatusCategory {
    let name = name.to_lowercase();
    if DONE_WORDS.iter().any(|w| name.contains(w)) {
        StatusCategory::Done
    } else if IN_PROGRESS_WORDS.iter().any(|w| name.contains(w)) {
        StatusCategory::InProgress
    } else {
        StatusCategory::Todo
    }
}

/// The category of a list: configured by id or name, else by its name, else to do.
pub(crate) fn list_category(map: &ListMap, id: Option<&str>, name: Option<&str>) -> StatusCategory {
    map.get(id, name)
        .or_else(|| name.map(default_category))
        .unwrap_or(StatusCategory::Todo)
}

/// A list of a board as the cards need it.
#[derive(Debug, Clone)]
pub(crate) struct ListInfo {
    pub(crate) name: Option<String>,
    pub(crate) category: StatusCategory,
}

/// A board's name and lists: what a card's status and project need.
#[derive(Debug, Clone)]
pub(crate) struct BoardContext {
    pub(crate) id: String,
    pub(crate) name: Option<String>,
    pub(crate) lists: HashMap<String, ListInfo>,
}

impl BoardContext {
    pub(crate) fn new(board: model::Board, lists: Vec<model::List>, map: &ListMap) -> Self {
        let lists = lists
            .into_iter()
            .map(|l| {
                let category = list_category(map, Some(&l.id), l.name.as_deref());
                (
                    l.id,
                    ListInfo {
                        name: l.name,
                        category,
                    },
                )
            })
            .collect();
        BoardContext {
            id: board.id,
            name: board.name.filter(|n| !n.trim().is_empty()),
            lists,
        }
    }

    /// The category of the list a card entered: the board's current mapping of that list, or,
    /// for a list the board no longer has, the name the action recorded.
    fn entered(&self, map: &ListMap, list: &model::Ref) -> StatusCategory {
        match list.id.as_deref().and_then(|id| self.lists.get(id)) {
            Some(l) => l.category,
            None => list_category(map, list.id.as_deref(), list.name.as_deref()),
        }
    }
}

pub(crate) fn time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The creation time in a Trello object id: its first 8 hex digits are Unix seconds.
pub(crate) fn id_time(id: &str) -> Option<DateTime<Utc>> {
    if !is_object_id(id) {
        return None;
    }
    let secs = u32::from_str_radix(&id[..8], 16).ok()?;
    DateTime::from_timestamp(i64::from(secs), 0)
}

/// What the action history says about one card.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct CardHistory {
    /// The earliest creation action: when, and by whom.
    pub(crate) created: Option<(DateTime<Utc>, Option<String>)>,
    /// The earliest entry into an in-progress list.
    pub(crate) first_in_progress: Option<DateTime<Utc>>,
    /// The latest entry into a done list.
    pub(crate) last_done: Option<DateTime<Utc>>,
}

impl CardHistory {
    fn entered(&mut self, at: DateTime<Utc>, category: StatusCategory) {
        match category {
            StatusCategory::InProgress => {
                self.first_in_progress = Some(self.first_in_progress.map_or(at, |t| t.min(at)));
            }
            StatusCategory::Done => {
                self.last_done = Some(self.last_done.map_or(at, |t| t.max(at)));
            }
            StatusCategory::Todo => {}
        }
    }
}

/// A board's (or one card's) action history, in any order.
#[derive(Debug, Default)]
pub(crate) struct History {
    pub(crate) cards: HashMap<String, CardHistory>,
    /// `deleteCard` actions: card id and when.
    pub(crate) deleted: Vec<(String, DateTime<Utc>)>,
    /// Actions skipped for lack of a date or card id.
    pub(crate) skipped: usize,
}

impl History {
    /// Takes one action into account. Order does not matter: only minima and maxima are kept.
    pub(crate) fn observe(&mut self, action: &model::Action, board: &BoardContext, map: &ListMap) {
        let (Some(kind), Some(at), Some(data)) = (
            action.kind.as_deref(),
            action.date.as_deref().and_then(time),
            action.data.as_ref(),
        ) else {
            self.skipped += 1;
            return;
        };
        let Some(card) = data.card.as_ref().and_then(|c| c.id.clone()) else {
            self.skipped += 1;
            return;
        };
        if kind == "deleteCard" {
            self.deleted.push((card, at));
            return;
        }
        let created = CREATED.contains(&kind);
        // The list the card is in after the action.
        let list = if kind == "updateCard" {
            data.list_after
                .as_ref()
                .map(|l| (l.id.clone(), l.name.clone()))
        } else if created || kind == "moveCardToBoard" {
            data.list
                .as_ref()
                .map(|l| (l.id.clone(), l.name.clone()))
                .or_else(|| data.card.as_ref().map(|c| (c.id_list.clone(), None)))
        } else {
            None
        };
        let entry = self.cards.entry(card).or_default();
        if created && entry.created.as_ref().is_none_or(|(t, _)| at < *t) {
            entry.created = Some((at, action.id_member_creator.clone()));
        }
        if let Some((id, name)) = list {
            let category = board.entered(
                map,
                &model::Ref {
                    id,
                    name,
                    id_list: None,
                },
            );
            entry.entered(at, category);
        }
    }
}

/// A card as a task. `history` is what the board's actions say about it, if anything.
pub(crate) fn task(
    card: model::Card,
    raw: &RawValue,
    board: &BoardContext,
    map: &ListMap,
    history: Option<&CardHistory>,
) -> Result<Task, String> {
    let list = card.id_list.as_deref().and_then(|id| board.lists.get(id));
    let status = list
        .and_then(|l| l.name.clone())
        .or_else(|| card.id_list.clone())
        .unwrap_or_default();
    let status_category = match list {
        Some(l) => l.category,
        None => list_category(map, card.id_list.as_deref(), None),
    };
    let updated = card.date_last_activity.as_deref().and_then(time);
    let created_at = id_time(&card.id)
        .or_else(|| history.and_then(|h| h.created.as_ref().map(|(t, _)| *t)))
        .or(updated)
        .ok_or_else(|| {
            format!(
                "card {}: no creation time in its id, history or dateLastActivity",
                card.id
            )
        })?;
    let labels = card
        .labels
        .unwrap_or_default()
        .into_iter()
        .filter_map(|l| match l {
            model::Label::Object { name, color } => name
                .filter(|n| !n.trim().is_empty())
                .or(color.filter(|c| !c.trim().is_empty())),
            model::Label::Other(_) => None,
        })
        .collect();
    Ok(Task {
        key: card.short_link.filter(|s| !s.is_empty()),
        title: card.name.unwrap_or_default(),
        project: card.id_board.or_else(|| Some(board.id.clone())),
        project_name: board.name.clone(),
        task_type: None,
        labels,
        assignee_id: card.id_members.and_then(|m| m.into_iter().next()),
        reporter_id: history.and_then(|h| h.created.as_ref().and_then(|(_, by)| by.clone())),
        status,
        status_category,
        created_at,
        updated_at: updated.unwrap_or(created_at),
        started_at: history.and_then(|h| h.first_in_progress),
        done_at: history
            .and_then(|h| h.last_done)
            .filter(|_| status_category == StatusCategory::Done),
        campaign: None,
        estimate: None,
        deleted_at: None,
        raw: raw.to_owned(),
        task_id: card.id,
    })
}

/// Trello members carry no modification time: `updated_at` is fixed at the Unix epoch, so the
/// store rewrites an identity only when its JSON changed. E-mail is not exposed for others.
pub(crate) fn identity(m: model::Member, raw: &RawValue) -> Identity {
    Identity {
        name: m
            .full_name
            .filter(|n| !n.trim().is_empty())
            .or(m.username.filter(|n| !n.trim().is_empty())),
        user_id: m.id,
        email: None,
        role: None,
        active: true,
        updated_at: DateTime::UNIX_EPOCH,
        raw: raw.to_owned(),
    }
}

pub(crate) fn deleted(card_id: String, at: DateTime<Utc>) -> Deleted {
    Deleted {
        kind: DeletedKind::Task,
        id: card_id,
        deleted_at: at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_names_map_to_categories_by_default() {
        for (name, want) in [
            ("Done", StatusCategory::Done),
            ("Готово ✅", StatusCategory::Done),
            ("Completed this week", StatusCategory::Done),
            ("Архив 2024", StatusCategory::Done),
            ("Doing", StatusCategory::InProgress),
            ("In Progress", StatusCategory::InProgress),
            ("В работе", StatusCategory::InProgress),
            ("Code review", StatusCategory::InProgress),
            ("Backlog", StatusCategory::Todo),
            ("Идеи", StatusCategory::Todo),
        ] {
            assert_eq!(default_category(name), want, "{name}");
        }
    }

    #[test]
    fn object_ids_carry_their_creation_second() {
        // 0x52deb491 = 1390326929 = 2014-01-21T17:55:29Z.
        let t = id_time("52deb4919a4ce83458b40fb8").unwrap();
        assert_eq!(t.to_rfc3339(), "2014-01-21T17:55:29+00:00");
        assert_eq!(id_time("dtZDDhcT"), None);
        assert_eq!(id_time("zzdeb4919a4ce83458b40fb8"), None);
    }

    #[test]
    fn history_keeps_the_first_start_and_the_last_finish_in_any_order() {
        let board = BoardContext {
            id: "b".into(),
            name: None,
            lists: HashMap::from([
                (
                    "todo".to_string(),
                    ListInfo {
                        name: Some("Backlog".into()),
                        category: StatusCategory::Todo,
                    },
                ),
                (
                    "doing".to_string(),
                    ListInfo {
                        name: Some("Doing".into()),
                        category: StatusCategory::InProgress,
                    },
                ),
                (
                    "done".to_string(),
                    ListInfo {
                        name: Some("Done".into()),
                        category: StatusCategory::Done,
                    },
                ),
            ]),
        };
        let mv = |date: &str, to: &str| -> model::Action {
            serde_json::from_value(serde_json::json!({
                "id": date, "type": "updateCard", "date": date, "idMemberCreator": "m2",
                "data": {"card": {"id": "c1", "idList": to}, "listAfter": {"id": to, "name": "?"}}
            }))
            .unwrap()
        };
        let create: model::Action = serde_json::from_value(serde_json::json!({
            "id": "a0", "type": "createCard", "date": "2025-03-01T09:00:00.000Z", "idMemberCreator": "m1",
            "data": {"card": {"id": "c1"}, "list": {"id": "todo", "name": "Backlog"}}
        }))
        .unwrap();
        let mut h = History::default();
        let map = ListMap::default();
        for a in [
            mv("2025-03-05T09:00:00.000Z", "done"),
            mv("2025-03-02T09:00:00.000Z", "doing"),
            mv("2025-03-04T09:00:00.000Z", "doing"),
            mv("2025-03-03T09:00:00.000Z", "done"),
            create,
        ] {
            h.observe(&a, &board, &map);
        }
        let c = &h.cards["c1"];
        assert_eq!(c.first_in_progress, time("2025-03-02T09:00:00Z"));
        assert_eq!(c.last_done, time("2025-03-05T09:00:00Z"));
        assert_eq!(
            c.created,
            Some((
                time("2025-03-01T09:00:00Z").unwrap(),
                Some("m1".to_string())
            ))
        );
    }
}
