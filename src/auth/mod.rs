//! Who is calling: token issue and verification, password hashing, the caller extractor, and
//! the roles and scopes that decide what a caller may do.

pub mod jwt;
pub mod password;
pub mod throttle;

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};

use crate::error::ApiError;
use crate::state::AppState;

/// A caller's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The platform: creates organisations and their first org_admin.
    Admin,
    /// Manages its own organisation's users and API clients.
    OrgAdmin,
    Staff,
    /// A partner system, with the scopes it was given.
    ApiClient,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::OrgAdmin => "org_admin",
            Role::Staff => "staff",
            Role::ApiClient => "api_client",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "admin" => Role::Admin,
            "org_admin" => Role::OrgAdmin,
            "staff" => Role::Staff,
            "api_client" => Role::ApiClient,
            _ => return None,
        })
    }
}

/// What an API client may be allowed to do.
pub const SCOPES: [&str; 4] = [
    "catalog:write",
    "referrals:read",
    "referrals:write",
    "webhooks:manage",
];

/// The scopes a user's token carries: what their role allows.
pub fn user_scopes(role: Role) -> Vec<&'static str> {
    match role {
        Role::Admin | Role::OrgAdmin => SCOPES.to_vec(),
        Role::Staff => vec!["catalog:write", "referrals:read", "referrals:write"],
        Role::ApiClient => vec![],
    }
}

/// An authenticated caller, from a verified bearer token.
#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    pub subject: String,
    pub organization_id: Option<String>,
    pub role: Role,
    pub scopes: Vec<String>,
}

impl Caller {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// Whether the caller acts for `organization_id`.
    pub fn belongs_to(&self, organization_id: &str) -> bool {
        self.organization_id.as_deref() == Some(organization_id)
    }

    /// Managing an organisation's accounts: its org_admin, or the platform admin. Anyone else is
    /// told the organisation is not there.
    pub fn may_manage(&self, organization_id: &str) -> Result<(), ApiError> {
        if self.is_admin() || (self.role == Role::OrgAdmin && self.belongs_to(organization_id)) {
            Ok(())
        } else if self.belongs_to(organization_id) {
            Err(ApiError::Forbidden(
                "only an org_admin may manage accounts".into(),
            ))
        } else {
            Err(ApiError::NotFound)
        }
    }

    /// The organisation the caller acts for with `scope`: a token without the scope, or one of
    /// the platform admin (who belongs to no organisation), is refused.
    pub fn acting_for(&self, scope: &str) -> Result<String, ApiError> {
        if !self.has_scope(scope) {
            return Err(ApiError::Forbidden(format!(
                "the token lacks the {scope} scope"
            )));
        }
        self.organization_id.clone().ok_or_else(|| {
            ApiError::Forbidden("only an organisation's users and API clients may do this".into())
        })
    }

    /// `acting_for`, for a request about one record of an organisation (a referral): a caller
    /// that acts for no organisation is told it is not found, as any caller outside the
    /// record's organisations is, so the answer does not say whether it exists.
    pub fn acting_on_record(&self, scope: &str) -> Result<String, ApiError> {
        if self.has_scope(scope) && self.organization_id.is_none() {
            return Err(ApiError::NotFound);
        }
        self.acting_for(scope)
    }

    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "only a platform admin may do this".into(),
            ))
        }
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Caller, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(caller(req))
    }
}

/// Who reads the catalogue: the public, or an authenticated partner, who sees confidential
/// locations exactly. No token is the public; a token that does not verify is a 401, so a
/// partner whose token expired learns it rather than silently getting the public view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Viewer {
    Public,
    Partner,
}

impl FromRequest for Viewer {
    type Error = ApiError;
    type Future = Ready<Result<Viewer, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(if req.headers().contains_key("authorization") {
            caller(req).map(|_| Viewer::Partner)
        } else {
            Ok(Viewer::Public)
        })
    }
}

fn caller(req: &HttpRequest) -> Result<Caller, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no application state")))?;
    let header = req
        .headers()
        .get("authorization")
        .ok_or_else(|| ApiError::Unauthorized("a bearer token is required".into()))?;
    let token = header
        .to_str()
        .ok()
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(str::trim)
        .ok_or_else(|| {
            ApiError::Unauthorized("the Authorization header must be `Bearer TOKEN`".into())
        })?;
    let claims = state.keys.verify(token).map_err(|e| {
        tracing::info!(reason = %e, "token refused");
        ApiError::Unauthorized("the token is invalid or expired".into())
    })?;
    let role = Role::parse(&claims.role)
        .ok_or_else(|| ApiError::Unauthorized("the token is invalid or expired".into()))?;
    Ok(Caller {
        subject: claims.sub,
        organization_id: claims.org,
        role,
        scopes: claims
            .scope
            .split_whitespace()
            .map(str::to_string)
            .collect(),
    })
}
