//! Referrals end to end: the lifecycle between two organisations while a third sees nothing,
//! consent-bound client details, claim codes, idempotent retries, and the purge.

mod common;

use common::{Partners, TestServer};
use serde_json::{json, Value};

fn status(server: &TestServer, token: &str, id: &str, body: Value) -> (u16, Value) {
    server.send(
        "POST",
        &format!("/referrals/{id}/status"),
        Some(token),
        Some(&body),
    )
}

/// A referral from the sender's staff to the receiver, with the client's details.
fn requested(server: &TestServer, p: &Partners) -> Value {
    let (code, created) = server.send(
        "POST",
        "/referrals",
        Some(&p.s_staff),
        Some(&p.with_client()),
    );
    assert_eq!(code, 201, "{created}");
    created
}

#[test]
fn a_referral_runs_from_request_to_outcome_while_a_third_sees_nothing() {
    let server = TestServer::start();
    let p = Partners::new(&server);
    let created = requested(&server, &p);
    assert_eq!(created["status"], "requested");
    assert_eq!(created["version"], 1);
    assert_eq!(created["sender_organization_id"], p.sender.as_str());
    assert_eq!(created["receiver_organization_id"], p.receiver.as_str());
    assert_eq!(created["client"]["alias"], "Robin Quill");
    assert_eq!(created["anonymous"], false);
    assert!(created.get("claim_code").is_none());
    let id = created["id"].as_str().unwrap().to_string();
    let path = format!("/referrals/{id}");

    // Both sides read it, with the client's details; the stranger finds nothing anywhere.
    for token in [&p.r_staff, &p.s] {
        let (code, got) = server.send("GET", &path, Some(token), None);
        assert_eq!(code, 200);
        assert_eq!(got["client"]["contact"]["value"], "+1 555 010 9999");
        assert_eq!(got["client_goal"], "Stop injecting alone");
    }
    // Nor does the platform admin, who acts for no organisation: "any other caller gets 404".
    server.user("platform@haven.example", "admin", None);
    let admin = server.token("platform@haven.example");
    for stranger in [&p.t, &admin] {
        assert_eq!(server.send("GET", &path, Some(stranger), None).0, 404);
        assert_eq!(
            server
                .send("GET", &format!("{path}/events"), Some(stranger), None)
                .0,
            404
        );
        assert_eq!(
            status(
                &server,
                stranger,
                &id,
                json!({"status": "cancelled", "reason": "x", "version": 1})
            )
            .0,
            404
        );
    }
    let (_, listed) = server.send("GET", "/referrals", Some(&p.t), None);
    assert_eq!(listed["total_items"], 0);
    let (_, received) = server.send("GET", "/referrals?direction=received", Some(&p.r), None);
    assert_eq!(received["total_items"], 1);
    let (_, sent) = server.send("GET", "/referrals?direction=received", Some(&p.s), None);
    assert_eq!(sent["total_items"], 0);

    // Who sets what: the sender cannot accept; the receiver cannot cancel.
    let (code, problem) = status(
        &server,
        &p.s,
        &id,
        json!({"status": "accepted", "version": 1}),
    );
    assert_eq!(code, 403, "{problem}");
    let (code, _) = status(
        &server,
        &p.r,
        &id,
        json!({"status": "cancelled", "reason": "x", "version": 1}),
    );
    assert_eq!(code, 403);
    // A stale version and an illegal move are conflicts; a missing reason names the field.
    let (code, _) = status(
        &server,
        &p.r,
        &id,
        json!({"status": "accepted", "version": 7}),
    );
    assert_eq!(code, 409);
    let (code, _) = status(
        &server,
        &p.r,
        &id,
        json!({"status": "completed", "version": 1}),
    );
    assert_eq!(code, 409);
    let (code, problem) = status(
        &server,
        &p.r,
        &id,
        json!({"status": "rejected", "version": 1}),
    );
    assert_eq!(code, 400);
    assert_eq!(problem["errors"][0]["field"], "reason");
    assert_eq!(
        server.send("GET", &path, Some(&p.s), None).1["version"],
        1,
        "refusals change nothing"
    );

    // The receiver takes it through to an outcome against the client's own goal.
    let (code, accepted) = status(
        &server,
        &p.r_staff,
        &id,
        json!({"status": "accepted", "version": 1}),
    );
    assert_eq!(code, 200, "{accepted}");
    assert_eq!(accepted["version"], 2);
    let (code, _) = status(
        &server,
        &p.r,
        &id,
        json!({"status": "in_progress", "version": 2}),
    );
    assert_eq!(code, 200);
    let (code, problem) = status(
        &server,
        &p.r,
        &id,
        json!({"status": "on_hold", "version": 3, "outcome": {"client_goal_met": "yes"}}),
    );
    assert_eq!(code, 400, "an outcome goes only with an end: {problem}");
    assert_eq!(problem["errors"][0]["field"], "outcome");
    let (code, done) = status(
        &server,
        &p.r,
        &id,
        json!({"status": "completed", "version": 3, "outcome": {"client_goal_met": "partly"}}),
    );
    assert_eq!(code, 200, "{done}");
    assert_eq!(done["outcome"]["client_goal_met"], "partly");
    // Final: nothing moves it now.
    let (code, _) = status(
        &server,
        &p.s,
        &id,
        json!({"status": "cancelled", "reason": "late", "version": 4}),
    );
    assert_eq!(code, 409);

    // Outcomes can be counted.
    let (_, partly) = server.send("GET", "/referrals?client_goal_met=partly", Some(&p.s), None);
    assert_eq!(partly["total_items"], 1);
    let (_, yes) = server.send(
        "GET",
        "/referrals?client_goal_met=yes,no&status=completed",
        Some(&p.s),
        None,
    );
    assert_eq!(yes["total_items"], 0);
    let (code, problem) = server.send("GET", "/referrals?client_goal_met=maybe", Some(&p.s), None);
    assert_eq!(code, 400);
    assert_eq!(problem["errors"][0]["field"], "client_goal_met");

    // The history, append-only, in order.
    let (code, events) = server.send("GET", &format!("{path}/events"), Some(&p.s), None);
    assert_eq!(code, 200);
    let steps: Vec<(&str, i64)> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["status"].as_str().unwrap(),
                e["version"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("requested", 1),
            ("accepted", 2),
            ("in_progress", 3),
            ("completed", 4)
        ]
    );
    assert_eq!(events[0]["type"], "referral.created");
    assert_eq!(events[1]["type"], "referral.status_changed");
    assert_eq!(events[1]["previous_status"], "requested");

    // Polling by updated_after sees nothing newer than the last change.
    let last = done["updated_at"].as_str().unwrap();
    let (_, newer) = server.send(
        "GET",
        &format!("/referrals?updated_after={}", last.replace('+', "%2B")),
        Some(&p.s),
        None,
    );
    assert_eq!(newer["total_items"], 0);
}

