//! What operators see: a request id on every request and its log line, and Prometheus metrics.
//!
//! Logs and metrics name the route pattern (`/services/{id}`), never the path or the query
//! string: what people search for, and where, stays private, and the label sets stay bounded.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{get, web, HttpMessage, HttpRequest, HttpResponse};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use tracing::Instrument;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The header that carries the request id, both ways.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Request latency buckets, in seconds: from a cached search to a slow write.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The counters and gauges of one instance. Each server has its own registry, so the test
/// servers in one process do not count each other's requests.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    /// Webhook delivery attempts by outcome: `delivered`, `failed` (will retry), `gave_up`.
    pub webhook_deliveries: IntCounterVec,
    /// Requests refused by a rate limit, by limit (`search`, `token`).
    pub rate_limited: IntCounterVec,
    pool: IntGaugeVec,
    pool_max: IntGauge,
    queue_depth: IntGauge,
    database_up: IntGauge,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("haven_http_requests_total", "HTTP requests answered"),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "haven_http_request_duration_seconds",
                "Time to answer an HTTP request (to the response head)",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        let webhook_deliveries = IntCounterVec::new(
            Opts::new(
                "haven_webhook_deliveries_total",
                "Webhook delivery attempts by outcome: delivered, failed (to be retried), gave_up",
            ),
            &["outcome"],
        )
        .expect("valid metric");
        let rate_limited = IntCounterVec::new(
            Opts::new(
                "haven_rate_limited_total",
                "Requests refused with 429 by a rate limit",
            ),
            &["limit"],
        )
        .expect("valid metric");
        let pool = IntGaugeVec::new(
            Opts::new(
                "haven_db_pool_connections",
                "Database connections in the pool, by state (idle, in_use)",
            ),
            &["state"],
        )
        .expect("valid metric");
        let pool_max = IntGauge::new(
            "haven_db_pool_max_connections",
            "The most connections the pool opens",
        )
        .expect("valid metric");
        let queue_depth = IntGauge::new(
            "haven_webhook_queue_depth",
            "Webhook deliveries waiting to be sent (all instances)",
        )
        .expect("valid metric");
        let database_up = IntGauge::new(
            "haven_database_up",
            "1 when the database answered this scrape, else 0",
        )
        .expect("valid metric");
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(webhook_deliveries.clone()),
            Box::new(rate_limited.clone()),
            Box::new(pool.clone()),
            Box::new(pool_max.clone()),
            Box::new(queue_depth.clone()),
            Box::new(database_up.clone()),
        ] {
            registry.register(c).expect("metric names are unique");
        }
        // Every outcome appears from the start, at 0, so a rate over it is defined.
        for outcome in ["delivered", "failed", "gave_up"] {
            webhook_deliveries.with_label_values(&[outcome]);
        }
        for limit in ["search", "token"] {
            rate_limited.with_label_values(&[limit]);
        }
        Metrics {
            registry,
            requests,
            latency,
            webhook_deliveries,
            rate_limited,
            pool,
            pool_max,
            queue_depth,
            database_up,
        }
    }

    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let status = status.to_string();
        let labels = [method, route, status.as_str()];
        self.requests.with_label_values(&labels).inc();
        self.latency.with_label_values(&labels).observe(seconds);
    }

    /// The Prometheus text exposition of every metric.
    fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("the text encoder writes to memory");
        String::from_utf8(out).expect("the text format is UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// The method as a label: one of the few a client may send, so a made-up method cannot grow
/// the label set.
fn method_label(method: &actix_web::http::Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "OTHER",
    }
}

/// The id of a request, kept in its extensions for the middleware inside.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

impl RequestId {
    /// Sets the `X-Request-Id` header of `res`.
    pub fn add_to<B>(&self, res: &mut actix_web::HttpResponse<B>) {
        if let Ok(value) = HeaderValue::from_str(&self.0) {
            res.headers_mut().insert(REQUEST_ID, value);
        }
    }
}

/// A caller's request id is kept when it is short and plain (so it can be logged as is);
/// otherwise the request gets a new one.
fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (1..=64).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string())
}

/// The outermost middleware: gives the request its id (in a tracing span, so every log line of
/// the request carries it, and in the `X-Request-Id` response header), logs the request by
/// route, status and time, and counts it.
pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let id = request_id(&req);
    let method = method_label(req.method());
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "(unmatched)".to_string());
    let counters = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.metrics.clone());
    let span = tracing::info_span!("request", request_id = %id);
    req.extensions_mut().insert(RequestId(id.clone()));
    let result = next.call(req).instrument(span.clone()).await;
    // An error here (a timeout) carries its own response, request id included.
    let status = match &result {
        Ok(res) => res.status().as_u16(),
        Err(e) => e.as_response_error().status_code().as_u16(),
    };
    let seconds = started.elapsed().as_secs_f64();
    span.in_scope(|| {
        tracing::info!(
            method,
            route = %route,
            status,
            ms = seconds * 1000.0,
            "request"
        )
    });
    if let Some(counters) = counters {
        counters.observe(method, &route, status, seconds);
    }
    let mut res = result?;
    RequestId(id).add_to(res.response_mut());
    Ok(res)
}

/// Prometheus metrics: request counts and latency by route and status, the database pool, the
/// webhook queue and delivery outcomes.
///
/// Open, unless `HAVEN_METRICS_TOKEN` is set: then it needs that bearer token.
#[utoipa::path(
    tag = "meta",
    responses(
        (status = 200, description = "Prometheus text exposition format 0.0.4", content_type = "text/plain", body = String),
        (status = 401, description = "HAVEN_METRICS_TOKEN is set and the request does not carry it", content_type = "application/problem+json", body = crate::error::Problem),
    ),
)]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>, req: HttpRequest) -> ApiResult<HttpResponse> {
    if let Some(expected) = &state.config.metrics_token {
        let given = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !crate::crypto::same(given.as_bytes(), expected.as_bytes()) {
            return Err(ApiError::Unauthorized(
                "/metrics needs the metrics bearer token".to_string(),
            ));
        }
    }
    let m = state.metrics.clone();
    let pool = state.pool.state();
    m.pool_max.set(i64::from(state.pool.max_size()));
    m.pool
        .with_label_values(&["idle"])
        .set(i64::from(pool.idle_connections));
    m.pool
        .with_label_values(&["in_use"])
        .set(i64::from(pool.connections - pool.idle_connections));
    match state
        .db(|conn| Ok(crate::webhooks::store::queue_depth(conn)?))
        .await
    {
        Ok(depth) => {
            m.queue_depth.set(depth);
            m.database_up.set(1);
        }
        Err(_) => m.database_up.set(0),
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(m.render()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_route_and_status() {
        let m = Metrics::new();
        m.observe("GET", "/services/{id}", 404, 0.002);
        m.observe("GET", "/services/{id}", 404, 0.003);
        let text = m.render();
        assert!(
            text.contains(
                r#"haven_http_requests_total{method="GET",route="/services/{id}",status="404"} 2"#
            ),
            "{text}"
        );
        assert!(text.contains(
            r#"haven_http_request_duration_seconds_bucket{method="GET",route="/services/{id}",status="404",le="0.0025"} 1"#
        ));
        assert!(text.contains(r#"haven_webhook_deliveries_total{outcome="gave_up"} 0"#));
    }

    #[test]
    fn made_up_methods_share_one_label() {
        let m: actix_web::http::Method = "BREW".parse().unwrap();
        assert_eq!(method_label(&m), "OTHER");
    }
}
