//! `GET /taxonomies`, `/taxonomies/{id}`, `/taxonomy_terms`, `/taxonomy_terms/{id}`.

use actix_web::{get, web, HttpResponse};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

use super::{path_id, store, Listing};
use crate::db::Sql;
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::hsds::model::{Page, Taxonomy, TaxonomyTerm};
use crate::search::filters::{flag, words, FormatCode, Params};
use crate::state::AppState;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TaxonomyParams {
    /// Keywords, each of which must appear in the name or the record.
    pub search: Option<String>,
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
pub struct TermParams {
    /// Keywords, each of which must appear in the name or the record.
    pub search: Option<String>,
    /// Page number, from 1.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000000)]
    pub page: Option<String>,
    /// Items per page: default 20, maximum 100.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub per_page: Option<String>,
    /// `json` (paged, the default) or `ndjson` (every match, one per line, unpaged).
    #[param(value_type = Option<FormatCode>)]
    pub format: Option<String>,
    /// Terms of this taxonomy.
    #[param(value_type = Option<String>, format = Uuid)]
    pub taxonomy_id: Option<String>,
    /// `true`: only terms with no parent.
    #[param(value_type = Option<bool>)]
    pub top_only: Option<String>,
    /// Terms whose parent is this term.
    #[param(value_type = Option<String>, format = Uuid)]
    pub parent_id: Option<String>,
}

fn uuid_filter(errors: &mut Vec<FieldError>, field: &str, v: &Option<String>) -> Option<String> {
    crate::search::filters::uuid_value(field, v)
        .map_err(|e| errors.push(e))
        .ok()?
}

/// One taxonomy or term by id, or a 404.
async fn one<T: DeserializeOwned + Serialize>(
    state: &AppState,
    table: &'static str,
    id: &str,
) -> ApiResult<HttpResponse> {
    let id = path_id(id)?;
    let (rows, _) = state
        .db(move |conn| {
            Ok(store::named_page(
                conn,
                table,
                |q: &mut Sql| {
                    q.push(" AND id = ").bind(id.clone());
                },
                None,
            )?)
        })
        .await?;
    let found = parse_docs::<T>(rows)?.pop().ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(found))
}

fn parse_docs<T: DeserializeOwned>(rows: Vec<(String, String)>) -> ApiResult<Vec<T>> {
    rows.into_iter()
        .map(|(_, doc)| serde_json::from_str(&doc).map_err(|e| ApiError::Internal(e.into())))
        .collect()
}

/// List taxonomies.
#[utoipa::path(
    tag = "catalogue",
    operation_id = "listTaxonomies",
    params(TaxonomyParams),
    responses(
        (status = 200, description = "A page of taxonomies", body = Page<Taxonomy>,
            content((Page<Taxonomy> = "application/json"), (Taxonomy = "application/x-ndjson"))),
        (status = 400, description = "A parameter is invalid; `errors` names it", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/taxonomies")]
pub async fn list_taxonomies(
    state: web::Data<AppState>,
    Params(params): Params<TaxonomyParams>,
) -> ApiResult<HttpResponse> {
    let mut errors = vec![];
    let listing = Listing::parse(&mut errors, &params.page, &params.per_page, &params.format);
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let words = words(params.search.as_deref().unwrap_or(""));
    let window = listing.window();
    let (rows, total) = state
        .db(move |conn| {
            Ok(store::named_page(
                conn,
                "taxonomy",
                |q| store::words_condition(q, &words),
                window,
            )?)
        })
        .await?;
    listing.respond(parse_docs::<Taxonomy>(rows)?, total)
}

/// A taxonomy.
#[utoipa::path(
    tag = "catalogue",
    operation_id = "getTaxonomy",
    params(("id" = String, Path, format = Uuid, description = "The taxonomy id")),
    responses(
        (status = 200, description = "The taxonomy", body = Taxonomy),
        (status = 400, description = "The id is not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such taxonomy", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/taxonomies/{id}")]
pub async fn get_taxonomy(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    one::<Taxonomy>(&state, "taxonomy", &id).await
}

/// List taxonomy terms.
#[utoipa::path(
    tag = "catalogue",
    operation_id = "listTaxonomyTerms",
    params(TermParams),
    responses(
        (status = 200, description = "A page of taxonomy terms", body = Page<TaxonomyTerm>,
            content((Page<TaxonomyTerm> = "application/json"), (TaxonomyTerm = "application/x-ndjson"))),
        (status = 400, description = "A parameter is invalid; `errors` names it", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/taxonomy_terms")]
pub async fn list_terms(
    state: web::Data<AppState>,
    Params(params): Params<TermParams>,
) -> ApiResult<HttpResponse> {
    let mut errors = vec![];
    let listing = Listing::parse(&mut errors, &params.page, &params.per_page, &params.format);
    let top_only = flag(&mut errors, "top_only", &params.top_only);
    let taxonomy_id = uuid_filter(&mut errors, "taxonomy_id", &params.taxonomy_id);
    let parent_id = uuid_filter(&mut errors, "parent_id", &params.parent_id);
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let words = words(params.search.as_deref().unwrap_or(""));
    let window = listing.window();
    let (rows, total) = state
        .db(move |conn| {
            let filter = |q: &mut Sql| {
                store::words_condition(q, &words);
                if let Some(t) = &taxonomy_id {
                    q.push(" AND taxonomy_id = ").bind(t.clone());
                }
                if let Some(p) = &parent_id {
                    q.push(" AND parent_id = ").bind(p.clone());
                }
                if top_only {
                    q.push(" AND parent_id IS NULL");
                }
            };
            Ok(store::named_page(conn, "taxonomy_term", filter, window)?)
        })
        .await?;
    listing.respond(parse_docs::<TaxonomyTerm>(rows)?, total)
}

/// A taxonomy term.
#[utoipa::path(
    tag = "catalogue",
    operation_id = "getTaxonomyTerm",
    params(("id" = String, Path, format = Uuid, description = "The taxonomy term id")),
    responses(
        (status = 200, description = "The taxonomy term", body = TaxonomyTerm),
        (status = 400, description = "The id is not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such taxonomy term", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/taxonomy_terms/{id}")]
pub async fn get_term(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    one::<TaxonomyTerm>(&state, "taxonomy_term", &id).await
}
