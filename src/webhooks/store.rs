//! The webhook and delivery tables.

use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::{QueryableByName, RunQueryDsl};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::{DbConnection, Sql};

/// A subscription, as its organisation sees it (the secret is shown once, at creation).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Webhook {
    #[schema(format = Uuid)]
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
}

#[derive(QueryableByName)]
struct WebhookRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    url: String,
    #[diesel(sql_type = Text)]
    events: String,
    #[diesel(sql_type = Text)]
    created_at: String,
}

impl WebhookRow {
    fn public(self) -> Webhook {
        Webhook {
            id: self.id,
            url: self.url,
            events: self.events.split_whitespace().map(str::to_string).collect(),
            created_at: self.created_at,
        }
    }
}

const WEBHOOK_COLUMNS: &str = "id, url, events, created_at";

pub struct NewWebhook<'a> {
    pub id: &'a str,
    pub organization_id: &'a str,
    pub url: &'a str,
    pub events: &'a [String],
    pub sealed_key_id: &'a str,
    pub sealed_secret: &'a str,
    pub created_at: &'a str,
}

pub fn insert(conn: &mut DbConnection, w: &NewWebhook) -> diesel::QueryResult<()> {
    Sql::insert(
        "webhook",
        vec![
            ("id", w.id.into()),
            ("organization_id", w.organization_id.into()),
            ("url", w.url.into()),
            ("events", w.events.join(" ").into()),
            ("sealed_key_id", w.sealed_key_id.into()),
            ("sealed_secret", w.sealed_secret.into()),
            ("created_at", w.created_at.into()),
        ],
    )
    .execute(conn)?;
    Ok(())
}

pub fn list(conn: &mut DbConnection, organization_id: &str) -> diesel::QueryResult<Vec<Webhook>> {
    let mut q = Sql::new(&format!(
        "SELECT {WEBHOOK_COLUMNS} FROM webhook WHERE organization_id = "
    ));
    q.bind(organization_id).push(" ORDER BY created_at, id");
    Ok(q.load::<WebhookRow>(conn)?
        .into_iter()
        .map(WebhookRow::public)
        .collect())
}

/// Whether `organization_id` has this subscription.
pub fn owned(
    conn: &mut DbConnection,
    organization_id: &str,
    id: &str,
) -> diesel::QueryResult<bool> {
    let mut q = Sql::new(&format!(
        "SELECT {WEBHOOK_COLUMNS} FROM webhook WHERE id = "
    ));
    q.bind(id)
        .push(" AND organization_id = ")
        .bind(organization_id);
    Ok(!q.load::<WebhookRow>(conn)?.is_empty())
}

/// Deletes a subscription and its delivery log.
pub fn delete(
    conn: &mut DbConnection,
    organization_id: &str,
    id: &str,
) -> diesel::QueryResult<bool> {
    if !owned(conn, organization_id, id)? {
        return Ok(false);
    }
    let mut q = Sql::new("DELETE FROM delivery WHERE webhook_id = ");
    q.bind(id);
    q.execute(conn)?;
    let mut q = Sql::new("DELETE FROM webhook WHERE id = ");
    q.bind(id);
    Ok(q.execute(conn)? == 1)
}

/// The subscriptions of these organisations that want `event_type`.
pub fn subscribers(
    conn: &mut DbConnection,
    organizations: &[&str],
    event_type: &str,
) -> diesel::QueryResult<Vec<String>> {
    let mut q = Sql::new(&format!(
        "SELECT {WEBHOOK_COLUMNS} FROM webhook WHERE organization_id IN "
    ));
    q.bind_list(organizations.iter().copied())
        .push(" ORDER BY id");
    Ok(q.load::<WebhookRow>(conn)?
        .into_iter()
        .filter(|w| w.events.split_whitespace().any(|e| e == event_type))
        .map(|w| w.id)
        .collect())
}

pub struct NewDelivery<'a> {
    pub id: &'a str,
    pub event_id: &'a str,
    pub webhook_id: &'a str,
    pub referral_id: &'a str,
    pub event_type: &'a str,
    pub payload: &'a str,
    pub now_ms: i64,
    pub created_at: &'a str,
}

