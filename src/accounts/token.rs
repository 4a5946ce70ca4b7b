//! `POST /auth/token`: OAuth 2.0 password and client-credentials grants.

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{post, web, HttpRequest, HttpResponse};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::store;
use crate::auth::jwt::Claims;
use crate::auth::{password, throttle, user_scopes, Role};
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::state::AppState;

/// The OAuth 2.0 grants Haven takes. (The handler reads a string, so that a wrong grant is a
/// 400 naming `grant_type`; this type describes it in the OpenAPI document.)
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum GrantType {
    /// `username` and `password` of a user.
    Password,
    /// `client_id` and `client_secret` of an API client.
    ClientCredentials,
}

/// A token request, form-encoded as OAuth 2.0 clients send it (JSON is accepted too).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct TokenRequest {
    #[schema(required = true, nullable = false, value_type = GrantType)]
    pub grant_type: Option<String>,
    /// With `password`: the user's email.
    pub username: Option<String>,
    /// With `password`.
    pub password: Option<String>,
    /// With `client_credentials`.
    pub client_id: Option<String>,
    /// With `client_credentials`.
    pub client_secret: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: i64,
}

fn required<'a>(errors: &mut Vec<FieldError>, field: &str, v: &'a Option<String>) -> &'a str {
    match v.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => s,
        None => {
            errors.push(FieldError::new(field, "is required"));
            ""
        }
    }
}

/// The request's fields, with an API client's credentials taken from HTTP Basic
/// authentication if it sends them so (RFC 6749 section 2.3.1: many OAuth libraries do by
/// default). A client may use one of the two ways, not both.
fn parse(req: &HttpRequest, body: &[u8]) -> Result<TokenRequest, ApiError> {
    let mut request = parse_body(req, body)?;
    let Some(basic) = basic_credentials(req)? else {
        return Ok(request);
    };
    if request.client_id.is_some() || request.client_secret.is_some() {
        return Err(ApiError::invalid(
            "client_id",
            "is given both in the body and in the Authorization header; use one",
        ));
    }
    (request.client_id, request.client_secret) = (Some(basic.0), Some(basic.1));
    Ok(request)
}

/// The client id and secret of an `Authorization: Basic` header: each form-encoded, joined by
/// a colon, in base64.
fn basic_credentials(req: &HttpRequest) -> Result<Option<(String, String)>, ApiError> {
    use base64::Engine;
    let Some(value) = req.headers().get(actix_web::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let Some(encoded) = value.to_str().ok().and_then(|v| {
        v.strip_prefix("Basic ")
            .or_else(|| v.strip_prefix("basic "))
    }) else {
        return Ok(None);
    };
    let bad = || ApiError::invalid("Authorization", "is not valid HTTP Basic credentials");
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let form = |s: &str| {
        serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("v={s}"))
            .ok()
            .and_then(|mut v| v.pop())
            .map(|(_, v)| v)
    };
    Ok(Some((
        form(id).ok_or_else(bad)?,
        form(secret).ok_or_else(bad)?,
    )))
}

fn parse_body(req: &HttpRequest, body: &[u8]) -> Result<TokenRequest, ApiError> {
    let json = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if json {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::invalid("body", format!("not a valid token request: {e}")))
    } else {
        serde_urlencoded::from_bytes(body)
            .map_err(|e| ApiError::invalid("body", format!("not a valid token request: {e}")))
    }
}

/// Exchange credentials for a short-lived access token.
///
/// An API client may send its `client_id` and `client_secret` as HTTP Basic credentials
/// instead (RFC 6749 section 2.3.1). Repeated failures for one account, client or address are
/// refused with 429 and `Retry-After` for a while.
#[utoipa::path(
    tag = "accounts",
    operation_id = "createToken",
    request_body(
        content = TokenRequest,
        content_type = "application/x-www-form-urlencoded",
        description = "The grant, form-encoded as OAuth 2.0 clients send it; the same fields as a JSON object (`Content-Type: application/json`) are accepted too"
    ),
    responses(
        (status = 200, description = "A bearer token", body = TokenResponse),
        (status = 400, description = "A field is missing or invalid", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "The credentials are wrong", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts; see Retry-After", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/token")]
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let request = parse(&req, &body)?;
    let mut errors = vec![];
    let grant = required(&mut errors, "grant_type", &request.grant_type).to_string();
    let (principal, secret) = match grant.as_str() {
        "password" => (
            required(&mut errors, "username", &request.username).to_string(),
            required(&mut errors, "password", &request.password).to_string(),
        ),
        "client_credentials" => (
            required(&mut errors, "client_id", &request.client_id).to_string(),
            required(&mut errors, "client_secret", &request.client_secret).to_string(),
        ),
        "" => (String::new(), String::new()),
        _ => {
            errors.push(FieldError::new(
                "grant_type",
                "must be password or client_credentials",
            ));
            (String::new(), String::new())
        }
    };
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let address = crate::limits::client_address(&req, &state.config)
        .map(|a| a.to_string())
        .unwrap_or_default();
    let is_password = grant == "password";
    let principal_key = if is_password {
        format!("account:{}", principal.to_lowercase())
    } else {
        format!("client:{principal}")
    };
    let keys = vec![principal_key.clone(), format!("address:{address}")];
    let config = state.config.clone();
    let signer = state.keys.clone();
    let issued = state
        .db(move |conn| {
            let now = Utc::now().timestamp();
            let window = config.login_lockout_seconds;
            if let Some(wait) =
                throttle::locked(conn, &keys, now, config.login_max_failures, window)?
            {
                return Err(ApiError::TooManyRequests(wait));
            }
            let found = if is_password {
                store::user_credentials(conn, &principal)?
            } else {
                store::client_credentials(conn, &principal)?
            };
            // Verify against a dummy hash when there is no such account, so timing does not
            // tell which accounts exist.
            let hash = found
                .as_ref()
                .map_or(password::dummy_hash(), |c| c.hash.as_str());
            let valid = password::verify(&secret, hash) && found.is_some();
            let Some(who) = found.filter(|_| valid) else {
                throttle::fail(conn, &keys, now, window)?;
                return Err(ApiError::Unauthorized("the credentials are wrong".into()));
            };
            throttle::clear(conn, &principal_key)?;
            let role = Role::parse(&who.role).unwrap_or(Role::Staff);
            let scope = if role == Role::ApiClient {
                who.scopes.clone()
            } else {
                user_scopes(role).join(" ")
            };
            let claims = Claims {
                sub: who.id,
                org: who.organization_id,
                role: role.as_str().to_string(),
                scope,
                iat: now,
                nbf: now,
                exp: now + config.token_ttl,
                jti: uuid::Uuid::new_v4().to_string(),
            };
            Ok(TokenResponse {
                access_token: signer.issue(&claims),
                token_type: "Bearer".to_string(),
                expires_in: config.token_ttl,
            })
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(issued))
}
