//! `POST /service_at_locations`, `PUT`, `PATCH` and `DELETE /service_at_locations/{id}`:
//! offering one of your services at one of your locations, with the hours, phones and contacts
//! particular to that place.
//!
//! A service_at_location is part of its service, so each write is a write of the whole service
//! through the same path as `PUT /services/{id}`: the same validation, ownership checks and
//! reindexing. Errors name fields of the service_at_location body.

use actix_web::{delete, patch, post, put, web, HttpRequest, HttpResponse};
use serde_json::{Map, Value};

use super::services::{check_locations, owned, save, service_value};
use super::{check_if_match, if_match, merged, object_body, writer, written};
use crate::auth::Caller;
use crate::catalog::{path_id, store};
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::hsds::model::ServiceAtLocation;
use crate::hsds::validate::is_uuid;
use crate::state::AppState;

/// Where a write puts the service_at_location in its service's list.
#[derive(Clone, Copy)]
enum Slot {
    New,
    At(usize),
}

/// Renames errors about `service_at_locations[i].x` in the service to `x` of the body.
fn unprefixed(e: ApiError, index: usize) -> ApiError {
    let prefix = format!("service_at_locations[{index}].");
    match e {
        ApiError::Invalid(errors) => ApiError::Invalid(
            errors
                .into_iter()
                .map(|e| match e.field.strip_prefix(&prefix) {
                    Some(field) => FieldError::new(field, e.message),
                    None => e,
                })
                .collect(),
        ),
        other => other,
    }
}

/// The stored service_at_location (with its service nested), if `org` owns its service.
fn stored(conn: &mut DbConnection, id: &str, org: &str) -> ApiResult<ServiceAtLocation> {
    let service_id = store::service_at_location_service(conn, id)?.ok_or(ApiError::NotFound)?;
    owned(conn, &service_id, org)?;
    store::service_at_locations_by_id(conn, &[id.to_string()])?
        .pop()
        .ok_or(ApiError::NotFound)
}

