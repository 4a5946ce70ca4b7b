//! Limits: request bodies over the size limit, public searches and token requests over the
//! per-address rate, and requests over the time limit are refused with a problem document,
//! and change nothing.

mod common;

use std::time::{Duration, Instant};

use common::{Partners, TestServer};
use diesel::connection::SimpleConnection;
use serde_json::{json, Value};

fn problem(res: reqwest::blocking::Response) -> (u16, Option<String>, Value) {
    let status = res.status().as_u16();
    let retry_after = res
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    assert_eq!(
        res.headers()["content-type"],
        "application/problem+json",
        "status {status}"
    );
    (status, retry_after, res.json().unwrap())
}

#[test]
fn bodies_over_the_limit_are_refused_and_store_nothing() {
    let server = TestServer::start_with(&[("HAVEN_MAX_BODY_BYTES", "4096")]);
    let p = Partners::new(&server);
    let http = reqwest::blocking::Client::new();
    let service = |description: String| json!({"name": "Outreach van", "description": description, "status": "active"});
    // Just under the limit is fine.
    let small = service("x".repeat(3_000));
    assert!(small.to_string().len() < 4096);
    let (status, _) = server.send("POST", "/services", Some(&p.r), Some(&small));
    assert_eq!(status, 201);
    let before = server.json("/services?per_page=100")["total_items"].clone();

    for (path, body) in [
        ("/services", service("x".repeat(5_000))),
        (
            "/referrals",
            json!({"service_id": p.service, "note": "y".repeat(5_000)}),
        ),
    ] {
        let res = http
            .post(format!("{}{path}", server.base))
            .bearer_auth(&p.s)
            .json(&body)
            .send()
            .unwrap();
        let (status, _, body) = problem(res);
        assert_eq!(status, 413, "{path}: {body}");
        assert_eq!(body["errors"][0]["field"], "body", "{body}");
        assert!(body["detail"].as_str().unwrap().contains("4096"), "{body}");
    }
    assert_eq!(server.json("/services?per_page=100")["total_items"], before);
    let (_, referrals) = server.send("GET", "/referrals", Some(&p.s), None);
    assert_eq!(referrals["total_items"], 0, "{referrals}");
}

