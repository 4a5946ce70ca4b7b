//! The test harness: a real Haven server on a loopback port over a fresh real database.
//!
//! SQLite by default (a new file per server); PostgreSQL when `HAVEN_TEST_DATABASE_URL` names
//! a server, in which case each server gets a database of its own, dropped afterwards.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::mpsc;
use std::sync::LazyLock;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use haven::config::Config;
use haven::state::AppState;
use serde_json::{json, Value};
use uuid::Uuid;

pub mod receiver;

/// The client-details key of every test server (base64 of 32 bytes).
pub const TEST_KEY: &str = "dGVzdCBrZXkgb2YgMzIgYnl0ZXMgZm9yIGFlcy1nY20=";

/// The password of every test user.
pub const PASSWORD: &str = "a long enough test password";

/// A fresh, migrated database, removed when dropped.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg_admin: Option<(String, String)>,
}

impl TestDb {
    pub fn new() -> TestDb {
        match std::env::var("HAVEN_TEST_DATABASE_URL") {
            Ok(admin) if !admin.is_empty() => {
                let name = format!("haven_test_{}", Uuid::new_v4().simple());
                let mut conn =
                    PgConnection::establish(&admin).expect("connect to HAVEN_TEST_DATABASE_URL");
                conn.batch_execute(&format!("CREATE DATABASE {name}"))
                    .unwrap();
                let base = admin
                    .rsplit_once('/')
                    .expect("a database URL ends in /DBNAME")
                    .0;
                TestDb {
                    url: format!("{base}/{name}"),
                    _dir: None,
                    pg_admin: Some((admin, name)),
                }
            }
            _ => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("haven.db").display());
                TestDb {
                    url,
                    _dir: Some(dir),
                    pg_admin: None,
                }
            }
        }
    }

    /// Another handle on the same database, which leaves it in place when dropped.
    pub fn shared(&self) -> TestDb {
        TestDb {
            url: self.url.clone(),
            _dir: None,
            pg_admin: None,
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.pg_admin.is_some()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = &self.pg_admin {
            if let Ok(mut conn) = PgConnection::establish(admin) {
                let _ = conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

/// A running server. Fields drop in order: the server stops before its database goes.
pub struct TestServer {
    pub base: String,
    pub addr: SocketAddr,
    pub state: AppState,
    handle: actix_web::dev::ServerHandle,
    pub db: TestDb,
    http: reqwest::blocking::Client,
}

impl TestServer {
    /// A server over an empty catalogue (vocabularies only).
    pub fn start() -> TestServer {
        TestServer::start_with(&[])
    }

    /// A server with extra settings.
    pub fn start_with(settings: &[(&str, &str)]) -> TestServer {
        TestServer::start_on(TestDb::new(), settings)
    }

    /// A second instance on this server's database, as when several share one PostgreSQL.
    pub fn beside(&self, settings: &[(&str, &str)]) -> TestServer {
        TestServer::start_on(self.db.shared(), settings)
    }

    /// A server on `db` (settings override the defaults, `DATABASE_URL` included).
    pub fn start_on(db: TestDb, settings: &[(&str, &str)]) -> TestServer {
        let settings: Vec<(String, String)> = settings
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let config = Config::from_lookup(|k| {
            if let Some((_, v)) = settings.iter().find(|(name, _)| name == k) {
                return Some(v.clone());
            }
            match k {
                "DATABASE_URL" => Some(db.url.clone()),
                "HAVEN_DEMO" => Some("false".into()),
                "HAVEN_DB_POOL_SIZE" => Some("4".into()),
                "HAVEN_ENCRYPTION_KEYS" => Some(format!("test:{}", TEST_KEY)),
                // Webhook receivers in tests listen on loopback.
                "HAVEN_WEBHOOK_ALLOW_PRIVATE" => Some("true".into()),
                "HAVEN_WEBHOOK_BACKOFF_MS" => Some("50".into()),
                "HAVEN_WEBHOOK_BACKOFF_MAX_MS" => Some("400".into()),
                // Tests search and log in far faster than a person; tests/limits.rs turns
                // the limits on.
                "HAVEN_SEARCH_RATE" | "HAVEN_TOKEN_RATE" => Some("0".into()),
                _ => None,
            }
        })
        .unwrap();
        let pool = haven::server::prepare(&config).unwrap();
        let state = AppState::new(pool, config).unwrap();
        let (tx, rx) = mpsc::channel();
        let app_state = state.clone();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                haven::server::background(app_state.clone());
                let server =
                    actix_web::HttpServer::new(move || haven::server::app(app_state.clone()))
                        .workers(2)
                        .disable_signals()
                        .bind("127.0.0.1:0")
                        .unwrap();
                let addr = server.addrs()[0];
                let server = server.run();
                tx.send((addr, server.handle())).unwrap();
                server.await
            })
        });
        let (addr, handle) = rx.recv().unwrap();
        TestServer {
            base: format!("http://{addr}"),
            addr,
            state,
            handle,
            db,
            http: reqwest::blocking::Client::new(),
        }
    }

    /// A server with these services imported.
    pub fn with(services: &[Value]) -> TestServer {
        let server = TestServer::start();
        server.import(services);
        server
    }

    pub fn import(&self, services: &[Value]) {
        let text: String = services.iter().map(|s| format!("{s}\n")).collect();
        let mut conn = self.state.pool.get().unwrap();
        let report = haven::catalog::import::import(&mut conn, text.as_bytes(), |_| {}).unwrap();
        // As a write through this server would, so that its next search looks for it at once.
        if let Some(index) = &self.state.nearby {
            index.wrote();
        }
        assert!(
            report.rejected.is_empty(),
            "rejected: {:?}",
            report.rejected
        );
    }

    /// Any request, with an optional bearer token and JSON body; returns status and JSON body
    /// (null when empty).
    pub fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let res = req.send().unwrap();
        let status = res.status().as_u16();
        let text = res.text().unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// A user straight into the database (as `haven admin create-user` makes them).
    pub fn user(&self, email: &str, role: &str, organization: Option<&str>) {
        let mut conn = self.state.pool.get().unwrap();
        haven::accounts::users::create_from_cli(&mut conn, email, PASSWORD, role, organization)
            .unwrap();
    }

    /// A token for a user made by [`TestServer::user`].
    pub fn token(&self, email: &str) -> String {
        let res = self
            .http
            .post(format!("{}/auth/token", self.base))
            .form(&[
                ("grant_type", "password"),
                ("username", email),
                ("password", PASSWORD),
            ])
            .send()
            .unwrap();
        assert_eq!(res.status(), 200, "login {email}");
        let body: Value = res.json().unwrap();
        body["access_token"].as_str().unwrap().to_string()
    }

    /// A token for a new API client of `org` with `scopes`, made by its org_admin.
    pub fn client_token(&self, org_admin: &str, org: &str, scopes: &[&str]) -> String {
        let (status, c) = self.send(
            "POST",
            &format!("/organizations/{org}/api_clients"),
            Some(org_admin),
            Some(&json!({"name": "sync", "scopes": scopes})),
        );
        assert_eq!(status, 201, "{c}");
        let res = self
            .http
            .post(format!("{}/auth/token", self.base))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", c["client_id"].as_str().unwrap()),
                ("client_secret", c["client_secret"].as_str().unwrap()),
            ])
            .send()
            .unwrap();
        assert_eq!(res.status(), 200);
        res.json::<Value>().unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub fn get(&self, path_and_query: &str) -> reqwest::blocking::Response {
        self.http
            .get(format!("{}{}", self.base, path_and_query))
            .send()
            .unwrap()
    }

    /// GET, expecting 200 and JSON.
    pub fn json(&self, path_and_query: &str) -> Value {
        let res = self.get(path_and_query);
        let status = res.status();
        let body = res.text().unwrap();
        assert_eq!(status, 200, "GET {path_and_query}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// A GET with a bearer token that must answer 200.
    pub fn json_as(&self, path_and_query: &str, token: &str) -> Value {
        let (status, body) = self.send("GET", path_and_query, Some(token), None);
        assert_eq!(status, 200, "GET {path_and_query}: {body}");
        body
    }

    /// Every column of a stored referral as text, straight from the database, to check what
    /// is at rest.
    pub fn referral_row(&self, id: &str) -> String {
        use diesel::sql_types::Text;
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = Text)]
            t: String,
        }
        let columns = [
            "id",
            "service_id",
            "sender_organization_id",
            "receiver_organization_id",
            "created_by",
            "reason_code",
            "priority",
            "status",
            "status_reason",
            "client_goal_met",
            "consent",
            "consent_expires_at",
            "sealed_key_id",
            "sealed_details",
            "claim_digest",
            "sealed_claim_code",
            "claimed_at",
            "idempotency_key",
            "request_digest",
            "created_at",
            "updated_at",
            "ended_at",
            "purged_at",
        ];
        let concat = columns
            .iter()
            .map(|c| format!("COALESCE({c}, '')"))
            .collect::<Vec<_>>()
            .join(" || '|' || ");
        let mut q = haven::db::Sql::new(&format!("SELECT {concat} AS t FROM referral WHERE id = "));
        q.bind(id);
        let mut conn = self.state.pool.get().unwrap();
        q.load::<Row>(&mut conn)
            .unwrap()
            .pop()
            .expect("the referral is stored")
            .t
    }

    /// The names of the items of a page, in order.
    pub fn names(&self, path_and_query: &str) -> Vec<String> {
        let page = self.json(path_and_query);
        page["contents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                i["name"]
                    .as_str()
                    .or_else(|| i["service"]["name"].as_str())
                    .unwrap()
                    .to_string()
            })
            .collect()
    }

    /// GET, expecting a problem+json with this status; returns the named fields.
    pub fn problem(&self, path_and_query: &str, status: u16) -> Vec<String> {
        let res = self.get(path_and_query);
        assert_eq!(res.status().as_u16(), status, "GET {path_and_query}");
        assert_eq!(
            res.headers()["content-type"].to_str().unwrap(),
            "application/problem+json",
            "GET {path_and_query}"
        );
        let body: Value = res.json().unwrap();
        assert_eq!(body["status"], status);
        assert!(
            body["title"].is_string() && body["detail"].is_string() && body["type"].is_string()
        );
        body["errors"]
            .as_array()
            .map(|e| {
                e.iter()
                    .map(|x| x["field"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        actix_web::rt::System::new().block_on(handle.stop(true));
    }
}

// ---- HSDS schema validation -------------------------------------------------------------

static SERVICE_SCHEMA: LazyLock<Value> = LazyLock::new(|| {
    serde_json::from_str(include_str!("../hsds/service_with_definitions.json")).unwrap()
});

/// Validates `instance` against the official schema of an HSDS object (`service`, or any
/// name in the compiled schema's `definitions`), with format checks; panics listing errors.
pub fn assert_hsds(object: &str, instance: &Value) {
    let schema = if object == "service" {
        SERVICE_SCHEMA.clone()
    } else {
        json!({
            "$ref": format!("#/definitions/{object}"),
            "definitions": SERVICE_SCHEMA["definitions"].clone(),
        })
    };
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap();
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "not a valid HSDS {object}: {errors:#?}\n{instance:#}"
    );
    assert_no_nulls(instance, "");
}

/// HSDS forbids null.
fn assert_no_nulls(v: &Value, path: &str) {
    match v {
        Value::Null => panic!("null at {path}"),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .for_each(|(i, x)| assert_no_nulls(x, &format!("{path}[{i}]"))),
        Value::Object(map) => map
            .iter()
            .for_each(|(k, x)| assert_no_nulls(x, &format!("{path}.{k}"))),
        _ => {}
    }
}

// ---- fixtures ---------------------------------------------------------------------------

pub fn samhsa() -> Vec<Value> {
    serde_json::from_str(include_str!("../../data/samhsa-va.hsds.json")).unwrap()
}

pub fn demo() -> Vec<Value> {
    serde_json::from_str(include_str!("../../data/demo-harm-reduction.hsds.json")).unwrap()
}

/// The fields a problem's `errors` name, in order.
pub fn fields(problem: &Value) -> Vec<&str> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect()
}

/// A stable id for a fixture name.
pub fn id(name: &str) -> String {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, name.as_bytes()).to_string()
}

