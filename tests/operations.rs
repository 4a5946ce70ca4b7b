//! Running Haven: request ids, `/metrics`, a database outage and recovery, and instances that
//! start together on one database.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Partners, TestDb, TestServer};
use haven::config::Config;
use serde_json::Value;

#[test]
fn every_answer_carries_a_request_id() {
    let server = TestServer::start();
    let http = reqwest::blocking::Client::new();
    let mut seen = std::collections::HashSet::new();
    for path in ["/healthz", "/services", "/services/nope", "/no-such-route"] {
        let res = http.get(format!("{}{path}", server.base)).send().unwrap();
        let id = res.headers()["x-request-id"].to_str().unwrap().to_string();
        assert_eq!(id.len(), 32, "{path}: {id}");
        assert!(seen.insert(id), "ids are not reused");
    }
    // A caller's own id is kept when it is plain and short, so a partner can follow one
    // request through both systems' logs; anything else is replaced.
    let res = http
        .get(format!("{}/healthz", server.base))
        .header("X-Request-Id", "partner-7f3a.42")
        .send()
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "partner-7f3a.42");
    for bad in ["a b", &"x".repeat(65), "<script>"] {
        let res = http
            .get(format!("{}/healthz", server.base))
            .header("X-Request-Id", bad)
            .send()
            .unwrap();
        let id = res.headers()["x-request-id"].to_str().unwrap();
        assert_ne!(id, bad);
        assert_eq!(id.len(), 32);
    }
}

#[test]
fn metrics_count_requests_by_route_and_status() {
    let server = TestServer::start();
    server.get("/services");
    server.get("/services");
    server.get("/services/00000000-0000-4000-8000-000000000000");
    let res = server.get("/metrics");
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = res.text().unwrap();
    for line in [
        r#"haven_http_requests_total{method="GET",route="/services",status="200"} 2"#,
        r#"haven_http_requests_total{method="GET",route="/services/{id}",status="404"} 1"#,
        r#"haven_http_request_duration_seconds_count{method="GET",route="/services",status="200"} 2"#,
        r#"haven_http_request_duration_seconds_bucket{method="GET",route="/services",status="200",le="+Inf"} 2"#,
        r#"haven_db_pool_max_connections 4"#,
        r#"haven_webhook_queue_depth 0"#,
        r#"haven_database_up 1"#,
        r#"haven_webhook_deliveries_total{outcome="failed"} 0"#,
    ] {
        assert!(text.contains(line), "missing {line}:\n{text}");
    }
    assert!(text.contains(r#"haven_db_pool_connections{state="in_use"}"#));
    // Paths and query strings never become labels.
    assert!(!text.contains("00000000-0000"), "{text}");
}

#[test]
fn webhook_queue_and_failures_are_counted() {
    let server = TestServer::start_with(&[("HAVEN_WEBHOOK_MAX_ATTEMPTS", "2")]);
    let p = Partners::new(&server);
    // A receiver that is not there: every attempt fails to connect.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (status, hook) = server.send(
        "POST",
        "/webhooks",
        Some(&p.r),
        Some(&serde_json::json!({"url": format!("http://127.0.0.1:{port}/hook"), "events": ["referral.created"]})),
    );
    assert_eq!(status, 201, "{hook}");
    let (status, _) = server.send("POST", "/referrals", Some(&p.s), Some(&p.anonymous()));
    assert_eq!(status, 201);
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let text = server.get("/metrics").text().unwrap();
        if text.contains(r#"haven_webhook_deliveries_total{outcome="gave_up"} 1"#) {
            assert!(text.contains(r#"haven_webhook_deliveries_total{outcome="failed"} 1"#));
            assert!(text.contains("haven_webhook_queue_depth 0"), "{text}");
            break;
        }
        assert!(Instant::now() < until, "no give-up counted:\n{text}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn metrics_can_require_a_token() {
    let secret = "metrics-secret-0123456789";
    let server = TestServer::start_with(&[("HAVEN_METRICS_TOKEN", secret)]);
    assert_eq!(server.get("/metrics").status(), 401);
    let http = reqwest::blocking::Client::new();
    let wrong = http
        .get(format!("{}/metrics", server.base))
        .bearer_auth("metrics-secret-0123456788")
        .send()
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let right = http
        .get(format!("{}/metrics", server.base))
        .bearer_auth(secret)
        .send()
        .unwrap();
    assert_eq!(right.status(), 200);
}

/// A TCP relay between Haven and PostgreSQL that can cut every connection and refuse new ones
/// (the database host going away), and then let connections through again.
struct Relay {
    port: u16,
    up: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Relay {
    fn start(target: String) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (up2, open2) = (up.clone(), open.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if !up2.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&target) else {
                    continue;
                };
                let mut open = open2.lock().unwrap();
                open.push(client.try_clone().unwrap());
                open.push(server.try_clone().unwrap());
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16 * 1024];
                        while let Ok(n) = from.read(&mut buf) {
                            if n == 0 || to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = to.shutdown(Shutdown::Both);
                    });
                }
            }
        });
        Relay { port, up, open }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for s in self.open.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// PostgreSQL goes away under a running server and comes back: `/readyz` says 503 within
