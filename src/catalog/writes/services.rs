//! `POST /services`, `PUT`, `PATCH` and `DELETE /services/{id}`: fully nested services, whose
//! nested locations are written with them (and must be the caller's own).

use actix_web::{delete, patch, post, put, web, HttpRequest, HttpResponse};
use serde_json::{Map, Value};

use super::{
    check_if_match, check_owner, fill_ids, if_match, merged, object_body, settle_id,
    settle_organization, writer, written,
};
use crate::auth::Caller;
use crate::catalog::{path_id, store};
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::hsds::model::Service;
use crate::state::AppState;

/// A service body for `org`, validated. `id` is the path's on an update.
pub fn service_value(
    mut map: Map<String, Value>,
    org: &str,
    id: Option<&str>,
) -> ApiResult<Service> {
    let mut errors = vec![];
    settle_id(&mut map, id, &mut errors);
    settle_organization(&mut map, org, &mut errors);
    fill_ids(&mut map);
    if let Some(nested) = map
        .get("organization")
        .and_then(|o| o.get("id"))
        .and_then(Value::as_str)
    {
        if nested != org {
            errors.push(FieldError::new(
                "organization.id",
                "must be your own organisation",
            ));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    crate::catalog::import::parse(1, Value::Object(map)).map_err(|r| ApiError::Invalid(r.errors))
}

/// Refuses to use locations of another organisation, nested or named by id; claims new ones
/// for `org`. A location named only by id must exist. A nested service_at_location id that
/// already belongs to another service is refused too: another organisation's is not there
/// (404), one of `org`'s other services is a 409 (a service_at_location never changes service).
pub fn check_locations(conn: &mut DbConnection, service: &mut Service, org: &str) -> ApiResult<()> {
    for (i, sal) in service.service_at_locations.iter().enumerate() {
        match store::service_at_location_owner(conn, &sal.id)? {
            Some((of, _)) if of == service.id => {}
            Some((_, Some(owner))) if owner == org => {
                return Err(ApiError::Conflict(format!(
                    "service_at_locations[{i}].id belongs to another service"
                )))
            }
            Some(_) => return Err(ApiError::NotFound),
            None => {}
        }
    }
    for (i, sal) in service.service_at_locations.iter_mut().enumerate() {
        let id = sal
            .location
            .as_ref()
            .map(|l| l.id.clone())
            .or_else(|| sal.location_id.clone());
        let Some(id) = id else { continue };
        match store::owner(conn, "location", &id)? {
            Some(Some(owner)) if owner != org => return Err(ApiError::NotFound),
            None if sal.location.is_none() => {
                return Err(ApiError::invalid(
                    format!("service_at_locations[{i}].location_id"),
                    "no such location: nest the location to create it",
                ))
            }
            _ => {}
        }
        if let Some(l) = &mut sal.location {
            l.organization_id = Some(org.to_string());
        }
    }
    Ok(())
}

/// The stored service if `org` owns it; anyone else is told it is not there.
pub fn owned(conn: &mut DbConnection, id: &str, org: &str) -> ApiResult<Service> {
    check_owner(store::owner(conn, "service", id)?, org)?;
    store::services(conn, &[id.to_string()])?
        .pop()
        .ok_or(ApiError::NotFound)
}

/// Stores `service` and reads it back as stored; `before` is the service as stored until now,
/// if it was.
pub fn save(
    conn: &mut DbConnection,
    mut service: Service,
    before: Option<&Service>,
) -> ApiResult<Service> {
    use crate::catalog::terms::{check_known, named, of_service};
    let named_before = before.map(|b| named(&of_service(b))).unwrap_or_default();
    check_known(conn, &of_service(&service), &named_before)?;
    for location in service
        .service_at_locations
        .iter_mut()
        .filter_map(|sal| sal.location.as_mut())
    {
        super::keep_confidential(conn, location)?;
    }
    store::put_service(conn, &service)?;
    store::services(conn, std::slice::from_ref(&service.id))?
        .pop()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("a written service vanished")))
}

