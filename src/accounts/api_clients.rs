//! `/organizations/{id}/api_clients`: an organisation's partner systems.

use actix_web::{delete, get, post, web, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::store::{self, ApiClient};
use crate::auth::{password, Caller, SCOPES};
use crate::body::body;
use crate::catalog::path_id;
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiClient {
    pub name: String,
    /// Any of `catalog:write, referrals:read, referrals:write, webhooks:manage`.
    pub scopes: Vec<String>,
}

/// A new API client with its secret, which is shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiClient {
    #[serde(flatten)]
    pub client: ApiClient,
    pub client_secret: String,
}

/// Create an API client; the response holds its secret, shown once.
#[utoipa::path(
    tag = "accounts",
    operation_id = "createApiClient",
    description = "Roles: `org_admin` of that organisation, or `admin`.",
    params(("id" = String, Path, format = Uuid, description = "The organisation id")),
    request_body = NewApiClient,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The client and its secret", body = CreatedApiClient),
        (status = 400, description = "A field is invalid", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an org_admin of it", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation visible to you", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/organizations/{id}/api_clients")]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    bytes: web::Bytes,
) -> ApiResult<HttpResponse> {
    let org = path_id(&id)?;
    caller.may_manage(&org)?;
    let new: NewApiClient = body(&bytes)?;
    let mut errors = vec![];
    if new.name.trim().is_empty() || new.name.chars().count() > 200 {
        errors.push(FieldError::new("name", "must be 1 to 200 characters"));
    }
    if new.scopes.is_empty() {
        errors.push(FieldError::new("scopes", "must name at least one scope"));
    }
    for (i, s) in new.scopes.iter().enumerate() {
        if !SCOPES.contains(&s.as_str()) {
            errors.push(FieldError::new(
                format!("scopes[{i}]"),
                format!("must be one of {}", SCOPES.join(", ")),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let mut scopes = new.scopes.clone();
    scopes.sort();
    scopes.dedup();
    let secret = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let hashed = secret.clone();
    let client = state
        .db(move |conn| {
            if !store::organization_exists(conn, &org)? {
                return Err(ApiError::NotFound);
            }
            store::create_client(
                conn,
                &org,
                new.name.trim(),
                &scopes,
                &password::hash(&hashed),
            )
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(CreatedApiClient {
            client,
            client_secret: secret,
        }))
}

/// List an organisation's API clients (without secrets).
#[utoipa::path(
    tag = "accounts",
    operation_id = "listApiClients",
    description = "Roles: `org_admin` of that organisation, or `admin`.",
    params(("id" = String, Path, format = Uuid, description = "The organisation id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The clients", body = Vec<ApiClient>),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an org_admin of it", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation visible to you", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/organizations/{id}/api_clients")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let org = path_id(&id)?;
    caller.may_manage(&org)?;
    let clients = state
        .db(move |conn| {
            if !store::organization_exists(conn, &org)? {
                return Err(ApiError::NotFound);
            }
            store::clients(conn, &org)
        })
        .await?;
    Ok(HttpResponse::Ok().json(clients))
}

/// Delete an API client; its tokens stop being issued at once.
#[utoipa::path(
    tag = "accounts",
    operation_id = "deleteApiClient",
    description = "Roles: `org_admin` of that organisation, or `admin`.",
    params(
        ("id" = String, Path, format = Uuid, description = "The organisation id"),
        ("client_id" = String, Path, format = Uuid, description = "The client id"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an org_admin of it", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such client visible to you", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/organizations/{id}/api_clients/{client_id}")]
pub async fn remove(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (org, client) = path.into_inner();
    let (org, client) = (path_id(&org)?, path_id(&client)?);
    caller.may_manage(&org)?;
    let deleted = state
        .db(move |conn| store::delete_client(conn, &org, &client))
        .await?;
    if deleted {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound)
    }
}