pub fn insert_delivery(conn: &mut DbConnection, d: &NewDelivery) -> diesel::QueryResult<()> {
    Sql::insert(
        "delivery",
        vec![
            ("id", d.id.into()),
            ("event_id", d.event_id.into()),
            ("webhook_id", d.webhook_id.into()),
            ("referral_id", d.referral_id.into()),
            ("event_type", d.event_type.into()),
            ("payload", d.payload.into()),
            ("status", "pending".into()),
            ("attempts", 0i64.into()),
            ("next_attempt_at", d.now_ms.into()),
            ("created_at", d.created_at.into()),
        ],
    )
    .execute(conn)?;
    Ok(())
}

/// One delivery, as the worker needs it.
#[derive(Debug, Clone, QueryableByName)]
pub struct Due {
    #[diesel(sql_type = BigInt)]
    pub seq: i64,
    #[diesel(sql_type = Text)]
    pub id: String,
    #[diesel(sql_type = Text)]
    pub event_id: String,
    #[diesel(sql_type = Text)]
    pub event_type: String,
    #[diesel(sql_type = Text)]
    pub payload: String,
    #[diesel(sql_type = BigInt)]
    pub attempts: i64,
    #[diesel(sql_type = Text)]
    pub url: String,
    #[diesel(sql_type = Text)]
    pub sealed_key_id: String,
    #[diesel(sql_type = Text)]
    pub sealed_secret: String,
}

/// Leases up to `limit` deliveries that are due, for `lease_ms`. A delivery waits while an
/// earlier one for the same subscription and referral is still pending, so each receiver sees
/// a referral's events in order. Leases let several Haven instances share the outbox: a
/// delivery leased by one is skipped by the others until the lease runs out (a crashed
/// instance's leases simply expire).
pub fn lease_due(
    conn: &mut DbConnection,
    now_ms: i64,
    lease_ms: i64,
    limit: i64,
) -> diesel::QueryResult<Vec<Due>> {
    let mut q = Sql::new(
        "SELECT d.seq, d.id, d.event_id, d.event_type, d.payload, d.attempts, w.url, \
         w.sealed_key_id, w.sealed_secret FROM delivery d JOIN webhook w ON w.id = d.webhook_id \
         WHERE d.status = 'pending' AND d.next_attempt_at <= ",
    );
    q.bind(now_ms)
        .push(" AND (d.lease_until IS NULL OR d.lease_until < ")
        .bind(now_ms)
        .push(
            ") AND NOT EXISTS (SELECT 1 FROM delivery e WHERE e.webhook_id = d.webhook_id \
             AND e.referral_id = d.referral_id AND e.status = 'pending' AND e.seq < d.seq) \
             ORDER BY d.seq LIMIT ",
        )
        .bind(limit);
    let candidates = q.load::<Due>(conn)?;
    let mut leased = Vec::with_capacity(candidates.len());
    for d in candidates {
        let mut u = Sql::new("UPDATE delivery SET lease_until = ");
        u.bind(now_ms + lease_ms)
            .push(" WHERE seq = ")
            .bind(d.seq)
            .push(" AND status = 'pending' AND (lease_until IS NULL OR lease_until < ")
            .bind(now_ms)
            .push(")");
        if u.execute(conn)? == 1 {
            leased.push(d);
        }
    }
    Ok(leased)
}

/// Deliveries waiting to be sent, across every instance (read through the `delivery_due`
/// index).
pub fn queue_depth(conn: &mut DbConnection) -> diesel::QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    Ok(
        diesel::sql_query("SELECT COUNT(*) AS n FROM delivery WHERE status = 'pending'")
            .get_result::<Count>(conn)?
            .n,
    )
}

/// Records a successful delivery.
pub fn delivered(
    conn: &mut DbConnection,
    seq: i64,
    status_code: i64,
    at: &str,
) -> diesel::QueryResult<()> {
    let mut q = Sql::new(
        "UPDATE delivery SET status = 'delivered', attempts = attempts + 1, lease_until = NULL, \
         last_error = NULL, last_status_code = ",
    );
    q.bind(status_code)
        .push(", delivered_at = ")
        .bind(at)
        .push(" WHERE seq = ")
        .bind(seq);
    q.execute(conn)?;
    Ok(())
}

