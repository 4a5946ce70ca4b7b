//! Partner accounts and tokens over HTTP: who may do what, and every way a token is refused.

mod common;

use common::{TestServer, PASSWORD};
use haven::auth::jwt::{Claims, Keys};
use serde_json::{json, Value};

const ORG_A: &str = "7d1f9f5e-0b7a-4c5e-9a51-4a1b2c3d4e5f";
const ORG_B: &str = "0c6f2a31-8f4e-4d6b-b1a2-9e8d7c6b5a40";

/// A server with two organisations, each with an org_admin and a staff user, and an admin.
fn server() -> TestServer {
    let server = TestServer::start_with(&[(
        "HAVEN_JWT_KEYS",
        "k2:22222222222222222222222222222222,k1:11111111111111111111111111111111",
    )]);
    server.user("admin@haven.example", "admin", None);
    let admin = server.token("admin@haven.example");
    for (id, name) in [(ORG_A, "Org A"), (ORG_B, "Org B")] {
        let (status, body) = server.send(
            "POST",
            "/organizations",
            Some(&admin),
            Some(&json!({"id": id, "name": name, "description": "A partner."})),
        );
        assert_eq!(status, 201, "{body}");
    }
    server.user("a-admin@a.example", "org_admin", Some(ORG_A));
    server.user("a-staff@a.example", "staff", Some(ORG_A));
    server.user("b-admin@b.example", "org_admin", Some(ORG_B));
    server
}

fn claims(server: &TestServer, token: &str) -> Claims {
    server.state.keys.verify(token).unwrap()
}

#[test]
fn password_and_client_credentials_grants() {
    let server = server();
    let token = server.token("a-admin@a.example");
    let c = claims(&server, &token);
    assert_eq!(c.org.as_deref(), Some(ORG_A));
    assert_eq!(c.role, "org_admin");
    assert!(c.scope.contains("catalog:write"));
    assert!(c.exp - c.iat == 900 && !c.jti.is_empty());
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.kid.as_deref(), Some("k2"));

    // JSON is accepted too; the email is case-insensitive.
    let (status, body) = server.send(
        "POST",
        "/auth/token",
        None,
        Some(&json!({"grant_type": "password", "username": "A-Staff@A.example", "password": PASSWORD})),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);

    // An API client: the secret is shown once, and its token carries its scopes.
    let (status, created) = server.send(
        "POST",
        &format!("/organizations/{ORG_A}/api_clients"),
        Some(&token),
        Some(&json!({"name": "Case system", "scopes": ["referrals:read", "catalog:write"]})),
    );
    assert_eq!(status, 201, "{created}");
    let id = created["client_id"].as_str().unwrap();
    let secret = created["client_secret"].as_str().unwrap();
    let (_, listed) = server.send(
        "GET",
        &format!("/organizations/{ORG_A}/api_clients"),
        Some(&token),
        None,
    );
    assert!(!listed.to_string().contains(secret));
    assert_eq!(
        listed[0]["scopes"],
        json!(["catalog:write", "referrals:read"])
    );
    let res = reqwest::blocking::Client::new()
        .post(format!("{}/auth/token", server.base))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
        ])
        .send()
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().unwrap();
    let c = claims(&server, body["access_token"].as_str().unwrap());
    assert_eq!(
        (c.role.as_str(), c.scope.as_str()),
        ("api_client", "catalog:write referrals:read")
    );
    assert_eq!(c.sub, id);

    // Or as HTTP Basic credentials, as many OAuth libraries send them; not both ways at once.
    let basic = |form: &[(&str, &str)]| {
        reqwest::blocking::Client::new()
            .post(format!("{}/auth/token", server.base))
            .basic_auth(id, Some(secret))
            .form(form)
            .send()
            .unwrap()
    };
    let res = basic(&[("grant_type", "client_credentials")]);
    assert_eq!(res.status(), 200);
    let body: Value = res.json().unwrap();
    assert_eq!(
        claims(&server, body["access_token"].as_str().unwrap()).sub,
        id
    );
    let res = basic(&[("grant_type", "client_credentials"), ("client_id", id)]);
    assert_eq!(res.status(), 400);
    let body: Value = res.json().unwrap();
    assert_eq!(body["errors"][0]["field"], "client_id");

    // Bad requests name the field.
    for (form, field) in [
        (vec![("grant_type", "magic")], "grant_type"),
        (vec![("username", "x")], "grant_type"),
        (
            vec![
                ("grant_type", "password"),
                ("username", "a-admin@a.example"),
            ],
            "password",
        ),
        (
            vec![("grant_type", "client_credentials"), ("client_secret", "x")],
            "client_id",
        ),
    ] {
        let res = reqwest::blocking::Client::new()
            .post(format!("{}/auth/token", server.base))
            .form(&form)
            .send()
            .unwrap();
        assert_eq!(res.status(), 400);
        let body: Value = res.json().unwrap();
        assert_eq!(body["errors"][0]["field"], field, "{form:?}");
    }
}

