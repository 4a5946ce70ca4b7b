//! Writing webhook deliveries in the transaction of the change they report.

use serde::Serialize;
use utoipa::ToSchema;

use super::store::{self, NewDelivery};
use crate::db::DbConnection;
use crate::referrals::model::Event;
use crate::referrals::store::Row;

/// What a receiver gets: ids, type, status and time, never client details, goals or reasons.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookEvent {
    /// The event id, the same in every delivery of it: de-duplicate on it.
    #[schema(format = Uuid)]
    pub id: String,
    /// `referral.created` or `referral.status_changed`.
    #[serde(rename = "type")]
    pub kind: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    pub data: WebhookEventData,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookEventData {
    #[schema(format = Uuid)]
    pub referral_id: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub previous_status: Option<String>,
    pub version: i64,
    #[schema(format = Uuid)]
    pub service_id: String,
    #[schema(format = Uuid)]
    pub sender_organization_id: String,
    #[schema(format = Uuid)]
    pub receiver_organization_id: String,
}

/// The payload of an event of `referral`.
pub fn payload(event: &Event, referral: &Row) -> WebhookEvent {
    WebhookEvent {
        id: event.id.clone(),
        kind: event.kind.clone(),
        created_at: event.at.clone(),
        data: WebhookEventData {
            referral_id: referral.id.clone(),
            status: event.status.as_str().to_string(),
            previous_status: event.previous_status.map(|s| s.as_str().to_string()),
            version: event.version,
            service_id: referral.service_id.clone(),
            sender_organization_id: referral.sender_organization_id.clone(),
            receiver_organization_id: referral.receiver_organization_id.clone(),
        },
    }
}

/// Queues `event` for every subscription of the two organisations that wants it. Call inside
/// the transaction that wrote the event; returns how many deliveries were queued.
pub fn enqueue(conn: &mut DbConnection, event: &Event, referral: &Row) -> anyhow::Result<usize> {
    if !super::EVENT_TYPES.contains(&event.kind.as_str()) {
        return Ok(0);
    }
    let mut organizations = vec![referral.sender_organization_id.as_str()];
    if referral.receiver_organization_id != referral.sender_organization_id {
        organizations.push(referral.receiver_organization_id.as_str());
    }
    let subscribers = store::subscribers(conn, &organizations, &event.kind)?;
    let body = serde_json::to_string(&payload(event, referral))?;
    let now_ms = chrono::Utc::now().timestamp_millis();
    for webhook_id in &subscribers {
        store::insert_delivery(
            conn,
            &NewDelivery {
                id: &uuid::Uuid::new_v4().to_string(),
                event_id: &event.id,
                webhook_id,
                referral_id: &referral.id,
                event_type: &event.kind,
                payload: &body,
                now_ms,
                created_at: &event.at,
            },
        )?;
    }
    Ok(subscribers.len())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::referrals::lifecycle::Status;

    #[test]
    fn payloads_carry_ids_type_status_and_time_only() {
        let event = Event {
            id: "e".into(),
            referral_id: "r".into(),
            kind: "referral.status_changed".into(),
            status: Status::Rejected,
            previous_status: Some(Status::Requested),
            reason: Some("client said their name was Jo".into()),
            version: 2,
            actor_organization_id: Some("o".into()),
            at: "2026-11-27T00:00:00.000000Z".into(),
        };
        let row = Row {
            id: "r".into(),
            service_id: "s".into(),
            service_at_location_id: None,
            sender_organization_id: "a".into(),
            receiver_organization_id: "b".into(),
            created_by: "u".into(),
            reason_code: "HR02".into(),
            priority: "urgent".into(),
            status: "rejected".into(),
            version: 2,
            status_reason: Some("client said their name was Jo".into()),
            client_goal_met: None,
            consent: None,
            consent_expires_at: None,
            sealed_key_id: Some("k".into()),
            sealed_details: Some("sealed".into()),
            claim_digest: None,
            sealed_claim_code: None,
            claimed_at: None,
            idempotency_key: None,
            request_digest: None,
            created_at: "t".into(),
            updated_at: "t".into(),
            ended_at: None,
            purged_at: None,
        };
        let text = serde_json::to_string(&payload(&event, &row)).unwrap();
        assert!(!text.contains("Jo"), "{text}");
        assert!(!text.contains("sealed"), "{text}");
        assert_eq!(
            serde_json::to_value(payload(&event, &row)).unwrap(),
            json!({"id": "e", "type": "referral.status_changed", "created_at": "2026-11-27T00:00:00.000000Z",
                "data": {"referral_id": "r", "status": "rejected", "previous_status": "requested", "version": 2,
                    "service_id": "s", "sender_organization_id": "a", "receiver_organization_id": "b"}})
        );
    }
}
