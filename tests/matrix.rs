//! Who may call each protected endpoint: every one × (anonymous, staff of the owning
//! organisation, its org_admin, another organisation's org_admin, the platform admin, an API
//! client with the scope the endpoint needs, one without), asserting the exact status. Each
//! cell runs against records made fresh for it, so a delete in one cell cannot decide another.

mod common;

use common::{TestServer, PASSWORD};
use serde_json::{json, Value};
use uuid::Uuid;

const ORG_A: &str = "1e0f3b8a-6c1d-4a57-8f0e-5b2a9c7d3e11";
const ORG_B: &str = "2f1a4c9b-7d2e-4b68-9a1f-6c3b0d8e4f22";
/// A third organisation, the other party of the referrals in the matrix.
const ORG_C: &str = "3a2b5d0c-8e3f-4c79-8b20-7d4c1e9f5a33";

const CALLERS: [&str; 7] = [
    "anonymous",
    "staff",
    "org_admin",
    "other org_admin",
    "admin",
    "client with scope",
    "client without scope",
];

struct Ctx {
    server: TestServer,
    a_admin: String,
    c_admin: String,
    admin: String,
    tokens: Vec<Option<String>>,
}

impl Ctx {
    fn new(scope: &str) -> Ctx {
        let server = TestServer::start();
        server.user("admin@haven.example", "admin", None);
        let admin = server.token("admin@haven.example");
        for (id, name) in [(ORG_A, "Org A"), (ORG_B, "Org B"), (ORG_C, "Org C")] {
            let body = json!({"id": id, "name": name, "description": "A partner."});
            let (status, _) = server.send("POST", "/organizations", Some(&admin), Some(&body));
            assert_eq!(status, 201);
        }
        server.user("staff@a.example", "staff", Some(ORG_A));
        server.user("admin@a.example", "org_admin", Some(ORG_A));
        server.user("admin@b.example", "org_admin", Some(ORG_B));
        server.user("admin@c.example", "org_admin", Some(ORG_C));
        let a_admin = server.token("admin@a.example");
        let c_admin = server.token("admin@c.example");
        let others: Vec<&str> = haven::auth::SCOPES
            .into_iter()
            .filter(|s| *s != scope)
            .collect();
        let with = server.client_token(&a_admin, ORG_A, &[scope]);
        let without = server.client_token(&a_admin, ORG_A, &others);
        let tokens = vec![
            None,
            Some(server.token("staff@a.example")),
            Some(a_admin.clone()),
            Some(server.token("admin@b.example")),
            Some(admin.clone()),
            Some(with),
            Some(without),
        ];
        Ctx {
            server,
            a_admin,
            c_admin,
            admin,
            tokens,
        }
    }