#[test]
fn client_details_need_consent_and_are_sealed_at_rest() {
    let server = TestServer::start();
    let p = Partners::new(&server);
    let mut no_consent = p.with_client();
    no_consent.as_object_mut().unwrap().remove("consent");
    let (code, problem) = server.send("POST", "/referrals", Some(&p.s), Some(&no_consent));
    assert_eq!(code, 422, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "consent");
    let mut expired = p.with_client();
    expired["consent"]["expires_at"] = json!("2020-01-01T00:00:00Z");
    let (code, problem) = server.send("POST", "/referrals", Some(&p.s), Some(&expired));
    assert_eq!(code, 422);
    assert_eq!(problem["errors"][0]["field"], "consent.expires_at");
    let mut refused = p.with_client();
    refused["consent"]["given"] = json!(false);
    assert_eq!(
        server
            .send("POST", "/referrals", Some(&p.s), Some(&refused))
            .0,
        422
    );
    // A malformed detail is named, without repeating what was sent.
    let mut bad = p.with_client();
    bad["client"]["safe_to_leave_message"] = json!("Robin's mum may answer");
    let (code, problem) = server.send("POST", "/referrals", Some(&p.s), Some(&bad));
    assert_eq!(code, 400);
    assert_eq!(
        problem["errors"][0]["field"],
        "client.safe_to_leave_message"
    );
    assert!(!problem.to_string().contains("mum"), "{problem}");
    // Fields Haven decides cannot be sent.
    let mut sneaky = p.anonymous();
    sneaky["status"] = json!("accepted");
    let (code, problem) = server.send("POST", "/referrals", Some(&p.s), Some(&sneaky));
    assert_eq!(code, 400, "{problem}");
    assert_eq!(
        server.json_as("/referrals", &p.s)["total_items"],
        0,
        "nothing was made"
    );

    let (code, created) = server.send("POST", "/referrals", Some(&p.s), Some(&p.with_client()));
    assert_eq!(code, 201);
    // At rest: nothing readable in any column of the referral row.
    let row = server.referral_row(created["id"].as_str().unwrap());
    for secret in ["Robin", "Quill", "010 9999", "injecting"] {
        assert!(!row.contains(secret), "{secret} in {row}");
    }
}

