//! `POST /locations`, `GET`, `PUT`, `PATCH` and `DELETE /locations/{id}`: an organisation's
//! places, which its services are then offered at (through service_at_locations). HSDS has no
//! location endpoint; Haven adds one so a place can be kept up to date once for every service
//! offered there.

use actix_web::http::header::ETAG;
use actix_web::{delete, get, patch, post, put, web, HttpRequest, HttpResponse};
use serde_json::{Map, Value};

use super::{
    check_if_match, check_owner, fill_ids, if_match, merged, object_body, settle_id,
    settle_organization, writer, written,
};
use crate::auth::{Caller, Viewer};
use crate::body::from_value;
use crate::catalog::{path_id, store, views};
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult, Problem};
use crate::hsds::model::Location;
use crate::hsds::validate;
use crate::state::AppState;

/// A location body for `org`, validated.
fn location_value(mut map: Map<String, Value>, org: &str, id: Option<&str>) -> ApiResult<Location> {
    let mut errors = vec![];
    settle_id(&mut map, id, &mut errors);
    settle_organization(&mut map, org, &mut errors);
    fill_ids(&mut map);
    errors.extend(crate::catalog::terms::complete(&mut map));
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    map.remove("distance");
    let location: Location = from_value(Value::Object(map))?;
    let errors = validate::location(&location);
    if errors.is_empty() {
        Ok(location)
    } else {
        Err(ApiError::Invalid(errors))
    }
}

fn stored(conn: &mut DbConnection, id: &str) -> ApiResult<Location> {
    store::locations(conn, &[id.to_string()])?
        .remove(id)
        .ok_or(ApiError::NotFound)
}

/// The stored location if `org` owns it; anyone else is told it is not there.
fn owned(conn: &mut DbConnection, id: &str, org: &str) -> ApiResult<Location> {
    check_owner(store::owner(conn, "location", id)?, org)?;
    stored(conn, id)
}

/// Stores `location` and reads it back as stored; `before` is the location as stored until
/// now, if it was.
fn save(
    conn: &mut DbConnection,
    mut location: Location,
    before: Option<&Location>,
) -> ApiResult<Location> {
    use crate::catalog::terms::{check_known, named, of_location};
    let named_before = before
        .map(|b| named(&of_location(b, "")))
        .unwrap_or_default();
    check_known(conn, &of_location(&location, ""), &named_before)?;
    super::keep_confidential(conn, &mut location)?;
    store::write_location(conn, &location)?;
    stored(conn, &location.id)
}

/// A location.
#[utoipa::path(
    tag = "catalogue",
    operation_id = "getLocation",
    description = "A confidential location has its addresses left out and its coordinates coarsened to about 1 km, unless the caller is an authenticated partner.",
    params(("id" = String, Path, format = Uuid, description = "The location id")),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The location", body = Location,
            headers(("ETag" = String, description = "The version, for If-Match on writes"))),
        (status = 400, description = "The id is not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such location", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/locations/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    viewer: Viewer,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&id)?;
    let location = state.db(move |conn| stored(conn, &id)).await?;
    // The tag is of what this caller sees: a partner's is the stored record's (for If-Match),
    // a public one is of the coarsened view, so it cannot confirm a guess at a hidden address.
    let view = views::location(location, viewer);
    Ok(HttpResponse::Ok()
        .insert_header((ETAG, store::etag(&view)))
        .json(view))
}

/// Add a location for your organisation.
#[utoipa::path(
    tag = "catalogue writes",
    operation_id = "createLocation",
    description = "Any user or API client of an organisation with the `catalog:write` scope. The location belongs to the caller's organisation; offer a service there with `POST /service_at_locations`.",
    request_body = Location,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The location as stored", body = Location, headers(("ETag" = String, description = "The version, for If-Match"))),
        (status = 400, description = "A field is invalid; `errors` names each", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "No catalog:write scope, or no organisation", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A location with that id exists", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/locations")]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    bytes: web::Bytes,
) -> ApiResult<HttpResponse> {
    let org = writer(&caller)?;
    let location = location_value(object_body(&bytes)?, &org, None)?;
    let created = state
        .db(move |conn| {
            if store::owner(conn, "location", &location.id)?.is_some() {
                return Err(ApiError::Conflict("a location with that id exists".into()));
            }
            save(conn, location, None)
        })
        .await?;
    Ok(written(&created, store::etag(&created), true))
}

