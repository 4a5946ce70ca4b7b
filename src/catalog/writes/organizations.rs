//! `POST /organizations` (the platform admin registers a partner), `PUT`, `PATCH` and `DELETE
//! /organizations/{id}`. These write the organisation's own fields only: its services and
//! locations have endpoints of their own, so nested `services` and `locations` are ignored.

use actix_web::{delete, patch, post, put, web, HttpRequest, HttpResponse};
use serde_json::{Map, Value};

use super::{check_if_match, fill_ids, if_match, merged, object_body, settle_id, written};
use crate::accounts;
use crate::auth::{Caller, Role};
use crate::body::from_value;
use crate::catalog::{path_id, store};
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult, Problem};
use crate::hsds::model::Organization;
use crate::hsds::validate;
use crate::state::AppState;

/// Who may change an organisation's record: the platform admin, or the organisation's own
/// org_admin or API client with `catalog:write`. Its staff publish services but do not rename
/// the organisation; anyone else is told it is not there.
fn may_edit(caller: &Caller, id: &str) -> ApiResult<()> {
    if caller.is_admin() {
        return Ok(());
    }
    if !caller.belongs_to(id) {
        return Err(ApiError::NotFound);
    }
    if caller.role == Role::Staff || !caller.has_scope("catalog:write") {
        return Err(ApiError::Forbidden(
            "changing the organisation needs an org_admin, or an API client with catalog:write"
                .into(),
        ));
    }
    Ok(())
}

/// An organisation body, validated; only its own fields are kept.
fn organization_value(mut map: Map<String, Value>, id: Option<&str>) -> ApiResult<Organization> {
    let mut errors = vec![];
    settle_id(&mut map, id, &mut errors);
    fill_ids(&mut map);
    map.remove("services");
    map.remove("locations");
    errors.extend(crate::catalog::terms::complete(&mut map));
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let org: Organization = from_value(Value::Object(map))?;
    let errors = validate::organization(&org);
    if errors.is_empty() {
        Ok(org)
    } else {
        Err(ApiError::Invalid(errors))
    }
}

fn stored(conn: &mut DbConnection, id: &str) -> ApiResult<Organization> {
    store::organizations(conn, &[id.to_string()])?
        .remove(id)
        .ok_or(ApiError::NotFound)
}

/// Stores `org`'s own fields and reads it back as stored; `before` is the organisation as
/// stored until now, if it was.
fn save(
    conn: &mut DbConnection,
    org: &Organization,
    before: Option<&Organization>,
) -> ApiResult<Organization> {
    use crate::catalog::terms::{check_known, named, of_organization};
    let named_before = before
        .map(|b| named(&of_organization(b)))
        .unwrap_or_default();
    check_known(conn, &of_organization(org), &named_before)?;
    store::write_organization(conn, org)?;
    stored(conn, &org.id)
}

/// Register a partner organisation (an HSDS organisation body).
#[utoipa::path(
    tag = "accounts",
    operation_id = "createOrganization",
    description = "Role: `admin`. Then give it a first org_admin with `POST /organizations/{id}/users`.",
    request_body = Organization,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The organisation", body = Organization, headers(("ETag" = String, description = "The version, for If-Match"))),
        (status = 400, description = "A field is invalid", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a platform admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "An organisation with that id exists", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/organizations")]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    bytes: web::Bytes,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let org = organization_value(object_body(&bytes)?, None)?;
    let created = state
        .db(move |conn| {
            if accounts::store::organization_exists(conn, &org.id)? {
                return Err(ApiError::Conflict(
                    "an organisation with that id exists".into(),
                ));
            }
            save(conn, &org, None)
        })
        .await?;
    Ok(written(&created, store::etag(&created), true))
}

