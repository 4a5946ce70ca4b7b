//! The public HSDS catalogue: storage, import and export, and the read endpoints.

pub mod import;
pub mod meta;
pub mod organizations;
pub mod seed;
pub mod service_at_locations;
pub mod services;
pub mod store;
pub mod taxonomies;
pub mod views;

use actix_web::HttpResponse;
use futures_util::stream::{self, StreamExt};
use serde::Serialize;

use crate::error::{ApiError, ApiResult};
use crate::hsds::validate::is_uuid;
use crate::search::query::Hit;
use crate::state::AppState;

/// A path id: a malformed one is a 400 naming `id`, not a 404.
pub fn path_id(id: &str) -> ApiResult<String> {
    let id = id.to_ascii_lowercase();
    if is_uuid(&id) {
        Ok(id)
    } else {
        Err(ApiError::invalid("id", "must be a UUID"))
    }
}

/// How many items an ndjson stream loads from the database at a time.
const NDJSON_BATCH: usize = 200;

/// Streams `hits` as ndjson, loading and rendering them a batch at a time so memory stays flat
/// however many match.
pub fn ndjson<T, F>(state: AppState, hits: Vec<Hit>, load: F) -> HttpResponse
where
    T: Serialize + Send + 'static,
    F: Fn(&mut crate::db::DbConnection, &[Hit]) -> ApiResult<Vec<T>>
        + Send
        + Sync
        + Clone
        + 'static,
{
    let batches: Vec<Vec<Hit>> = hits.chunks(NDJSON_BATCH).map(<[Hit]>::to_vec).collect();
    let body = stream::iter(batches).then(move |batch| {
        let state = state.clone();
        let load = load.clone();
        async move {
            let items = state.db(move |conn| load(conn, &batch)).await?;
            let mut out = Vec::new();
            for item in items {
                serde_json::to_writer(&mut out, &item).map_err(|e| ApiError::Internal(e.into()))?;
                out.push(b'\n');
            }
            Ok::<_, ApiError>(actix_web::web::Bytes::from(out))
        }
    });
    HttpResponse::Ok()
        .content_type("application/x-ndjson")
        .streaming(body.map(|r| r.map_err(actix_web::Error::from)))
}