/// Replace one of your organisation's locations.
#[utoipa::path(
    tag = "catalogue writes",
    operation_id = "replaceLocation",
    description = "Scope `catalog:write`, your own organisation's location. Every service offered there is reindexed. `If-Match` with the ETag of a read makes the write conditional (412 when stale).",
    params(("id" = String, Path, format = Uuid, description = "The location id")),
    request_body = Location,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The location as stored", body = Location, headers(("ETag" = String, description = "The new version"))),
        (status = 400, description = "A field is invalid; `errors` names each", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "No catalog:write scope, or no organisation", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such location of yours", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match is stale; nothing changed", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/locations/{id}")]
pub async fn replace(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<String>,
    bytes: web::Bytes,
) -> ApiResult<HttpResponse> {
    let org = writer(&caller)?;
    let id = path_id(&id)?;
    let expected = if_match(&req);
    let map = object_body(&bytes)?;
    let saved = state
        .db(move |conn| {
            let current = owned(conn, &id, &org)?;
            let location = location_value(map, &org, Some(&id))?;
            check_if_match(&expected, &store::etag(&current))?;
            save(conn, location, Some(&current))
        })
        .await?;
    Ok(written(&saved, store::etag(&saved), false))
}

/// Change some fields of one of your organisation's locations (JSON merge patch, RFC 7396).
#[utoipa::path(
    tag = "catalogue writes",
    operation_id = "patchLocation",
    description = "Scope `catalog:write`, your own organisation's location. The body is merged into the stored location (`null` removes a field; an array replaces the array). `If-Match` as for PUT.",
    params(("id" = String, Path, format = Uuid, description = "The location id")),
    request_body(content = Object, content_type = "application/merge-patch+json", description = "The fields to change"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The location as stored", body = Location, headers(("ETag" = String, description = "The new version"))),
        (status = 400, description = "A field is invalid; `errors` names each", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "No catalog:write scope, or no organisation", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such location of yours", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match is stale; nothing changed", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/locations/{id}")]
pub async fn modify(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<String>,
    bytes: web::Bytes,
) -> ApiResult<HttpResponse> {
    let org = writer(&caller)?;
    let id = path_id(&id)?;
    let expected = if_match(&req);
    let patch = Value::Object(object_body(&bytes)?);
    let saved = state
        .db(move |conn| {
            let current = owned(conn, &id, &org)?;
            check_if_match(&expected, &store::etag(&current))?;
            let merged = merged(&current, &patch)?;
            save(
                conn,
                location_value(merged, &org, Some(&id))?,
                Some(&current),
            )
        })
        .await?;
    Ok(written(&saved, store::etag(&saved), false))
}

/// Delete one of your organisation's locations.
#[utoipa::path(
    tag = "catalogue writes",
    operation_id = "deleteLocation",
    description = "Scope `catalog:write`, your own organisation's location. Refused with 409 while a service is still offered there (delete those service_at_locations first). `If-Match` as for PUT.",
    params(("id" = String, Path, format = Uuid, description = "The location id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "No catalog:write scope, or no organisation", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such location of yours", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A service is still offered there", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match is stale; nothing changed", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/locations/{id}")]
pub async fn remove(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let org = writer(&caller)?;
    let id = path_id(&id)?;
    let expected = if_match(&req);
    state
        .db(move |conn| {
            let current = owned(conn, &id, &org)?;
            check_if_match(&expected, &store::etag(&current))?;
            if !store::location_service_ids(conn, &id)?.is_empty() {
                return Err(ApiError::Conflict(
                    "a service is still offered at this location; remove its service_at_locations first"
                        .into(),
                ));
            }
            store::delete_location(conn, &id)?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
