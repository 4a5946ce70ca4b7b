//! Durability: nothing Haven acknowledged is lost.
//!
//! 1. `referrals_acknowledged_before_a_crash_survive_it` runs the real `haven` binary as a
//!    child process over a real database (a SQLite file, or a fresh PostgreSQL database when
//!    `HAVEN_TEST_DATABASE_URL` names a server), sends a burst of referrals from several
//!    threads, and SIGKILLs the server while requests are in flight. After a restart every
//!    referral answered `201` must be there, a client retrying with its `Idempotency-Key` must
//!    get the same referral (and never a duplicate), and every referral the database holds must
//!    reach every subscribed partner as a signed `referral.created` webhook (the outbox row is
//!    written in the referral's own transaction, so a crash cannot separate them).
//! 2. `webhooks_survive_a_receiver_outage` takes a partner's receiver down while referrals are
//!    made and moved, checks that deliveries are kept and retried (not dropped, not given up),
//!    then brings the receiver back and checks that every event arrives, signed, in order per
//!    referral, and that the delivery log ends up all `delivered`.
//!
//! Waits poll with deadlines rather than sleeping fixed times, so a slow machine makes the
//! tests slower, not flaky.

mod common;

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::receiver::{verify, Received, Receiver};
use common::{TestDb, TestServer, PASSWORD, TEST_KEY};
use serde_json::{json, Value};

/// Fixed token-signing keys, so tokens issued before the crash still work after the restart
/// (as they would for a real deployment).
const JWT_KEYS: &str = "test:0123456789abcdef0123456789abcdef01234567";

/// The burst: THREADS senders, each sending PER_THREAD referrals one after another.
const THREADS: usize = 8;
const PER_THREAD: usize = 40;

// ---- the haven binary as a child process -------------------------------------------------

/// How to run `haven` against one database: the environment every child gets, and a working
/// directory of its own (for logs, and so no `.env` of the developer's is picked up).
struct Haven {
    env: Vec<(String, String)>,
    dir: PathBuf,
    base: String,
}