#[test]
fn anonymous_referrals_carry_a_claim_code_redeemable_once() {
    let server = TestServer::start();
    let p = Partners::new(&server);
    let (code, created) = server.send("POST", "/referrals", Some(&p.s), Some(&p.anonymous()));
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["anonymous"], true);
    assert!(created.get("client").is_none());
    let claim_code = created["claim_code"].as_str().unwrap().to_string();
    let id = created["id"].as_str().unwrap();
    // Shown once: not on later reads.
    let (_, read) = server.send("GET", &format!("/referrals/{id}"), Some(&p.r), None);
    assert!(read.get("claim_code").is_none());
    // Only the receiving organisation can redeem it, once; typing it loosely is fine.
    let typed = claim_code.to_lowercase().replace('-', " ");
    for token in [&p.s, &p.t] {
        let (code, _) = server.send(
            "POST",
            "/referrals/claim",
            Some(token),
            Some(&json!({"claim_code": typed})),
        );
        assert_eq!(code, 404);
    }
    let (code, claimed) = server.send(
        "POST",
        "/referrals/claim",
        Some(&p.r_staff),
        Some(&json!({"claim_code": typed})),
    );
    assert_eq!(code, 200, "{claimed}");
    assert_eq!(claimed["id"], id);
    assert!(claimed["claimed_at"].is_string());
    let (code, _) = server.send(
        "POST",
        "/referrals/claim",
        Some(&p.r),
        Some(&json!({"claim_code": claim_code})),
    );
    assert_eq!(code, 409);
    let (code, _) = server.send(
        "POST",
        "/referrals/claim",
        Some(&p.r),
        Some(&json!({"claim_code": "0000-0000-0000"})),
    );
    assert_eq!(code, 404);

    // By id: the code must be that referral's.
    let (_, second) = server.send("POST", "/referrals", Some(&p.s), Some(&p.anonymous()));
    let second_code = second["claim_code"].as_str().unwrap();
    let by_id = |referral: &str, code: &str| {
        server
            .send(
                "POST",
                &format!("/referrals/{referral}/claim"),
                Some(&p.r),
                Some(&json!({"claim_code": code})),
            )
            .0
    };
    assert_eq!(by_id(id, second_code), 404);
    assert_eq!(by_id(second["id"].as_str().unwrap(), second_code), 200);
}

#[test]
fn a_retried_request_creates_one_referral() {
    let server = TestServer::start();
    let p = Partners::new(&server);
    let post = |body: &str, key: &str| {
        let res = reqwest::blocking::Client::new()
            .post(format!("{}/referrals", server.base))
            .bearer_auth(&p.s)
            .header("Idempotency-Key", key)
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .unwrap();
        (res.status().as_u16(), res.json::<Value>().unwrap())
    };
    let body = p.anonymous().to_string();
    let (code, first) = post(&body, "retry-1");
    assert_eq!(code, 201);
    // The same request again, spelled differently: the same referral and claim code.
    let respelled = format!(
        "{{ \"priority\": \"routine\", \"reason_code\": \"HR02\", \"service_id\": \"{}\" }}",
        p.service
    );
    let (code, again) = post(&respelled, "retry-1");
    assert_eq!(code, 201);
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["claim_code"], first["claim_code"]);
    // Another body under that key is refused; another key is another referral.
    let mut other = p.anonymous();
    other["priority"] = json!("urgent");
    let (code, problem) = post(&other.to_string(), "retry-1");
    assert_eq!(code, 422);
    assert_eq!(problem["errors"][0]["field"], "Idempotency-Key");
    assert_eq!(post(&body, "retry-2").0, 201);
    assert_eq!(server.json_as("/referrals", &p.s)["total_items"], 2);
}

#[test]
fn only_active_services_take_referrals_and_open_ones_keep_theirs() {
    let server = TestServer::start();
    let p = Partners::new(&server);
    let mut nowhere = p.anonymous();
    nowhere["service_id"] = json!(uuid::Uuid::new_v4().to_string());
    let (code, problem) = server.send("POST", "/referrals", Some(&p.s), Some(&nowhere));
    assert_eq!(code, 422);
    assert_eq!(problem["errors"][0]["field"], "service_id");
    let (_, created) = server.send("POST", "/referrals", Some(&p.s), Some(&p.anonymous()));
    let id = created["id"].as_str().unwrap();
    // An open referral keeps its service from being deleted.
    let service = format!("/services/{}", p.service);
    let (code, problem) = server.send("DELETE", &service, Some(&p.r), None);
    assert_eq!(code, 409, "{problem}");
    // Closed, it takes no new referrals.
    let (code, _) = server.send(
        "PATCH",
        &service,
        Some(&p.r),
        Some(&json!({"status": "inactive"})),
    );
    assert_eq!(code, 200);
    let (code, problem) = server.send("POST", "/referrals", Some(&p.s), Some(&p.anonymous()));
    assert_eq!(code, 422);
    assert_eq!(problem["errors"][0]["field"], "service_id");
    // Once the referral ends, the service can go.
    let (code, _) = status(
        &server,
        &p.s,
        id,
        json!({"status": "cancelled", "reason": "client moved", "version": 1}),
    );
    assert_eq!(code, 200);
    assert_eq!(server.send("DELETE", &service, Some(&p.r), None).0, 204);
    // The referral and its history outlive the service.
    assert_eq!(
        server
            .send("GET", &format!("/referrals/{id}"), Some(&p.s), None)
            .0,
        200
    );
}

