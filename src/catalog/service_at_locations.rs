//! `GET /service_at_locations` and `GET /service_at_locations/{id}`.

use actix_web::http::header::ETAG;
use actix_web::{get, web, HttpResponse};
use chrono::Utc;

use super::rendered::{Built, Rendered};
use super::{path_id, search_response, store, views};
use crate::auth::Viewer;
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult, Problem};
use crate::hsds::model::{Page, ServiceAtLocation};
use crate::search::filters::{Params, Search, SearchParams};
use crate::search::query::{Hit, Unit};
use crate::state::AppState;

/// The items of a page, as JSON. With `rendered`, items already built are taken from it and
/// the others kept in it.
fn render(
    conn: &mut DbConnection,
    s: &Search,
    hits: &[Hit],
    viewer: Viewer,
    rendered: Option<&Rendered>,
) -> ApiResult<Vec<String>> {
    let unit = Unit::ServiceAtLocation;
    Rendered::items(rendered, unit, viewer, s.full, hits, |ids| {
        let mut built = Vec::with_capacity(ids.len());
        for sal in store::service_at_locations_by_id(conn, ids)? {
            let service_id = sal.service_id.clone();
            let sal = views::service_at_location(sal, viewer);
            let sal = if s.full {
                sal
            } else {
                views::service_at_location_list_item(sal)
            };
            let json = serde_json::to_string(&sal).map_err(anyhow::Error::from)?;
            built.push(Built {
                id: sal.id,
                service_id,
                json,
            });
        }
        Ok(built)
    })
}

/// Search the directory for services at their locations.
///
/// The same filters as `/services`, plus `postcode`. Each item is one service at one place;
/// with `lat` and `lon` they are nearest first and carry `distance` in metres.
#[utoipa::path(
    tag = "catalogue",
    operation_id = "listServiceAtLocations",
    params(SearchParams),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "A page of services at locations (or, with `format=ndjson`, every match, one per line)", body = Page<ServiceAtLocation>,
            content((Page<ServiceAtLocation> = "application/json"), (ServiceAtLocation = "application/x-ndjson"))),
        (status = 400, description = "A parameter is invalid; `errors` names it", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/service_at_locations")]
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
    search_response(state.get_ref().clone(), s, Unit::ServiceAtLocation, render).await
}

/// A service at a location, with its location and its fully nested service.
#[utoipa::path(
    tag = "catalogue",
    operation_id = "getServiceAtLocation",
    params(("id" = String, Path, format = Uuid, description = "The service_at_location id")),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The service at location", body = ServiceAtLocation,
            headers(("ETag" = String, description = "The version, for If-Match on writes"))),
        (status = 400, description = "The id is not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such service at location", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/service_at_locations/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    viewer: Viewer,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&id)?;
    let sal = state
        .db(move |conn| Ok(store::service_at_locations_by_id(conn, &[id])?.pop()))
        .await?
        .ok_or(ApiError::NotFound)?;
    // The tag is of what this caller sees: a partner's is the stored record's (for If-Match),
    // a public one is of the coarsened view, so it cannot confirm a guess at a hidden address.
    let view = views::service_at_location(sal, viewer);
    Ok(HttpResponse::Ok()
        .insert_header((ETAG, store::etag(&view)))
        .json(view))
}
