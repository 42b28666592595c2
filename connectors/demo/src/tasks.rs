//! The `tasks` stream: the marketing team's planned work, shaped like Jira issues of one project
//! (`MKT`), so per-person figures (tasks done, lead time, work in progress) have something to
//! count beside tickets.
//!
//! Task `i` has id `20001 + i` and key `MKT-{i+1}`; it is created over the same window as the
//! tickets, assigned to one of the agents (user ids of the `users` stream, so a task and a ticket
//! of the same person meet through `person_identity`), 5% unassigned. Work starts after a short
//! wait and ends after a drawn number of business hours: a task is done when that end lies
//! before the anchor (12% stall and stay in progress), in progress when only its start does, to
//! do otherwise.

use chrono::SecondsFormat;
use okno_connector::rust_decimal::Decimal;
use okno_connector::{Record, StatusCategory, Task};
use serde_json::json;

use crate::config::Settings;
use crate::generate::FIRST_USER_ID;
use crate::rng::Rng;
use crate::timeline::{after_business_minutes, instant, Timeline};

pub(crate) const FIRST_TASK_ID: u64 = 20_001;
const SALT_TASK: u64 = 0x0074_6173_6B73; // "tasks"
const UNASSIGNED_PER_MILLE: u64 = 50;
const STALLED_PER_MILLE: u64 = 120;
/// Business minutes before work starts, octaves from 2^4: median about a day.
const WAIT_OCTAVES: [u32; 8] = [4, 8, 14, 18, 16, 10, 5, 2];
/// Business minutes of work, octaves from 2^6: median about two working days.
const WORK_OCTAVES: [u32; 9] = [2, 5, 10, 16, 18, 15, 9, 4, 2];

/// (title, label, issue type)
const KINDS: [(&str, &str, &str); 12] = [
    ("Landing page for the autumn sale", "web", "Story"),
    ("Banner set for the retargeting campaign", "ppc", "Task"),
    ("A/B test of search ad copy", "ppc", "Task"),
    ("Monthly SEO audit", "seo", "Task"),
    ("Blog article: case study", "content", "Story"),
    ("E-mail newsletter", "email", "Task"),
    ("Webinar promotion plan", "events", "Story"),
    ("Fix broken UTM marks on the pricing page", "web", "Bug"),
    ("Negative keywords review", "ppc", "Task"),
    ("Partner co-marketing brief", "partners", "Task"),
    ("Video for social ads", "content", "Story"),
    ("Lead form not sending to the CRM", "web", "Bug"),
];
const POINTS: [i64; 5] = [1, 2, 3, 5, 8];
const POINT_WEIGHTS: [u32; 5] = [15, 30, 30, 18, 7];

