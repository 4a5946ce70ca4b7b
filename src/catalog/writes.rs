//! Catalogue writes for partners: `POST /services`, `PUT`, `PATCH` and `DELETE
//! /services/{id}`.
//!
//! A caller writes only its own organisation's records: another organisation's service (or a
//! location it tries to reuse) is a 404, and the organisation in a body cannot be another one.
//! Updates honour `If-Match` with the `ETag` reads return.

use actix_web::http::header::{ETAG, IF_MATCH};
use actix_web::{delete, patch, post, put, web, HttpRequest, HttpResponse};
use serde_json::Value;

use super::{path_id, store};
use crate::auth::Caller;
use crate::body::body;
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::hsds::model::Service;
use crate::state::AppState;

/// The organisation a caller writes for: its own, with the `catalog:write` scope.
fn writer(caller: &Caller) -> ApiResult<String> {
    if !caller.has_scope("catalog:write") {
        return Err(ApiError::Forbidden(
            "the token lacks the catalog:write scope".into(),
        ));
    }
    caller.organization_id.clone().ok_or_else(|| {
        ApiError::Forbidden("only an organisation's users and clients write its catalogue".into())
    })
}

fn service_value(mut value: Value, org: &str, id: Option<&str>) -> ApiResult<Service> {
    let mut errors = vec![];
    if let Some(map) = value.as_object_mut() {
        // The id comes from the path on updates and is made here on create, unless given.
        match (id, map.get("id").and_then(Value::as_str)) {
            (Some(path), Some(given)) if given != path => {
                errors.push(FieldError::new("id", "must match the id in the path"))
            }
            (Some(path), _) => {
                map.insert("id".into(), Value::String(path.to_string()));
            }
            (None, None) => {
                map.insert("id".into(), Value::String(uuid::Uuid::new_v4().to_string()));
            }
            (None, Some(_)) => {}
        }
        match map.get("organization_id").and_then(Value::as_str) {
            Some(o) if o != org => errors.push(FieldError::new(
                "organization_id",
                "must be your own organisation's id (or left out)",
            )),
            _ => {
                map.insert("organization_id".into(), Value::String(org.to_string()));
            }
        }
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
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let service =
        crate::catalog::import::parse(1, value).map_err(|r| ApiError::Invalid(r.errors))?;
    Ok(service)
}

/// Refuses to use locations of another organisation, nested or named by id; claims new ones
/// for `org`. A location named only by id must exist.
fn check_locations(conn: &mut DbConnection, service: &mut Service, org: &str) -> ApiResult<()> {
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
fn owned(conn: &mut DbConnection, id: &str, org: &str) -> ApiResult<Service> {
    match store::owner(conn, "service", id)? {
        Some(Some(owner)) if owner == org => {}
        _ => return Err(ApiError::NotFound),
    }
    store::services(conn, &[id.to_string()])?
        .pop()
        .ok_or(ApiError::NotFound)
}

/// The `If-Match` header, if any.
fn if_match(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// A stale `If-Match` is a 412; none at all is allowed.
fn check_if_match(expected: &Option<String>, current: &Service) -> ApiResult<()> {
    let Some(expected) = expected else {
        return Ok(());
    };
    let tag = store::etag(current);
    let matches = expected.trim() == "*"
        || expected
            .split(',')
            .any(|e| e.trim().trim_start_matches("W/") == tag);
    if matches {
        Ok(())
    } else {
        Err(ApiError::PreconditionFailed)
    }
}

fn written(service: Service, created: bool) -> HttpResponse {
    let tag = store::etag(&service);
    let mut res = if created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((ETAG, tag)).json(service)
}

/// Stores `service` and reads it back as stored.
fn save(conn: &mut DbConnection, service: &Service) -> ApiResult<Service> {
    store::put_service(conn, service)?;
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
    let mut service = service_value(body(&bytes)?, &org, None)?;
    let stored = state
        .db(move |conn| {
            if store::owner(conn, "service", &service.id)?.is_some() {
                return Err(ApiError::Conflict("a service with that id exists".into()));
            }
            check_locations(conn, &mut service, &org)?;
            save(conn, &service)
        })
        .await?;
    Ok(written(stored, true))
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
    let value: Value = body(&bytes)?;
    let stored = state
        .db(move |conn| {
            // Ownership first: another organisation's service is not there, whatever the body.
            let current = owned(conn, &id, &org)?;
            let mut service = service_value(value, &org, Some(&id))?;
            check_if_match(&expected, &current)?;
            check_locations(conn, &mut service, &org)?;
            save(conn, &service)
        })
        .await?;
    Ok(written(stored, false))
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
    let patch: Value = body(&bytes)?;
    if !patch.is_object() {
        return Err(ApiError::invalid("body", "must be a JSON object"));
    }
    let stored = state
        .db(move |conn| {
            let current = owned(conn, &id, &org)?;
            check_if_match(&expected, &current)?;
            let mut merged =
                serde_json::to_value(&current).map_err(|e| ApiError::Internal(e.into()))?;
            merge_patch(&mut merged, &patch);
            let mut service = service_value(merged, &org, Some(&id))?;
            check_locations(conn, &mut service, &org)?;
            save(conn, &service)
        })
        .await?;
    Ok(written(stored, false))
}

/// Delete one of your organisation's services.
#[utoipa::path(
    tag = "catalogue writes",
    operation_id = "deleteService",
    description = "Scope `catalog:write`, your own organisation's service. `If-Match` as for PUT.",
    params(("id" = String, Path, format = Uuid, description = "The service id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
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
            check_if_match(&expected, &current)?;
            store::delete_service(conn, &id)?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// RFC 7396 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::merge_patch;

    #[test]
    fn merge_patch_follows_rfc_7396() {
        let mut doc = json!({"a": "b", "c": {"d": "e", "f": "g"}, "list": [1, 2]});
        merge_patch(
            &mut doc,
            &json!({"a": "z", "c": {"f": null}, "list": [3], "new": 1}),
        );
        assert_eq!(
            doc,
            json!({"a": "z", "c": {"d": "e"}, "list": [3], "new": 1})
        );
    }
}
