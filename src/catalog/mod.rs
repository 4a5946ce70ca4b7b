//! The public HSDS catalogue: storage, import and export, and the read endpoints.

pub mod compact;
pub mod import;
pub mod meta;
pub mod organizations;
pub mod rendered;
pub mod seed;
pub mod service_at_locations;
pub mod services;
pub mod store;
pub mod taxonomies;
pub mod terms;
pub mod views;
pub mod writes;

use actix_web::HttpResponse;
use futures_util::stream::{self, StreamExt};
use serde::Serialize;

use crate::catalog::rendered::Rendered;
use crate::db::{Backend, DbConnection};
use crate::error::{ApiError, ApiResult};
use crate::hsds::model::Page;
use crate::hsds::validate::is_uuid;
use crate::search::filters::{Format, Search};
use crate::search::nearby::Nearby;
use crate::search::query::{self, Hit, Unit, Window};
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
fn ndjson<F>(state: AppState, hits: Vec<Hit>, load: F) -> HttpResponse
where
    F: Fn(&mut crate::db::DbConnection, &[Hit]) -> ApiResult<Vec<String>>
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
            let mut out = String::with_capacity(items.iter().map(|i| i.len() + 1).sum());
            for item in items {
                out.push_str(&item);
                out.push('\n');
            }
            Ok::<_, ApiError>(actix_web::web::Bytes::from(out))
        }
    });
    HttpResponse::Ok()
        .content_type("application/x-ndjson")
        .streaming(body.map(|r| r.map_err(actix_web::Error::from)))
}

/// Runs a search and answers with a page, or with every match as ndjson; `render` turns hits
/// into the items shown, each as JSON text (so items kept rendered are not parsed again),
/// given the instance's kept items, if it keeps any.
pub async fn search_response<R>(
    state: AppState,
    s: Search,
    unit: Unit,
    render: R,
) -> ApiResult<HttpResponse>
where
    R: Fn(&mut DbConnection, &Search, &[Hit], Option<&Rendered>) -> ApiResult<Vec<String>>
        + Send
        + Sync
        + Clone
        + 'static,
{
    if s.format == Format::Ndjson {
        let q = s.clone();
        let nearby = state.nearby.clone();
        let hits = state
            .db(move |conn| {
                let answer = query::run(conn, nearby.as_deref(), &q, unit, Window::All)?;
                // Every match, from the database.
                crate::heap::trim();
                Ok(answer.hits)
            })
            .await?;
        let nearby = state.nearby.clone();
        return Ok(ndjson(state, hits, move |conn, batch| {
            render(conn, &s, batch, kept_items(nearby.as_deref()))
        }));
    }
    let (page, per_page) = (s.page, s.per_page);
    if let Some(found) = page_here(&state, &s, unit, &render)? {
        return Ok(found);
    }
    let nearby = state.nearby.clone();
    let (items, total) = state
        .db(move |conn| {
            let window = Window::Page { page, per_page };
            let answer = query::run(conn, nearby.as_deref(), &s, unit, window)?;
            let items = render(conn, &s, &answer.hits, kept_items(nearby.as_deref()))?;
            if !answer.from_memory {
                crate::heap::trim();
            }
            Ok((items, answer.total))
        })
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(Page::new(items, total, page, per_page).to_json()))
}

/// The search items the index keeps rendered, unless it is loading everything: some may
/// then be of services changed since, which only the end of the load forgets.
fn kept_items(nearby: Option<&Nearby>) -> Option<&Rendered> {
    nearby.filter(|n| !n.is_loading()).map(|n| &n.rendered)
}

