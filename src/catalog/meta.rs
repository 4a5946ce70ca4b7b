//! `GET /`, `/profile`, `/healthz`, `/readyz`.

use actix_web::{get, web, HttpRequest, HttpResponse};
use diesel::connection::SimpleConnection;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiResult, Problem};
use crate::state::AppState;
use crate::vocab::VOCABULARIES;

/// What this API is, in HSDS terms.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiInfo {
    /// The HSDS version this API speaks.
    pub version: String,
    /// Where Haven's HSDS profile is described.
    pub profile: String,
    /// Where the OpenAPI document is.
    pub openapi_url: String,
}

/// The public base URL: configured, or else the scheme and host the request came in on. What
/// a proxy says of them (`Forwarded`, `X-Forwarded-Host`, `-Proto`) is believed only behind a
/// trusted one, as for client addresses: anyone else could make the answer point elsewhere.
fn base_url(state: &AppState, req: &HttpRequest) -> String {
    if let Some(url) = &state.config.public_url {
        return url.clone();
    }
    if state.config.trust_forwarded_for {
        let info = req.connection_info();
        return format!("{}://{}", info.scheme(), info.host());
    }
    let config = req.app_config();
    let scheme = if config.secure() { "https" } else { "http" };
    let host = req
        .headers()
        .get(actix_web::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_else(|| config.host());
    format!("{scheme}://{host}")
}

/// Information about this API and its relationship with HSDS.
#[utoipa::path(
    tag = "meta",
    operation_id = "getApiInfo",
    responses((status = 200, description = "API information", body = ApiInfo))
)]
#[get("/")]
pub async fn root(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let base = base_url(&state, &req);
    HttpResponse::Ok().json(ApiInfo {
        version: "3.0".to_string(),
        profile: format!("{base}/profile"),
        openapi_url: format!("{base}/openapi.json"),
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileTaxonomy {
    pub id: String,
    pub name: String,
    /// The query parameter that filters by it.
    pub parameter: String,
    /// `any` or `all`: how a comma list of its codes combines.
    pub combine: String,
    pub codes: Vec<String>,
}

/// Haven's HSDS profile: HSDS 3.0 plus these vocabularies and extension fields.
#[derive(Debug, Serialize, ToSchema)]
pub struct Profile {
    pub name: String,
    pub hsds_version: String,
    pub description: String,
    pub taxonomies: Vec<ProfileTaxonomy>,
    /// Extension fields Haven adds to HSDS objects, as `object.field: meaning`.
    pub extensions: Vec<String>,
}

/// Haven's HSDS profile.
#[utoipa::path(
    tag = "meta",
    operation_id = "getProfile",
    responses((status = 200, description = "The profile", body = Profile))
)]
#[get("/profile")]
pub async fn profile() -> HttpResponse {
    let taxonomies = VOCABULARIES
        .all
        .iter()
        .map(|v| ProfileTaxonomy {
            id: v.taxonomy_id().to_string(),
            name: v.taxonomy.to_string(),
            parameter: v.param.to_string(),
            combine: if matches!(v.param, "accessibility" | "low_barrier") {
                "all"
            } else {
                "any"
            }
            .to_string(),
            codes: v.codes().map(str::to_string).collect(),
        })
        .collect();
    HttpResponse::Ok().json(Profile {
        name: "Haven".to_string(),
        hsds_version: "3.0".to_string(),
        description: "HSDS 3.0 for harm-reduction and mental-health services. Service types and \
                      filter vocabularies are HSDS taxonomies linked by attributes; term ids are \
                      uuid5(uuid5(NAMESPACE_URL, \"urn:hsds-taxonomy:\" + taxonomy), code)."
            .to_string(),
        taxonomies,
        extensions: vec![
            "service.distance: metres from the search point, when one was given".to_string(),
            "service_at_location.distance: metres from the search point, when one was given".to_string(),
            "location.confidential: true hides the addresses and coarsens the coordinates (about 1 km) in public reads".to_string(),
        ],
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: String,
}

/// Liveness: the process is up.
#[utoipa::path(
    tag = "meta",
    operation_id = "getHealth",
    responses((status = 200, description = "Alive", body = Health))
)]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok".to_string(),
    })
}

/// Readiness: the database answers.
#[utoipa::path(
    tag = "meta",
    operation_id = "getReadiness",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "The database is unreachable", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    state
        .db(|conn| {
            conn.batch_execute("SELECT 1")
                .map_err(|e| crate::error::ApiError::Unavailable(e.to_string()))
        })
        .await?;
    Ok(HttpResponse::Ok().json(Health {
        status: "ready".to_string(),
    }))
}
