//! The referral endpoints. Scopes: `referrals:write` to send, move and claim, `referrals:read`
//! to read. Only the sending and receiving organisations see a referral; to anyone else it is
//! not there.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::Utc;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use utoipa::IntoParams;

use super::lifecycle::Status;
use super::model::{Claim, Event, GoalMet, NewReferral, Referral, StatusChange};
use super::{store, Acting, Idempotency};
use crate::auth::Caller;
use crate::body::private_body;
use crate::catalog::{path_id, Listing};
use crate::crypto::hex;
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::hsds::model::Page;
use crate::hsds::validate::parse_date_time;
use crate::search::filters::{stored_timestamp, Params};
use crate::state::AppState;

const READ: &str = "referrals:read";
const WRITE: &str = "referrals:write";

/// The `Idempotency-Key` header, checked, with the digest of the request it came with.
fn idempotency(req: &HttpRequest, new: &NewReferral) -> ApiResult<Option<Idempotency>> {
    let Some(value) = req.headers().get("Idempotency-Key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 255)
        .ok_or_else(|| {
            ApiError::invalid(
                "Idempotency-Key",
                "must be 1 to 255 visible ASCII characters",
            )
        })?;
    // The parsed body, re-serialised: the same request with other spacing or key order is the
    // same request.
    let canonical = serde_json::to_vec(new).map_err(|e| ApiError::Internal(e.into()))?;
    Ok(Some(Idempotency {
        key: key.to_string(),
        digest: hex(&Sha256::digest(&canonical)),
    }))
}

/// Refer a client to another organisation's service.
#[utoipa::path(
    tag = "referrals",
    operation_id = "createReferral",
    description = "Scope `referrals:write`. The receiving organisation is the service's. `client` is accepted only with `consent` (given, with purposes and an expiry in the future); without `client` the referral is anonymous and the answer carries a one-time `claim_code` for the client to show the receiving organisation. A retry with the same `Idempotency-Key` and body answers the original referral and creates nothing; the same key with another body is a 422.",
    params(("Idempotency-Key" = Option<String>, Header, description = "Any unique string (a UUID is good), so a retried request creates one referral")),
    request_body = NewReferral,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The referral (also for a retry with the same key and body)", body = Referral),
        (status = 400, description = "A field is malformed; `errors` names each", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "No referrals:write scope, or no organisation", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Client details without valid consent, a service that is not active or not there, or an Idempotency-Key reused for another body", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/referrals")]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    bytes: web::Bytes,
) -> ApiResult<HttpResponse> {
    let org = caller.acting_for(WRITE)?;
    let new: NewReferral = private_body(&bytes)?;
    let idem = idempotency(&req, &new)?;
    let keys = state.keyring.clone();
    let subject = caller.subject.clone();
    let (referral, _fresh) = state
        .db(move |conn| {
            super::create(
                conn,
                &keys,
                Acting {
                    organization_id: &org,
                    subject: &subject,
                },
                new,
                idem,
                Utc::now(),
            )
        })
        .await?;
    state.outbox.notify_one();
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/referrals/{}", referral.id)))
        .json(referral))
}

/// Which referrals of the caller's organisation to list (for the document; read as a string).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum Direction {
    Sent,
    Received,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReferralParams {
    /// `sent` or `received`; both when left out.
    #[param(value_type = Option<Direction>)]
    pub direction: Option<String>,
    /// Statuses, comma-separated (any of).
    #[param(value_type = Option<Vec<Status>>, style = Form, explode = false)]
    pub status: Option<String>,
    /// Only referrals changed after this instant (RFC 3339). Items come least recently updated
    /// first, so polling with the last item's `updated_at` sees every change.
    #[param(format = DateTime)]
    pub updated_after: Option<String>,
    /// `yes`, `partly`, `no`, comma-separated (any of): completed referrals by whether the
    /// client's own goal was met.
    #[param(value_type = Option<Vec<GoalMet>>, style = Form, explode = false)]
    pub client_goal_met: Option<String>,
    /// Page number, from 1.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000000)]
    pub page: Option<String>,
    /// Items per page: default 20, maximum 100.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub per_page: Option<String>,
}