/// An attribute linking `owner` to a Haven term by taxonomy name and code.
pub fn attribute(owner: &str, entity: &str, taxonomy: &str, code: &str) -> Value {
    let term = haven::vocab::term_id(taxonomy, code).to_string();
    json!({
        "id": id(&format!("{owner}/{taxonomy}/{code}")),
        "link_id": owner,
        "link_type": taxonomy.trim_start_matches("haven-"),
        "link_entity": entity,
        "taxonomy_term_id": term,
        "taxonomy_term": {
            "id": term,
            "code": code,
            "name": code,
            "description": format!("{code} ({taxonomy})"),
            "taxonomy": taxonomy,
            "taxonomy_id": haven::vocab::taxonomy_id(taxonomy).to_string(),
        }
    })
}

/// A service at one place, with Haven attributes given as (taxonomy, code) pairs.
pub struct Fixture {
    pub name: String,
    pub point: Option<(f64, f64)>,
    pub terms: Vec<(&'static str, &'static str)>,
    pub extra: Value,
    pub location_extra: Value,
}

impl Fixture {
    pub fn new(name: &str) -> Fixture {
        Fixture {
            name: name.to_string(),
            point: None,
            terms: vec![],
            extra: json!({}),
            location_extra: json!({}),
        }
    }
    pub fn at(mut self, lat: f64, lon: f64) -> Fixture {
        self.point = Some((lat, lon));
        self
    }
    pub fn term(mut self, taxonomy: &'static str, code: &'static str) -> Fixture {
        self.terms.push((taxonomy, code));
        self
    }
    /// Extra service fields.
    pub fn with(mut self, extra: Value) -> Fixture {
        merge(&mut self.extra, extra);
        self
    }
    /// Extra location fields.
    pub fn location(mut self, extra: Value) -> Fixture {
        merge(&mut self.location_extra, extra);
        self
    }
    pub fn id(&self) -> String {
        id(&format!("service/{}", self.name))
    }
    pub fn build(&self) -> Value {
        let sid = self.id();
        let org = id("organization/test");
        let mut service = json!({
            "id": sid,
            "organization_id": org,
            "name": self.name,
            "description": format!("{} test service", self.name),
            "status": "active",
            "organization": {"id": org, "name": "Test organisation", "description": "Runs test services."},
        });
        if !self.terms.is_empty() {
            service["attributes"] = self
                .terms
                .iter()
                .map(|(t, c)| attribute(&sid, "service", t, c))
                .collect();
        }
        if let Some((lat, lon)) = self.point {
            let lid = id(&format!("location/{}", self.name));
            let mut location = json!({
                "id": lid,
                "location_type": "physical",
                "name": format!("{} site", self.name),
                "latitude": lat,
                "longitude": lon,
            });
            merge(&mut location, self.location_extra.clone());
            service["service_at_locations"] = json!([{
                "id": id(&format!("sal/{}", self.name)),
                "service_id": sid,
                "location_id": lid,
                "location": location,
            }]);
        }
        merge(&mut service, self.extra.clone());
        service
    }
}