impl Haven {
    fn new(db: &TestDb, dir: &Path) -> Haven {
        let port = free_port();
        let env = [
            ("DATABASE_URL", db.url.as_str()),
            ("HAVEN_ADDR", &format!("127.0.0.1:{port}")),
            ("HAVEN_DEMO", "false"),
            ("HAVEN_JWT_KEYS", JWT_KEYS),
            ("HAVEN_ENCRYPTION_KEYS", &format!("test:{TEST_KEY}")),
            // The receiver listens on loopback.
            ("HAVEN_WEBHOOK_ALLOW_PRIVATE", "true"),
            ("HAVEN_WEBHOOK_BACKOFF_MS", "50"),
            ("HAVEN_WEBHOOK_BACKOFF_MAX_MS", "400"),
            // A delivery leased by the killed process stays leased for (timeout + 5) s before
            // anyone retries it (see webhooks::worker). The receiver is on loopback and answers
            // at once, so a short timeout costs nothing and shortens that wait.
            ("HAVEN_WEBHOOK_TIMEOUT", "2"),
            ("HAVEN_LOG", "warn"),
            ("HAVEN_SEARCH_RATE", "0"),
            ("HAVEN_TOKEN_RATE", "0"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        Haven {
            env,
            dir: dir.to_path_buf(),
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_haven"));
        cmd.args(args).current_dir(&self.dir);
        // Only the settings above: nothing from the environment the tests run in.
        for (k, _) in std::env::vars() {
            if k.starts_with("HAVEN_") || k == "DATABASE_URL" {
                cmd.env_remove(k);
            }
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// Runs a command to completion, feeding it `stdin`; panics unless it succeeds.
    fn run(&self, args: &[&str], stdin: &str) {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "haven {args:?}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Migrates and makes the platform admin `admin@x.example` through the command line, as
    /// an operator would.
    fn bootstrap(&self) {
        self.run(&["migrate"], "");
        self.run(
            &[
                "admin",
                "create-user",
                "--email",
                "admin@x.example",
                "--role",
                "admin",
            ],
            &format!("{PASSWORD}\n"),
        );
    }

    /// Starts `haven serve` and waits until it answers /readyz.
    fn serve(&self, name: &str, api: &Api) -> ServerProcess {
        let log = self.dir.join(format!("{name}.log"));
        let child = self
            .command(&["serve"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut server = ServerProcess {
            child,
            log,
            name: name.to_string(),
        };
        server.wait_ready(api);
        server
    }
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `haven serve`, killed when dropped, so a failed assertion leaves no server behind.
struct ServerProcess {
    child: Child,
    log: PathBuf,
    name: String,
}

impl ServerProcess {
    fn wait_ready(&mut self, api: &Api) {
        let until = Instant::now() + Duration::from_secs(30);
        let probe = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "{} exited before it was ready ({status}):\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            if let Ok(res) = probe.get(format!("{}/readyz", api.base)).send() {
                if res.status() == 200 {
                    return;
                }
            }
            assert!(
                Instant::now() < until,
                "{} was not ready within 30 s:\n{}",
                self.name,
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL (what `Child::kill` sends on Unix): no shutdown hooks, no flushing, no graceful
    /// draining of requests. Waits until the process is gone.
    fn crash(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, as a container runtime or systemd stops a service; waits for the exit.
    fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success(), "kill -TERM {pid}");
        let until = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < until,
                "{} ignored SIGTERM for 60 s",
                self.name
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap()
    }

    fn log_tail(&self) -> String {
        let mut text = String::new();
        if let Ok(mut f) = File::open(&self.log) {
            let len = f.metadata().map(|m| m.len()).unwrap_or(0);
            let _ = f.seek(SeekFrom::Start(len.saturating_sub(8_000)));
            let _ = f.read_to_string(&mut text);
        }
        text
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("---- {} log (tail) ----\n{}", self.name, self.log_tail());
        }
    }
}

// ---- HTTP --------------------------------------------------------------------------------

struct Api {
    base: String,
    http: reqwest::blocking::Client,
}

impl Api {
    fn new(base: &str) -> Api {
        Api {
            base: base.to_string(),
            http: client(),
        }
    }

    /// A request; the status and JSON body (null when empty or not JSON), or the transport
    /// error.
    fn try_send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<(u16, Value), reqwest::Error> {
        send(&self.http, &self.base, method, path, token, body, headers)
    }

    fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        self.try_send(method, path, token, body, &[])
            .unwrap_or_else(|e| panic!("{method} {path}: {e:?}"))
    }

    /// Expects `status`; returns the body.
    fn expect(
        &self,
        status: u16,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Value {
        let (got, value) = self.send(method, path, token, body);
        assert_eq!(got, status, "{method} {path}: {value}");
        value
    }

    fn login(&self, email: &str) -> String {
        let res = self
            .http
            .post(format!("{}/auth/token", self.base))
            .form(&[
                ("grant_type", "password"),
                ("username", email),
                ("password", PASSWORD),
            ])
            .send()
            .unwrap_or_else(|e| panic!("login {email}: {e:?}"));
        assert_eq!(res.status(), 200, "login {email}");
        res.json::<Value>().unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn send(
    http: &reqwest::blocking::Client,
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> Result<(u16, Value), reqwest::Error> {
    let mut req = http.request(method.parse().unwrap(), format!("{base}{path}"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send()?;
    let status = res.status().as_u16();
    // A body cut off by the crash is an error too: the client never saw the answer.
    let text = res.text()?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

/// Every item of a paged listing.
fn all_pages(api: &Api, path: &str, token: &str) -> (i64, Vec<Value>) {
    let mut items = vec![];
    let mut total = 0;
    for page in 1.. {
        let sep = if path.contains('?') { '&' } else { '?' };
        let body = api.expect(
            200,
            "GET",
            &format!("{path}{sep}per_page=100&page={page}"),
            Some(token),
            None,
        );
        total = body["total_items"].as_i64().unwrap();
        let contents = body["contents"].as_array().unwrap();
        items.extend(contents.iter().cloned());
        if body["last_page"] == json!(true) || contents.is_empty() {
            break;
        }
    }
    (total, items)
}

// ---- the partners ------------------------------------------------------------------------

/// Two partner organisations: S sends referrals to R's service; both subscribe webhooks on the
/// same receiver (so each delivery's signature says which subscription it belongs to).
struct Partners {
    s_token: String,
    r_token: String,
    service_id: String,
    /// (webhook id, secret) of S's and R's subscriptions, in that order.
    hooks: [(String, String); 2],
}

impl Partners {
    fn secrets(&self) -> [&str; 2] {
        [&self.hooks[0].1, &self.hooks[1].1]
    }
}

fn partners(api: &Api, admin: &str, receiver: &Receiver) -> Partners {
    let mut tokens = vec![];
    for (name, email) in [("Sender", "s@x.example"), ("Receiver", "r@x.example")] {
        let org = api.expect(
            201,
            "POST",
            "/organizations",
            Some(admin),
            Some(&json!({"name": format!("{name} organisation"), "description": "A partner."})),
        );
        let org_id = org["id"].as_str().unwrap();
        api.expect(
            201,
            "POST",
            &format!("/organizations/{org_id}/users"),
            Some(admin),
            Some(&json!({"email": email, "password": PASSWORD, "role": "org_admin"})),
        );
        tokens.push(api.login(email));
    }
    let (s_token, r_token) = (tokens[0].clone(), tokens[1].clone());
    let service = api.expect(
        201,
        "POST",
        "/services",
        Some(&r_token),
        Some(&json!({"name": "Detox", "description": "x", "status": "active"})),
    );
    let hook = |token: &str| {
        let w = api.expect(
            201,
            "POST",
            "/webhooks",
            Some(token),
            Some(&json!({
                "url": receiver.url(),
                "events": ["referral.created", "referral.status_changed"],
            })),
        );
        (
            w["id"].as_str().unwrap().to_string(),
            w["secret"].as_str().unwrap().to_string(),
        )
    };
    let hooks = [hook(&s_token), hook(&r_token)];
    assert_ne!(hooks[0].1, hooks[1].1);
    Partners {
        s_token,
        r_token,
        service_id: service["id"].as_str().unwrap().to_string(),
        hooks,
    }
}

// ---- what the receiver got -----------------------------------------------------------------

/// One delivery as a partner reads it.
#[derive(Debug, Clone)]
struct Event {
    /// Which subscription (index into `Partners::hooks`) its signature verifies with.
    sub: usize,
    event_id: String,
    kind: String,
    referral_id: String,
    status: String,
    version: i64,
}

/// Checks and reads every delivery: the signature verifies with exactly one of `secrets`, the
/// `Haven-Event-Id` header is the body's id, and nothing about the client is in the body.
fn read_events(got: &[Received], secrets: &[&str]) -> Vec<Event> {
    got.iter()
        .map(|r| {
            let subs: Vec<usize> = (0..secrets.len())
                .filter(|&i| verify(secrets[i], &r.signature, &r.body))
                .collect();
            assert_eq!(
                subs.len(),
                1,
                "the signature {:?} must verify with exactly one subscription's secret: {}",
                r.signature,
                r.body
            );
            let body = r.json();
            assert_eq!(
                body["id"].as_str(),
                Some(r.event_id.as_str()),
                "Haven-Event-Id is the event's id: {}",
                r.body
            );
            assert_no_client_details(&body, &r.body);
            let data = &body["data"];
            Event {
                sub: subs[0],
                event_id: r.event_id.clone(),
                kind: body["type"].as_str().unwrap().to_string(),
                referral_id: data["referral_id"].as_str().unwrap().to_string(),
                status: data["status"].as_str().unwrap().to_string(),
                version: data["version"].as_i64().unwrap(),
            }
        })
        .collect()
}

/// Webhooks carry ids, type, status and time: no key about the client, at any depth.
fn assert_no_client_details(v: &Value, raw: &str) {
    match v {
        Value::Object(map) => {
            for (k, x) in map {
                assert!(
                    !k.to_ascii_lowercase().contains("client"),
                    "a webhook body has {k:?}: {raw}"
                );
                assert_no_client_details(x, raw);
            }
        }
        Value::Array(items) => items.iter().for_each(|x| assert_no_client_details(x, raw)),
        _ => {}
    }
}

/// The distinct events (by `Haven-Event-Id`, duplicates being allowed: delivery is at least
/// once) per (subscription, referral), in order of first arrival.
fn by_referral(events: &[Event]) -> HashMap<(usize, String), Vec<Event>> {
    let mut seen = HashSet::new();
    let mut out: HashMap<(usize, String), Vec<Event>> = HashMap::new();
    for e in events {
        if seen.insert((e.sub, e.event_id.clone())) {
            out.entry((e.sub, e.referral_id.clone()))
                .or_default()
                .push(e.clone());
        }
    }
    out
}

// ---- 1. a crash in the middle of a burst --------------------------------------------------

/// One request of the burst and what became of it.
#[derive(Debug)]
struct Attempt {
    key: String,
    outcome: Outcome,
}

#[derive(Debug)]
enum Outcome {
    /// `201` with the referral's id: acknowledged, so it must survive.
    Acknowledged(String),
    /// Another HTTP answer (the server misbehaving; not acknowledged).
    Answered(u16, Value),
    /// No (complete) answer: the connection failed or was cut by the crash. Unknown.
    NoAnswer(String),
}

/// SIGTERM while the webhook worker is in the middle of two deliveries (the receiver takes
/// 3 s to answer): the server stops accepting connections at once, the worker finishes and
/// records both deliveries, and the process exits cleanly. After a restart the delivery log
/// says `delivered` after one attempt, and nothing is sent twice. Without the graceful stop the
/// deliveries would still be leased and pending, to be sent again after the lease.
///
/// The same run checks the log at info level, as JSON: each request line carries its request
/// id and route, and nothing private is there (search coordinates and words, passwords, tokens,
/// the client's details).
#[test]
fn a_stopped_server_finishes_its_deliveries_and_logs_nothing_private() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new();
    let receiver = Receiver::start();
    let mut haven = Haven::new(&db, dir.path());
    haven
        .env
        .retain(|(k, _)| k != "HAVEN_LOG" && k != "HAVEN_WEBHOOK_TIMEOUT");
    haven.env.push(("HAVEN_LOG".into(), "info".into()));
    haven
        .env
        .push(("HAVEN_WEBHOOK_TIMEOUT".into(), "10".into()));
    haven.env.push(("HAVEN_LOG_FORMAT".into(), "json".into()));
    let api = Api::new(&haven.base);
    haven.bootstrap();
    let mut server = haven.serve("serve-1", &api);
    let admin = api.login("admin@x.example");
    let p = partners(&api, &admin, &receiver);

    api.expect(
        200,
        "GET",
        "/services?lat=38.0312&lon=-78.4821&search=buprenorphine",
        None,
        None,
    );
    receiver.slow(3_000);
    let mut body = referral_body(&p.service_id);
    let details = json!({
        "client_goal": "Stop injecting alone",
        "consent": {"given": true, "scope": ["contact"], "expires_at": "2099-01-01T00:00:00Z"},
        "client": {"alias": "Robin Quill", "contact": {"method": "sms", "value": "+1 555 010 9999"}, "safe_to_leave_message": false},
    });
    body.as_object_mut()
        .unwrap()
        .extend(details.as_object().unwrap().clone());
    let referral = api.expect(201, "POST", "/referrals", Some(&p.s_token), Some(&body));
    // Both subscriptions' first deliveries are now in flight.
    receiver.wait_for(20, |got| got.len() >= 2);

    let stopping = Instant::now();
    let pid = server.child.id();
    let sent = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    std::thread::sleep(Duration::from_millis(500));
    let refused = client()
        .get(format!("{}/healthz", api.base))
        .send()
        .is_err();
    let status = server.terminate();
    assert!(refused, "new connections are refused once stopping");
    assert!(status.success(), "exit status {status}");
    assert!(
        stopping.elapsed() >= Duration::from_millis(2_500),
        "the process waited for the receiver's answers ({:?})",
        stopping.elapsed()
    );
    let log = server.log();
    drop(server);

    receiver.slow(0);
    let _server = haven.serve("serve-2", &api);
    // Tokens outlive the restart: the signing keys are configured.
    for ((hook, _), token) in p.hooks.iter().zip([&p.s_token, &p.r_token]) {
        let (_, list) = all_pages(&api, &format!("/webhooks/{hook}/deliveries"), token);
        let mine: Vec<_> = list
            .iter()
            .filter(|d| d["referral_id"] == referral["id"])
            .collect();
        assert_eq!(mine.len(), 1, "{list:?}");
        assert_eq!(mine[0]["status"], "delivered", "{:?}", mine[0]);
        assert_eq!(mine[0]["attempts"], 1, "{:?}", mine[0]);
    }
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(receiver.received().len(), 2, "nothing is sent twice");

    // The log: one JSON object per line; request lines name the route and the request id.
    let mut requests = 0;
    for line in log.lines() {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        if v["fields"]["message"] == "request" {
            requests += 1;
            assert!(
                v["span"]["request_id"]
                    .as_str()
                    .is_some_and(|id| !id.is_empty()),
                "{line}"
            );
            assert!(v["fields"]["route"].as_str().is_some(), "{line}");
        }
    }
    assert!(requests >= 8, "{requests} request lines:\n{log}");
    assert!(log.contains(r#""route":"/referrals""#));
    for private in [
        "38.0312",
        "-78.4821",
        "buprenorphine",
        PASSWORD,
        &admin,
        &p.s_token,
        "Robin Quill",
        "555 010 9999",
        "Stop injecting alone",
        "admin@x.example",
    ] {
        assert!(!log.contains(private), "the log holds {private:?}:\n{log}");
    }
}

fn referral_body(service_id: &str) -> Value {
    json!({"service_id": service_id, "reason_code": "HR02", "priority": "routine"})
}

#[test]
fn referrals_acknowledged_before_a_crash_survive_it() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new();
    let mut receiver = Receiver::start();
    let haven = Haven::new(&db, dir.path());
    let api = Api::new(&haven.base);

    haven.bootstrap();
    let server = haven.serve("serve-1", &api);
    let admin = api.login("admin@x.example");
    let p = partners(&api, &admin, &receiver);
    let body = referral_body(&p.service_id);

    // The burst. Each thread has its own client (its own connections), like separate partner
    // systems; every request carries a unique Idempotency-Key so it can be retried safely.
    let acked = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicUsize::new(0));
    let senders: Vec<_> = (0..THREADS)
        .map(|t| {
            let (base, token, body) = (api.base.clone(), p.s_token.clone(), body.clone());
            let (acked, finished) = (acked.clone(), finished.clone());
            std::thread::spawn(move || {
                let http = client();
                let mut attempts = vec![];
                for i in 0..PER_THREAD {
                    let key = format!("burst-{t}-{i}-{}", uuid::Uuid::new_v4());
                    let headers = [("Idempotency-Key", key.as_str())];
                    let outcome = match send(
                        &http,
                        &base,
                        "POST",
                        "/referrals",
                        Some(&token),
                        Some(&body),
                        &headers,
                    ) {
                        Ok((201, v)) if v["id"].is_string() => {
                            acked.fetch_add(1, Ordering::SeqCst);
                            Outcome::Acknowledged(v["id"].as_str().unwrap().to_string())
                        }
                        Ok((status, v)) => Outcome::Answered(status, v),
                        Err(e) => Outcome::NoAnswer(e.to_string()),
                    };
                    attempts.push(Attempt { key, outcome });
                }
                finished.fetch_add(1, Ordering::SeqCst);
                attempts
            })
        })
        .collect();

    // Crash once a good number of referrals were acknowledged (or a second passed: a slow
    // debug build on a busy machine), so that the other requests are in flight or not sent
    // yet.
    let burst = Instant::now();
    loop {
        let n = acked.load(Ordering::SeqCst);
        if n >= 100
            || (n >= 1 && burst.elapsed() >= Duration::from_secs(1))
            || finished.load(Ordering::SeqCst) == THREADS
        {
            break;
        }
        assert!(
            burst.elapsed() < Duration::from_secs(60),
            "no referral was acknowledged within 60 s"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    server.crash();
    // With the server dead the remaining requests fail at once (connection refused). Join
    // them all before the restart, so none reaches the new process.
    let attempts: Vec<Attempt> = senders
        .into_iter()
        .flat_map(|s| s.join().unwrap())
        .collect();
    let acknowledged: Vec<(&str, &str)> = attempts
        .iter()
        .filter_map(|a| match &a.outcome {
            Outcome::Acknowledged(id) => Some((a.key.as_str(), id.as_str())),
            _ => None,
        })
        .collect();
    let answered: Vec<&Attempt> = attempts
        .iter()
        .filter(|a| matches!(a.outcome, Outcome::Answered(..)))
        .collect();
    let unanswered: Vec<&str> = attempts
        .iter()
        .filter_map(|a| match &a.outcome {
            Outcome::NoAnswer(e) => Some(e.as_str()),
            _ => None,
        })
        .collect();
    eprintln!(
        "burst: {} sent, {} acknowledged, {} other answers, {} without an answer (crash after \
         {:?}; first: {:?})",
        attempts.len(),
        acknowledged.len(),
        answered.len(),
        unanswered.len(),
        burst.elapsed(),
        unanswered.first()
    );
    assert!(!acknowledged.is_empty());
    assert!(
        !unanswered.is_empty(),
        "the crash came after the burst ended, so it interrupted nothing"
    );
    let acked_ids: HashSet<&str> = acknowledged.iter().map(|(_, id)| *id).collect();
    assert_eq!(
        acked_ids.len(),
        acknowledged.len(),
        "two requests were acknowledged with one id"
    );

    // Restart over the same database.
    let _server = haven.serve("serve-2", &api);

    // Every acknowledged referral is there, as it was acknowledged. The tokens issued before
    // the crash still work (configured signing keys).
    for (_, id) in &acknowledged {
        let r = api.expect(
            200,
            "GET",
            &format!("/referrals/{id}"),
            Some(&p.s_token),
            None,
        );
        assert_eq!(r["id"], json!(id));
        assert_eq!(r["status"], "requested", "{r}");
    }
    let (total, before_retries) = all_pages(&api, "/referrals?direction=sent", &p.s_token);
    let listed: HashSet<String> = before_retries
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert!(
        total as usize >= acknowledged.len(),
        "{total} referrals listed, {} acknowledged",
        acknowledged.len()
    );
    assert_eq!(
        listed.len(),
        before_retries.len(),
        "a referral listed twice"
    );
    for id in &acked_ids {
        assert!(
            listed.contains(*id),
            "acknowledged referral {id} is not listed"
        );
    }
    // Nothing was made up either: at most one referral per request sent.
    assert!(total as usize <= attempts.len());
    eprintln!(
        "after the restart: {total} referrals, {} of them committed but never acknowledged",
        total as usize - acknowledged.len()
    );

    // A client that lost the answer retries with the same key and body: it gets the referral
    // the first request made, not a second one.
    let (retry_key, retry_id) = acknowledged[0];
    let (status, again) = api
        .try_send(
            "POST",
            "/referrals",
            Some(&p.s_token),
            Some(&body),
            &[("Idempotency-Key", retry_key)],
        )
        .unwrap();
    assert_eq!(status, 201, "{again}");
    assert_eq!(
        again["id"],
        json!(retry_id),
        "the retry made a new referral"
    );

    // Every request that got no acknowledgement is retried the same way, as a careful client
    // would. Those the crash cut off after their commit answer the referral already made;
    // the others make theirs now. Either way: exactly one referral per key.
    let mut retried_ids = HashSet::new();
    for a in attempts
        .iter()
        .filter(|a| !matches!(a.outcome, Outcome::Acknowledged(_)))
    {
        let (status, r) = api
            .try_send(
                "POST",
                "/referrals",
                Some(&p.s_token),
                Some(&body),
                &[("Idempotency-Key", &a.key)],
            )
            .unwrap();
        assert_eq!(status, 201, "retry of {}: {r}", a.key);
        let id = r["id"].as_str().unwrap().to_string();
        assert!(!acked_ids.contains(id.as_str()), "two keys answered {id}");
        assert!(retried_ids.insert(id.clone()), "two keys answered {id}");
    }
    let (total, after_retries) = all_pages(&api, "/referrals?direction=sent", &p.s_token);
    let expected: HashSet<String> = after_retries
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        total as usize,
        attempts.len(),
        "one referral per Idempotency-Key"
    );
    assert_eq!(expected.len(), attempts.len());
    assert!(listed.is_subset(&expected));
    for id in acked_ids
        .iter()
        .copied()
        .chain(retried_ids.iter().map(String::as_str))
    {
        assert!(expected.contains(id), "{id} is not listed");
    }

    // Webhooks: every referral the database holds (a superset of the acknowledged ones) is
    // announced to both subscriptions, signed. Deliveries the killed process had leased wait
    // for their lease to run out (HAVEN_WEBHOOK_TIMEOUT + 5 s) before they go again.
    let secrets = p.secrets();
    let complete = |got: &[Received]| {
        let by = by_referral(&read_events(got, &secrets));
        expected.iter().all(|id| {
            (0..2).all(|sub| {
                by.get(&(sub, id.clone()))
                    .is_some_and(|es| es.iter().any(|e| e.kind == "referral.created"))
            })
        })
    };
    let waited = Instant::now();
    let got = receiver.wait_for(90, complete);
    eprintln!(
        "webhooks: {} deliveries for {} referrals arrived {:?} after the retries",
        got.len(),
        expected.len(),
        waited.elapsed()
    );
    let events = read_events(&got, &secrets);
    for e in &events {
        assert!(
            expected.contains(&e.referral_id),
            "an event for a referral that is not there: {e:?}"
        );
    }
    let by = by_referral(&events);
    for id in &expected {
        let created: Vec<Vec<&Event>> = (0..2)
            .map(|sub| {
                by[&(sub, id.clone())]
                    .iter()
                    .filter(|e| e.kind == "referral.created")
                    .collect()
            })
            .collect();
        for (sub, es) in created.iter().enumerate() {
            assert_eq!(es.len(), 1, "referral {id}, subscription {sub}: {es:?}");
            assert_eq!((es[0].status.as_str(), es[0].version), ("requested", 1));
        }
        assert_eq!(
            created[0][0].event_id, created[1][0].event_id,
            "one event, delivered to two subscriptions"
        );
    }
    let distinct: HashSet<(usize, &str)> = events
        .iter()
        .map(|e| (e.sub, e.event_id.as_str()))
        .collect();
    eprintln!(
        "webhooks: {} deliveries, {} distinct (subscription, event); test took {:?}",
        events.len(),
        distinct.len(),
        started.elapsed()
    );

    // Checked last, so a durability failure above is reported first: before the crash the
    // server answered every request 201.
    assert!(
        answered.is_empty(),
        "requests in the burst were answered with something other than 201: {:?}",
        answered
            .iter()
            .filter_map(|a| match &a.outcome {
                Outcome::Answered(status, body) => Some(format!("{status} {body}")),
                _ => None,
            })
            .take(5)
            .collect::<Vec<_>>()
    );
    receiver.down();
}

// ---- 2. a receiver outage ------------------------------------------------------------------

/// A subscription's delivery log, all pages.
fn deliveries(server: &TestServer, token: &str, webhook_id: &str) -> Vec<Value> {
    let api = Api {
        base: server.base.clone(),
        http: client(),
    };
    all_pages(&api, &format!("/webhooks/{webhook_id}/deliveries"), token).1
}

/// Polls `check` every 50 ms until it holds, or panics after `seconds` with its last word.
fn eventually(seconds: u64, what: &str, mut check: impl FnMut() -> Result<(), String>) {
    let until = Instant::now() + Duration::from_secs(seconds);
    loop {
        match check() {
            Ok(()) => return,
            Err(why) if Instant::now() >= until => {
                panic!("{what}: not within {seconds} s: {why}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

#[test]
fn webhooks_survive_a_receiver_outage() {
    // Attempts are counted whatever the reason, and the worker tries a failing delivery again
    // every poll (500 ms) or whenever a new write wakes it, so the outage below costs several
    // attempts. The point here is that nothing is lost while the partner is down, not the
    // give-up limit, so the limit is raised well above what the outage can use.
    let server = TestServer::start_with(&[("HAVEN_WEBHOOK_MAX_ATTEMPTS", "100")]);
    let api = Api::new(&server.base);
    let mut receiver = Receiver::start();
    server.user("admin@x.example", "admin", None);
    let admin = server.token("admin@x.example");
    let p = partners(&api, &admin, &receiver);
    let secrets = p.secrets();

    // The partner goes down; referrals are made and moved meanwhile.
    receiver.down();
    let outage = Instant::now();
    let mut referrals = vec![];
    for _ in 0..20 {
        let r = api.expect(
            201,
            "POST",
            "/referrals",
            Some(&p.s_token),
            Some(&referral_body(&p.service_id)),
        );
        referrals.push(r["id"].as_str().unwrap().to_string());
    }
    let moved: HashSet<String> = referrals.iter().step_by(2).cloned().collect();
    for id in &moved {
        for (status, version) in [("accepted", 1), ("in_progress", 2)] {
            let r = api.expect(
                200,
                "POST",
                &format!("/referrals/{id}/status"),
                Some(&p.r_token),
                Some(&json!({"status": status, "version": version})),
            );
            assert_eq!(r["version"], version + 1);
        }
    }
    let per_hook = referrals.len() + 2 * moved.len();

    // Deliveries are kept and retried: each referral's first event has failed at least twice
    // (so it was retried), with the reason recorded; its later events wait behind it (in order
    // per referral), untried; nothing is given up.
    for (i, (hook, _)) in p.hooks.iter().enumerate() {
        let token = if i == 0 { &p.s_token } else { &p.r_token };
        eventually(30, "every first delivery failed twice", || {
            let log = deliveries(&server, token, hook);
            if log.len() != per_hook {
                return Err(format!("{} deliveries, want {per_hook}", log.len()));
            }
            for d in &log {
                if d["status"] != "pending" {
                    panic!("a delivery is not pending while the receiver is down: {d}");
                }
                if d["event_type"] == "referral.created" {
                    if d["attempts"].as_i64().unwrap() < 2 {
                        return Err(format!("not retried yet: {d}"));
                    }
                    assert!(
                        d["last_error"].as_str().is_some_and(|e| !e.is_empty()),
                        "{d}"
                    );
                    assert!(d["next_attempt_at"].is_string(), "{d}");
                } else {
                    assert_eq!(d["attempts"], 0, "sent before an earlier event: {d}");
                }
            }
            Ok(())
        });
    }
    assert!(receiver.received().is_empty());
    let most = p
        .hooks
        .iter()
        .zip([&p.s_token, &p.r_token])
        .flat_map(|((hook, _), token)| deliveries(&server, token, hook))
        .filter_map(|d| d["attempts"].as_i64())
        .max();
    eprintln!(
        "outage: {:?}, at most {most:?} failed attempts per delivery",
        outage.elapsed()
    );

    // The partner is back: everything arrives, signed, each referral's events in order.
    receiver.up();
    let expected: HashMap<&str, Vec<i64>> = referrals
        .iter()
        .map(|id| {
            let versions = if moved.contains(id) {
                vec![1, 2, 3]
            } else {
                vec![1]
            };
            (id.as_str(), versions)
        })
        .collect();
    let got = receiver.wait_for(60, |got| {
        let by = by_referral(&read_events(got, &secrets));
        expected.iter().all(|(id, versions)| {
            (0..2).all(|sub| {
                by.get(&(sub, id.to_string()))
                    .is_some_and(|es| es.len() >= versions.len())
            })
        })
    });
    let by = by_referral(&read_events(&got, &secrets));
    for (id, versions) in &expected {
        for sub in 0..2 {
            let es = &by[&(sub, id.to_string())];
            let arrived: Vec<(i64, &str, &str)> = es
                .iter()
                .map(|e| (e.version, e.kind.as_str(), e.status.as_str()))
                .collect();
            let want: Vec<(i64, &str, &str)> = versions
                .iter()
                .map(|&v| match v {
                    1 => (1, "referral.created", "requested"),
                    2 => (2, "referral.status_changed", "accepted"),
                    _ => (3, "referral.status_changed", "in_progress"),
                })
                .collect();
            assert_eq!(
                arrived, want,
                "referral {id}, subscription {sub}: events in order of first arrival"
            );
        }
    }
    assert_eq!(by.len(), 2 * referrals.len(), "events for other referrals");

    // And the delivery logs say so.
    for (i, (hook, _)) in p.hooks.iter().enumerate() {
        let token = if i == 0 { &p.s_token } else { &p.r_token };
        eventually(30, "every delivery recorded delivered", || {
            let log = deliveries(&server, token, hook);
            match log.iter().find(|d| d["status"] != "delivered") {
                Some(d) => Err(format!("{d}")),
                None if log.len() != per_hook => Err(format!("{} deliveries", log.len())),
                None => Ok(()),
            }
        });
        for d in deliveries(&server, token, hook) {
            assert!(d["delivered_at"].is_string(), "{d}");
            assert_eq!(d["last_status_code"], 204, "{d}");
            if d["event_type"] == "referral.created" {
                assert!(d["attempts"].as_i64().unwrap() >= 3, "{d}");
            }
        }
    }
}