fn list_of<T>(
    errors: &mut Vec<FieldError>,
    field: &str,
    value: &Option<String>,
    parse: impl Fn(&str) -> Option<T>,
    expected: &str,
) -> Vec<String> {
    let mut out = vec![];
    for v in value
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        if parse(v).is_some() {
            out.push(v.to_string());
        } else {
            errors.push(FieldError::new(field, format!("must be any of {expected}")));
            break;
        }
    }
    out
}

/// Referrals your organisation sent or received.
#[utoipa::path(
    tag = "referrals",
    operation_id = "listReferrals",
    description = "Scope `referrals:read`.",
    params(ReferralParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of referrals", body = Page<Referral>),
        (status = 400, description = "A parameter is invalid", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "No referrals:read scope, or no organisation", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/referrals")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    Params(params): Params<ReferralParams>,
) -> ApiResult<HttpResponse> {
    let org = caller.acting_for(READ)?;
    let mut errors = vec![];
    let listing = Listing::parse(&mut errors, &params.page, &params.per_page, &None);
    let (sent, received) = match params.direction.as_deref().map(str::trim) {
        None | Some("") => (true, true),
        Some("sent") => (true, false),
        Some("received") => (false, true),
        Some(_) => {
            errors.push(FieldError::new("direction", "must be sent or received"));
            (true, true)
        }
    };
    let statuses = list_of(
        &mut errors,
        "status",
        &params.status,
        Status::parse,
        "requested, accepted, rejected, cancelled, in_progress, on_hold, completed, failed",
    );
    let goal_met = list_of(
        &mut errors,
        "client_goal_met",
        &params.client_goal_met,
        GoalMet::parse,
        "yes, partly, no",
    );
    let updated_after = match params.updated_after.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(v) => match parse_date_time(v) {
            Some(t) => Some(stored_timestamp(t.with_timezone(&Utc))),
            None => {
                errors.push(FieldError::new(
                    "updated_after",
                    "must be an RFC 3339 date-time",
                ));
                None
            }
        },
    };
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let filter = store::Filter {
        organization_id: org,
        sent,
        received,
        statuses,
        goal_met,
        updated_after,
    };
    let (page, per_page) = (listing.page.page, listing.page.per_page);
    let keys = state.keyring.clone();
    let (items, total) = state
        .db(move |conn| {
            let (rows, total) = store::list(conn, &filter, page, per_page)?;
            let now = Utc::now();
            let items = rows
                .iter()
                .map(|r| super::view(r, &keys, now, false))
                .collect::<ApiResult<Vec<_>>>()?;
            Ok((items, total))
        })
        .await?;
    Ok(HttpResponse::Ok().json(Page::new(items, total, page, per_page)))
}

/// One referral your organisation sent or received.
#[utoipa::path(
    tag = "referrals",
    operation_id = "getReferral",
    description = "Scope `referrals:read`. Anyone but the sending and receiving organisations gets 404.",
    params(("id" = String, Path, format = Uuid, description = "The referral id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The referral", body = Referral),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "No referrals:read scope, or no organisation", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such referral of yours", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/referrals/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&id)?;
    let org = caller.acting_on_record(READ)?;
    let keys = state.keyring.clone();
    let referral = state
        .db(move |conn| {
            let row = super::visible(conn, &org, &id)?;
            super::view(&row, &keys, Utc::now(), false)
        })
        .await?;
    Ok(HttpResponse::Ok().json(referral))
}