/// Writes `body` into `service_id`'s list (new, or in place of the one at `slot`), or removes
/// the one at `slot` when `body` is `None`; answers the service_at_location as stored.
fn write(
    conn: &mut DbConnection,
    org: &str,
    service_id: &str,
    slot: Slot,
    body: Option<Map<String, Value>>,
) -> ApiResult<Option<ServiceAtLocation>> {
    let before = owned(conn, service_id, org)?;
    let mut value = serde_json::to_value(&before).map_err(|e| ApiError::Internal(e.into()))?;
    let list = value
        .as_object_mut()
        .and_then(|m| {
            m.entry("service_at_locations")
                .or_insert_with(|| Value::Array(vec![]))
                .as_array_mut()
        })
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("a stored service has no list")))?;
    let id = body
        .as_ref()
        .and_then(|b| b.get("id"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let index = match (slot, body) {
        (Slot::New, Some(b)) => {
            list.push(Value::Object(b));
            list.len() - 1
        }
        (Slot::At(i), Some(b)) => {
            list[i] = Value::Object(b);
            i
        }
        (Slot::At(i), None) => {
            list.remove(i);
            i
        }
        (Slot::New, None) => return Ok(None),
    };
    let Value::Object(map) = value else {
        return Err(ApiError::Internal(anyhow::anyhow!(
            "a service is an object"
        )));
    };
    let mut service =
        service_value(map, org, Some(service_id)).map_err(|e| unprefixed(e, index))?;
    check_locations(conn, &mut service, org).map_err(|e| unprefixed(e, index))?;
    save(conn, service, Some(&before)).map_err(|e| unprefixed(e, index))?;
    match id {
        Some(id) => Ok(store::service_at_locations_by_id(conn, &[id])?.pop()),
        None => Ok(None),
    }
}

/// Settles a body: its id (the path's on an update), its service (given on create, fixed
/// after), and drops what reads add but writes do not take.
fn prepared(
    mut map: Map<String, Value>,
    id: Option<&str>,
    service_id: Option<&str>,
) -> ApiResult<(Map<String, Value>, String)> {
    let mut errors = vec![];
    super::settle_id(&mut map, id, &mut errors);
    let given = map.get("service_id").and_then(Value::as_str);
    let service = match (service_id, given) {
        (Some(current), Some(given)) if given != current => {
            errors.push(FieldError::new(
                "service_id",
                "cannot change: create a new service_at_location for the other service",
            ));
            None
        }
        (Some(current), _) => Some(current.to_string()),
        (None, Some(given)) if is_uuid(given) => Some(given.to_string()),
        (None, Some(_)) => {
            errors.push(FieldError::new("service_id", "must be a UUID"));
            None
        }
        (None, None) => {
            errors.push(FieldError::new("service_id", "is required"));
            None
        }
    };
    if !map.contains_key("location_id") && !map.contains_key("location") {
        errors.push(FieldError::new(
            "location_id",
            "is required (or nest the location)",
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let service = service.unwrap_or_default();
    // The nested service is what reads show; it is written through /services, not here.
    map.remove("service");
    map.remove("distance");
    map.insert("service_id".into(), Value::String(service.clone()));
    Ok((map, service))
}

/// The position of a service_at_location in its service.
fn slot_of(conn: &mut DbConnection, org: &str, service_id: &str, id: &str) -> ApiResult<Slot> {
    owned(conn, service_id, org)?
        .service_at_locations
        .iter()
        .position(|s| s.id == id)
        .map(Slot::At)
        .ok_or(ApiError::NotFound)
}

/// Offer one of your services at one of your locations.
#[utoipa::path(
    tag = "catalogue writes",
    operation_id = "createServiceAtLocation",
    description = "Scope `catalog:write`. `service_id` names one of your services; `location_id` one of your locations (or nest a new `location`). The nested `service` that reads show is ignored.",
    request_body = ServiceAtLocation,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The service_at_location as stored, with its service and location", body = ServiceAtLocation, headers(("ETag" = String, description = "The version, for If-Match"))),
        (status = 400, description = "A field is invalid; `errors` names each", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "No catalog:write scope, or no organisation", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The service or location is not one of yours", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A service_at_location with that id exists", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/service_at_locations")]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    bytes: web::Bytes,
) -> ApiResult<HttpResponse> {
    let org = writer(&caller)?;
    let (map, service_id) = prepared(object_body(&bytes)?, None, None)?;
    let created = state
        .db(move |conn| {
            let id = map.get("id").and_then(Value::as_str).unwrap_or_default();
            if store::service_at_location_service(conn, id)?.is_some() {
                return Err(ApiError::Conflict(
                    "a service_at_location with that id exists".into(),
                ));
            }
            write(conn, &org, &service_id, Slot::New, Some(map))?
                .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("a written record vanished")))
        })
        .await?;
    Ok(written(&created, store::etag(&created), true))
}

/// Replace one of your service_at_locations.
#[utoipa::path(
    tag = "catalogue writes",
    operation_id = "replaceServiceAtLocation",
    description = "Scope `catalog:write`, a service_at_location of one of your services. `service_id` cannot change. `If-Match` with the ETag of a read makes the write conditional (412 when stale).",
    params(("id" = String, Path, format = Uuid, description = "The service_at_location id")),
    request_body = ServiceAtLocation,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The service_at_location as stored", body = ServiceAtLocation, headers(("ETag" = String, description = "The new version"))),
        (status = 400, description = "A field is invalid; `errors` names each", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "No catalog:write scope, or no organisation", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such service_at_location of yours", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match is stale; nothing changed", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/service_at_locations/{id}")]
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
    let body = object_body(&bytes)?;
    let saved = state
        .db(move |conn| {
            let current = stored(conn, &id, &org)?;
            let service_id = current.service_id.clone().unwrap_or_default();
            let (map, _) = prepared(body, Some(&id), Some(&service_id))?;
            check_if_match(&expected, &store::etag(&current))?;
            let slot = slot_of(conn, &org, &service_id, &id)?;
            write(conn, &org, &service_id, slot, Some(map))?.ok_or(ApiError::NotFound)
        })
        .await?;
    Ok(written(&saved, store::etag(&saved), false))
}

/// Change some fields of one of your service_at_locations (JSON merge patch, RFC 7396).
#[utoipa::path(
    tag = "catalogue writes",
    operation_id = "patchServiceAtLocation",
    description = "Scope `catalog:write`, a service_at_location of one of your services. The body is merged into the stored one (`null` removes a field; an array replaces the array). `If-Match` as for PUT.",
    params(("id" = String, Path, format = Uuid, description = "The service_at_location id")),
    request_body(content = Object, content_type = "application/merge-patch+json", description = "The fields to change"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The service_at_location as stored", body = ServiceAtLocation, headers(("ETag" = String, description = "The new version"))),
        (status = 400, description = "A field is invalid; `errors` names each", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "No catalog:write scope, or no organisation", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such service_at_location of yours", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match is stale; nothing changed", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/service_at_locations/{id}")]
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
            let current = stored(conn, &id, &org)?;
            check_if_match(&expected, &store::etag(&current))?;
            let service_id = current.service_id.clone().unwrap_or_default();
            let mut own = current;
            own.service = None;
            let merged = merged(&own, &patch)?;
            let (map, _) = prepared(merged, Some(&id), Some(&service_id))?;
            let slot = slot_of(conn, &org, &service_id, &id)?;
            write(conn, &org, &service_id, slot, Some(map))?.ok_or(ApiError::NotFound)
        })
        .await?;
    Ok(written(&saved, store::etag(&saved), false))
}

/// Stop offering one of your services at a location.
#[utoipa::path(
    tag = "catalogue writes",
    operation_id = "deleteServiceAtLocation",
    description = "Scope `catalog:write`, a service_at_location of one of your services. The location stays. `If-Match` as for PUT.",
    params(("id" = String, Path, format = Uuid, description = "The service_at_location id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "No catalog:write scope, or no organisation", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such service_at_location of yours", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match is stale; nothing changed", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/service_at_locations/{id}")]
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
            let current = stored(conn, &id, &org)?;
            check_if_match(&expected, &store::etag(&current))?;
            let service_id = current.service_id.clone().unwrap_or_default();
            let slot = slot_of(conn, &org, &service_id, &id)?;
            write(conn, &org, &service_id, slot, None)?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
