//! Limits that keep one caller from using up the service: rate limits per client address on
//! public search and lists, and on the routes that take a secret (`/auth/token`, claim codes),
//! a time limit per request, and problem+json for every refusal the web framework makes itself
//! (a body over the size limit, say).
//!
//! The rate limits are GCRA buckets from `governor`, keyed by address: a burst is allowed, then
//! the per-minute rate.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::http::{header, Method};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpRequest, ResponseError};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::Config;
use crate::error::ApiError;
use crate::observe::RequestId;
use crate::state::AppState;

/// The public reads that search or list, limited per address.
pub const SEARCH_ROUTES: &[&str] = &[
    "/services",
    "/service_at_locations",
    "/organizations",
    "/taxonomies",
    "/taxonomy_terms",
];

/// The routes that take a secret, limited per address (`HAVEN_TOKEN_RATE`).
pub const SECRET_ROUTES: &[&str] = &["/auth/token", "/referrals/claim", "/referrals/{id}/claim"];

/// One per-address limit; `None` inside when it is turned off.
pub struct Limit(Option<DefaultKeyedRateLimiter<IpAddr>>);

impl Limit {
    fn new(per_minute: u32, burst: u32) -> Limit {
        Limit(NonZeroU32::new(per_minute).map(|rate| {
            let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
            RateLimiter::keyed(Quota::per_minute(rate).allow_burst(burst))
        }))
    }

    /// `Err(seconds to wait)` when `address` is over the limit.
    fn check(&self, address: IpAddr) -> Result<(), u64> {
        let Some(limiter) = &self.0 else {
            return Ok(());
        };
        limiter.check_key(&address).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }

    /// Forgets addresses whose buckets are full again, so memory follows recent callers only.
    fn forget_idle(&self) {
        if let Some(limiter) = &self.0 {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

/// Every rate limit of an instance.
pub struct RateLimits {
    search: Limit,
    token: Limit,
}

impl RateLimits {
    pub fn new(config: &Config) -> RateLimits {
        RateLimits {
            search: Limit::new(config.search_rate, config.search_burst),
            token: Limit::new(config.token_rate, config.token_burst),
        }
    }

    /// The limit that applies to a request, and its name (a metric label). Redeeming a claim
    /// code shares the token limit: both present a secret that could otherwise be guessed at
    /// speed.
    fn for_request(&self, method: &Method, route: &str) -> Option<(&Limit, &'static str)> {
        if method == Method::POST && SECRET_ROUTES.contains(&route) {
            Some((&self.token, "token"))
        } else if method == Method::GET && SEARCH_ROUTES.contains(&route) {
            Some((&self.search, "search"))
        } else {
            None
        }
    }
}

/// Forgets idle addresses once a minute.
pub async fn tidy(state: AppState) {
    let mut every = tokio::time::interval(Duration::from_secs(60));
    loop {
        every.tick().await;
        state.limits.search.forget_idle();
        state.limits.token.forget_idle();
    }
}

/// The address a request comes from: the connection's peer, or, behind a proxy that appends
/// it (`HAVEN_TRUST_FORWARDED_FOR`), the right-most `X-Forwarded-For` entry. Entries further
/// left were written by the client and prove nothing.
pub fn client_address(req: &HttpRequest, config: &Config) -> Option<IpAddr> {
    if config.trust_forwarded_for {
        let forwarded = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|a| a.trim().parse::<IpAddr>().ok())
            .last();
        if forwarded.is_some() {
            return forwarded;
        }
    }
    req.peer_addr().map(|a| a.ip())
}

/// Applies the rate limit of the route, then runs the request within `HAVEN_REQUEST_TIMEOUT`,
/// and turns any error response the framework made without a problem document into one.
pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    if let Some(route) = req.match_pattern() {
        if let Some((limit, name)) = state.limits.for_request(req.method(), &route) {
            // A loopback caller is the operator's own tool, or a proxy on this machine that
            // should be named with HAVEN_TRUST_FORWARDED_FOR (else every client would share
            // its one allowance): not limited, unless HAVEN_RATE_LIMIT_LOOPBACK says so.
            let address = client_address(req.request(), &state.config)
                .filter(|a| state.config.rate_limit_loopback || !a.to_canonical().is_loopback());
            if let Some(address) = address {
                if let Err(wait) = limit.check(address) {
                    state.metrics.rate_limited.with_label_values(&[name]).inc();
                    let wait = i64::try_from(wait).unwrap_or(i64::MAX);
                    let res = ApiError::TooManyRequests(wait).error_response();
                    return Ok(req.into_response(res));
                }
            }
        }
    }
    // The request moves into the handler, so a timeout is answered as an error carrying its
    // whole response (with the request id, which the outer middleware cannot add to an error).
    let id = req.extensions().get::<RequestId>().cloned();
    let limit = Duration::from_secs(state.config.request_timeout);
    match tokio::time::timeout(limit, next.call(req)).await {
        Ok(res) => Ok(as_problem(
            res?.map_into_boxed_body(),
            state.config.max_body_bytes,
        )),
        Err(_) => {
            let mut res = ApiError::Timeout(state.config.request_timeout).error_response();
            if let Some(id) = id {
                id.add_to(&mut res);
            }
            Err(InternalError::from_response("request timed out", res).into())
        }
    }
}

/// An error status without a problem document (the framework's own refusals) gets one.
fn as_problem(res: ServiceResponse<BoxBody>, max_body: usize) -> ServiceResponse<BoxBody> {
    let status = res.status();
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/problem+json"));
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return res;
    }
    let error = match status.as_u16() {
        413 => ApiError::TooLarge(max_body),
        500 => ApiError::Internal(anyhow::anyhow!(
            "the framework answered 500: {:?}",
            res.response().error()
        )),
        _ => ApiError::Http(
            status,
            res.response()
                .error()
                .map(|e| e.to_string())
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| status.canonical_reason().unwrap_or("").to_string()),
        ),
    };
    let mut problem = error.error_response();
    // Headers such as `Allow` still apply.
    for (name, value) in res.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            problem.headers_mut().insert(name.clone(), value.clone());
        }
    }
    let (req, _) = res.into_parts();
    ServiceResponse::new(req, problem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate() {
        let limit = Limit::new(60, 3);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..3 {
            assert!(limit.check(a).is_ok());
        }
        let wait = limit.check(a).unwrap_err();
        assert!((1..=1).contains(&wait), "one a second: wait {wait} s");
        assert!(limit.check(b).is_ok(), "another address has its own bucket");
    }

    #[test]
    fn zero_turns_a_limit_off() {
        let limit = Limit::new(0, 1);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..1000 {
            assert!(limit.check(a).is_ok());
        }
    }
}
