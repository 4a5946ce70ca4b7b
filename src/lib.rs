//! Haven: a harm-reduction and mental-health service directory speaking Open Referral HSDS 3.0.
//!
//! The library builds the HTTP application from an [`state::AppState`], so the binary and the
//! tests run the same thing.

pub mod accounts;
pub mod auth;
pub mod body;
pub mod catalog;
pub mod config;
pub mod crypto;
pub mod db;
pub mod error;
pub mod generate;
pub mod heap;
pub mod hsds;
pub mod limits;
pub mod observe;
pub mod openapi;
pub mod progress;
pub mod referrals;
pub mod search;
pub mod server;
pub mod state;
pub mod vocab;
pub mod webhooks;