/// Publish a service (a fully nested HSDS service) for your organisation.
#[utoipa::path(
    tag = "catalogue writes",
    operation_id = "createService",
    description = "Any user or API client of an organisation with the `catalog:write` scope (org_admin, staff, or a client given it). The service, its locations and service_at_locations belong to the caller's organisation.",
    request_body = Service,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The service as stored", body = Service, headers(("ETag" = String, description = "The version, for If-Match"))),
        (status = 400, description = "A field is invalid; `errors` names each", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "No catalog:write scope, or no organisation", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "A location named belongs to another organisation", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A service with that id exists", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/services")]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    bytes: web::Bytes,
) -> ApiResult<HttpResponse> {
    let org = writer(&caller)?;
    let mut service = service_value(object_body(&bytes)?, &org, None)?;
    let stored = state
        .db(move |conn| {
            if store::owner(conn, "service", &service.id)?.is_some() {
                return Err(ApiError::Conflict("a service with that id exists".into()));
            }
            check_locations(conn, &mut service, &org)?;
            save(conn, service, None)
        })
        .await?;
    Ok(written(&stored, store::etag(&stored), true))
}

/// Replace one of your organisation's services.
#[utoipa::path(
    tag = "catalogue writes",
    operation_id = "replaceService",
    description = "Scope `catalog:write`, your own organisation's service. `If-Match` with the ETag of a read makes the write conditional (412 when stale).",
    params(("id" = String, Path, format = Uuid, description = "The service id")),
    request_body = Service,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The service as stored", body = Service, headers(("ETag" = String, description = "The new version"))),
        (status = 400, description = "A field is invalid; `errors` names each", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "No catalog:write scope, or no organisation", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such service of yours", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match is stale; nothing changed", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/services/{id}")]
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
    let value = object_body(&bytes)?;
    let stored = state
        .db(move |conn| {
            // Ownership first: another organisation's service is not there, whatever the body.
            let current = owned(conn, &id, &org)?;
            let mut service = service_value(value, &org, Some(&id))?;
            check_if_match(&expected, &store::etag(&current))?;
            check_locations(conn, &mut service, &org)?;
            save(conn, service, Some(&current))
        })
        .await?;
    Ok(written(&stored, store::etag(&stored), false))
}

/// Change some fields of one of your organisation's services (JSON merge patch, RFC 7396).
#[utoipa::path(
    tag = "catalogue writes",
    operation_id = "patchService",
    description = "Scope `catalog:write`, your own organisation's service. The body is merged into the stored service (`null` removes a field; an array replaces the array). `If-Match` as for PUT.",
    params(("id" = String, Path, format = Uuid, description = "The service id")),
    request_body(content = Object, content_type = "application/merge-patch+json", description = "The fields to change"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The service as stored", body = Service, headers(("ETag" = String, description = "The new version"))),
        (status = 400, description = "A field is invalid; `errors` names each", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "No catalog:write scope, or no organisation", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such service of yours", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match is stale; nothing changed", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/services/{id}")]
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
    let stored = state
        .db(move |conn| {
            let current = owned(conn, &id, &org)?;
            check_if_match(&expected, &store::etag(&current))?;
            let merged = merged(&current, &patch)?;
            let mut service = service_value(merged, &org, Some(&id))?;
            check_locations(conn, &mut service, &org)?;
            save(conn, service, Some(&current))
        })
        .await?;
    Ok(written(&stored, store::etag(&stored), false))
}

/// Delete one of your organisation's services.
#[utoipa::path(
    tag = "catalogue writes",
    operation_id = "deleteService",
    description = "Scope `catalog:write`, your own organisation's service. Refused with 409 while referrals to it are open (not rejected, cancelled, completed or failed); set its status to `inactive` to stop new ones. `If-Match` as for PUT.",
    params(("id" = String, Path, format = Uuid, description = "The service id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 409, description = "Referrals to it are still open", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "No catalog:write scope, or no organisation", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such service of yours", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match is stale; nothing changed", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/services/{id}")]
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
            let open = crate::referrals::store::open_for_service(conn, &id)?;
            if open > 0 {
                return Err(ApiError::Conflict(format!(
                    "{open} open referral(s) to this service: finish or decline them first, or set its status to inactive"
                )));
            }
            store::delete_service(conn, &id)?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
