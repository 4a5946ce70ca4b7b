//! What every request handler shares.

use std::sync::Arc;

use actix_web::web;

use crate::auth::jwt::Keys;
use crate::config::Config;
use crate::db::{DbConnection, Pool};
use crate::error::ApiResult;

#[derive(Clone)]
pub struct AppState {
    pub pool: Pool,
    pub config: Arc<Config>,
    pub keys: Keys,
}

impl AppState {
    pub fn new(pool: Pool, config: Config) -> AppState {
        AppState {
            pool,
            keys: Keys::new(config.jwt_keys.clone()),
            config: Arc::new(config),
        }
    }

    /// Runs blocking database work on the blocking thread pool with a pooled connection.
    pub async fn db<T, F>(&self, work: F) -> ApiResult<T>
    where
        F: FnOnce(&mut DbConnection) -> ApiResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        web::block(move || {
            let mut conn = pool.get()?;
            work(&mut conn)
        })
        .await?
    }
}