#[test]
fn repeated_failed_logins_are_refused_for_a_while() {
    let server = TestServer::start_with(&[("HAVEN_LOGIN_MAX_FAILURES", "3")]);
    server.user("someone@a.example", "admin", None);
    let attempt = |password: &str| {
        reqwest::blocking::Client::new()
            .post(format!("{}/auth/token", server.base))
            .form(&[
                ("grant_type", "password"),
                ("username", "someone@a.example"),
                ("password", password),
            ])
            .send()
            .unwrap()
    };
    for _ in 0..3 {
        let res = attempt("wrong password!");
        assert_eq!(res.status(), 401);
        assert_eq!(res.headers()["www-authenticate"], "Bearer");
    }
    // Now even the right password waits.
    let res = attempt(PASSWORD);
    assert_eq!(res.status(), 429);
    let wait: i64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait > 0 && wait <= 300, "{wait}");
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    // An unknown account costs the same and counts the same (per address too).
    let res = reqwest::blocking::Client::new()
        .post(format!("{}/auth/token", server.base))
        .form(&[
            ("grant_type", "password"),
            ("username", "nobody@a.example"),
            ("password", "x"),
        ])
        .send()
        .unwrap();
    assert_eq!(res.status(), 429, "the address is locked too");
}

#[test]
fn forged_and_stale_tokens_are_refused() {
    let server = server();
    let path = format!("/organizations/{ORG_A}/users");
    let now = chrono::Utc::now().timestamp();
    let good = Claims {
        sub: "x".into(),
        org: Some(ORG_A.into()),
        role: "org_admin".into(),
        scope: "catalog:write".into(),
        exp: now + 600,
        iat: now,
        nbf: now,
        jti: "j".into(),
    };
    let ours = Keys::new(vec![(
        "k1".into(),
        b"11111111111111111111111111111111".to_vec(),
    )]);
    // A token signed with the older, still configured key works.
    assert_eq!(
        server.send("GET", &path, Some(&ours.issue(&good)), None).0,
        200
    );
    let b64 = |s: &str| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
    };
    let valid = ours.issue(&good);
    let parts: Vec<&str> = valid.split('.').collect();
    let cases: Vec<(&str, String)> = vec![
        (
            "expired",
            ours.issue(&Claims {
                exp: now - 60,
                iat: now - 1000,
                nbf: now - 1000,
                ..good.clone()
            }),
        ),
        (
            "not yet valid",
            ours.issue(&Claims {
                nbf: now + 600,
                ..good.clone()
            }),
        ),
        (
            "wrong signature",
            Keys::new(vec![(
                "k1".into(),
                b"99999999999999999999999999999999".to_vec(),
            )])
            .issue(&good),
        ),
        (
            "unknown kid",
            Keys::new(vec![(
                "k9".into(),
                b"11111111111111111111111111111111".to_vec(),
            )])
            .issue(&good),
        ),
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(r#"{"alg":"none","typ":"JWT","kid":"k1"}"#),
                parts[1]
            ),
        ),
        (
            "another algorithm",
            format!(
                "{}.{}.{}",
                b64(r#"{"alg":"HS512","typ":"JWT","kid":"k1"}"#),
                parts[1],
                parts[2]
            ),
        ),
        ("malformed", "not-a-token".into()),
        (
            "tampered",
            format!(
                "{}.{}.{}",
                parts[0],
                b64(&serde_json::to_string(&Claims {
                    role: "admin".into(),
                    ..good.clone()
                })
                .unwrap()),
                parts[2]
            ),
        ),
    ];
    for (name, token) in cases {
        let res = reqwest::blocking::Client::new()
            .get(format!("{}{path}", server.base))
            .bearer_auth(&token)
            .send()
            .unwrap();
        assert_eq!(res.status(), 401, "{name}");
        assert_eq!(res.headers()["www-authenticate"], "Bearer", "{name}");
        assert_eq!(
            res.headers()["content-type"],
            "application/problem+json",
            "{name}"
        );
    }
    let res = reqwest::blocking::Client::new()
        .get(format!("{}{path}", server.base))
        .header("Authorization", format!("Basic {}", b64("a:b")))
        .send()
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(server.send("GET", &path, None, None).0, 401);
}