/// Appends task `i` of `s.tasks`.
pub(crate) fn task(s: &Settings, timeline: &Timeline, i: u64, out: &mut Vec<Record>) {
    let mut rng = Rng::for_item(s.seed, SALT_TASK, i);
    let anchor = timeline.anchor;
    let created = timeline.created_at(i, s.tasks, &mut rng);
    let (title, label, task_type) = *rng.pick(&KINDS);
    let assignee = (!rng.chance(UNASSIGNED_PER_MILLE)).then(|| FIRST_USER_ID + rng.below(s.agents));
    let reporter = FIRST_USER_ID + rng.below(s.agents);
    let started = after_business_minutes(created, rng.octaves(4, &WAIT_OCTAVES) as i64);
    let finished = after_business_minutes(started, rng.octaves(6, &WORK_OCTAVES) as i64);
    let stalled = rng.chance(STALLED_PER_MILLE);
    let points = POINTS[rng.weighted(&POINT_WEIGHTS)];
    let (status, category, started_at, done_at) =
        if assignee.is_some() && !stalled && finished <= anchor {
            ("Done", StatusCategory::Done, Some(started), Some(finished))
        } else if assignee.is_some() && started <= anchor {
            (
                "In Progress",
                StatusCategory::InProgress,
                Some(started),
                None,
            )
        } else {
            ("To Do", StatusCategory::Todo, None, None)
        };
    let updated = done_at.or(started_at).unwrap_or(created).min(anchor);
    let id = FIRST_TASK_ID + i;
    let key = format!("MKT-{}", i + 1);
    let stamp = |t: i64| instant(t).to_rfc3339_opts(SecondsFormat::Millis, true);
    let category_key = match category {
        StatusCategory::Todo => "new",
        StatusCategory::InProgress => "indeterminate",
        StatusCategory::Done => "done",
    };
    let raw = json!({
        "id": id.to_string(),
        "key": key,
        "fields": {
            "summary": title,
            "issuetype": { "name": task_type },
            "project": { "key": "MKT", "name": "Marketing" },
            "labels": [label],
            "assignee": assignee.map(|a| json!({ "accountId": a.to_string() })),
            "reporter": { "accountId": reporter.to_string() },
            "status": { "name": status, "statusCategory": { "key": category_key } },
            "created": stamp(created),
            "updated": stamp(updated),
            "resolutiondate": done_at.map(stamp),
            "customfield_10016": points,
        }
    });
    out.push(Record::Task(Box::new(Task {
        task_id: id.to_string(),
        key: Some(key),
        title: title.to_string(),
        project: Some("MKT".into()),
        project_name: Some("Marketing".into()),
        task_type: Some(task_type.into()),
        labels: vec![label.to_string()],
        assignee_id: assignee.map(|a| a.to_string()),
        reporter_id: Some(reporter.to_string()),
        status: status.to_string(),
        status_category: category,
        created_at: instant(created),
        updated_at: instant(updated),
        started_at: started_at.map(instant),
        done_at: done_at.map(instant),
        campaign: None,
        estimate: Some(Decimal::from(points)),
        deleted_at: None,
        raw: crate::raw::raw(&raw),
    })));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(s: &Settings) -> Vec<Task> {
        let timeline = Timeline::new(s.anchor_date, s.days);
        let mut out = Vec::new();
        for i in 0..s.tasks {
            task(s, &timeline, i, &mut out);
        }
        out.into_iter()
            .map(|r| match r {
                Record::Task(t) => *t,
                other => panic!("not a task: {}", other.kind()),
            })
            .collect()
    }

    #[test]
    fn tasks_follow_their_life_cycle_before_the_anchor() {
        let s = Settings::default();
        let anchor = instant(Timeline::new(s.anchor_date, s.days).anchor);
        let tasks = all(&s);
        assert_eq!(tasks.len(), 1500);
        let mut count = [0usize; 3];
        for t in &tasks {
            assert!(
                t.created_at < anchor && t.updated_at <= anchor,
                "{}",
                t.task_id
            );
            assert!(t.updated_at >= t.created_at);
            if let Some(a) = &t.assignee_id {
                let a: u64 = a.parse().unwrap();
                assert!((FIRST_USER_ID..FIRST_USER_ID + s.agents).contains(&a));
            }
            match t.status_category {
                StatusCategory::Done => {
                    count[0] += 1;
                    let (start, done) = (t.started_at.unwrap(), t.done_at.unwrap());
                    assert!(t.created_at <= start && start <= done && done <= anchor);
                    assert!(t.assignee_id.is_some());
                }
                StatusCategory::InProgress => {
                    count[1] += 1;
                    assert!(t.started_at.unwrap() <= anchor && t.done_at.is_none());
                }
                StatusCategory::Todo => {
                    count[2] += 1;
                    assert!(t.started_at.is_none() && t.done_at.is_none());
                }
            }
        }
        // Most work is done; some is in progress and some not started, as in a real tracker.
        assert!(
            count[0] > 1000 && count[1] > 100 && count[2] > 20,
            "{count:?}"
        );
    }

    #[test]
    fn a_task_depends_only_on_the_settings_and_its_index() {
        let s = Settings::default();
        let timeline = Timeline::new(s.anchor_date, s.days);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        task(&s, &timeline, 77, &mut a);
        task(&s, &timeline, 77, &mut b);
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            serde_json::to_string(&b).unwrap()
        );
        let raw: serde_json::Value = match &a[0] {
            Record::Task(t) => serde_json::from_str(t.raw.get()).unwrap(),
            _ => unreachable!(),
        };
        assert_eq!(raw["key"], "MKT-78");
        assert_eq!(raw["fields"]["project"]["key"], "MKT");
    }
}