/// Records a failed attempt: retried at `retry_at_ms`, or (`None`) given up.
pub fn attempt_failed(
    conn: &mut DbConnection,
    seq: i64,
    status_code: Option<i64>,
    error: &str,
    retry_at_ms: Option<i64>,
) -> diesel::QueryResult<()> {
    let mut q =
        Sql::new("UPDATE delivery SET attempts = attempts + 1, lease_until = NULL, status = ");
    q.bind(if retry_at_ms.is_some() {
        "pending"
    } else {
        "failed"
    })
    .push(", last_status_code = ")
    .bind(status_code)
    .push(", last_error = ")
    .bind(error)
    .push(", next_attempt_at = COALESCE(")
    .bind(retry_at_ms)
    .push(", next_attempt_at) WHERE seq = ")
    .bind(seq);
    q.execute(conn)?;
    Ok(())
}

/// One entry of a subscription's delivery log.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Delivery {
    #[schema(format = Uuid)]
    pub id: String,
    /// The event's id: the same in every delivery of that event, to de-duplicate on.
    #[schema(format = Uuid)]
    pub event_id: String,
    pub event_type: String,
    #[schema(format = Uuid)]
    pub referral_id: String,
    /// `pending` (waiting or retrying), `delivered`, or `failed` (gave up).
    pub status: String,
    pub attempts: i64,
    /// The receiver's last HTTP status.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub last_status_code: Option<i64>,
    /// Why the last attempt failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub last_error: Option<String>,
    /// When the next attempt is due, while pending.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime, nullable = false)]
    pub next_attempt_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime, nullable = false)]
    pub delivered_at: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
}

#[derive(QueryableByName)]
struct DeliveryRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    event_id: String,
    #[diesel(sql_type = Text)]
    event_type: String,
    #[diesel(sql_type = Text)]
    referral_id: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = BigInt)]
    attempts: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    last_status_code: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    last_error: Option<String>,
    #[diesel(sql_type = BigInt)]
    next_attempt_at: i64,
    #[diesel(sql_type = Nullable<Text>)]
    delivered_at: Option<String>,
    #[diesel(sql_type = Text)]
    created_at: String,
}

impl DeliveryRow {
    fn public(self) -> Delivery {
        let next = (self.status == "pending")
            .then(|| chrono::DateTime::from_timestamp_millis(self.next_attempt_at))
            .flatten()
            .map(crate::search::filters::stored_timestamp);
        Delivery {
            id: self.id,
            event_id: self.event_id,
            event_type: self.event_type,
            referral_id: self.referral_id,
            status: self.status,
            attempts: self.attempts,
            last_status_code: self.last_status_code,
            last_error: self.last_error,
            next_attempt_at: next,
            delivered_at: self.delivered_at,
            created_at: self.created_at,
        }
    }
}

/// A page of a subscription's deliveries, newest first, and the total.
pub fn deliveries(
    conn: &mut DbConnection,
    webhook_id: &str,
    status: Option<&str>,
    page: i64,
    per_page: i64,
) -> diesel::QueryResult<(Vec<Delivery>, i64)> {
    let condition = |q: &mut Sql| {
        q.push(" WHERE webhook_id = ").bind(webhook_id);
        if let Some(s) = status {
            q.push(" AND status = ").bind(s);
        }
    };
    let mut count = Sql::new("SELECT COUNT(*) AS n FROM delivery");
    condition(&mut count);
    let total = count.count(conn)?;
    let mut q = Sql::new(
        "SELECT id, event_id, event_type, referral_id, status, attempts, last_status_code, \
         last_error, next_attempt_at, delivered_at, created_at FROM delivery",
    );
    condition(&mut q);
    q.push(" ORDER BY seq DESC LIMIT ")
        .bind(per_page)
        .push(" OFFSET ")
        .bind((page - 1) * per_page);
    Ok((
        q.load::<DeliveryRow>(conn)?
            .into_iter()
            .map(DeliveryRow::public)
            .collect(),
        total,
    ))
}
