//! Referrals between organisations: the lifecycle, consent-bound client details, anonymous
//! claim codes, and the events partners follow. Handlers in [`api`] stay thin; the decisions
//! are here and in [`lifecycle`] (pure).

pub mod api;
pub mod lifecycle;
pub mod model;
pub mod purge;
pub mod store;

use chrono::{DateTime, Utc};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::{Deserialize, Serialize};

use lifecycle::{decide, Actor, Refusal, Status};
use model::{
    Client, Consent, Event, GoalMet, NewReferral, Outcome, Priority, Referral, StatusChange,
};
use store::Row;

use crate::crypto::{Keyring, Sealed};
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult};
use crate::search::filters::stored_timestamp;
use crate::webhooks::outbox;

/// What is sealed together: everything about the client as a person.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Details {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client: Option<Client>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_goal: Option<String>,
}

/// Who is asking: an organisation, and the token subject acting for it.
pub struct Acting<'a> {
    pub organization_id: &'a str,
    pub subject: &'a str,
}

/// The alphabet of claim codes: Crockford base32 (no I, L, O, U), easy to read aloud.
const CLAIM_ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A new claim code: 12 random symbols (60 bits), shown as `XXXX-XXXX-XXXX`.
fn new_claim_code() -> String {
    let symbols: Vec<char> = (0..12)
        .map(|_| CLAIM_ALPHABET[rand::random_range(0..CLAIM_ALPHABET.len())] as char)
        .collect();
    symbols
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// A claim code as typed: case, spaces and dashes do not matter, and the letters people
/// confuse with digits read as those digits.
pub fn normalize_claim_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        })
        .collect()
}

fn sealed_text(keys: &Keyring, row_key: &Option<String>, data: &Option<String>) -> Option<String> {
    let (key_id, data) = (row_key.clone()?, data.clone()?);
    match keys.open(&Sealed { key_id, data }) {
        Ok(bytes) => String::from_utf8(bytes).ok(),
        Err(e) => {
            // A removed key: the details are unreadable, which is not the caller's fault.
            tracing::warn!(error = %e, "sealed referral data cannot be opened");
            None
        }
    }
}

/// A stored referral as its two organisations see it. Client details show while consent lasts
/// and until purged; `with_claim_code` is for the answer to the request that made it.
pub fn view(
    row: &Row,
    keys: &Keyring,
    now: DateTime<Utc>,
    with_claim_code: bool,
) -> ApiResult<Referral> {
    let consent: Option<Consent> = row
        .consent
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(|e| ApiError::Internal(e.into()))?;
    let consent_current = row
        .consent_expires_at
        .as_deref()
        .is_none_or(|t| t > stored_timestamp(now).as_str());
    let details: Details = sealed_text(keys, &row.sealed_key_id, &row.sealed_details)
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let claim_code = with_claim_code
        .then(|| sealed_text(keys, &row.sealed_key_id, &row.sealed_claim_code))
        .flatten();
    Ok(Referral {
        id: row.id.clone(),
        service_id: row.service_id.clone(),
        service_at_location_id: row.service_at_location_id.clone(),
        sender_organization_id: row.sender_organization_id.clone(),
        receiver_organization_id: row.receiver_organization_id.clone(),
        reason_code: row.reason_code.clone(),
        priority: if row.priority == "urgent" {
            Priority::Urgent
        } else {
            Priority::Routine
        },
        status: parse_status(&row.status)?,
        version: row.version,
        status_reason: row.status_reason.clone(),
        outcome: row
            .client_goal_met
            .as_deref()
            .and_then(GoalMet::parse)
            .map(|g| Outcome { client_goal_met: g }),
        client_goal: details.client_goal,
        anonymous: row.claim_digest.is_some(),
        client: details.client.filter(|_| consent_current),
        consent,
        claim_code,
        claimed_at: row.claimed_at.clone(),
        client_details_purged_at: row.purged_at.clone(),
        created_at: row.created_at.clone(),
        updated_at: row.updated_at.clone(),
    })
}

