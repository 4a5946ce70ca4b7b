//! `GET /service_at_locations` and `GET /service_at_locations/{id}`.

use std::collections::HashMap;

use actix_web::http::header::ETAG;
use actix_web::{get, web, HttpResponse};
use chrono::Utc;

use super::{path_id, search_response, store, views};
use crate::auth::Viewer;
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult, Problem};
use crate::hsds::model::{Page, ServiceAtLocation};
use crate::search::filters::{Params, Search, SearchParams};
use crate::search::query::{Hit, Unit};
use crate::state::AppState;

fn render(
    conn: &mut DbConnection,
    s: &Search,
    hits: &[Hit],
    viewer: Viewer,
) -> ApiResult<Vec<ServiceAtLocation>> {
    let ids: Vec<String> = hits.iter().map(|h| h.id.clone()).collect();
    let distances: HashMap<&str, Option<f64>> =
        hits.iter().map(|h| (h.id.as_str(), h.distance)).collect();
    Ok(store::service_at_locations_by_id(conn, &ids)?
        .into_iter()
        .map(|sal| {
            let mut sal = views::service_at_location(sal, viewer);
            sal.distance = distances.get(sal.id.as_str()).copied().flatten();
            if s.full {
                sal
            } else {
                views::service_at_location_list_item(sal)
            }
        })
        .collect())
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
        move |conn: &mut DbConnection, s: &Search, hits: &[Hit]| render(conn, s, hits, viewer);
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
    Ok(HttpResponse::Ok()
        .insert_header((ETAG, store::etag(&sal)))
        .json(views::service_at_location(sal, viewer)))
}
