//! The purge of client details: a configurable time after a referral reaches a final state,
//! or as soon as the client's consent expires, the sealed details go for good. The referral and
//! its event history stay (they never held client details), with a `referral.client_details_purged`
//! event added.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::lifecycle::Status;
use super::model::Event;
use super::store;
use crate::db::DbConnection;
use crate::search::filters::stored_timestamp;
use crate::state::AppState;

/// Purges what is due at `now`; returns how many referrals were purged.
pub fn run_once(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    retention_seconds: i64,
) -> anyhow::Result<usize> {
    let stamp = stored_timestamp(now);
    let ended_before = stored_timestamp(now - chrono::Duration::seconds(retention_seconds));
    let mut purged = 0;
    loop {
        let due = store::due_for_purge(conn, &ended_before, &stamp)?;
        if due.is_empty() {
            return Ok(purged);
        }
        for row in due {
            let event = Event {
                id: uuid::Uuid::new_v4().to_string(),
                referral_id: row.id.clone(),
                kind: "referral.client_details_purged".into(),
                status: Status::parse(&row.status).unwrap_or(Status::Requested),
                previous_status: None,
                reason: None,
                version: row.version,
                actor_organization_id: None,
                at: stamp.clone(),
            };
            crate::db::write(conn, |conn| {
                if store::purge(conn, &row.id, &stamp)? {
                    store::append_event(conn, &event)?;
                }
                Ok::<_, diesel::result::Error>(())
            })?;
            purged += 1;
        }
    }
}

/// Runs the purge every `HAVEN_PURGE_INTERVAL` seconds.
pub async fn run(state: AppState) {
    let interval = Duration::from_secs(state.config.purge_interval as u64);
    let retention = state.config.client_retention;
    loop {
        let result = state
            .db(move |conn| Ok(run_once(conn, Utc::now(), retention)?))
            .await;
        match result {
            Ok(0) => {}
            Ok(n) => tracing::info!(referrals = n, "purged client details"),
            Err(e) => tracing::warn!(error = %e, "the purge of client details failed"),
        }
        tokio::time::sleep(interval).await;
    }
}