#[test]
fn public_search_is_limited_per_address() {
    let server = TestServer::start_with(&[
        ("HAVEN_SEARCH_RATE", "60"),
        ("HAVEN_SEARCH_BURST", "5"),
        ("HAVEN_TRUST_FORWARDED_FOR", "true"),
    ]);
    let http = reqwest::blocking::Client::new();
    let search = |from: &str| {
        http.get(format!("{}/services?lat=38.03&lon=-78.48", server.base))
            .header("X-Forwarded-For", from)
            .send()
            .unwrap()
    };
    // The burst, then the per-minute rate (one a second) says wait.
    for _ in 0..5 {
        assert_eq!(search("203.0.113.7").status(), 200);
    }
    let (status, retry_after, body) = problem(search("203.0.113.7"));
    assert_eq!(status, 429, "{body}");
    let wait: u64 = retry_after.expect("Retry-After").parse().unwrap();
    assert!((1..=2).contains(&wait), "Retry-After {wait}");
    // The other public lists share the limit; reads of one record do not.
    assert_eq!(
        http.get(format!("{}/organizations", server.base))
            .header("X-Forwarded-For", "203.0.113.7")
            .send()
            .unwrap()
            .status(),
        429
    );
    assert_eq!(
        http.get(format!("{}/healthz", server.base))
            .header("X-Forwarded-For", "203.0.113.7")
            .send()
            .unwrap()
            .status(),
        200
    );
    // Another address has its own allowance. A client cannot pose as one by writing its own
    // X-Forwarded-For entry: the right-most entry, the proxy's, is the one that counts.
    assert_eq!(search("198.51.100.20").status(), 200);
    assert_eq!(search("198.51.100.20, 203.0.113.7").status(), 429);
    // After the wait, the address may search again.
    std::thread::sleep(Duration::from_secs(wait));
    assert_eq!(search("203.0.113.7").status(), 200);

    let metrics = server.get("/metrics").text().unwrap();
    assert!(
        metrics.contains(r#"haven_rate_limited_total{limit="search"} 3"#),
        "{metrics}"
    );
}

#[test]
fn forwarded_addresses_are_ignored_unless_trusted() {
    let server = TestServer::start_with(&[
        ("HAVEN_SEARCH_RATE", "60"),
        ("HAVEN_SEARCH_BURST", "2"),
        ("HAVEN_RATE_LIMIT_LOOPBACK", "true"),
    ]);
    let http = reqwest::blocking::Client::new();
    let statuses: Vec<u16> = (0..3)
        .map(|i| {
            http.get(format!("{}/service_at_locations", server.base))
                .header("X-Forwarded-For", format!("192.0.2.{i}"))
                .send()
                .unwrap()
                .status()
                .as_u16()
        })
        .collect();
    assert_eq!(
        statuses,
        [200, 200, 429],
        "made-up addresses do not escape the limit"
    );
}

/// By default a loopback caller (a tool on the same machine) is not limited.
#[test]
fn loopback_callers_are_not_limited_by_default() {
    let server =
        TestServer::start_with(&[("HAVEN_SEARCH_RATE", "60"), ("HAVEN_SEARCH_BURST", "2")]);
    for _ in 0..10 {
        assert_eq!(server.get("/services").status(), 200);
    }
}

#[test]
fn token_requests_and_claim_codes_are_limited_per_address() {
    let server = TestServer::start_with(&[
        ("HAVEN_TOKEN_RATE", "6"),
        ("HAVEN_TOKEN_BURST", "3"),
        ("HAVEN_RATE_LIMIT_LOOPBACK", "true"),
    ]);
    server.user("lead@x.example", "admin", None);
    for _ in 0..3 {
        server.token("lead@x.example");
    }
    let res = reqwest::blocking::Client::new()
        .post(format!("{}/auth/token", server.base))
        .form(&[
            ("grant_type", "password"),
            ("username", "lead@x.example"),
            ("password", common::PASSWORD),
        ])
        .send()
        .unwrap();
    let (status, retry_after, body) = problem(res);
    assert_eq!(status, 429, "{body}");
    let wait: u64 = retry_after.unwrap().parse().unwrap();
    assert!((1..=10).contains(&wait), "six a minute: {wait} s");
    // Redeeming a claim code presents a secret too, and shares the allowance.
    let res = reqwest::blocking::Client::new()
        .post(format!("{}/referrals/claim", server.base))
        .json(&json!({"claim_code": "ABCD-EFGH"}))
        .send()
        .unwrap();
    assert_eq!(res.status(), 429);
}

/// A write held up behind a database lock is answered 503 with `Retry-After` once the request
/// time limit passes, rather than holding the caller.
#[test]
fn slow_requests_are_cut_off_at_the_time_limit() {
    // Long enough for a login (argon2 in a debug build), shorter than SQLite's busy timeout.
    let server = TestServer::start_with(&[("HAVEN_REQUEST_TIMEOUT", "3")]);
    let p = Partners::new(&server);
    let mut lock = server.state.pool.get().unwrap();
    if server.db.is_postgres() {
        lock.batch_execute("BEGIN; LOCK TABLE service IN EXCLUSIVE MODE")
            .unwrap();
    } else {
        lock.batch_execute("BEGIN IMMEDIATE").unwrap();
    }
    let started = Instant::now();
    let res = reqwest::blocking::Client::new()
        .post(format!("{}/services", server.base))
        .bearer_auth(&p.r)
        .json(&json!({"name": "Held up", "description": "x", "status": "active"}))
        .send()
        .unwrap();
    let took = started.elapsed();
    let id = res.headers().get("x-request-id").cloned();
    let (status, retry_after, body) = problem(res);
    lock.batch_execute("ROLLBACK").unwrap();
    assert_eq!(status, 503, "{body}");
    assert_eq!(
        body["type"], "https://haven.example/problems/timeout",
        "{body}"
    );
    assert!(retry_after.is_some());
    assert!(
        id.is_some(),
        "a timed-out answer still carries its request id"
    );
    assert!(
        took >= Duration::from_secs(3) && took < Duration::from_secs(8),
        "answered after {took:?}, not at the limit"
    );
}
