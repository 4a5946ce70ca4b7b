//! The referral tables: referrals, their append-only events, and the purge of client details.
//! Only this module writes SQL for them.

use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::QueryableByName;

use super::model::Event;
use crate::db::{DbConnection, Sql};

/// A stored referral, columns as they are.
#[derive(Debug, Clone, QueryableByName)]
pub struct Row {
    #[diesel(sql_type = Text)]
    pub id: String,
    #[diesel(sql_type = Text)]
    pub service_id: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub service_at_location_id: Option<String>,
    #[diesel(sql_type = Text)]
    pub sender_organization_id: String,
    #[diesel(sql_type = Text)]
    pub receiver_organization_id: String,
    #[diesel(sql_type = Text)]
    pub created_by: String,
    #[diesel(sql_type = Text)]
    pub reason_code: String,
    #[diesel(sql_type = Text)]
    pub priority: String,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = BigInt)]
    pub version: i64,
    #[diesel(sql_type = Nullable<Text>)]
    pub status_reason: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub client_goal_met: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub consent: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub consent_expires_at: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub sealed_key_id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub sealed_details: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub claim_digest: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub sealed_claim_code: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub claimed_at: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub idempotency_key: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub request_digest: Option<String>,
    #[diesel(sql_type = Text)]
    pub created_at: String,
    #[diesel(sql_type = Text)]
    pub updated_at: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub ended_at: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub purged_at: Option<String>,
}

const COLUMNS: &str = "id, service_id, service_at_location_id, sender_organization_id, \
    receiver_organization_id, created_by, reason_code, priority, status, version, status_reason, \
    client_goal_met, consent, consent_expires_at, sealed_key_id, sealed_details, claim_digest, \
    sealed_claim_code, claimed_at, idempotency_key, request_digest, created_at, updated_at, \
    ended_at, purged_at";

/// Inserts a new referral. A duplicate idempotency key is a unique violation for the caller
/// to resolve.
pub fn insert(conn: &mut DbConnection, r: &Row) -> diesel::QueryResult<()> {
    Sql::insert(
        "referral",
        vec![
            ("id", (&r.id).into()),
            ("service_id", (&r.service_id).into()),
            (
                "service_at_location_id",
                r.service_at_location_id.clone().into(),
            ),
            ("sender_organization_id", (&r.sender_organization_id).into()),
            (
                "receiver_organization_id",
                (&r.receiver_organization_id).into(),
            ),
            ("created_by", (&r.created_by).into()),
            ("reason_code", (&r.reason_code).into()),
            ("priority", (&r.priority).into()),
            ("status", (&r.status).into()),
            ("version", r.version.into()),
            ("status_reason", r.status_reason.clone().into()),
            ("client_goal_met", r.client_goal_met.clone().into()),
            ("consent", r.consent.clone().into()),
            ("consent_expires_at", r.consent_expires_at.clone().into()),
            ("sealed_key_id", r.sealed_key_id.clone().into()),
            ("sealed_details", r.sealed_details.clone().into()),
            ("claim_digest", r.claim_digest.clone().into()),
            ("sealed_claim_code", r.sealed_claim_code.clone().into()),
            ("claimed_at", r.claimed_at.clone().into()),
            ("idempotency_key", r.idempotency_key.clone().into()),
            ("request_digest", r.request_digest.clone().into()),
            ("created_at", (&r.created_at).into()),
            ("updated_at", (&r.updated_at).into()),
            ("ended_at", r.ended_at.clone().into()),
            ("purged_at", r.purged_at.clone().into()),
        ],
    )
    .execute(conn)?;
    Ok(())
}

fn one(conn: &mut DbConnection, column: &str, value: &str) -> diesel::QueryResult<Option<Row>> {
    let mut q = Sql::new(&format!("SELECT {COLUMNS} FROM referral WHERE {column} = "));
    q.bind(value);
    Ok(q.load::<Row>(conn)?.pop())
}