#[test]
fn deleting_accounts_stays_inside_the_organisation() {
    let server = server();
    let admin = server.token("admin@haven.example");
    let a_admin = server.token("a-admin@a.example");
    let a_staff = server.token("a-staff@a.example");
    let b_admin = server.token("b-admin@b.example");
    // Who may list and create is in the matrix (tests/matrix.rs); here, the edges of delete.
    let users = format!("/organizations/{ORG_A}/users");
    // Deleting: another organisation's user is not there; one's own goes.
    let (_, list) = server.send("GET", &users, Some(&a_admin), None);
    let staff_id = list
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "a-staff@a.example")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let one = format!("{users}/{staff_id}");
    assert_eq!(server.send("DELETE", &one, Some(&b_admin), None).0, 404);
    assert_eq!(
        server
            .send(
                "DELETE",
                &format!("/organizations/{ORG_B}/users/{staff_id}"),
                Some(&b_admin),
                None
            )
            .0,
        404
    );
    assert_eq!(server.send("DELETE", &one, Some(&a_staff), None).0, 403);
    assert_eq!(server.send("DELETE", &one, Some(&a_admin), None).0, 204);
    assert_eq!(server.send("DELETE", &one, Some(&a_admin), None).0, 404);
    // An unknown organisation is a 404 even to the admin.
    let nowhere = format!("/organizations/{}/users", uuid::Uuid::new_v4());
    assert_eq!(server.send("GET", &nowhere, Some(&admin), None).0, 404);
}

#[test]
fn fields_a_caller_may_not_set_are_refused() {
    let server = server();
    let a_admin = server.token("a-admin@a.example");
    let users = format!("/organizations/{ORG_A}/users");
    let cases = [
        (
            json!({"email": "x@a.example", "password": PASSWORD, "role": "admin"}),
            "role",
        ),
        (
            json!({"email": "x@a.example", "password": PASSWORD, "role": "staff", "organization_id": ORG_B}),
            "organization_id",
        ),
        (
            json!({"email": "not an email", "password": PASSWORD, "role": "staff"}),
            "email",
        ),
        (
            json!({"email": "x@a.example", "password": "short", "role": "staff"}),
            "password",
        ),
    ];
    for (body, field) in cases {
        let (status, problem) = server.send("POST", &users, Some(&a_admin), Some(&body));
        assert_eq!(status, 400, "{body}");
        let fields = common::fields(&problem);
        assert!(fields.contains(&field), "{body}: {fields:?}");
    }
    // Nothing was created, and nobody was made an admin.
    let (_, list) = server.send("GET", &users, Some(&a_admin), None);
    assert_eq!(list.as_array().unwrap().len(), 2);
    // Scopes are checked.
    let (status, problem) = server.send(
        "POST",
        &format!("/organizations/{ORG_A}/api_clients"),
        Some(&a_admin),
        Some(&json!({"name": "x", "scopes": ["everything"]})),
    );
    assert_eq!(status, 400);
    assert_eq!(problem["errors"][0]["field"], "scopes[0]");
    // A duplicate email is a conflict.
    let (status, _) = server.send(
        "POST",
        &users,
        Some(&a_admin),
        Some(&json!({"email": "A-STAFF@a.example", "password": PASSWORD, "role": "staff"})),
    );
    assert_eq!(status, 409);
    // An organisation body is validated, and its id cannot be taken twice.
    let admin = server.token("admin@haven.example");
    let (status, problem) = server.send(
        "POST",
        "/organizations",
        Some(&admin),
        Some(&json!({"name": "No description"})),
    );
    assert_eq!(status, 400);
    assert_eq!(problem["errors"][0]["field"], "description");
    let (status, _) = server.send(
        "POST",
        "/organizations",
        Some(&admin),
        Some(&json!({"id": ORG_A, "name": "Again", "description": "x"})),
    );
    assert_eq!(status, 409);
}