fn parse_status(s: &str) -> ApiResult<Status> {
    Status::parse(s).ok_or_else(|| ApiError::Internal(anyhow::anyhow!("stored status {s:?}")))
}

/// A referral the caller's organisation sent or received; anything else is not there.
pub fn visible(conn: &mut DbConnection, organization_id: &str, id: &str) -> ApiResult<Row> {
    match store::by_id(conn, id)? {
        Some(r)
            if r.sender_organization_id == organization_id
                || r.receiver_organization_id == organization_id =>
        {
            Ok(r)
        }
        _ => Err(ApiError::NotFound),
    }
}

/// An `Idempotency-Key` and the digest of the request it came with.
pub struct Idempotency {
    pub key: String,
    pub digest: String,
}

/// The referral already made with this key, if any: the same body gets it back, another body
/// is refused.
fn replay(
    conn: &mut DbConnection,
    sender: &str,
    idem: &Option<Idempotency>,
) -> ApiResult<Option<Row>> {
    let Some(idem) = idem else { return Ok(None) };
    match store::by_idempotency_key(conn, sender, &idem.key)? {
        Some(row) if row.request_digest.as_deref() == Some(idem.digest.as_str()) => Ok(Some(row)),
        Some(_) => Err(ApiError::unprocessable(
            "Idempotency-Key",
            "was used for a different request; use a new key for a new referral",
        )),
        None => Ok(None),
    }
}

