//! One error type for the whole API, rendered as RFC 9457 `application/problem+json`.
//!
//! Handlers return `Result<_, ApiError>`. Anything unexpected becomes a logged 500 with a
//! generic message: internal error text never reaches a client.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

/// One invalid field or parameter, named the way the caller spelled it
/// (`lat`, `cost`, `service_at_locations[0].location.latitude`).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("invalid request: {}", summary(.0))]
    Invalid(Vec<FieldError>),
    /// Well-formed, but Haven will not act on it (client details without consent, a service
    /// that is closed, an idempotency key reused for another body): a 422.
    #[error("unprocessable: {}", summary(.0))]
    Unprocessable(Vec<FieldError>),
    #[error("not found")]
    NotFound,
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("precondition failed")]
    PreconditionFailed,
    #[error("too many requests; retry after {0} s")]
    TooManyRequests(i64),
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// The body is over `HAVEN_MAX_BODY_BYTES` (the limit, in bytes).
    #[error("request body over {0} bytes")]
    TooLarge(usize),
    /// The request took longer than `HAVEN_REQUEST_TIMEOUT` (the limit, in seconds).
    #[error("request took over {0} s")]
    Timeout(u64),
    /// A status the web framework chose (an unsupported media type, say), as a problem.
    #[error("{0}: {1}")]
    Http(StatusCode, String),
    #[error("internal error: {0}")]
    Internal(anyhow::Error),
}

/// Seconds a client is asked to wait before retrying after a 503.
const UNAVAILABLE_RETRY_AFTER: u32 = 5;

impl From<anyhow::Error> for ApiError {
    /// An error from deep in a store function is a 500, unless the database being out of
    /// reach is behind it: that is an outage, a 503 the caller may retry.
    fn from(e: anyhow::Error) -> Self {
        let lost = e.chain().any(|cause| {
            cause
                .downcast_ref::<diesel::result::Error>()
                .is_some_and(is_unavailable)
                || cause.downcast_ref::<r2d2::Error>().is_some()
        });
        if lost {
            ApiError::Unavailable(format!("{e:#}"))
        } else {
            ApiError::Internal(e)
        }
    }
}

/// Whether a database error means the database is out of reach (the server stopped, the
/// network failed, or SQLite's write lock stayed busy past its timeout) rather than a fault in
/// the query.
fn is_unavailable(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match e {
        Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => true,
        Error::DatabaseError(_, info) => {
            let m = info.message();
            m.contains("server closed the connection")
                || m.contains("no connection to the server")
                || m.contains("terminating connection")
                || m.contains("connection refused")
                || m.contains("database is locked")
        }
        _ => false,
    }
}

fn summary(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

impl ApiError {
    /// A 400 naming one field or parameter.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Invalid(vec![FieldError::new(field, message)])
    }

    /// A 422 naming one field.
    pub fn unprocessable(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Unprocessable(vec![FieldError::new(field, message)])
    }

    pub fn problem(&self) -> Problem {
        let status = self.status_code();
        let (kind, title, detail, errors) = match self {
            ApiError::Invalid(errors) => (
                "https://haven.example/problems/invalid-request",
                "Invalid request",
                summary(errors),
                errors.clone(),
            ),
            ApiError::Unprocessable(errors) => (
                "https://haven.example/problems/unprocessable",
                "Unprocessable request",
                summary(errors),
                errors.clone(),
            ),
            ApiError::NotFound => (
                "https://haven.example/problems/not-found",
                "Not found",
                "No record with that id is visible to you.".to_string(),
                vec![],
            ),
            ApiError::Unauthorized(why) => (
                "https://haven.example/problems/unauthorized",
                "Unauthorized",
                why.clone(),
                vec![],
            ),
            ApiError::Forbidden(why) => (
                "https://haven.example/problems/forbidden",
                "Forbidden",
                why.clone(),
                vec![],
            ),
            ApiError::Conflict(why) => (
                "https://haven.example/problems/conflict",
                "Conflict",
                why.clone(),
                vec![],
            ),
            ApiError::PreconditionFailed => (
                "https://haven.example/problems/precondition-failed",
                "Precondition failed",
                "The record changed since the version in If-Match; read it again and retry."
                    .to_string(),
                vec![],
            ),
            ApiError::TooManyRequests(seconds) => (
                "https://haven.example/problems/too-many-requests",
                "Too many requests",
                format!("Too many attempts; try again in {seconds} seconds."),
                vec![],
            ),
            ApiError::Unavailable(_) => (
                "https://haven.example/problems/unavailable",
                "Service unavailable",
                "The database is not reachable; try again shortly.".to_string(),
                vec![],
            ),
            ApiError::TooLarge(limit) => (
                "https://haven.example/problems/too-large",
                "Request body too large",
                format!("The body is larger than this server accepts ({limit} bytes)."),
                vec![FieldError::new("body", format!("at most {limit} bytes"))],
            ),
            ApiError::Timeout(seconds) => (
                "https://haven.example/problems/timeout",
                "Request timed out",
                format!("The request took longer than {seconds} seconds; try again shortly."),
                vec![],
            ),
            ApiError::Http(status, detail) => (
                "https://haven.example/problems/http",
                status.canonical_reason().unwrap_or("Error"),
                detail.clone(),
                vec![],
            ),
            ApiError::Internal(_) => (
                "https://haven.example/problems/internal",
                "Internal error",
                "Something went wrong on our side; it has been logged.".to_string(),
                vec![],
            ),
        };
        Problem {
            kind: kind.to_string(),
            title: title.to_string(),
            status: status.as_u16(),
            detail,
            errors,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Invalid(_) => StatusCode::BAD_REQUEST,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) | ApiError::Timeout(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Http(status, _) => *status,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(e) = self {
            tracing::error!(error = %e, "internal error");
        }
        if let ApiError::Unavailable(e) = self {
            tracing::warn!(error = %e, "database unavailable");
        }
        let mut res = HttpResponse::build(self.status_code());
        match self {
            ApiError::Unauthorized(_) => {
                res.insert_header(("WWW-Authenticate", "Bearer"));
            }
            ApiError::TooManyRequests(seconds) => {
                res.insert_header(("Retry-After", seconds.max(&1).to_string()));
            }
            ApiError::Unavailable(_) | ApiError::Timeout(_) => {
                res.insert_header(("Retry-After", UNAVAILABLE_RETRY_AFTER.to_string()));
            }
            _ => {}
        }
        res.content_type("application/problem+json")
            .json(self.problem())
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        anyhow::Error::from(e).into()
    }
}

impl From<r2d2::Error> for ApiError {
    fn from(e: r2d2::Error) -> Self {
        ApiError::Unavailable(e.to_string())
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        ApiError::Internal(anyhow::anyhow!("blocking task failed: {e}"))
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
