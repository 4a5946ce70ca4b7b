//! What every request handler and background job shares.

use std::sync::Arc;

use actix_web::web;
use tokio::sync::Notify;

use crate::auth::jwt::Keys;
use crate::config::Config;
use crate::crypto::Keyring;
use crate::db::{DbConnection, Pool};
use crate::error::{ApiError, ApiResult};
use crate::limits::RateLimits;
use crate::observe::Metrics;
use crate::search::nearby::Nearby;

#[derive(Clone)]
pub struct AppState {
    pub pool: Pool,
    pub config: Arc<Config>,
    pub keys: Keys,
    /// Encrypts client details and webhook secrets.
    pub keyring: Keyring,
    /// Wakes the webhook worker when a change wrote deliveries, so they leave at once rather
    /// than at the next poll.
    pub outbox: Arc<Notify>,
    /// The near-here search index, when `HAVEN_SEARCH_MEMORY` is on.
    pub nearby: Option<Arc<Nearby>>,
    /// What `/metrics` reports.
    pub metrics: Arc<Metrics>,
    /// Per-address rate limits.
    pub limits: Arc<RateLimits>,
    /// Set when the server is shutting down: background jobs finish what they hold and stop.
    pub stopping: tokio::sync::watch::Sender<bool>,
}

impl AppState {
    pub fn new(pool: Pool, config: Config) -> anyhow::Result<AppState> {
        Ok(AppState {
            pool,
            keys: Keys::new(config.jwt_keys.clone()),
            keyring: Keyring::from_config(&config)?,
            nearby: config
                .search_memory
                .then(|| Arc::new(Nearby::new(config.render_cache, config.search_follow))),
            metrics: Arc::new(Metrics::new()),
            limits: Arc::new(RateLimits::new(&config)),
            stopping: tokio::sync::watch::Sender::new(false),
            config: Arc::new(config),
            outbox: Arc::new(Notify::new()),
        })
    }

    /// Runs blocking database work on the blocking thread pool with a pooled connection.
    pub async fn db<T, F>(&self, work: F) -> ApiResult<T>
    where
        F: FnOnce(&mut DbConnection) -> ApiResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        let nearby = self.nearby.clone();
        web::block(move || {
            crate::db::wrote();
            let mut conn = pool.get()?;
            let done = work(&mut conn);
            // Committed by now: this instance's next search looks for the change at once.
            if let (true, Some(index)) = (crate::db::wrote(), &nearby) {
                index.wrote();
            }
            // The database may have gone away: the pool tests the connection before its
            // next use.
            if matches!(done, Err(ApiError::Internal(_) | ApiError::Unavailable(_))) {
                crate::db::failed();
            }
            done
        })
        .await?
    }
}
