//! Webhooks over real HTTP to a receiver on a loopback port: signed as api.md says, verified
//! the way a partner would, never carrying client details, logged per delivery, and refused
//! for private addresses unless the deployment allows them.

mod common;

use common::receiver::{verify, Receiver};
use common::{Partners, TestServer};
use serde_json::{json, Value};

fn subscribe(server: &TestServer, token: &str, url: &str) -> (String, String) {
    let (code, hook) = server.send(
        "POST",
        "/webhooks",
        Some(token),
        Some(&json!({"url": url, "events": ["referral.created", "referral.status_changed"]})),
    );
    assert_eq!(code, 201, "{hook}");
    assert!(hook["secret"].as_str().unwrap().starts_with("whsec_"));
    (
        hook["id"].as_str().unwrap().to_string(),
        hook["secret"].as_str().unwrap().to_string(),
    )
}

#[test]
fn both_sides_hear_every_change_signed_and_without_client_details() {
    let server = TestServer::start();
    let p = Partners::new(&server);
    let receiver = Receiver::start();
    let (s_hook, s_secret) = subscribe(&server, &p.s, &receiver.url());
    let (_, r_secret) = subscribe(&server, &p.r, &receiver.url());
    // The stranger subscribes too, and must hear nothing.
    let stranger = Receiver::start();
    subscribe(&server, &p.t, &stranger.url());

    let (_, created) = server.send("POST", "/referrals", Some(&p.s), Some(&p.with_client()));
    let id = created["id"].as_str().unwrap().to_string();
    let (code, _) = server.send(
        "POST",
        &format!("/referrals/{id}/status"),
        Some(&p.r),
        Some(&json!({"status": "rejected", "reason": "Robin Quill is already on our list", "version": 1})),
    );
    assert_eq!(code, 200);

    // Two events, each to two subscriptions.
    let got = receiver.wait_for(20, |got| got.len() >= 4);
    assert_eq!(got.len(), 4);
    let mut by_secret = [0, 0];
    for r in &got {
        let s_ok = verify(&s_secret, &r.signature, &r.body);
        let r_ok = verify(&r_secret, &r.signature, &r.body);
        assert!(s_ok ^ r_ok, "signed with exactly one subscription's secret");
        by_secret[usize::from(r_ok)] += 1;
        assert!(
            !verify(&s_secret, &r.signature, &format!("{} ", r.body)),
            "the body is covered"
        );
        for private in [
            "Robin",
            "Quill",
            "010 9999",
            "injecting",
            "client",
            "reason",
        ] {
            assert!(!r.body.contains(private), "{private} in {}", r.body);
        }
        let body = r.json();
        assert_eq!(body["id"], r.event_id.as_str());
        assert_eq!(body["data"]["referral_id"], id.as_str());
    }
    assert_eq!(by_secret, [2, 2]);
    // Each event has one id, shared by its deliveries, and the types arrive in order.
    let mut events: Vec<(String, String, i64)> = got
        .iter()
        .map(|r| {
            let b = r.json();
            (
                b["id"].as_str().unwrap().to_string(),
                b["type"].as_str().unwrap().to_string(),
                b["data"]["version"].as_i64().unwrap(),
            )
        })
        .collect();
    events.sort();
    events.dedup();
    assert_eq!(events.len(), 2);
    let types: Vec<&str> = {
        let mut v: Vec<&(String, String, i64)> = events.iter().collect();
        v.sort_by_key(|e| e.2);
        v.into_iter().map(|e| e.1.as_str()).collect()
    };
    assert_eq!(types, ["referral.created", "referral.status_changed"]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(stranger.received().is_empty());

    // The delivery log says so; it is the subscriber's alone.
    let log = format!("/webhooks/{s_hook}/deliveries");
    let (code, page) = server.send("GET", &log, Some(&p.s), None);
    assert_eq!(code, 200, "{page}");
    assert_eq!(page["total_items"], 2);
    for d in page["contents"].as_array().unwrap() {
        assert_eq!(d["status"], "delivered");
        assert_eq!(d["attempts"], 1);
        assert_eq!(d["last_status_code"], 204);
    }
    assert_eq!(server.send("GET", &log, Some(&p.t), None).0, 404);
    assert_eq!(
        server
            .send("DELETE", &format!("/webhooks/{s_hook}"), Some(&p.t), None)
            .0,
        404
    );
    let (_, hooks) = server.send("GET", "/webhooks", Some(&p.s), None);
    assert_eq!(hooks.as_array().unwrap().len(), 1);
    assert!(hooks[0].get("secret").is_none());
    assert_eq!(
        server
            .send("DELETE", &format!("/webhooks/{s_hook}"), Some(&p.s), None)
            .0,
        204
    );
    assert_eq!(server.send("GET", &log, Some(&p.s), None).0, 404);
}

#[test]
fn a_receiver_that_stays_down_is_given_up_on_after_the_last_attempt() {
    let server = TestServer::start_with(&[("HAVEN_WEBHOOK_MAX_ATTEMPTS", "3")]);
    let p = Partners::new(&server);
    let mut receiver = Receiver::start();
    let (hook, _) = subscribe(&server, &p.r, &receiver.url());
    receiver.down();
    server.send("POST", "/referrals", Some(&p.s), Some(&p.anonymous()));
    let log = format!("/webhooks/{hook}/deliveries");
    let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let delivery: Value = loop {
        let (_, page) = server.send("GET", &log, Some(&p.r), None);
        let d = page["contents"][0].clone();
        if d["status"] == "failed" {
            break d;
        }
        assert!(std::time::Instant::now() < until, "still {d}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(delivery["attempts"], 3);
    assert_eq!(delivery["last_error"], "could not connect");
    assert!(delivery.get("next_attempt_at").is_none());
    let (_, failed) = server.send("GET", &format!("{log}?status=failed"), Some(&p.r), None);
    assert_eq!(failed["total_items"], 1);
}

#[test]
fn private_addresses_and_bad_subscriptions_are_refused() {
    let server = TestServer::start_with(&[("HAVEN_WEBHOOK_ALLOW_PRIVATE", "false")]);
    let p = Partners::new(&server);
    for url in [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.0.0.7/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest/meta-data",
        "ftp://example.org/hook",
        "not a url",
    ] {
        let (code, problem) = server.send(
            "POST",
            "/webhooks",
            Some(&p.s),
            Some(&json!({"url": url, "events": ["referral.created"]})),
        );
        assert_eq!(code, 400, "{url}: {problem}");
        assert_eq!(problem["errors"][0]["field"], "url", "{url}");
    }
    let (code, problem) = server.send(
        "POST",
        "/webhooks",
        Some(&p.s),
        Some(&json!({"url": "https://93.184.216.34/hook", "events": ["referral.deleted"]})),
    );
    assert_eq!(code, 400);
    assert_eq!(problem["errors"][0]["field"], "events[0]");
    let (_, hooks) = server.send("GET", "/webhooks", Some(&p.s), None);
    assert_eq!(hooks, json!([]), "nothing was made");
}
