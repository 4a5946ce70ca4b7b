//! Webhooks: partners subscribe a URL to referral events; every change writes a delivery per
//! subscription into an outbox in the change's own transaction, and a background worker sends
//! them, signed, at least once, in order per referral, with backoff.

pub mod address;
pub mod api;
pub mod outbox;
pub mod sign;
pub mod store;
pub mod worker;

/// The event types a subscription can ask for.
pub const EVENT_TYPES: [&str; 2] = ["referral.created", "referral.status_changed"];
