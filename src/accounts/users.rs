//! `/organizations/{id}/users`: an organisation's people.

use actix_web::{delete, get, post, web, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use super::store::{self, User};
use crate::auth::{password, Caller};
use crate::body::body;
use crate::catalog::path_id;
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::hsds::validate::is_email;
use crate::state::AppState;

/// The shortest password accepted.
pub const MIN_PASSWORD: usize = 12;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub email: String,
    /// At least 12 characters.
    pub password: String,
    /// `org_admin` or `staff`.
    pub role: String,
}

/// Checks a new account's fields; `admin` may only be made from the command line.
pub fn check(email: &str, password: &str, role: &str, allow_admin: bool) -> Vec<FieldError> {
    let mut errors = vec![];
    if !is_email(email) {
        errors.push(FieldError::new("email", "must be an email address"));
    }
    if password.chars().count() < MIN_PASSWORD {
        errors.push(FieldError::new(
            "password",
            format!("must be at least {MIN_PASSWORD} characters"),
        ));
    }
    let roles: &[&str] = if allow_admin {
        &["admin", "org_admin", "staff"]
    } else {
        &["org_admin", "staff"]
    };
    if !roles.contains(&role) {
        errors.push(FieldError::new(
            "role",
            format!("must be one of {}", roles.join(", ")),
        ));
    }
    errors
}

/// Create a user in an organisation.
#[utoipa::path(
    tag = "accounts",
    operation_id = "createUser",
    description = "Roles: `org_admin` of that organisation, or `admin`.",
    params(("id" = String, Path, format = Uuid, description = "The organisation id")),
    request_body = NewUser,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The user", body = User),
        (status = 400, description = "A field is invalid", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an org_admin of it", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation visible to you", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "That email has an account", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/organizations/{id}/users")]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    bytes: web::Bytes,
) -> ApiResult<HttpResponse> {
    let org = path_id(&id)?;
    caller.may_manage(&org)?;
    let new: NewUser = body(&bytes)?;
    let errors = check(&new.email, &new.password, &new.role, false);
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let user = state
        .db(move |conn| {
            if !store::organization_exists(conn, &org)? {
                return Err(ApiError::NotFound);
            }
            store::create_user(
                conn,
                Some(&org),
                &new.email,
                &password::hash(&new.password),
                &new.role,
            )
        })
        .await?;
    Ok(HttpResponse::Created().json(user))
}

/// List an organisation's users.
#[utoipa::path(
    tag = "accounts",
    operation_id = "listUsers",
    description = "Roles: `org_admin` of that organisation, or `admin`.",
    params(("id" = String, Path, format = Uuid, description = "The organisation id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The users", body = Vec<User>),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an org_admin of it", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation visible to you", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/organizations/{id}/users")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let org = path_id(&id)?;
    caller.may_manage(&org)?;
    let users = state
        .db(move |conn| {
            if !store::organization_exists(conn, &org)? {
                return Err(ApiError::NotFound);
            }
            store::users(conn, &org)
        })
        .await?;
    Ok(HttpResponse::Ok().json(users))
}

/// Delete a user.
#[utoipa::path(
    tag = "accounts",
    operation_id = "deleteUser",
    description = "Roles: `org_admin` of that organisation, or `admin`.",
    params(
        ("id" = String, Path, format = Uuid, description = "The organisation id"),
        ("user_id" = String, Path, format = Uuid, description = "The user id"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an org_admin of it", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user visible to you", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/organizations/{id}/users/{user_id}")]
pub async fn remove(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (org, user) = path.into_inner();
    let (org, user) = (path_id(&org)?, path_id(&user)?);
    caller.may_manage(&org)?;
    let deleted = state
        .db(move |conn| store::delete_user(conn, &org, &user))
        .await?;
    if deleted {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound)
    }
}

/// `haven admin create-user`: the one way to make a platform admin.
pub fn create_from_cli(
    conn: &mut crate::db::DbConnection,
    email: &str,
    password: &str,
    role: &str,
    organization: Option<&str>,
) -> anyhow::Result<User> {
    let mut errors = check(email, password, role, true);
    let organization = organization.map(str::to_ascii_lowercase);
    match (role, organization.as_deref()) {
        ("admin", Some(_)) => errors.push(FieldError::new(
            "--organization",
            "an admin belongs to no organisation",
        )),
        ("org_admin" | "staff", None) => errors.push(FieldError::new(
            "--organization",
            "is required for this role",
        )),
        (_, Some(org))
            if !store::organization_exists(conn, org).map_err(|e| anyhow::anyhow!("{e}"))? =>
        {
            errors.push(FieldError::new("--organization", "no such organisation"))
        }
        _ => {}
    }
    if !errors.is_empty() {
        let text: Vec<String> = errors
            .iter()
            .map(|e| format!("{}: {}", e.field.trim_start_matches("--"), e.message))
            .collect();
        anyhow::bail!("{}", text.join("; "));
    }
    store::create_user(
        conn,
        organization.as_deref(),
        email,
        &password::hash(password),
        role,
    )
    .map_err(|e| anyhow::anyhow!("{}", e.problem().detail))
}
