//! `GET /services` and `GET /services/{id}`.

use actix_web::http::header::ETAG;
use actix_web::{get, web, HttpResponse};
use chrono::Utc;
use serde::Serialize;
use utoipa::ToSchema;

use super::rendered::{Built, Rendered};
use super::{path_id, search_response, store, to_json_texts, views};
use crate::auth::Viewer;
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult, Problem};
use crate::hsds::model::{Page, Service};
use crate::search::filters::{Params, Search, SearchParams};
use crate::search::query::{Hit, Unit};
use crate::state::AppState;

/// A service in `minimal` form.
#[derive(Debug, Serialize, ToSchema)]
pub struct MinimalService {
    pub id: String,
    /// When Haven last changed the service, its organisation or one of its locations.
    pub last_modified: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ServiceItem {
    Service(Box<Service>),
    Minimal(MinimalService),
}

/// Renders hits as the caller asked, each as JSON: minimal, or list form or fully nested with
/// distances. With `rendered`, items already built are taken from it and the others kept in it.
fn render(
    conn: &mut DbConnection,
    s: &Search,
    hits: &[Hit],
    viewer: Viewer,
    rendered: Option<&Rendered>,
) -> ApiResult<Vec<String>> {
    if s.minimal {
        let ids: Vec<String> = hits.iter().map(|h| h.id.clone()).collect();
        let stamps = store::service_stamps(conn, &ids)?;
        let items: Vec<MinimalService> = ids
            .into_iter()
            .filter_map(|id| {
                let last_modified = stamps.get(&id)?.clone();
                Some(MinimalService { id, last_modified })
            })
            .collect();
        return to_json_texts(&items);
    }
    Rendered::items(rendered, Unit::Service, viewer, s.full, hits, |ids| {
        let mut built = Vec::with_capacity(ids.len());
        for service in store::services(conn, ids)? {
            let mut service = views::service(service, viewer);
            if !s.full {
                service = views::service_list_item(service);
            }
            let json = serde_json::to_string(&service).map_err(anyhow::Error::from)?;
            built.push(Built {
                service_id: Some(service.id.clone()),
                id: service.id,
                json,
            });
        }
        Ok(built)
    })
}

/// Search the directory for services.
///
/// All parameters combine with AND; a comma list inside one parameter is OR, except
/// `accessibility` and `low_barrier`, where every value must hold. With `lat` and `lon`,
/// results are nearest first and carry `distance` in metres (a service at several places is
/// as near as its nearest matching one).
#[utoipa::path(
    tag = "catalogue",
    operation_id = "listServices",
    params(SearchParams),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "A page of services (or, with `format=ndjson`, every match, one per line)", body = Page<ServiceItem>,
            content((Page<ServiceItem> = "application/json"), (ServiceItem = "application/x-ndjson"))),
        (status = 400, description = "A parameter is invalid; `errors` names it", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/services")]
pub async fn list(
    state: web::Data<AppState>,
    viewer: Viewer,
    Params(params): Params<SearchParams>,
) -> ApiResult<HttpResponse> {
    let s = params.parse(Utc::now())?;
    let render =
        move |conn: &mut DbConnection, s: &Search, hits: &[Hit], kept: Option<&Rendered>| {
            render(conn, s, hits, viewer, kept)
        };
    search_response(state.get_ref().clone(), s, Unit::Service, render).await
}

/// A fully nested service.
#[utoipa::path(
    tag = "catalogue",
    operation_id = "getService",
    params(("id" = String, Path, format = Uuid, description = "The service id")),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The fully nested service", body = Service,
            headers(("ETag" = String, description = "The version, for If-Match on writes"))),
        (status = 400, description = "The id is not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such service", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/services/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    viewer: Viewer,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&id)?;
    let service = state
        .db(move |conn| Ok(store::services(conn, &[id])?.pop()))
        .await?
        .ok_or(ApiError::NotFound)?;
    // The tag is of what this caller sees: a partner's is the stored record's (for If-Match),
    // a public one is of the coarsened view, so it cannot confirm a guess at a hidden address.
    let view = views::service(service, viewer);
    Ok(HttpResponse::Ok()
        .insert_header((ETAG, store::etag(&view)))
        .json(view))
}