/// `POST /referrals`, after the body parsed and its fields checked. Returns the referral and
/// whether it is new (false: a retry answered from the first request).
pub fn create(
    conn: &mut DbConnection,
    keys: &Keyring,
    who: Acting,
    new: NewReferral,
    idem: Option<Idempotency>,
    now: DateTime<Utc>,
) -> ApiResult<(Referral, bool)> {
    if let Some(row) = replay(conn, who.organization_id, &idem)? {
        return Ok((view(&row, keys, now, true)?, false));
    }
    let (bad, refused) = model::check_new(&new, now);
    if !bad.is_empty() {
        return Err(ApiError::Invalid(bad));
    }
    if !refused.is_empty() {
        return Err(ApiError::Unprocessable(refused));
    }
    let service = crate::catalog::store::services(conn, std::slice::from_ref(&new.service_id))?
        .pop()
        .ok_or_else(|| ApiError::unprocessable("service_id", "no such service"))?;
    if service.status != "active" {
        return Err(ApiError::unprocessable(
            "service_id",
            format!("the service is {}, not active", service.status),
        ));
    }
    let receiver = service
        .organization_id
        .clone()
        .or_else(|| service.organization.as_ref().map(|o| o.id.clone()))
        .ok_or_else(|| {
            ApiError::unprocessable("service_id", "the service belongs to no organisation")
        })?;
    if let Some(sal) = &new.service_at_location_id {
        if !service.service_at_locations.iter().any(|s| &s.id == sal) {
            return Err(ApiError::unprocessable(
                "service_at_location_id",
                "is not a place this service is offered",
            ));
        }
    }
    let stamp = stored_timestamp(now);
    let details = Details {
        client: new.client.clone(),
        client_goal: new.client_goal.clone(),
    };
    let sealed = (details.client.is_some() || details.client_goal.is_some())
        .then(|| keys.seal(&serde_json::to_vec(&details).unwrap_or_default()));
    let anonymous = new.client.is_none();
    let claim_code = anonymous.then(new_claim_code);
    let sealed_claim = claim_code.as_ref().map(|c| keys.seal(c.as_bytes()));
    let key_id = sealed
        .as_ref()
        .or(sealed_claim.as_ref())
        .map(|s| s.key_id.clone());
    let row = Row {
        id: uuid::Uuid::new_v4().to_string(),
        service_id: service.id.clone(),
        service_at_location_id: new.service_at_location_id.clone(),
        sender_organization_id: who.organization_id.to_string(),
        receiver_organization_id: receiver,
        created_by: who.subject.to_string(),
        reason_code: new.reason_code.clone(),
        priority: new.priority.as_str().to_string(),
        status: Status::Requested.as_str().to_string(),
        version: 1,
        status_reason: None,
        client_goal_met: None,
        consent: new
            .consent
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| ApiError::Internal(e.into()))?,
        consent_expires_at: new
            .consent
            .as_ref()
            .and_then(|c| crate::hsds::validate::parse_date_time(&c.expires_at))
            .map(|t| stored_timestamp(t.with_timezone(&Utc))),
        sealed_key_id: key_id,
        sealed_details: sealed.map(|s| s.data),
        claim_digest: claim_code
            .as_deref()
            .map(|c| keys.lookup_digest(&normalize_claim_code(c))),
        sealed_claim_code: sealed_claim.map(|s| s.data),
        claimed_at: None,
        idempotency_key: idem.as_ref().map(|i| i.key.clone()),
        request_digest: idem.as_ref().map(|i| i.digest.clone()),
        created_at: stamp.clone(),
        updated_at: stamp.clone(),
        ended_at: None,
        purged_at: None,
    };
    let event = Event {
        id: uuid::Uuid::new_v4().to_string(),
        referral_id: row.id.clone(),
        kind: "referral.created".into(),
        status: Status::Requested,
        previous_status: None,
        reason: None,
        version: 1,
        actor_organization_id: Some(who.organization_id.to_string()),
        at: stamp,
    };
    let written = crate::db::write(conn, |conn| {
        store::insert(conn, &row)?;
        store::append_event(conn, &event)?;
        outbox::enqueue(conn, &event, &row)
            .map_err(|e| DieselError::QueryBuilderError(e.to_string().into()))?;
        Ok::<_, DieselError>(())
    });
    match written {
        Ok(()) => Ok((view(&row, keys, now, true)?, true)),
        // Two requests with one key at once: the other one won; answer as a retry.
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _))
            if idem.is_some() =>
        {
            match replay(conn, who.organization_id, &idem)? {
                Some(row) => Ok((view(&row, keys, now, true)?, false)),
                None => Err(ApiError::Conflict("please retry".into())),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /referrals/{id}/status`.
pub fn change_status(
    conn: &mut DbConnection,
    keys: &Keyring,
    who: Acting,
    id: &str,
    change: StatusChange,
    now: DateTime<Utc>,
) -> ApiResult<Referral> {
    let bad = model::check_change(&change);
    if !bad.is_empty() {
        return Err(ApiError::Invalid(bad));
    }
    let row = visible(conn, who.organization_id, id)?;
    let from = parse_status(&row.status)?;
    if change.version != row.version {
        return Err(ApiError::Conflict(format!(
            "the referral is at version {}, not {}: read it again",
            row.version, change.version
        )));
    }
    let actor = Actor {
        sender: row.sender_organization_id == who.organization_id,
        receiver: row.receiver_organization_id == who.organization_id,
    };
    decide(
        from,
        change.status,
        actor,
        change.reason.is_some(),
        change.outcome.is_some(),
    )
    .map_err(|r| match r {
        Refusal::Illegal { from, to } => ApiError::Conflict(format!(
            "a referral that is {} cannot become {}",
            from.as_str(),
            to.as_str()
        )),
        Refusal::OtherSide { to, side } => ApiError::Forbidden(format!(
            "only the {} organisation sets {}",
            match side {
                lifecycle::Side::Sender => "sending",
                lifecycle::Side::Receiver => "receiving",
            },
            to.as_str()
        )),
        Refusal::ReasonRequired => ApiError::invalid(
            "reason",
            format!("is required to set {}", change.status.as_str()),
        ),
        Refusal::OutcomeNotAnEnd => {
            ApiError::invalid("outcome", "goes only with status completed or failed")
        }
    })?;
    let stamp = stored_timestamp(now);
    let goal_met = change
        .outcome
        .as_ref()
        .map(|o| o.client_goal_met.as_str())
        .or(row.client_goal_met.as_deref());
    let event = Event {
        id: uuid::Uuid::new_v4().to_string(),
        referral_id: row.id.clone(),
        kind: "referral.status_changed".into(),
        status: change.status,
        previous_status: Some(from),
        reason: change.reason.clone(),
        version: row.version + 1,
        actor_organization_id: Some(who.organization_id.to_string()),
        at: stamp.clone(),
    };
    let moved = crate::db::write(conn, |conn| {
        let moved = store::set_status(
            conn,
            &row.id,
            row.version,
            change.status.as_str(),
            change.reason.as_deref(),
            goal_met,
            &stamp,
            change.status.is_final(),
        )?;
        if moved {
            store::append_event(conn, &event)?;
            outbox::enqueue(conn, &event, &row)
                .map_err(|e| DieselError::QueryBuilderError(e.to_string().into()))?;
        }
        Ok::<_, DieselError>(moved)
    })?;
    if !moved {
        return Err(ApiError::Conflict(
            "the referral changed meanwhile: read it again".into(),
        ));
    }
    let row = store::by_id(conn, &row.id)?.ok_or(ApiError::NotFound)?;
    view(&row, keys, now, false)
}

/// `POST /referrals/claim` (and `/referrals/{id}/claim`, which must be the code's referral):
/// the receiving organisation redeems an anonymous referral's code, once.
pub fn claim(
    conn: &mut DbConnection,
    keys: &Keyring,
    who: Acting,
    referral_id: Option<&str>,
    code: &str,
    now: DateTime<Utc>,
) -> ApiResult<Referral> {
    let normalized = normalize_claim_code(code);
    let mut found = None;
    for digest in keys.lookup_digests(&normalized) {
        if let Some(row) = store::by_claim_digest(conn, &digest)? {
            found = Some(row);
            break;
        }
    }
    let row = match found {
        Some(r)
            if r.receiver_organization_id == who.organization_id
                && referral_id.is_none_or(|id| id == r.id) =>
        {
            r
        }
        _ => return Err(ApiError::NotFound),
    };
    let stamp = stored_timestamp(now);
    let event = Event {
        id: uuid::Uuid::new_v4().to_string(),
        referral_id: row.id.clone(),
        kind: "referral.claimed".into(),
        status: parse_status(&row.status)?,
        previous_status: None,
        reason: None,
        version: row.version,
        actor_organization_id: Some(who.organization_id.to_string()),
        at: stamp.clone(),
    };
    let claimed = crate::db::write(conn, |conn| {
        let claimed = store::set_claimed(conn, &row.id, &stamp)?;
        if claimed {
            store::append_event(conn, &event)?;
        }
        Ok::<_, DieselError>(claimed)
    })?;
    if !claimed {
        return Err(ApiError::Conflict(
            "this claim code was already redeemed".into(),
        ));
    }
    let row = store::by_id(conn, &row.id)?.ok_or(ApiError::NotFound)?;
    view(&row, keys, now, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_codes_are_readable_and_forgiving() {
        let code = new_claim_code();
        assert_eq!(code.len(), 14);
        assert_eq!(code.matches('-').count(), 2);
        assert!(code
            .chars()
            .all(|c| c == '-' || CLAIM_ALPHABET.contains(&(c as u8))));
        assert_ne!(new_claim_code(), new_claim_code());
        assert_eq!(normalize_claim_code("ab1o-i2l3 "), "AB101213");
        assert_eq!(
            normalize_claim_code(&code.to_lowercase().replace('-', " ")),
            normalize_claim_code(&code)
        );
    }
}
