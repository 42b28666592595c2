//! Pure mapping from Zendesk objects to okno records.

use okno_connector::{Group, Identity, Ticket, TicketMetrics};
use serde_json::value::RawValue;

use crate::model;

fn owned(raw: &RawValue) -> Box<RawValue> {
    raw.to_owned()
}

pub(crate) fn ticket(t: model::Ticket, raw: &RawValue) -> Ticket {
    let deleted = t.status == "deleted";
    Ticket {
        ticket_id: t.id.to_string(),
        subject: t.subject,
        status: t.status,
        priority: t.priority,
        ticket_type: t.kind,
        channel: t.via.and_then(|v| v.channel),
        requester_id: t.requester_id.map(|v| v.to_string()),
        assignee_id: t.assignee_id.map(|v| v.to_string()),
        group_id: t.group_id.map(|v| v.to_string()),
        organization_id: t.organization_id.map(|v| v.to_string()),
        tags: t.tags,
        created_at: t.created_at,
        updated_at: t.updated_at,
        // The export reports the deletion as a change, so its update time is when it happened.
        deleted_at: deleted.then_some(t.updated_at),
        raw: owned(raw),
    }
}

pub(crate) fn identity(u: model::User, raw: &RawValue) -> Identity {
    Identity {
        user_id: u.id.to_string(),
        name: u.name,
        email: u
            .email
            .map(|e| e.trim().to_lowercase())
            .filter(|e| !e.is_empty()),
        role: u.role,
        active: u.active,
        updated_at: u.updated_at,
        raw: owned(raw),
    }
}

pub(crate) fn group(g: model::Group, raw: &RawValue) -> Group {
    Group {
        group_id: g.id.to_string(),
        name: g.name,
        deleted: g.deleted,
        updated_at: g.updated_at,
        raw: owned(raw),
    }
}

pub(crate) fn metrics(m: model::TicketMetric, raw: &RawValue) -> TicketMetrics {
    let (reply_cal, reply_bus) = split(m.reply_time_in_minutes);
    let (res_cal, res_bus) = split(m.full_resolution_time_in_minutes);
    TicketMetrics {
        ticket_id: m.ticket_id.to_string(),
        created_at: m.created_at,
        updated_at: m.updated_at,
        assigned_at: m.assigned_at,
        solved_at: m.solved_at,
        reply_minutes_calendar: reply_cal,
        reply_minutes_business: reply_bus,
        resolution_minutes_calendar: res_cal,
        resolution_minutes_business: res_bus,
        reopens: m.reopens,
        replies: m.replies,
        raw: owned(raw),
    }
}

fn split(m: Option<model::Minutes>) -> (Option<i64>, Option<i64>) {
    m.map(|m| (m.calendar, m.business)).unwrap_or((None, None))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ExportPage;

    fn fixture(name: &str) -> String {
        okno_connector::testkit::fixture(env!("CARGO_MANIFEST_DIR"), name)
    }

    #[test]
    fn maps_a_solved_ticket_and_marks_a_deleted_one() {
        let body = fixture("tickets_page1.json");
        let page: ExportPage = serde_json::from_str(&body).unwrap();
        let tickets: Vec<Ticket> = page
            .items
            .iter()
            .map(|raw| ticket(serde_json::from_str(raw.get()).unwrap(), raw))
            .collect();
        let solved = &tickets[0];
        assert_eq!(solved.ticket_id, "104101");
        assert_eq!(solved.status, "solved");
        assert_eq!(solved.channel.as_deref(), Some("email"));
        assert_eq!(solved.assignee_id.as_deref(), Some("372001"));
        assert_eq!(solved.group_id.as_deref(), Some("360001"));
        assert_eq!(solved.tags, ["order_delayed", "shipping", "vip"]);
        assert!(solved.deleted_at.is_none());
        assert!(solved
            .raw
            .get()
            .contains("\"Order #88231 still not shipped\""));
        assert_eq!(tickets[1].assignee_id, None);
        assert_eq!(tickets[2].status, "deleted");
        assert_eq!(tickets[2].deleted_at, Some(tickets[2].updated_at));
    }

    #[test]
    fn keeps_calendar_and_business_minutes_apart() {
        let body = fixture("ticket_metrics_page1.json");
        let page: crate::model::ListPage = serde_json::from_str(&body).unwrap();
        let m = metrics(
            serde_json::from_str(page.items[0].get()).unwrap(),
            page.items[0],
        );
        assert_eq!(m.ticket_id, "104101");
        assert_eq!(m.reply_minutes_calendar, Some(38));
        assert_eq!(m.resolution_minutes_calendar, Some(5786));
        assert_eq!(m.resolution_minutes_business, Some(2346));
        let open = metrics(
            serde_json::from_str(page.items[1].get()).unwrap(),
            page.items[1],
        );
        assert_eq!(open.solved_at, None);
        assert_eq!(open.resolution_minutes_calendar, None);
    }
}