pub fn by_id(conn: &mut DbConnection, id: &str) -> diesel::QueryResult<Option<Row>> {
    one(conn, "id", id)
}

pub fn by_claim_digest(conn: &mut DbConnection, digest: &str) -> diesel::QueryResult<Option<Row>> {
    one(conn, "claim_digest", digest)
}

pub fn by_idempotency_key(
    conn: &mut DbConnection,
    sender: &str,
    key: &str,
) -> diesel::QueryResult<Option<Row>> {
    let mut q = Sql::new(&format!(
        "SELECT {COLUMNS} FROM referral WHERE sender_organization_id = "
    ));
    q.bind(sender).push(" AND idempotency_key = ").bind(key);
    Ok(q.load::<Row>(conn)?.pop())
}

/// Moves a referral on if it is still at `version`; false when someone else moved it first.
#[allow(clippy::too_many_arguments)]
pub fn set_status(
    conn: &mut DbConnection,
    id: &str,
    version: i64,
    status: &str,
    reason: Option<&str>,
    goal_met: Option<&str>,
    now: &str,
    ended: bool,
) -> diesel::QueryResult<bool> {
    let mut q = Sql::new("UPDATE referral SET status = ");
    q.bind(status)
        .push(", version = version + 1, status_reason = ")
        .bind(reason)
        .push(", client_goal_met = ")
        .bind(goal_met)
        .push(", updated_at = ")
        .bind(now)
        .push(", ended_at = ")
        .bind(ended.then_some(now))
        .push(" WHERE id = ")
        .bind(id)
        .push(" AND version = ")
        .bind(version);
    Ok(q.execute(conn)? == 1)
}

/// Marks an anonymous referral claimed, once; false when it already was.
pub fn set_claimed(conn: &mut DbConnection, id: &str, now: &str) -> diesel::QueryResult<bool> {
    let mut q = Sql::new("UPDATE referral SET claimed_at = ");
    q.bind(now)
        .push(", updated_at = ")
        .bind(now)
        .push(" WHERE id = ")
        .bind(id)
        .push(" AND claimed_at IS NULL");
    Ok(q.execute(conn)? == 1)
}

pub fn append_event(conn: &mut DbConnection, e: &Event) -> diesel::QueryResult<()> {
    Sql::insert(
        "referral_event",
        vec![
            ("id", (&e.id).into()),
            ("referral_id", (&e.referral_id).into()),
            ("type", (&e.kind).into()),
            ("status", e.status.as_str().into()),
            (
                "previous_status",
                e.previous_status.map(|s| s.as_str()).into(),
            ),
            ("reason", e.reason.clone().into()),
            ("version", e.version.into()),
            (
                "actor_organization_id",
                e.actor_organization_id.clone().into(),
            ),
            ("at", (&e.at).into()),
        ],
    )
    .execute(conn)?;
    Ok(())
}

#[derive(QueryableByName)]
struct EventRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    referral_id: String,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Nullable<Text>)]
    previous_status: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    reason: Option<String>,
    #[diesel(sql_type = BigInt)]
    version: i64,
    #[diesel(sql_type = Nullable<Text>)]
    actor_organization_id: Option<String>,
    #[diesel(sql_type = Text)]
    at: String,
}

/// A referral's history, oldest first.
pub fn events(conn: &mut DbConnection, referral_id: &str) -> anyhow::Result<Vec<Event>> {
    use super::lifecycle::Status;
    let mut q = Sql::new(
        "SELECT id, referral_id, type AS kind, status, previous_status, reason, version, \
         actor_organization_id, at FROM referral_event WHERE referral_id = ",
    );
    q.bind(referral_id).push(" ORDER BY seq");
    q.load::<EventRow>(conn)?
        .into_iter()
        .map(|r| {
            let status = Status::parse(&r.status)
                .ok_or_else(|| anyhow::anyhow!("stored status {:?}", r.status))?;
            Ok(Event {
                id: r.id,
                referral_id: r.referral_id,
                kind: r.kind,
                status,
                previous_status: r.previous_status.as_deref().and_then(Status::parse),
                reason: r.reason,
                version: r.version,
                actor_organization_id: r.actor_organization_id,
                at: r.at,
            })
        })
        .collect()
}