/// Replace an organisation's own fields.
#[utoipa::path(
    tag = "catalogue writes",
    operation_id = "replaceOrganization",
    description = "Your own organisation, as its org_admin or an API client with `catalog:write`; or any, as `admin`. Nested `services` and `locations` are ignored. `If-Match` with the ETag of a read makes the write conditional (412 when stale).",
    params(("id" = String, Path, format = Uuid, description = "The organisation id")),
    request_body = Organization,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The organisation as stored", body = Organization, headers(("ETag" = String, description = "The new version"))),
        (status = 400, description = "A field is invalid; `errors` names each", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Staff, or no catalog:write scope", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation of yours", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match is stale; nothing changed", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/organizations/{id}")]
pub async fn replace(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<String>,
    bytes: web::Bytes,
) -> ApiResult<HttpResponse> {
    let id = path_id(&id)?;
    may_edit(&caller, &id)?;
    let expected = if_match(&req);
    let map = object_body(&bytes)?;
    let saved = state
        .db(move |conn| {
            let current = stored(conn, &id)?;
            let org = organization_value(map, Some(&id))?;
            check_if_match(&expected, &store::etag(&current))?;
            save(conn, &org, Some(&current))
        })
        .await?;
    Ok(written(&saved, store::etag(&saved), false))
}

/// Change some of an organisation's own fields (JSON merge patch, RFC 7396).
#[utoipa::path(
    tag = "catalogue writes",
    operation_id = "patchOrganization",
    description = "Who may: as for PUT. The body is merged into the stored organisation (`null` removes a field; an array replaces the array). `If-Match` as for PUT.",
    params(("id" = String, Path, format = Uuid, description = "The organisation id")),
    request_body(content = Object, content_type = "application/merge-patch+json", description = "The fields to change"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The organisation as stored", body = Organization, headers(("ETag" = String, description = "The new version"))),
        (status = 400, description = "A field is invalid; `errors` names each", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Staff, or no catalog:write scope", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation of yours", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match is stale; nothing changed", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/organizations/{id}")]
pub async fn modify(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<String>,
    bytes: web::Bytes,
) -> ApiResult<HttpResponse> {
    let id = path_id(&id)?;
    may_edit(&caller, &id)?;
    let expected = if_match(&req);
    let patch = Value::Object(object_body(&bytes)?);
    let saved = state
        .db(move |conn| {
            let current = stored(conn, &id)?;
            check_if_match(&expected, &store::etag(&current))?;
            let merged = merged(&current, &patch)?;
            save(
                conn,
                &organization_value(merged, Some(&id))?,
                Some(&current),
            )
        })
        .await?;
    Ok(written(&saved, store::etag(&saved), false))
}

/// Remove an organisation, with its locations, users and API clients.
#[utoipa::path(
    tag = "catalogue writes",
    operation_id = "deleteOrganization",
    description = "Role: `admin`. Refused with 409 while the organisation still has services (delete or hand them over first), so nothing a client might be referred to disappears by accident. `If-Match` as for PUT.",
    params(("id" = String, Path, format = Uuid, description = "The organisation id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Your own organisation, but not a platform admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation (to anyone but the admin, any other organisation)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "It still has services", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match is stale; nothing changed", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/organizations/{id}")]
pub async fn remove(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&id)?;
    if !caller.is_admin() {
        return Err(if caller.belongs_to(&id) {
            ApiError::Forbidden("only a platform admin may delete an organisation".into())
        } else {
            ApiError::NotFound
        });
    }
    let expected = if_match(&req);
    state
        .db(move |conn| {
            let current = stored(conn, &id)?;
            check_if_match(&expected, &store::etag(&current))?;
            if !store::organization_service_ids(conn, &id)?.is_empty() {
                return Err(ApiError::Conflict(
                    "the organisation still has services; delete them first".into(),
                ));
            }
            crate::db::write(conn, |conn| {
                accounts::store::delete_organization_accounts(conn, &id)?;
                store::delete_organization(conn, &id)?;
                Ok::<_, ApiError>(())
            })
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