/// Move a referral on.
#[utoipa::path(
    tag = "referrals",
    operation_id = "changeReferralStatus",
    description = "Scope `referrals:write`. States: `requested → accepted | rejected | cancelled`; `accepted → in_progress | on_hold | completed | cancelled`; `in_progress → on_hold | completed | failed | cancelled`; `on_hold → in_progress | failed | cancelled`; `rejected, cancelled, completed, failed` are final. The receiving organisation sets every state but `cancelled`, which the sending organisation sets (403 for the other side). `reason` is required for `rejected`, `cancelled` and `failed`; `outcome` goes only with `completed` or `failed` (a client's own goal may be partly met by a referral that failed). An illegal move, or a `version` other than the referral's, is a 409 and changes nothing.",
    params(("id" = String, Path, format = Uuid, description = "The referral id")),
    request_body = StatusChange,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The updated referral", body = Referral),
        (status = 400, description = "A field is invalid or missing (reason, outcome)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "No referrals:write scope, or the other side sets this status", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such referral of yours", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "An illegal move, or a stale version", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/referrals/{id}/status")]
pub async fn change_status(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    bytes: web::Bytes,
) -> ApiResult<HttpResponse> {
    let id = path_id(&id)?;
    let org = caller.acting_on_record(WRITE)?;
    let change: StatusChange = private_body(&bytes)?;
    let keys = state.keyring.clone();
    let subject = caller.subject.clone();
    let referral = state
        .db(move |conn| {
            super::change_status(
                conn,
                &keys,
                Acting {
                    organization_id: &org,
                    subject: &subject,
                },
                &id,
                change,
                Utc::now(),
            )
        })
        .await?;
    state.outbox.notify_one();
    Ok(HttpResponse::Ok().json(referral))
}

/// A referral's history, oldest first.
#[utoipa::path(
    tag = "referrals",
    operation_id = "listReferralEvents",
    description = "Scope `referrals:read`. Append-only; it outlives the purge of client details.",
    params(("id" = String, Path, format = Uuid, description = "The referral id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The events", body = Vec<Event>),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "No referrals:read scope, or no organisation", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such referral of yours", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/referrals/{id}/events")]
pub async fn events(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&id)?;
    let org = caller.acting_on_record(READ)?;
    let events = state
        .db(move |conn| {
            super::visible(conn, &org, &id)?;
            Ok(store::events(conn, &id)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(events))
}

/// Redeem an anonymous referral's claim code.
#[utoipa::path(
    tag = "referrals",
    operation_id = "claimReferral",
    description = "Scope `referrals:write`, for the receiving organisation: the client shows the code, staff enter it (case, spaces and dashes do not matter). A code works once (409 after); a code of a referral to another organisation is a 404.",
    request_body = Claim,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The referral", body = Referral),
        (status = 400, description = "The body is malformed", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "No referrals:write scope, or no organisation", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No referral to your organisation has this code", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The code was already redeemed", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/referrals/claim")]
pub async fn claim(
    state: web::Data<AppState>,
    caller: Caller,
    bytes: web::Bytes,
) -> ApiResult<HttpResponse> {
    redeem(state, caller, None, &bytes).await
}

/// Redeem the claim code of one anonymous referral.
#[utoipa::path(
    tag = "referrals",
    operation_id = "claimReferralById",
    description = "As `POST /referrals/claim`, for a referral the receiving organisation already has in hand: the code must be this referral's (404 otherwise).",
    params(("id" = String, Path, format = Uuid, description = "The referral id")),
    request_body = Claim,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The referral", body = Referral),
        (status = 400, description = "The body is malformed", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "No referrals:write scope, or no organisation", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not a referral to your organisation with this code", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The code was already redeemed", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/referrals/{id}/claim")]
pub async fn claim_by_id(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    bytes: web::Bytes,
) -> ApiResult<HttpResponse> {
    let id = path_id(&id)?;
    redeem(state, caller, Some(id), &bytes).await
}

async fn redeem(
    state: web::Data<AppState>,
    caller: Caller,
    id: Option<String>,
    bytes: &[u8],
) -> ApiResult<HttpResponse> {
    // By id it is about one referral, as the other paths with an id are.
    let org = match id {
        Some(_) => caller.acting_on_record(WRITE)?,
        None => caller.acting_for(WRITE)?,
    };
    let body: Claim = private_body(bytes)?;
    let keys = state.keyring.clone();
    let subject = caller.subject.clone();
    let referral = state
        .db(move |conn| {
            super::claim(
                conn,
                &keys,
                Acting {
                    organization_id: &org,
                    subject: &subject,
                },
                id.as_deref(),
                &body.claim_code,
                Utc::now(),
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(referral))
}