/// What `GET /referrals` filters by; `None` is no filter.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub organization_id: String,
    pub sent: bool,
    pub received: bool,
    pub statuses: Vec<String>,
    pub goal_met: Vec<String>,
    pub updated_after: Option<String>,
}

/// A page of an organisation's referrals, least recently updated first (so `updated_after`
/// polling sees every change), and the total.
pub fn list(
    conn: &mut DbConnection,
    f: &Filter,
    page: i64,
    per_page: i64,
) -> diesel::QueryResult<(Vec<Row>, i64)> {
    let condition = |q: &mut Sql| {
        q.push(" WHERE (");
        match (f.sent, f.received) {
            (true, false) => q.push("sender_organization_id = ").bind(&f.organization_id),
            (false, true) => q
                .push("receiver_organization_id = ")
                .bind(&f.organization_id),
            _ => q
                .push("sender_organization_id = ")
                .bind(&f.organization_id)
                .push(" OR receiver_organization_id = ")
                .bind(&f.organization_id),
        };
        q.push(")");
        if !f.statuses.is_empty() {
            q.push(" AND status IN ").bind_list(&f.statuses);
        }
        if !f.goal_met.is_empty() {
            q.push(" AND client_goal_met IN ").bind_list(&f.goal_met);
        }
        if let Some(after) = &f.updated_after {
            q.push(" AND updated_at > ").bind(after);
        }
    };
    let mut count = Sql::new("SELECT COUNT(*) AS n FROM referral");
    condition(&mut count);
    let total = count.count(conn)?;
    let mut q = Sql::new(&format!("SELECT {COLUMNS} FROM referral"));
    condition(&mut q);
    q.push(" ORDER BY updated_at, id LIMIT ")
        .bind(per_page)
        .push(" OFFSET ")
        .bind((page - 1) * per_page);
    Ok((q.load::<Row>(conn)?, total))
}

/// Referrals whose client details are due to go: ended before `ended_before`, or with consent
/// expired by `now`, and not purged yet.
pub fn due_for_purge(
    conn: &mut DbConnection,
    ended_before: &str,
    now: &str,
) -> diesel::QueryResult<Vec<Row>> {
    let mut q = Sql::new(&format!(
        "SELECT {COLUMNS} FROM referral WHERE purged_at IS NULL AND (sealed_details IS NOT NULL \
         OR consent IS NOT NULL) AND (ended_at < "
    ));
    q.bind(ended_before)
        .push(" OR consent_expires_at < ")
        .bind(now)
        .push(") ORDER BY id LIMIT 500");
    q.load::<Row>(conn)
}

/// Removes a referral's client details (and goal) for good. The key id stays for the sealed
/// claim code, which identifies nobody.
pub fn purge(conn: &mut DbConnection, id: &str, now: &str) -> diesel::QueryResult<bool> {
    let mut q = Sql::new("UPDATE referral SET sealed_details = NULL, purged_at = ");
    q.bind(now)
        .push(" WHERE id = ")
        .bind(id)
        .push(" AND purged_at IS NULL");
    Ok(q.execute(conn)? == 1)
}

/// How many referrals to a service are still open (not in a final state).
pub fn open_for_service(conn: &mut DbConnection, service_id: &str) -> diesel::QueryResult<i64> {
    use super::lifecycle::Status;
    let finals = Status::ALL
        .into_iter()
        .filter(|s| s.is_final())
        .map(Status::as_str);
    let mut q = Sql::new("SELECT COUNT(*) AS n FROM referral WHERE service_id = ");
    q.bind(service_id)
        .push(" AND status NOT IN ")
        .bind_list(finals);
    q.count(conn)
}