    fn send(&self, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> u16 {
        self.server.send(method, path, token, body).0
    }

    /// A fresh service of organisation A, with a location; returns (service, its first
    /// service_at_location, its location) ids.
    fn service(&self) -> (String, String, String) {
        let body = json!({
            "name": "Drop-in",
            "description": "Walk in.",
            "status": "active",
            "service_at_locations": [{"location": {
                "id": Uuid::new_v4().to_string(),
                "name": "Drop-in site",
                "location_type": "physical",
                "latitude": 38.03,
                "longitude": -78.48,
            }}],
        });
        let (status, s) = self
            .server
            .send("POST", "/services", Some(&self.a_admin), Some(&body));
        assert_eq!(status, 201, "{s}");
        let sal = &s["service_at_locations"][0];
        (
            s["id"].as_str().unwrap().into(),
            sal["id"].as_str().unwrap().into(),
            sal["location"]["id"].as_str().unwrap().into(),
        )
    }

    /// A fresh active service of the organisation `token` acts for.
    fn service_of(&self, token: &str) -> String {
        let body = json!({"name": "Counselling", "description": "Talk.", "status": "active"});
        let (status, s) = self
            .server
            .send("POST", "/services", Some(token), Some(&body));
        assert_eq!(status, 201, "{s}");
        s["id"].as_str().unwrap().into()
    }

    /// A referral from A to C; returns its id.
    fn referral_from_a(&self) -> String {
        let service = self.service_of(&self.c_admin);
        let body = json!({"service_id": service, "reason_code": "CP", "priority": "routine"});
        let (status, r) = self
            .server
            .send("POST", "/referrals", Some(&self.a_admin), Some(&body));
        assert_eq!(status, 201, "{r}");
        r["id"].as_str().unwrap().into()
    }

    /// An anonymous referral from C to A; returns its id and claim code.
    fn anonymous_for_a(&self) -> (String, String) {
        let service = self.service_of(&self.a_admin);
        let body = json!({"service_id": service, "reason_code": "CP", "priority": "routine"});
        let (status, r) = self
            .server
            .send("POST", "/referrals", Some(&self.c_admin), Some(&body));
        assert_eq!(status, 201, "{r}");
        (
            r["id"].as_str().unwrap().into(),
            r["claim_code"].as_str().unwrap().into(),
        )
    }

    /// A webhook subscription of A.
    fn webhook(&self) -> String {
        let body = json!({"url": "http://127.0.0.1:9/hook", "events": ["referral.created"]});
        let (status, w) = self
            .server
            .send("POST", "/webhooks", Some(&self.a_admin), Some(&body));
        assert_eq!(status, 201, "{w}");
        w["id"].as_str().unwrap().into()
    }

    /// A fresh location of organisation A that no service uses.
    fn location(&self) -> String {
        let (status, l) = self.server.send(
            "POST",
            "/locations",
            Some(&self.a_admin),
            Some(&json!({"name": "Back office", "location_type": "physical", "latitude": 38.0, "longitude": -78.5})),
        );
        assert_eq!(status, 201, "{l}");
        l["id"].as_str().unwrap().into()
    }

    fn user(&self) -> String {
        let (status, u) = self.server.send(
            "POST",
            &format!("/organizations/{ORG_A}/users"),
            Some(&self.a_admin),
            Some(&json!({"email": format!("{}@a.example", Uuid::new_v4()), "password": PASSWORD, "role": "staff"})),
        );
        assert_eq!(status, 201, "{u}");
        u["id"].as_str().unwrap().into()
    }

    fn client(&self) -> String {
        let (status, c) = self.server.send(
            "POST",
            &format!("/organizations/{ORG_A}/api_clients"),
            Some(&self.a_admin),
            Some(&json!({"name": "x", "scopes": ["referrals:read"]})),
        );
        assert_eq!(status, 201, "{c}");
        c["client_id"].as_str().unwrap().into()
    }

    /// An organisation with nothing in it.
    fn organization(&self) -> String {
        let (status, o) = self.server.send(
            "POST",
            "/organizations",
            Some(&self.admin),
            Some(&json!({"name": "Short-lived", "description": "x"})),
        );
        assert_eq!(status, 201, "{o}");
        o["id"].as_str().unwrap().into()
    }
}

type Call = fn(&Ctx, Option<&str>) -> u16;

/// Runs each case for each caller; `expect` lists the status per caller, in [`CALLERS`] order.
fn check(scope: &str, cases: &[(&str, [u16; 7], Call)]) {
    let ctx = Ctx::new(scope);
    let mut wrong = vec![];
    for (name, expect, call) in cases {
        for (i, who) in CALLERS.iter().enumerate() {
            let got = call(&ctx, ctx.tokens[i].as_deref());
            if got != expect[i] {
                wrong.push(format!("{name} by {who}: {got}, expected {}", expect[i]));
            }
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

//                                anon staff  own  other admin  with  without
const WRITE_CREATE: [u16; 7] = [401, 201, 201, 201, 403, 201, 403];
const WRITE_OWN: [u16; 7] = [401, 200, 200, 404, 403, 200, 403];
const DELETE_OWN: [u16; 7] = [401, 204, 204, 404, 403, 204, 403];

#[test]
fn catalogue_writes() {
    check(
        "catalog:write",
        &[
            ("POST /services", WRITE_CREATE, |c, t| {
                let body = json!({"name": "New", "description": "New.", "status": "active"});
                c.send("POST", "/services", t, Some(&body))
            }),
            ("PUT /services/{id}", WRITE_OWN, |c, t| {
                let (id, _, _) = c.service();
                let path = format!("/services/{id}");
                let current = c.server.json(&path);
                c.send("PUT", &path, t, Some(&current))
            }),
            ("PATCH /services/{id}", WRITE_OWN, |c, t| {
                let (id, _, _) = c.service();
                c.send(
                    "PATCH",
                    &format!("/services/{id}"),
                    t,
                    Some(&json!({"description": "x"})),
                )
            }),
            ("DELETE /services/{id}", DELETE_OWN, |c, t| {
                let (id, _, _) = c.service();
                c.send("DELETE", &format!("/services/{id}"), t, None)
            }),
            ("POST /locations", WRITE_CREATE, |c, t| {
                c.send(
                    "POST",
                    "/locations",
                    t,
                    Some(&json!({"name": "Van", "location_type": "physical"})),
                )
            }),
            ("PUT /locations/{id}", WRITE_OWN, |c, t| {
                let id = c.location();
                c.send(
                    "PUT",
                    &format!("/locations/{id}"),
                    t,
                    Some(&json!({"name": "Renamed", "location_type": "physical"})),
                )
            }),
            ("PATCH /locations/{id}", WRITE_OWN, |c, t| {
                let id = c.location();
                c.send(
                    "PATCH",
                    &format!("/locations/{id}"),
                    t,
                    Some(&json!({"name": "Renamed", "location_type": "physical"})),
                )
            }),
            ("DELETE /locations/{id}", DELETE_OWN, |c, t| {
                let id = c.location();
                c.send("DELETE", &format!("/locations/{id}"), t, None)
            }),
            (
                "POST /service_at_locations",
                [401, 201, 201, 404, 403, 201, 403],
                |c, t| {
                    let (service, _, _) = c.service();
                    let location = c.location();
                    let body = json!({"service_id": service, "location_id": location});
                    c.send("POST", "/service_at_locations", t, Some(&body))
                },
            ),
            ("PUT /service_at_locations/{id}", WRITE_OWN, |c, t| {
                let (service, sal, location) = c.service();
                let body = json!({"service_id": service, "location_id": location, "description": "Side door"});
                c.send(
                    "PUT",
                    &format!("/service_at_locations/{sal}"),
                    t,
                    Some(&body),
                )
            }),
            ("PATCH /service_at_locations/{id}", WRITE_OWN, |c, t| {
                let (_, sal, _) = c.service();
                let body = json!({"description": "Side door"});
                c.send(
                    "PATCH",
                    &format!("/service_at_locations/{sal}"),
                    t,
                    Some(&body),
                )
            }),
            ("DELETE /service_at_locations/{id}", DELETE_OWN, |c, t| {
                let (_, sal, _) = c.service();
                c.send("DELETE", &format!("/service_at_locations/{sal}"), t, None)
            }),
            (
                "POST /organizations",
                [401, 403, 403, 403, 201, 403, 403],
                |c, t| {
                    let body = json!({"name": "New partner", "description": "x"});
                    c.send("POST", "/organizations", t, Some(&body))
                },
            ),
            (
                "PUT /organizations/{id}",
                [401, 403, 200, 404, 200, 200, 403],
                |c, t| {
                    let body = json!({"name": "Org A", "description": "Renamed."});
                    c.send("PUT", &format!("/organizations/{ORG_A}"), t, Some(&body))
                },
            ),
            (
                "PATCH /organizations/{id}",
                [401, 403, 200, 404, 200, 200, 403],
                |c, t| {
                    let body = json!({"description": "Patched."});
                    c.send("PATCH", &format!("/organizations/{ORG_A}"), t, Some(&body))
                },
            ),
            (
                "DELETE /organizations/{id}",
                [401, 404, 404, 404, 204, 404, 404],
                |c, t| {
                    let id = c.organization();
                    c.send("DELETE", &format!("/organizations/{id}"), t, None)
                },
            ),
        ],
    );
}

//                              anon staff  own  other admin client client
const MANAGE_LIST: [u16; 7] = [401, 403, 200, 404, 200, 403, 403];
const MANAGE_CREATE: [u16; 7] = [401, 403, 201, 404, 201, 403, 403];
const MANAGE_DELETE: [u16; 7] = [401, 403, 204, 404, 204, 403, 403];

#[test]
fn account_management() {
    // Accounts are managed by people, never by API clients, whatever their scopes.
    check(
        "webhooks:manage",
        &[
            ("GET /organizations/{id}/users", MANAGE_LIST, |c, t| {
                c.send("GET", &format!("/organizations/{ORG_A}/users"), t, None)
            }),
            ("POST /organizations/{id}/users", MANAGE_CREATE, |c, t| {
                let body = json!({"email": format!("{}@a.example", Uuid::new_v4()), "password": PASSWORD, "role": "staff"});
                c.send(
                    "POST",
                    &format!("/organizations/{ORG_A}/users"),
                    t,
                    Some(&body),
                )
            }),
            (
                "DELETE /organizations/{id}/users/{id}",
                MANAGE_DELETE,
                |c, t| {
                    let id = c.user();
                    c.send(
                        "DELETE",
                        &format!("/organizations/{ORG_A}/users/{id}"),
                        t,
                        None,
                    )
                },
            ),
            (
                "GET /organizations/{id}/api_clients",
                MANAGE_LIST,
                |c, t| {
                    c.send(
                        "GET",
                        &format!("/organizations/{ORG_A}/api_clients"),
                        t,
                        None,
                    )
                },
            ),
            (
                "POST /organizations/{id}/api_clients",
                MANAGE_CREATE,
                |c, t| {
                    let body = json!({"name": "x", "scopes": ["referrals:read"]});
                    c.send(
                        "POST",
                        &format!("/organizations/{ORG_A}/api_clients"),
                        t,
                        Some(&body),
                    )
                },
            ),
            (
                "DELETE /organizations/{id}/api_clients/{id}",
                MANAGE_DELETE,
                |c, t| {
                    let id = c.client();
                    c.send(
                        "DELETE",
                        &format!("/organizations/{ORG_A}/api_clients/{id}"),
                        t,
                        None,
                    )
                },
            ),
        ],
    );
}

//                           anon staff  own  other admin  with  without
const READ_OWN: [u16; 7] = [401, 200, 200, 404, 404, 200, 403];

/// A referral named by id is a 404 to the platform admin, as to anyone outside its two
/// organisations; a claim by code alone names none, and the admin, who acts for no
/// organisation, cannot make one.
const CLAIM: [u16; 7] = [401, 200, 200, 404, 403, 200, 403];

#[test]
fn referral_reads() {
    check(
        "referrals:read",
        &[
            (
                "GET /referrals",
                [401, 200, 200, 200, 403, 200, 403],
                |c, t| c.send("GET", "/referrals", t, None),
            ),
            ("GET /referrals/{id}", READ_OWN, |c, t| {
                let id = c.referral_from_a();
                c.send("GET", &format!("/referrals/{id}"), t, None)
            }),
            ("GET /referrals/{id}/events", READ_OWN, |c, t| {
                let id = c.referral_from_a();
                c.send("GET", &format!("/referrals/{id}/events"), t, None)
            }),
        ],
    );
}

#[test]
fn referral_writes() {
    check(
        "referrals:write",
        &[
            (
                "POST /referrals",
                [401, 201, 201, 201, 403, 201, 403],
                |c, t| {
                    let service = c.service_of(&c.c_admin);
                    let body =
                        json!({"service_id": service, "reason_code": "CP", "priority": "routine"});
                    c.send("POST", "/referrals", t, Some(&body))
                },
            ),
            ("POST /referrals/{id}/status", READ_OWN, |c, t| {
                let id = c.referral_from_a();
                let body = json!({"status": "cancelled", "reason": "client moved", "version": 1});
                c.send("POST", &format!("/referrals/{id}/status"), t, Some(&body))
            }),
            ("POST /referrals/{id}/claim", READ_OWN, |c, t| {
                let (id, code) = c.anonymous_for_a();
                let path = format!("/referrals/{id}/claim");
                c.send("POST", &path, t, Some(&json!({"claim_code": code})))
            }),
            ("POST /referrals/claim", CLAIM, |c, t| {
                let (_, code) = c.anonymous_for_a();
                c.send(
                    "POST",
                    "/referrals/claim",
                    t,
                    Some(&json!({"claim_code": code})),
                )
            }),
        ],
    );
}

#[test]
fn webhook_management() {
    // Staff carry no webhooks:manage scope: subscriptions are an administrator's business.
    check(
        "webhooks:manage",
        &[
            (
                "POST /webhooks",
                [401, 403, 201, 201, 403, 201, 403],
                |c, t| {
                    let body =
                        json!({"url": "http://127.0.0.1:9/hook", "events": ["referral.created"]});
                    c.send("POST", "/webhooks", t, Some(&body))
                },
            ),
            (
                "GET /webhooks",
                [401, 403, 200, 200, 403, 200, 403],
                |c, t| c.send("GET", "/webhooks", t, None),
            ),
            (
                "DELETE /webhooks/{id}",
                [401, 403, 204, 404, 403, 204, 403],
                |c, t| {
                    let id = c.webhook();
                    c.send("DELETE", &format!("/webhooks/{id}"), t, None)
                },
            ),
            (
                "GET /webhooks/{id}/deliveries",
                [401, 403, 200, 404, 403, 200, 403],
                |c, t| {
                    let id = c.webhook();
                    c.send("GET", &format!("/webhooks/{id}/deliveries"), t, None)
                },
            ),
        ],
    );
}
