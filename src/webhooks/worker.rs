//! The delivery worker: leases due deliveries from the outbox, sends each signed, and records
//! the result, retrying with exponential backoff and jitter up to a bounded number of attempts.
//! Delivery is at least once: a crash between sending and recording means a second send, which
//! receivers de-duplicate by event id.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;

use super::address::PublicOnly;
use super::sign::signature;
use super::store::{self, Due};
use crate::crypto::Sealed;
use crate::search::filters::stored_timestamp;
use crate::state::AppState;

/// Deliveries leased per round.
const BATCH: i64 = 32;
/// How long between polls when nothing woke the worker.
const POLL: Duration = Duration::from_millis(500);

/// The delay before retry number `attempt` (1 for the first retry): doubling from `base_ms`,
/// capped at `max_ms`, with "equal jitter" (half fixed, half random) so retries from many
/// deliveries spread out but still grow.
pub fn backoff_ms(attempt: i64, base_ms: i64, max_ms: i64, random: f64) -> i64 {
    let exp = attempt.clamp(1, 40) - 1;
    let delay = base_ms.saturating_mul(1i64 << exp.min(30)).min(max_ms);
    delay / 2 + ((delay / 2) as f64 * random.clamp(0.0, 1.0)) as i64
}

pub async fn run(state: AppState) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(state.config.webhook_timeout as u64))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("Haven-Webhooks/1")
        .dns_resolver(Arc::new(PublicOnly {
            allow_private: state.config.webhook_allow_private,
        }))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "the webhook worker cannot start");
            return;
        }
    };
    // Long enough for one attempt (the receiver's timeout) and its bookkeeping; short, so the
    // deliveries of an instance that died mid-attempt go again soon after.
    let lease_ms = (state.config.webhook_timeout + 5) * 1000;
    let mut stopping = state.stopping.subscribe();
    loop {
        // At shutdown nothing new is leased; what was leased has been attempted and recorded.
        if *stopping.borrow_and_update() {
            return;
        }
        let now_ms = chrono::Utc::now().timestamp_millis();
        let due = state
            .db(move |conn| Ok(store::lease_due(conn, now_ms, lease_ms, BATCH)?))
            .await;
        match due {
            Ok(due) if !due.is_empty() => {
                join_all(due.into_iter().map(|d| attempt(&state, &client, d))).await;
                // More may be due (or unblocked by these): look again at once.
                continue;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not read the webhook outbox"),
        }
        tokio::select! {
            _ = state.outbox.notified() => {}
            _ = stopping.changed() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

/// One attempt at one delivery.
async fn attempt(state: &AppState, client: &reqwest::Client, d: Due) {
    let outcome = send(state, client, &d).await;
    let config = state.config.clone();
    let seq = d.seq;
    let attempts = d.attempts + 1;
    let recorded = state
        .db(move |conn| {
            Ok(match outcome {
                Ok(code) => {
                    store::delivered(conn, seq, code, &stored_timestamp(chrono::Utc::now()))?;
                    "delivered"
                }
                Err((code, error)) => {
                    let retry = (attempts < config.webhook_max_attempts).then(|| {
                        chrono::Utc::now().timestamp_millis()
                            + backoff_ms(
                                attempts,
                                config.webhook_backoff_ms,
                                config.webhook_backoff_max_ms,
                                rand::random(),
                            )
                    });
                    let outcome = if retry.is_some() { "failed" } else { "gave_up" };
                    store::attempt_failed(conn, seq, code, &error, retry)?;
                    outcome
                }
            })
        })
        .await;
    match recorded {
        Ok(outcome) => state
            .metrics
            .webhook_deliveries
            .with_label_values(&[outcome])
            .inc(),
        // The lease runs out and the delivery is tried again: at least once.
        Err(e) => tracing::warn!(error = %e, "could not record a webhook delivery"),
    }
}

/// Sends one delivery: the receiver's status on a 2xx, else the status (if any) and why.
async fn send(
    state: &AppState,
    client: &reqwest::Client,
    d: &Due,
) -> Result<i64, (Option<i64>, String)> {
    let secret = state
        .keyring
        .open(&Sealed {
            key_id: d.sealed_key_id.clone(),
            data: d.sealed_secret.clone(),
        })
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or((
            None,
            "the signing secret cannot be read with the configured keys".to_string(),
        ))?;
    let url = reqwest::Url::parse(&d.url).map_err(|_| (None, "url is not a URL".to_string()))?;
    if !super::address::literal_allowed(&url, state.config.webhook_allow_private) {
        return Err((
            None,
            "url is a private address, which webhooks may not call".into(),
        ));
    }
    let timestamp = chrono::Utc::now().timestamp();
    let res = client
        .post(url)
        .header("Content-Type", "application/json")
        .header(
            "Haven-Signature",
            signature(&secret, timestamp, d.payload.as_bytes()),
        )
        .header("Haven-Event-Id", &d.event_id)
        .header("Haven-Event-Type", &d.event_type)
        .header("Haven-Delivery-Id", &d.id)
        .body(d.payload.clone())
        .send()
        .await
        .map_err(|e| (None, describe(&e)))?;
    let code = i64::from(res.status().as_u16());
    if res.status().is_success() {
        Ok(code)
    } else {
        Err((Some(code), format!("the receiver answered HTTP {code}")))
    }
}

/// A transport error in a few words (no URLs with query strings, no bodies).
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "could not connect".into()
    } else if e.is_redirect() {
        "redirected (not followed)".into()
    } else {
        "the request failed".into()
    }
}

#[cfg(test)]
mod tests {
    use super::backoff_ms;

    #[test]
    fn backoff_doubles_with_jitter_and_a_cap() {
        assert_eq!(backoff_ms(1, 1000, 60_000, 0.0), 500);
        assert_eq!(backoff_ms(1, 1000, 60_000, 1.0), 1000);
        assert_eq!(backoff_ms(3, 1000, 60_000, 0.0), 2000);
        assert_eq!(backoff_ms(3, 1000, 60_000, 1.0), 4000);
        assert_eq!(backoff_ms(30, 1000, 60_000, 1.0), 60_000);
        assert_eq!(backoff_ms(1000, 1000, 60_000, 0.5), 45_000);
        for attempt in 1..20 {
            let d = backoff_ms(attempt, 1000, 3_600_000, 0.3);
            assert!((500..=3_600_000).contains(&d));
        }
    }
}
