//! `POST /webhooks`, `GET /webhooks`, `DELETE /webhooks/{id}`, `GET /webhooks/{id}/deliveries`:
//! an organisation's subscriptions, with scope `webhooks:manage`.

use actix_web::{delete, get, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::store::{self, Delivery, NewWebhook, Webhook};
use super::{sign, EVENT_TYPES};
use crate::auth::Caller;
use crate::body::body;
use crate::catalog::{path_id, Listing};
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::hsds::model::Page;
use crate::search::filters::{stored_timestamp, Params};
use crate::state::AppState;

const SCOPE: &str = "webhooks:manage";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSubscription {
    /// Where to POST events. http(s); loopback and private addresses are refused unless the
    /// deployment allows them.
    pub url: String,
    /// Any of `referral.created`, `referral.status_changed`.
    #[schema(min_items = 1)]
    pub events: Vec<String>,
}

/// A new subscription with its signing secret, which is shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedWebhook {
    #[serde(flatten)]
    pub webhook: Webhook,
    /// The HMAC-SHA256 key for `Haven-Signature`: its UTF-8 bytes, as given.
    pub secret: String,
}

/// Subscribe a URL to referral events.
#[utoipa::path(
    tag = "webhooks",
    operation_id = "createWebhook",
    description = "Scope `webhooks:manage` (org_admin, or an API client given it). Events about referrals your organisation sent or received are POSTed to `url` as JSON, signed with `Haven-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, \"<t>.<body>\")>`, with `Haven-Event-Id` (the same in every retry: de-duplicate on it). Any 2xx is success; anything else is retried with exponential backoff and jitter, up to a bounded number of attempts, in order per referral.",
    request_body = NewSubscription,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The subscription and its secret (shown once)", body = CreatedWebhook),
        (status = 400, description = "A field is invalid (including a URL that is private or does not resolve)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "No webhooks:manage scope, or no organisation", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/webhooks")]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    bytes: web::Bytes,
) -> ApiResult<HttpResponse> {
    let org = caller.acting_for(SCOPE)?;
    let new: NewSubscription = body(&bytes)?;
    let mut errors = vec![];
    let url =
        match super::address::check_url(new.url.trim(), state.config.webhook_allow_private).await {
            Ok(u) => Some(u),
            Err(why) => {
                errors.push(FieldError::new("url", why));
                None
            }
        };
    if new.url.len() > 2_000 {
        errors.push(FieldError::new("url", "must be at most 2000 characters"));
    }
    if new.events.is_empty() {
        errors.push(FieldError::new(
            "events",
            "must list at least one of referral.created, referral.status_changed",
        ));
    }
    for (i, e) in new.events.iter().enumerate() {
        if !EVENT_TYPES.contains(&e.as_str()) {
            errors.push(FieldError::new(
                format!("events[{i}]"),
                "must be referral.created or referral.status_changed",
            ));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let mut events: Vec<String> = new.events.clone();
    events.sort();
    events.dedup();
    let url = url.map(|u| u.to_string()).unwrap_or_default();
    let secret = sign::new_secret();
    let sealed = state.keyring.seal(secret.as_bytes());
    let webhook = Webhook {
        id: uuid::Uuid::new_v4().to_string(),
        url,
        events,
        created_at: stored_timestamp(chrono::Utc::now()),
    };
    let stored = webhook.clone();
    state
        .db(move |conn| {
            store::insert(
                conn,
                &NewWebhook {
                    id: &stored.id,
                    organization_id: &org,
                    url: &stored.url,
                    events: &stored.events,
                    sealed_key_id: &sealed.key_id,
                    sealed_secret: &sealed.data,
                    created_at: &stored.created_at,
                },
            )?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::Created().json(CreatedWebhook { webhook, secret }))
}

/// Your organisation's subscriptions.
#[utoipa::path(
    tag = "webhooks",
    operation_id = "listWebhooks",
    description = "Scope `webhooks:manage`. Secrets are not shown again.",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The subscriptions", body = Vec<Webhook>),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "No webhooks:manage scope, or no organisation", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/webhooks")]
pub async fn list(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    let org = caller.acting_for(SCOPE)?;
    let hooks = state.db(move |conn| Ok(store::list(conn, &org)?)).await?;
    Ok(HttpResponse::Ok().json(hooks))
}

/// Remove a subscription and its delivery log; pending deliveries are dropped.
#[utoipa::path(
    tag = "webhooks",
    operation_id = "deleteWebhook",
    description = "Scope `webhooks:manage`, your own organisation's subscription.",
    params(("id" = String, Path, format = Uuid, description = "The subscription id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "No webhooks:manage scope, or no organisation", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such subscription of yours", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/webhooks/{id}")]
pub async fn remove(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let org = caller.acting_for(SCOPE)?;
    let id = path_id(&id)?;
    let deleted = state
        .db(move |conn| Ok(store::delete(conn, &org, &id)?))
        .await?;
    if deleted {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound)
    }
}

/// A delivery's state (for the document; read as a string).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryParams {
    /// `pending`, `delivered` or `failed`.
    #[param(value_type = Option<DeliveryStatus>)]
    pub status: Option<String>,
    /// Page number, from 1.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000000)]
    pub page: Option<String>,
    /// Items per page: default 20, maximum 100.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub per_page: Option<String>,
}

/// A subscription's delivery log, newest first.
#[utoipa::path(
    tag = "webhooks",
    operation_id = "listWebhookDeliveries",
    description = "Scope `webhooks:manage`, your own organisation's subscription.",
    params(("id" = String, Path, format = Uuid, description = "The subscription id"), DeliveryParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of deliveries", body = Page<Delivery>),
        (status = 400, description = "A parameter is invalid", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "No webhooks:manage scope, or no organisation", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such subscription of yours", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/webhooks/{id}/deliveries")]
pub async fn deliveries(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    Params(params): Params<DeliveryParams>,
) -> ApiResult<HttpResponse> {
    let org = caller.acting_for(SCOPE)?;
    let id = path_id(&id)?;
    let mut errors = vec![];
    let listing = Listing::parse(&mut errors, &params.page, &params.per_page, &None);
    let status = params.status.clone();
    if let Some(s) = &status {
        if !["pending", "delivered", "failed"].contains(&s.as_str()) {
            errors.push(FieldError::new(
                "status",
                "must be pending, delivered or failed",
            ));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let (page, per_page) = (listing.page.page, listing.page.per_page);
    let (items, total) = state
        .db(move |conn| {
            if !store::owned(conn, &org, &id)? {
                return Err(ApiError::NotFound);
            }
            Ok(store::deliveries(
                conn,
                &id,
                status.as_deref(),
                page,
                per_page,
            )?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(Page::new(items, total, page, per_page)))
}