/// A near-here page answered on this worker thread rather than a blocking one, when the
/// index is current and a SQLite connection is free at once; else `None`.
///
/// Such a search takes a fraction of a millisecond, and handing it to a blocking thread and
/// back cost 12–17 % of the server's throughput (at a million and at 10,000 services). It may
/// still read a few names or items from SQLite: a local file, mostly in the page cache. Not on
/// PostgreSQL, where each read is a network round trip the worker would sit out. An index
/// behind the database goes the blocking way, which catches it up.
fn page_here<R>(
    state: &AppState,
    s: &Search,
    unit: Unit,
    render: &R,
) -> ApiResult<Option<HttpResponse>>
where
    R: Fn(&mut DbConnection, &Search, &[Hit], Option<&Rendered>) -> ApiResult<Vec<String>>,
{
    let Some(index) = state.nearby.as_deref() else {
        return Ok(None);
    };
    let Some(mut conn) = state.pool.try_get() else {
        return Ok(None);
    };
    if Backend::of(&conn) != Backend::Sqlite {
        return Ok(None);
    }
    let Some(answer) = query::run_current(&mut conn, index, s, unit, s.page, s.per_page)? else {
        return Ok(None);
    };
    let items = render(&mut conn, s, &answer.hits, kept_items(Some(index)))?;
    Ok(Some(
        HttpResponse::Ok()
            .content_type("application/json")
            .body(Page::new(items, answer.total, s.page, s.per_page).to_json()),
    ))
}

/// Each item as JSON text, for `search_response`.
pub fn to_json_texts<T: Serialize>(items: &[T]) -> ApiResult<Vec<String>> {
    items
        .iter()
        .map(|item| serde_json::to_string(item).map_err(|e| ApiError::Internal(e.into())))
        .collect()
}

/// The page and format parameters of the simpler list endpoints, validated together with any
/// other parameters into `errors`.
pub struct Listing {
    pub page: crate::search::filters::PageRequest,
    pub ndjson: bool,
}

impl Listing {
    pub fn parse(
        errors: &mut Vec<crate::error::FieldError>,
        page: &Option<String>,
        per_page: &Option<String>,
        format: &Option<String>,
    ) -> Listing {
        use crate::search::filters::{PageParams, PageRequest};
        let page = match (PageParams {
            page: page.clone(),
            per_page: per_page.clone(),
        })
        .parse()
        {
            Ok(p) => p,
            Err(ApiError::Invalid(e)) => {
                errors.extend(e);
                PageRequest {
                    page: 1,
                    per_page: 1,
                }
            }
            Err(_) => PageRequest {
                page: 1,
                per_page: 1,
            },
        };
        let ndjson = match format
            .as_deref()
            .map(str::trim)
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("") | Some("json") => false,
            Some("ndjson") => true,
            Some(_) => {
                errors.push(crate::error::FieldError::new(
                    "format",
                    "must be json or ndjson",
                ));
                false
            }
        };
        Listing { page, ndjson }
    }

    /// The rows to fetch: one page, or all of them for ndjson.
    pub fn window(&self) -> Option<(i64, i64)> {
        (!self.ndjson).then_some((self.page.page, self.page.per_page))
    }

    /// A page, or every item as ndjson.
    pub fn respond<T: Serialize>(&self, items: Vec<T>, total: i64) -> ApiResult<HttpResponse> {
        if self.ndjson {
            let mut body = Vec::new();
            for item in &items {
                serde_json::to_writer(&mut body, item).map_err(|e| ApiError::Internal(e.into()))?;
                body.push(b'\n');
            }
            return Ok(HttpResponse::Ok()
                .content_type("application/x-ndjson")
                .body(body));
        }
        Ok(HttpResponse::Ok().json(Page::new(items, total, self.page.page, self.page.per_page)))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn items_kept_rendered_are_not_used_while_everything_loads() {
        let nearby = Nearby::new(10, Duration::ZERO);
        assert!(kept_items(Some(&nearby)).is_some());
        let loading = nearby.loading_for_test();
        assert!(kept_items(Some(&nearby)).is_none());
        drop(loading);
        assert!(kept_items(Some(&nearby)).is_some());
        assert!(kept_items(None).is_none());
    }
}
