//! The HTTP application and the `serve` command.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, DefaultHeaders};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer, ResponseError};
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::{Config as SwaggerConfig, SwaggerUi};

use crate::accounts::{api_clients, token, users};
use crate::catalog::writes::{self, locations};
use crate::catalog::{self, meta, organizations, service_at_locations, services, taxonomies};
use crate::config::Config;
use crate::db;
use crate::error::ApiError;
use crate::state::AppState;
use crate::{referrals, webhooks};

/// Registers every route and collects the OpenAPI document from the same registrations.
pub fn routes_and_spec() -> (
    App<
        impl ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<impl MessageBody>,
            Error = actix_web::Error,
            InitError = (),
        >,
    >,
    utoipa::openapi::OpenApi,
) {
    let (app, mut spec) = App::new()
        .into_utoipa_app()
        .openapi(crate::openapi::base())
        .service(meta::root)
        .service(meta::profile)
        .service(meta::healthz)
        .service(meta::readyz)
        .service(crate::observe::metrics)
        .service(services::list)
        .service(services::get)
        .service(service_at_locations::list)
        .service(service_at_locations::get)
        .service(organizations::list)
        .service(organizations::get)
        .service(taxonomies::list_taxonomies)
        .service(taxonomies::get_taxonomy)
        .service(taxonomies::list_terms)
        .service(taxonomies::get_term)
        .service(locations::get)
        .service(writes::services::create)
        .service(writes::services::replace)
        .service(writes::services::modify)
        .service(writes::services::remove)
        .service(writes::organizations::create)
        .service(writes::organizations::replace)
        .service(writes::organizations::modify)
        .service(writes::organizations::remove)
        .service(writes::locations::create)
        .service(writes::locations::replace)
        .service(writes::locations::modify)
        .service(writes::locations::remove)
        .service(writes::service_at_locations::create)
        .service(writes::service_at_locations::replace)
        .service(writes::service_at_locations::modify)
        .service(writes::service_at_locations::remove)
        .service(referrals::api::claim)
        .service(referrals::api::claim_by_id)
        .service(referrals::api::create)
        .service(referrals::api::list)
        .service(referrals::api::get)
        .service(referrals::api::change_status)
        .service(referrals::api::events)
        .service(webhooks::api::create)
        .service(webhooks::api::list)
        .service(webhooks::api::remove)
        .service(webhooks::api::deliveries)
        .service(token::create)
        .service(users::create)
        .service(users::list)
        .service(users::remove)
        .service(api_clients::create)
        .service(api_clients::list)
        .service(api_clients::remove)
        .split_for_parts();
    crate::openapi::complete(&mut spec);
    (app, spec)
}

/// The whole application over `state`.
pub fn app(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let (app, spec) = routes_and_spec();
    let max_body = state.config.max_body_bytes;
    let allowed = Arc::new(allowed_methods(&spec));
    app.app_data(web::Data::new(state))
        .app_data(web::PayloadConfig::new(max_body))
        .app_data(web::PathConfig::default().error_handler(|err, _| {
            ApiError::invalid("id", format!("the path cannot be read: {err}")).into()
        }))
        // Swagger UI would otherwise send every visitor's browser, with the document's address,
        // to swagger.io's online validator.
        .service(
            SwaggerUi::new("/docs/{_:.*}")
                .url("/openapi.json", spec)
                .config(SwaggerConfig::default().validator_url("none")),
        )
        .route(
            "/docs",
            web::get().to(|| async {
                HttpResponse::PermanentRedirect()
                    .insert_header(("Location", "/docs/"))
                    .finish()
            }),
        )
        .default_service(web::to(move |req: HttpRequest| {
            let allowed = allowed.clone();
            async move { unrouted(&req, &allowed) }
        }))
        // Innermost first: limits see the route; CORS headers go on every answer, 429s
        // included; the request id and metrics see the final status.
        .wrap(from_fn(crate::limits::guard))
        .wrap(from_fn(head_as_get))
        // The contract promises `Access-Control-Allow-Origin: *` on public reads. CORS sends it
        // only when a request names its Origin, as browsers do; this sends it to every caller,
        // a partner's script included, on every answer. Bearer tokens are not cookies, so the
        // wildcard gives no site anything.
        .wrap(DefaultHeaders::new().add(("Access-Control-Allow-Origin", "*")))
        .wrap(
            Cors::default()
                .allow_any_origin()
                .send_wildcard()
                .allow_any_method()
                .allow_any_header()
                .expose_any_header()
                .max_age(86_400),
        )
        .wrap(from_fn(crate::observe::track))
}

/// The methods each route pattern answers, from the OpenAPI document (which the same
/// registrations made), for `Allow` headers.
fn allowed_methods(spec: &utoipa::openapi::OpenApi) -> HashMap<String, String> {
    spec.paths
        .paths
        .iter()
        .map(|(path, item)| {
            let methods: Vec<&str> = [
                ("GET", item.get.is_some()),
                ("HEAD", item.get.is_some()),
                ("POST", item.post.is_some()),
                ("PUT", item.put.is_some()),
                ("PATCH", item.patch.is_some()),
                ("DELETE", item.delete.is_some()),
            ]
            .into_iter()
            .filter_map(|(m, has)| has.then_some(m))
            .collect();
            (path.clone(), methods.join(", "))
        })
        .collect()
}

