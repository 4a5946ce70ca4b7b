//! `GET /organizations` and `GET /organizations/{id}`.

use actix_web::http::header::ETAG;
use actix_web::{get, web, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{path_id, store, views, Listing};
use crate::auth::Viewer;
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult, Problem};
use crate::hsds::model::{Organization, Page};
use crate::search::filters::{boolean, flag, words, FormatCode, Params};
use crate::state::AppState;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrganizationParams {
    /// Keywords, each of which must appear in the name or the record.
    pub search: Option<String>,
    /// `true`: each organisation's services fully nested.
    #[param(value_type = Option<bool>)]
    pub full_service: Option<String>,
    /// `true`: organisations fully nested (children, locations, services in list form).
    #[param(value_type = Option<bool>)]
    pub full: Option<String>,
    /// Page number, from 1.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000000)]
    pub page: Option<String>,
    /// Items per page: default 20, maximum 100.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub per_page: Option<String>,
    /// `json` (paged, the default) or `ndjson` (every match, one per line, unpaged).
    #[param(value_type = Option<FormatCode>)]
    pub format: Option<String>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrganizationGetParams {
    /// `true`: the organisation's services fully nested (otherwise in list form).
    #[param(value_type = Option<bool>)]
    pub full_service: Option<String>,
}

/// A fully nested organisation: children, locations and services.
fn full(
    conn: &mut DbConnection,
    org: Organization,
    full_service: bool,
    viewer: Viewer,
) -> ApiResult<Organization> {
    let mut org = org;
    org.locations = store::organization_locations(conn, &org.id)?
        .into_iter()
        .map(|l| views::location(l, viewer))
        .collect();
    let ids = store::organization_service_ids(conn, &org.id)?;
    org.services = store::services(conn, &ids)?
        .into_iter()
        .map(|s| views::service(s, viewer))
        .map(|s| {
            if full_service {
                s
            } else {
                views::service_list_item(s)
            }
        })
        .collect();
    Ok(org)
}

/// List organisations, by name.
#[utoipa::path(
    tag = "catalogue",
    operation_id = "listOrganizations",
    params(OrganizationParams),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "A page of organisations (or, with `format=ndjson`, every match, one per line)", body = Page<Organization>,
            content((Page<Organization> = "application/json"), (Organization = "application/x-ndjson"))),
        (status = 400, description = "A parameter is invalid; `errors` names it", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/organizations")]
pub async fn list(
    state: web::Data<AppState>,
    viewer: Viewer,
    Params(params): Params<OrganizationParams>,
) -> ApiResult<HttpResponse> {
    let mut errors = vec![];
    let listing = Listing::parse(&mut errors, &params.page, &params.per_page, &params.format);
    let full_service = flag(&mut errors, "full_service", &params.full_service);
    let nested = flag(&mut errors, "full", &params.full) || full_service;
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let words = words(params.search.as_deref().unwrap_or(""));
    let window = listing.window();
    let (items, total) = state
        .db(move |conn| {
            let (rows, total) = store::named_page(
                conn,
                "organization",
                |q| store::words_condition(q, &words),
                window,
            )?;
            let ids: Vec<String> = rows.into_iter().map(|(id, _)| id).collect();
            let mut found = store::organizations(conn, &ids)?;
            let mut items = Vec::with_capacity(ids.len());
            for id in &ids {
                let Some(org) = found.remove(id) else {
                    continue;
                };
                items.push(if nested {
                    full(conn, org, full_service, viewer)?
                } else {
                    views::organization_list_item(org)
                });
            }
            Ok((items, total))
        })
        .await?;
    listing.respond(items, total)
}

/// A fully nested organisation, with its locations and services.
#[utoipa::path(
    tag = "catalogue",
    operation_id = "getOrganization",
    params(("id" = String, Path, format = Uuid, description = "The organisation id"), OrganizationGetParams),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The organisation", body = Organization,
            headers(("ETag" = String, description = "The version of the organisation's own fields, for If-Match on writes"))),
        (status = 400, description = "A parameter is invalid", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/organizations/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    viewer: Viewer,
    id: web::Path<String>,
    Params(params): Params<OrganizationGetParams>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&id)?;
    let full_service = boolean("full_service", &params.full_service)
        .map_err(|e| ApiError::Invalid(vec![e]))?
        .unwrap_or(false);
    let org = state
        .db(move |conn| {
            let Some(org) = store::organizations(conn, std::slice::from_ref(&id))?.remove(&id)
            else {
                return Ok(None);
            };
            let tag = store::etag(&org);
            Ok(Some((full(conn, org, full_service, viewer)?, tag)))
        })
        .await?
        .ok_or(ApiError::NotFound)?;
    let (org, tag) = org;
    Ok(HttpResponse::Ok().insert_header((ETAG, tag)).json(org))
}