fn merge(into: &mut Value, extra: Value) {
    if let (Value::Object(a), Value::Object(b)) = (into, extra) {
        for (k, v) in b {
            a.insert(k, v);
        }
    }
}

/// A service body as a partner sends it: no organisation (the caller's is used), one location.
pub fn partner_body(fixture: Fixture) -> Value {
    let mut s = fixture.build();
    let m = s.as_object_mut().unwrap();
    m.remove("organization");
    m.remove("organization_id");
    // A service with no place has no service_at_locations.
    if let Some(sals) = m
        .get_mut("service_at_locations")
        .and_then(Value::as_array_mut)
    {
        for sal in sals {
            sal["location"]
                .as_object_mut()
                .unwrap()
                .remove("organization_id");
        }
    }
    s
}

/// A point `metres` away from (lat, lon) on `bearing` degrees, on the WGS84 ellipsoid.
pub fn destination(lat: f64, lon: f64, bearing: f64, metres: f64) -> (f64, f64) {
    use geo::{Destination, Geodesic, Point};
    let p = Geodesic.destination(Point::new(lon, lat), bearing, metres);
    (p.y(), p.x())
}

/// Three partner organisations, each with an org_admin and a staff member: `sender` refers to
/// `receiver`'s service, `stranger` must see none of it.
pub struct Partners {
    pub sender: String,
    pub receiver: String,
    pub stranger: String,
    /// org_admin tokens.
    pub s: String,
    pub r: String,
    pub t: String,
    /// Staff tokens.
    pub s_staff: String,
    pub r_staff: String,
    /// The receiver's active service.
    pub service: String,
}