/// seconds, requests get a 503 problem with `Retry-After` (no hang, no 500, the server stays
/// up), and both recover by themselves. (SQLite is a file inside the process: it has no
/// outage of this kind, so this runs in the PostgreSQL suite.)
#[test]
fn a_database_outage_is_a_503_and_heals_itself() {
    let db = TestDb::new();
    if !db.is_postgres() {
        eprintln!("skipped: needs HAVEN_TEST_DATABASE_URL (PostgreSQL)");
        return;
    }
    let (prefix, rest) = db.url.split_once('@').unwrap();
    let (host_port, name) = rest.split_once('/').unwrap();
    let relay = Relay::start(host_port.to_string());
    let url = format!("{prefix}@127.0.0.1:{}/{name}", relay.port);
    let server = TestServer::start_on(db, &[("DATABASE_URL", &url), ("HAVEN_DB_TIMEOUT", "1")]);
    let p = Partners::new(&server);
    let one = format!("/services/{}", p.service);
    assert_eq!(server.get("/readyz").status(), 200);
    assert_eq!(server.get(&one).status(), 200);

    relay.cut();
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    for path in ["/readyz", one.as_str(), "/services?search=detox"] {
        let started = Instant::now();
        let res = http.get(format!("{}{path}", server.base)).send().unwrap();
        let took = started.elapsed();
        assert_eq!(res.status(), 503, "{path}");
        assert!(res.headers().contains_key("retry-after"), "{path}");
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        let body: Value = res.json().unwrap();
        assert_eq!(body["status"], 503, "{body}");
        assert!(took < Duration::from_secs(5), "{path} took {took:?}");
    }
    let (status, body) = server.send(
        "POST",
        "/services",
        Some(&p.r),
        Some(&serde_json::json!({"name": "During the outage", "description": "x", "status": "active"})),
    );
    assert_eq!(status, 503, "{body}");
    assert_eq!(
        server.get("/healthz").status(),
        200,
        "the process itself is alive"
    );

    relay.restore();
    let until = Instant::now() + Duration::from_secs(20);
    while server.get("/readyz").status() != 200 {
        assert!(
            Instant::now() < until,
            "not ready again 20 s after the database came back"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(server.get(&one).status(), 200);
    let (status, body) = server.send(
        "POST",
        "/services",
        Some(&p.r),
        Some(&serde_json::json!({"name": "After the outage", "description": "x", "status": "active"})),
    );
    assert_eq!(status, 201, "{body}");
}

/// The server closes connections the pool holds (an idle timeout, a restart, an operator):
/// one that sat idle is tested before it is handed out and replaced, so no request sees the
/// failure; one closed right after it worked fails the request using it (a 503, as in an
/// outage), is tested before its next use, and is replaced.
#[test]
fn connections_the_database_closed_are_replaced() {
    let db = TestDb::new();
    if !db.is_postgres() {
        eprintln!("skipped: needs HAVEN_TEST_DATABASE_URL (PostgreSQL)");
        return;
    }
    let url = db.url.clone();
    let server = TestServer::start_on(db, &[]);
    let p = Partners::new(&server);
    let one = format!("/services/{}", p.service);
    let close_all = || {
        let mut conn = haven::db::Manager::new(&url).unwrap().open().unwrap();
        haven::db::Sql::new(
            "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .count(&mut conn)
        .unwrap()
    };
    for _ in 0..3 {
        assert_eq!(server.get(&one).status(), 200);
    }
    assert!(close_all() > 0);
    std::thread::sleep(Duration::from_millis(1_200));
    for _ in 0..5 {
        assert_eq!(
            server.get(&one).status(),
            200,
            "an idle connection was not replaced"
        );
    }

    assert!(close_all() > 0);
    let statuses: Vec<u16> = (0..12)
        .map(|_| server.get(&one).status().as_u16())
        .collect();
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 503),
        "{statuses:?}"
    );
    assert!(
        statuses[statuses.len() - 4..].iter().all(|s| *s == 200),
        "not replaced: {statuses:?}"
    );
}

/// Several instances starting at once on a fresh database each migrate it; they must not
/// trip over each other.
#[test]
fn instances_starting_together_migrate_once() {
    let db = TestDb::new();
    let url = db.url.clone();
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let config = Config::from_lookup(|k| match k {
                    "DATABASE_URL" => Some(url.clone()),
                    "HAVEN_DB_POOL_SIZE" => Some("2".into()),
                    _ => None,
                })
                .unwrap();
                haven::server::prepare(&config).map(|_| ())
            })
        })
        .collect();
    for s in starts {
        s.join().unwrap().expect("every instance starts");
    }
    // And the result is one complete schema: a server works on it.
    let server = TestServer::start_on(db, &[]);
    let p = Partners::new(&server);
    assert_eq!(
        server.get(&format!("/services/{}", p.service)).status(),
        200
    );
}