/// What no route answered: a method the path does not take is a 405 with `Allow`; anything
/// else is a 404.
fn unrouted(req: &HttpRequest, allowed: &HashMap<String, String>) -> HttpResponse {
    let methods = req.match_pattern().and_then(|p| allowed.get(&p));
    match methods {
        Some(methods) => {
            let mut res = ApiError::Http(
                actix_web::http::StatusCode::METHOD_NOT_ALLOWED,
                format!(
                    "{} is not a method of this path; it takes {methods}",
                    req.method()
                ),
            )
            .error_response();
            if let Ok(value) = actix_web::http::header::HeaderValue::from_str(methods) {
                res.headers_mut()
                    .insert(actix_web::http::header::ALLOW, value);
            }
            res
        }
        None => ApiError::Http(
            actix_web::http::StatusCode::NOT_FOUND,
            format!(
                "There is no {} here; /openapi.json lists the paths",
                req.path()
            ),
        )
        .error_response(),
    }
}

/// HTTP asks every server to answer `HEAD` as it answers `GET`, without the body: the request
/// is routed as a `GET`, and the server leaves out the body of the answer to a `HEAD`.
async fn head_as_get(
    mut req: ServiceRequest,
    next: actix_web::middleware::Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if req.method() == actix_web::http::Method::HEAD {
        req.head_mut().method = actix_web::http::Method::GET;
    }
    next.call(req).await
}

/// Starts the jobs that run beside the API on the current runtime: webhook delivery, the
/// purge of client details, forgetting idle rate-limit buckets and, with
/// `HAVEN_SEARCH_MEMORY`, keeping the near-here index in step (and, on PostgreSQL, the lists of
/// which texts each word is in: `search::postings`). Returns the webhook worker, which
/// stops (finishing the deliveries it holds) when `state.stopping` is set.
pub fn background(state: AppState) -> actix_web::rt::task::JoinHandle<()> {
    let worker = actix_web::rt::spawn(crate::webhooks::worker::run(state.clone()));
    actix_web::rt::spawn(crate::referrals::purge::run(state.clone()));
    actix_web::rt::spawn(crate::limits::tidy(state.clone()));
    if state.nearby.is_some() {
        let backend = crate::db::Backend::of_url(&state.config.database_url);
        if matches!(backend, Ok(crate::db::Backend::Postgres)) {
            actix_web::rt::spawn(crate::search::postings::follow(state.clone()));
        }
        actix_web::rt::spawn(crate::search::nearby::follow(state));
    }
    worker
}

/// Opens the database, migrates it and writes Haven's vocabularies. A PostgreSQL server that
/// is not up yet (containers starting together) is waited for, up to a minute.
pub fn prepare(config: &Config) -> anyhow::Result<db::Pool> {
    let timeout = Duration::from_secs(config.db_timeout);
    let started = Instant::now();
    let pool = loop {
        match db::pool(&config.database_url, config.db_pool_size, timeout) {
            Ok(pool) => break pool,
            Err(e)
                if db::Backend::of_url(&config.database_url)? == db::Backend::Postgres
                    && started.elapsed() < Duration::from_secs(60) =>
            {
                tracing::warn!(error = %format!("{e:#}"), "waiting for the database");
                std::thread::sleep(Duration::from_secs(2));
            }
            Err(e) => return Err(e),
        }
    };
    let mut conn = pool.get()?;
    db::migrate(&mut conn)?;
    catalog::seed::vocabularies(&mut conn)?;
    Ok(pool)
}

/// `haven serve`: migrate, load the demo directory into an empty database when asked, listen.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let pool = prepare(&config)?;
    if config.demo {
        let mut conn = pool.get()?;
        if catalog::store::is_empty(&mut conn)? {
            let report = catalog::seed::demo(&mut conn)?;
            tracing::info!(
                services = report.created,
                "loaded the built-in demo directory"
            );
        }
    }
    if !config.jwt_keys_configured {
        tracing::warn!(
            "HAVEN_JWT_KEYS is not set: tokens are signed with a key made up at start, so they \
             end with this process and other instances will not accept them"
        );
    }
    let state = AppState::new(pool, config.clone())?;
    let worker = background(state.clone());
    tracing::info!(addr = %config.addr, database = %db::redact(&config.database_url), "Haven is listening");
    // On SIGTERM or SIGINT the server stops accepting, and requests in flight get
    // HAVEN_SHUTDOWN_TIMEOUT seconds to finish.
    let app_state = state.clone();
    HttpServer::new(move || app(app_state.clone()))
        .shutdown_timeout(config.shutdown_timeout)
        .bind(config.addr)?
        .run()
        .await?;
    // Then the webhook worker finishes the deliveries it holds (each bounded by the receiver
    // timeout) and records them. One cut off here is sent again when its lease runs out.
    state.stopping.send_replace(true);
    let grace = Duration::from_secs(config.webhook_timeout as u64 + 5);
    if tokio::time::timeout(grace, worker).await.is_err() {
        tracing::warn!(
            "stopped with webhook deliveries in flight; they go again after their lease"
        );
    }
    tracing::info!("Haven stopped");
    Ok(())
}