impl Partners {
    pub fn new(server: &TestServer) -> Partners {
        server.user("root@haven.example", "admin", None);
        let admin = server.token("root@haven.example");
        let mut ids = vec![];
        for name in ["sender", "receiver", "stranger"] {
            let (status, org) = server.send(
                "POST",
                "/organizations",
                Some(&admin),
                Some(&json!({"name": format!("The {name}"), "description": "A partner."})),
            );
            assert_eq!(status, 201, "{org}");
            let id = org["id"].as_str().unwrap().to_string();
            server.user(&format!("admin@{name}.example"), "org_admin", Some(&id));
            server.user(&format!("staff@{name}.example"), "staff", Some(&id));
            ids.push(id);
        }
        let r = server.token("admin@receiver.example");
        let (status, service) = server.send(
            "POST",
            "/services",
            Some(&r),
            Some(&json!({"name": "Detox and MOUD", "description": "Same-day starts.", "status": "active"})),
        );
        assert_eq!(status, 201, "{service}");
        Partners {
            sender: ids[0].clone(),
            receiver: ids[1].clone(),
            stranger: ids[2].clone(),
            s: server.token("admin@sender.example"),
            r,
            t: server.token("admin@stranger.example"),
            s_staff: server.token("staff@sender.example"),
            r_staff: server.token("staff@receiver.example"),
            service: service["id"].as_str().unwrap().to_string(),
        }
    }

    /// A referral body to the receiver's service, with client details and consent.
    pub fn with_client(&self) -> Value {
        json!({
            "service_id": self.service,
            "reason_code": "MD",
            "priority": "urgent",
            "client_goal": "Stop injecting alone",
            "consent": {"given": true, "scope": ["contact", "care_coordination"], "expires_at": "2099-01-01T00:00:00Z"},
            "client": {
                "alias": "Robin Quill",
                "contact": {"method": "sms", "value": "+1 555 010 9999"},
                "safe_to_leave_message": false,
                "preferred_language": "es"
            }
        })
    }

    /// An anonymous referral body.
    pub fn anonymous(&self) -> Value {
        json!({"service_id": self.service, "reason_code": "HR02", "priority": "routine"})
    }
}
