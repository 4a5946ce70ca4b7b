//! `POST /organizations`: the platform admin registers a partner organisation.

use actix_web::{post, web, HttpResponse};

use crate::auth::Caller;
use crate::body::body;
use crate::catalog::store::{self, Written};
use crate::error::{ApiError, ApiResult, Problem};
use crate::hsds::model::Organization;
use crate::hsds::validate;
use crate::state::AppState;

/// Create an organisation (an HSDS organisation body).
#[utoipa::path(
    tag = "accounts",
    operation_id = "createOrganization",
    description = "Role: `admin`.",
    request_body = Organization,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The organisation", body = Organization),
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
    let mut org: Organization = body(&bytes)?;
    if org.id.is_empty() {
        org.id = uuid::Uuid::new_v4().to_string();
    }
    // Only the organisation itself: its services and locations are written through their own
    // endpoints.
    org.services.clear();
    org.locations.clear();
    let errors = validate::organization(&org);
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let created = state
        .db(move |conn| {
            if crate::accounts::store::organization_exists(conn, &org.id)? {
                return Err(ApiError::Conflict(
                    "an organisation with that id exists".into(),
                ));
            }
            match store::put_organization(conn, &org)? {
                Written::Created => Ok(org),
                _ => Err(ApiError::Conflict(
                    "an organisation with that id exists".into(),
                )),
            }
        })
        .await?;
    Ok(HttpResponse::Created().json(created))
}