#[test]
fn client_details_are_purged_after_the_end_and_when_consent_expires() {
    let server = TestServer::start_with(&[("HAVEN_CLIENT_RETENTION", "3600")]);
    let p = Partners::new(&server);
    let (_, ended) = server.send("POST", "/referrals", Some(&p.s), Some(&p.with_client()));
    let ended_id = ended["id"].as_str().unwrap().to_string();
    status(
        &server,
        &p.r,
        &ended_id,
        json!({"status": "rejected", "reason": "no capacity", "version": 1}),
    );
    let mut short = p.with_client();
    let soon = chrono::Utc::now() + chrono::Duration::minutes(30);
    short["consent"]["expires_at"] = json!(soon.to_rfc3339());
    let (_, open) = server.send("POST", "/referrals", Some(&p.s), Some(&short));
    let open_id = open["id"].as_str().unwrap().to_string();
    let (_, kept) = server.send("POST", "/referrals", Some(&p.s), Some(&p.with_client()));
    let kept_id = kept["id"].as_str().unwrap().to_string();

    let purge_at = |t: chrono::DateTime<chrono::Utc>| {
        let mut conn = server.state.pool.get().unwrap();
        haven::referrals::purge::run_once(&mut conn, t, 3600).unwrap()
    };
    // Now: nothing is due yet.
    assert_eq!(purge_at(chrono::Utc::now()), 0);
    // Two hours on: the ended referral is past retention, the short consent has expired.
    assert_eq!(purge_at(chrono::Utc::now() + chrono::Duration::hours(2)), 2);
    for id in [&ended_id, &open_id] {
        let (_, r) = server.send("GET", &format!("/referrals/{id}"), Some(&p.r), None);
        assert!(r.get("client").is_none(), "{r}");
        assert!(r.get("client_goal").is_none(), "{r}");
        assert!(r["client_details_purged_at"].is_string());
        let row = server.referral_row(id);
        assert!(
            !row.contains("Robin") && !row.contains("injecting"),
            "{row}"
        );
        let (_, events) = server.send("GET", &format!("/referrals/{id}/events"), Some(&p.s), None);
        let last = events.as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["type"], "referral.client_details_purged");
    }
    // The open referral still works, without the details.
    assert_eq!(
        status(
            &server,
            &p.r,
            &open_id,
            json!({"status": "accepted", "version": 1})
        )
        .0,
        200
    );
    let (_, r) = server.send("GET", &format!("/referrals/{kept_id}"), Some(&p.r), None);
    assert_eq!(r["client"]["alias"], "Robin Quill");
    assert_eq!(
        purge_at(chrono::Utc::now() + chrono::Duration::hours(2)),
        0,
        "once is enough"
    );
}

#[test]
fn a_failed_referral_records_how_far_the_clients_own_goal_was_met() {
    let server = TestServer::start();
    let p = Partners::new(&server);
    let created = requested(&server, &p);
    let id = created["id"].as_str().unwrap().to_string();
    for (version, to) in [(1, "accepted"), (2, "in_progress")] {
        let (code, body) = status(
            &server,
            &p.r,
            &id,
            json!({"status": to, "version": version}),
        );
        assert_eq!(code, 200, "{body}");
    }
    let (code, failed) = status(
        &server,
        &p.r,
        &id,
        json!({"status": "failed", "version": 3, "reason": "moved out of the area",
               "outcome": {"client_goal_met": "partly"}}),
    );
    assert_eq!(code, 200, "{failed}");
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["outcome"]["client_goal_met"], "partly");
    let (_, counted) = server.send(
        "GET",
        "/referrals?direction=received&client_goal_met=partly",
        Some(&p.r),
        None,
    );
    assert_eq!(counted["total_items"], 1);
}
