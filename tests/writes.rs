//! Partners publishing services: ownership, scopes, validation, ETags.

mod common;

use common::{partner_body, Fixture, Partners, TestServer};
use serde_json::{json, Value};

const ORG_A: &str = "7d1f9f5e-0b7a-4c5e-9a51-4a1b2c3d4e5f";
const ORG_B: &str = "0c6f2a31-8f4e-4d6b-b1a2-9e8d7c6b5a40";

fn server() -> TestServer {
    let server = TestServer::start();
    server.user("admin@haven.example", "admin", None);
    let admin = server.token("admin@haven.example");
    for (id, name) in [(ORG_A, "Org A"), (ORG_B, "Org B")] {
        let body = json!({"id": id, "name": name, "description": "A partner."});
        assert_eq!(
            server
                .send("POST", "/organizations", Some(&admin), Some(&body))
                .0,
            201
        );
    }
    server.user("a@a.example", "staff", Some(ORG_A));
    server.user("b@b.example", "org_admin", Some(ORG_B));
    server
}

/// A new service body as a partner would send it: no organisation, a location.
fn new_service(name: &str) -> Value {
    common::partner_body(
        Fixture::new(name)
            .at(38.03, -78.48)
            .term("haven-services", "HR01")
            .term("haven-cost", "free"),
    )
}

#[test]
fn a_partner_publishes_a_searchable_service() {
    let server = server();
    let a = server.token("a@a.example");
    let body = new_service("Needle exchange");
    let (status, created) = server.send("POST", "/services", Some(&a), Some(&body));
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["organization_id"], ORG_A);
    assert_eq!(created["organization"]["name"], "Org A");
    common::assert_hsds("service", &created);
    let id = created["id"].as_str().unwrap();
    // Public, searchable at once.
    assert_eq!(
        server.names("/services?taxonomy_code=HR01&cost=free&lat=38.03&lon=-78.48"),
        ["Needle exchange"]
    );
    assert_eq!(
        server.json(&format!("/services/{id}"))["name"],
        "Needle exchange"
    );
    // The same id again is a conflict.
    assert_eq!(
        server.send("POST", "/services", Some(&a), Some(&created)).0,
        409
    );
}

#[test]
fn taxonomy_filters_follow_rewrites_and_deletes() {
    let server = server();
    let a = server.token("a@a.example");
    let mut ids = vec![];
    for body in [
        new_service("First"),
        partner_body(
            Fixture::new("Second")
                .at(38.03, -78.48)
                .term("haven-services", "HR01")
                .term("haven-cost", "medicaid"),
        ),
    ] {
        let (status, created) = server.send("POST", "/services", Some(&a), Some(&body));
        assert_eq!(status, 201, "{created}");
        ids.push(created["id"].as_str().unwrap().to_string());
    }
    let term = |code: &str| {
        let taxonomy = if code == "HR01" {
            "haven-services"
        } else {
            "haven-cost"
        };
        let id = haven::vocab::term_id(taxonomy, code);
        server.names(&format!("/services?taxonomy_term_id={id}"))
    };
    let services = haven::vocab::taxonomy_id("haven-services");
    assert_eq!(term("HR01"), ["First", "Second"]);
    assert_eq!(term("free"), ["First"]);
    assert_eq!(term("medicaid"), ["Second"]);

    // First changes its terms: it leaves the lists of those it dropped.
    let mut changed = partner_body(
        Fixture::new("First")
            .at(38.03, -78.48)
            .term("haven-cost", "medicaid"),
    );
    changed["id"] = json!(ids[0]);
    let path = format!("/services/{}", ids[0]);
    let (status, body) = server.send("PUT", &path, Some(&a), Some(&changed));
    assert_eq!(status, 200, "{body}");
    assert_eq!(term("HR01"), ["Second"]);
    assert!(term("free").is_empty());
    assert_eq!(term("medicaid"), ["First", "Second"]);
    assert_eq!(
        server.names(&format!("/services?taxonomy_id={services}")),
        ["Second"]
    );

    // Deleted, Second is in no list and leaves nothing behind.
    let path = format!("/services/{}", ids[1]);
    assert_eq!(server.send("DELETE", &path, Some(&a), None).0, 204);
    assert!(term("HR01").is_empty());
    assert_eq!(term("medicaid"), ["First"]);
    // What is left lists First's one term, once.
    let mut conn = server.state.pool.get().unwrap();
    let left = haven::db::Sql::new("SELECT count(*) AS n FROM service_term");
    assert_eq!(left.count(&mut conn).unwrap(), 1);
}

#[test]
fn only_the_owner_with_catalog_write_may_write() {
    let server = server();
    let a = server.token("a@a.example");
    let b = server.token("b@b.example");
    let admin = server.token("admin@haven.example");
    let (_, created) = server.send("POST", "/services", Some(&a), Some(&new_service("Ours")));
    let id = created["id"].as_str().unwrap();
    let path = format!("/services/{id}");
    let b_reader = server.client_token(&b, ORG_B, &["referrals:read"]);
    let b_writer = server.client_token(&b, ORG_B, &["catalog:write"]);
    let patch = json!({"description": "changed"});
    for (who, token, want) in [
        ("anonymous", None, 401),
        ("other org_admin", Some(b.as_str()), 404),
        ("other org's writer client", Some(b_writer.as_str()), 404),
        ("client without the scope", Some(b_reader.as_str()), 403),
        (
            "platform admin (no organisation)",
            Some(admin.as_str()),
            403,
        ),
    ] {
        assert_eq!(
            server.send("PATCH", &path, token, Some(&patch)).0,
            want,
            "PATCH by {who}"
        );
        assert_eq!(
            server.send("PUT", &path, token, Some(&created)).0,
            want,
            "PUT by {who}"
        );
        assert_eq!(
            server.send("DELETE", &path, token, None).0,
            want,
            "DELETE by {who}"
        );
    }
    assert_eq!(server.json(&path)["description"], created["description"]);
    // A body cannot move the service to another organisation, nor claim its locations.
    let mut moved = created.clone();
    moved["organization_id"] = json!(ORG_B);
    let (status, problem) = server.send("PUT", &path, Some(&a), Some(&moved));
    assert_eq!(status, 400);
    assert_eq!(problem["errors"][0]["field"], "organization_id");
    let (status, problem) = server.send(
        "PATCH",
        &path,
        Some(&a),
        Some(&json!({"organization_id": ORG_B})),
    );
    assert_eq!(status, 400, "{problem}");
    // B reusing A's location in a service of its own: the location is not B's to use.
    let mut theirs = created.clone();
    let new_id = uuid::Uuid::new_v4().to_string();
    let m = theirs.as_object_mut().unwrap();
    m.remove("organization");
    m.remove("organization_id");
    m.remove("attributes");
    m.insert("id".into(), json!(new_id));
    theirs["service_at_locations"][0]["id"] = json!(uuid::Uuid::new_v4().to_string());
    theirs["service_at_locations"][0]["service_id"] = json!(new_id);
    theirs["service_at_locations"][0]["location"]
        .as_object_mut()
        .unwrap()
        .remove("organization_id");
    let (status, body) = server.send("POST", "/services", Some(&b), Some(&theirs));
    assert_eq!(status, 404, "{body}");
    // Nor by naming it only by id.
    let loc = theirs["service_at_locations"][0]["location"]["id"].clone();
    theirs["service_at_locations"][0]
        .as_object_mut()
        .unwrap()
        .remove("location");
    theirs["service_at_locations"][0]["location_id"] = loc;
    let (status, body) = server.send("POST", "/services", Some(&b), Some(&theirs));
    assert_eq!(status, 404, "{body}");
    theirs["service_at_locations"][0]["location_id"] = json!(uuid::Uuid::new_v4().to_string());
    let (status, body) = server.send("POST", "/services", Some(&b), Some(&theirs));
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["errors"][0]["field"],
        "service_at_locations[0].location_id"
    );
    assert_eq!(server.json(&path)["organization_id"], ORG_A);
    // The owner may.
    let (status, patched) = server.send("PATCH", &path, Some(&a), Some(&patch));
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["description"], "changed");
    assert_eq!(server.send("DELETE", &path, Some(&a), None).0, 204);
    assert_eq!(server.get(&path).status(), 404);
}

#[test]
fn bad_bodies_name_the_field_and_change_nothing() {
    let server = server();
    let a = server.token("a@a.example");
    let (_, created) = server.send("POST", "/services", Some(&a), Some(&new_service("Clinic")));
    let id = created["id"].as_str().unwrap();
    let path = format!("/services/{id}");
    for (patch, field) in [
        (
            json!({"service_at_locations": [{"id": common::id("x"), "location": {"id": common::id("y"), "location_type": "physical", "latitude": 123}}]}),
            "service_at_locations[0].location.latitude",
        ),
        (json!({"status": "open-ish"}), "status"),
        (json!({"name": null}), "name"),
        (json!({"url": "not a url"}), "url"),
        (json!({"minimum_age": "eighteen"}), "minimum_age"),
        (
            json!({"languages": [{"id": common::id("l"), "code": "english"}]}),
            "languages[0].code",
        ),
    ] {
        let (status, problem) = server.send("PATCH", &path, Some(&a), Some(&patch));
        assert_eq!(status, 400, "{patch}");
        let fields = common::fields(&problem);
        assert!(fields.contains(&field), "{patch}: {fields:?}");
    }
    let (status, problem) = server.send(
        "POST",
        "/services",
        Some(&a),
        Some(&json!({"description": "no name"})),
    );
    assert_eq!(status, 400);
    assert_eq!(problem["errors"][0]["field"], "name");
    assert_eq!(server.json(&path), created);
}

/// Sends with `If-Match: tag`.
fn conditional(
    server: &TestServer,
    token: &str,
    method: &str,
    path: &str,
    tag: &str,
    body: Option<&Value>,
) -> reqwest::blocking::Response {
    let mut req = reqwest::blocking::Client::new()
        .request(method.parse().unwrap(), format!("{}{path}", server.base))
        .bearer_auth(token)
        .header("If-Match", tag);
    if let Some(b) = body {
        req = req.json(b);
    }
    req.send().unwrap()
}

/// A read's ETag works for one write; after it, the old tag is stale for PATCH, PUT and (when
/// `token` may delete) DELETE, which then change nothing.
fn check_if_match(server: &TestServer, token: &str, path: &str, field: &str, delete: bool) {
    let read = server.get(path);
    let etag = read.headers()["etag"].to_str().unwrap().to_string();
    let before: Value = read.json().unwrap();
    let res = conditional(
        server,
        token,
        "PATCH",
        path,
        &etag,
        Some(&json!({field: "first"})),
    );
    assert_eq!(res.status(), 200, "{path}");
    let new_tag = res.headers()["etag"].to_str().unwrap().to_string();
    assert_ne!(new_tag, etag);
    let mut stale = vec![
        ("PATCH", Some(json!({field: "second"}))),
        ("PUT", Some(before.clone())),
    ];
    if delete {
        stale.push(("DELETE", None));
    }
    for (method, body) in stale {
        let res = conditional(server, token, method, path, &etag, body.as_ref());
        assert_eq!(res.status(), 412, "{method} {path}");
        assert_eq!(res.headers()["content-type"], "application/problem+json");
    }
    assert_eq!(server.json(path)[field], "first");
    assert_eq!(
        server.get(path).headers()["etag"].to_str().unwrap(),
        new_tag
    );
    if delete {
        let res = conditional(server, token, "DELETE", path, &new_tag, None);
        assert_eq!(res.status(), 204, "{path}");
    }
}

#[test]
fn stale_if_match_is_refused() {
    let server = server();
    let a = server.token("a@a.example");
    let b = server.token("b@b.example");
    let (_, created) = server.send(
        "POST",
        "/services",
        Some(&a),
        Some(&new_service("Versioned")),
    );
    let sal = created["service_at_locations"][0]["id"].as_str().unwrap();
    let location = created["service_at_locations"][0]["location"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    check_if_match(
        &server,
        &a,
        &format!("/service_at_locations/{sal}"),
        "description",
        true,
    );
    check_if_match(
        &server,
        &a,
        &format!("/locations/{location}"),
        "description",
        true,
    );
    let id = created["id"].as_str().unwrap();
    check_if_match(&server, &a, &format!("/services/{id}"), "description", true);
    check_if_match(
        &server,
        &b,
        &format!("/organizations/{ORG_B}"),
        "description",
        false,
    );
}

#[test]
fn locations_and_service_at_locations_are_kept_on_their_own() {
    let server = server();
    let a = server.token("a@a.example");
    let b = server.token("b@b.example");
    // A service with no location yet, and a place to offer it.
    let (status, service) = server.send(
        "POST",
        "/services",
        Some(&a),
        Some(&json!({"name": "Naloxone", "description": "Kits.", "status": "active"})),
    );
    assert_eq!(status, 201, "{service}");
    let service_id = service["id"].as_str().unwrap().to_string();
    let (status, location) = server.send(
        "POST",
        "/locations",
        Some(&a),
        Some(&json!({"name": "Van stop", "location_type": "physical", "latitude": 38.03, "longitude": -78.48,
            "addresses": [{"address_1": "1 Main St", "city": "Charlottesville", "state_province": "VA",
                "postal_code": "22902", "country": "US", "address_type": "physical"}]})),
    );
    assert_eq!(status, 201, "{location}");
    common::assert_hsds("location", &location);
    assert_eq!(location["organization_id"], ORG_A);
    let location_id = location["id"].as_str().unwrap().to_string();
    assert!(
        location["addresses"][0]["id"].is_string(),
        "ids are made for nested objects"
    );
    let near = "/services?lat=38.03&lon=-78.48&proximity=500";
    assert!(server.names(near).is_empty());

    // Offer it there: searchable at once, and the errors name the body's own fields.
    let (status, problem) = server.send(
        "POST",
        "/service_at_locations",
        Some(&a),
        Some(
            &json!({"service_id": service_id, "location_id": location_id,
            "phones": [{"number": ""}]}),
        ),
    );
    assert_eq!(status, 400, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "phones[0].number");
    let (status, sal) = server.send(
        "POST",
        "/service_at_locations",
        Some(&a),
        Some(&json!({"service_id": service_id, "location_id": location_id, "description": "Tuesdays"})),
    );
    assert_eq!(status, 201, "{sal}");
    assert_eq!(sal["service"]["id"], service_id.as_str());
    assert_eq!(sal["location"]["name"], "Van stop");
    common::assert_hsds("service_at_location", &sal);
    let sal_id = sal["id"].as_str().unwrap().to_string();
    assert_eq!(server.names(near), ["Naloxone"]);
    // B cannot offer A's service, nor offer its own at A's location.
    let (status, _) = server.send(
        "POST",
        "/service_at_locations",
        Some(&b),
        Some(&json!({"service_id": service_id, "location_id": location_id})),
    );
    assert_eq!(status, 404);

    // Moving the location moves the search result with it.
    let (status, moved) = server.send(
        "PATCH",
        &format!("/locations/{location_id}"),
        Some(&a),
        Some(&json!({"latitude": 37.54, "longitude": -77.43})),
    );
    assert_eq!(status, 200, "{moved}");
    assert!(server.names(near).is_empty());
    assert_eq!(
        server.names("/services?lat=37.54&lon=-77.43&proximity=500"),
        ["Naloxone"]
    );
    // A location still in use cannot go; the service_at_location can, then the location.
    let loc_path = format!("/locations/{location_id}");
    assert_eq!(server.send("DELETE", &loc_path, Some(&a), None).0, 409);
    assert_eq!(
        server
            .send(
                "DELETE",
                &format!("/service_at_locations/{sal_id}"),
                Some(&a),
                None
            )
            .0,
        204
    );
    assert!(server
        .names("/services?lat=37.54&lon=-77.43&proximity=500")
        .is_empty());
    assert_eq!(
        server.json(&format!("/services/{service_id}"))["name"],
        "Naloxone"
    );
    assert_eq!(server.send("DELETE", &loc_path, Some(&a), None).0, 204);
    assert_eq!(server.get(&loc_path).status(), 404);
}

#[test]
fn organisations_are_edited_by_their_own_and_removed_by_the_admin() {
    let server = server();
    let a = server.token("a@a.example");
    let b = server.token("b@b.example");
    let admin = server.token("admin@haven.example");
    server.send(
        "POST",
        "/services",
        Some(&a),
        Some(&new_service("Syringes")),
    );
    // Renaming shows in search results at once.
    let (status, org) = server.send(
        "PATCH",
        &format!("/organizations/{ORG_A}"),
        Some(&admin),
        Some(&json!({"name": "Org A Renamed", "services": [{"name": "ignored"}]})),
    );
    assert_eq!(status, 200, "{org}");
    assert!(org.get("services").is_none());
    common::assert_hsds("organization", &org);
    assert_eq!(
        server.json("/services?search=syringes")["contents"][0]["organization"]["name"],
        "Org A Renamed"
    );
    // Nobody moves an organisation to another id.
    let (status, problem) = server.send(
        "PUT",
        &format!("/organizations/{ORG_B}"),
        Some(&b),
        Some(&json!({"id": ORG_A, "name": "B", "description": "x"})),
    );
    assert_eq!(status, 400);
    assert_eq!(problem["errors"][0]["field"], "id");
    // With services it stays; once they are gone, it goes with its accounts.
    let path = format!("/organizations/{ORG_A}");
    assert_eq!(server.send("DELETE", &path, Some(&admin), None).0, 409);
    let ids: Vec<String> = server.json(&format!("/services?organization_id={ORG_A}"))["contents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    for id in ids {
        assert_eq!(
            server
                .send("DELETE", &format!("/services/{id}"), Some(&a), None)
                .0,
            204
        );
    }
    assert_eq!(server.send("DELETE", &path, Some(&admin), None).0, 204);
    assert_eq!(server.get(&path).status(), 404);
    let login = reqwest::blocking::Client::new()
        .post(format!("{}/auth/token", server.base))
        .form(&[
            ("grant_type", "password"),
            ("username", "a@a.example"),
            ("password", common::PASSWORD),
        ])
        .send()
        .unwrap();
    assert_eq!(login.status(), 401);
}

/// A service_at_location belongs to one service for good: naming its id inside another
/// service's write is a 404 for another organisation (it is not theirs to see) and a 409 for
/// the owner's other services, and changes nothing.
#[test]
fn a_service_at_location_cannot_be_taken_through_another_service() {
    let server = TestServer::start();
    let p = Partners::new(&server);
    let (status, mine) = server.send(
        "POST",
        "/services",
        Some(&p.r),
        Some(&partner_body(
            Fixture::new("Mobile outreach").at(38.03, -78.48),
        )),
    );
    assert_eq!(status, 201, "{mine}");
    let sal = mine["service_at_locations"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let taking = |name: &str| {
        json!({"name": name, "description": "x", "status": "active",
            "service_at_locations": [{"id": sal, "location": {
                "location_type": "physical", "latitude": 38.5, "longitude": -78.5}}]})
    };
    let (status, body) = server.send("POST", "/services", Some(&p.s), Some(&taking("Theirs")));
    assert_eq!(status, 404, "{body}");
    let (status, body) = server.send("POST", "/services", Some(&p.r), Some(&taking("Mine too")));
    assert_eq!(status, 409, "{body}");
    let (status, body) = server.send(
        "PATCH",
        &format!("/services/{}", p.service),
        Some(&p.r),
        Some(&json!({"service_at_locations": taking("x")["service_at_locations"]})),
    );
    assert_eq!(status, 409, "{body}");
    let read = server.json(&format!("/service_at_locations/{sal}"));
    assert_eq!(read["service_id"], mine["id"], "{read}");
    assert_eq!(read["location"]["latitude"], json!(38.03), "{read}");
}

#[test]
fn haven_terms_may_be_named_by_taxonomy_and_code_alone() {
    let server = server();
    let a = server.token("a@a.example");
    let hr01 = haven::vocab::term_id("haven-services", "HR01").to_string();
    let wheelchair = haven::vocab::term_id("haven-accessibility", "wheelchair").to_string();
    // As the contract shows it: no term id, name or description.
    let body = json!({
        "name": "Syringe services, walk in",
        "description": "Sterile supplies.",
        "status": "active",
        "attributes": [{"taxonomy_term": {"taxonomy": "haven-services", "code": "HR01"}}],
        "service_at_locations": [{"location": {
            "name": "Market Street", "location_type": "physical",
            "latitude": 38.03, "longitude": -78.48,
            "attributes": [{"taxonomy_term": {"taxonomy": "haven-accessibility", "code": "wheelchair"}}]
        }}]
    });
    let (status, created) = server.send("POST", "/services", Some(&a), Some(&body));
    assert_eq!(status, 201, "{created}");
    common::assert_hsds("service", &created);
    let attribute = &created["attributes"][0];
    assert_eq!(attribute["taxonomy_term_id"], hr01.as_str());
    assert_eq!(attribute["taxonomy_term"]["id"], hr01.as_str());
    assert_eq!(
        attribute["taxonomy_term"]["name"],
        "Syringe services / needle exchange (incl. sharps disposal)"
    );
    let location = &created["service_at_locations"][0]["location"];
    assert_eq!(
        location["attributes"][0]["taxonomy_term_id"],
        wheelchair.as_str()
    );
    // Found by every filter that names those terms.
    let name = ["Syringe services, walk in"];
    assert_eq!(server.names("/services?taxonomy_code=HR01"), name);
    assert_eq!(
        server.names(&format!("/services?taxonomy_term_id={hr01}")),
        name
    );
    assert_eq!(
        server.names("/services?accessibility=wheelchair&lat=38.03&lon=-78.48"),
        name
    );

    // A code Haven's taxonomy does not have is named, and nothing is stored.
    let mut bad = body.clone();
    bad["name"] = json!("Another");
    bad["attributes"][0]["taxonomy_term"]["code"] = json!("HR99");
    let (status, problem) = server.send("POST", "/services", Some(&a), Some(&bad));
    assert_eq!(status, 400, "{problem}");
    assert_eq!(
        problem["errors"][0]["field"],
        "attributes[0].taxonomy_term.code"
    );
    assert_eq!(
        server.names("/services?search=another"),
        Vec::<String>::new()
    );
}

#[test]
fn a_term_named_by_id_alone_must_be_known() {
    let server = server();
    let a = server.token("a@a.example");
    let unknown = "99999999-0000-4000-8000-000000000000";
    let samhsa_term = "0c4d6f0e-5b7a-4c1e-9f3a-2b8d7e6f5a41";
    let body = json!({
        "name": "Peer support",
        "description": "Drop in.",
        "status": "active",
        "attributes": [{"taxonomy_term_id": unknown}],
        "service_at_locations": [{"location": {
            "name": "Market Street", "location_type": "physical",
            "attributes": [{"taxonomy_term_id": unknown}]
        }}]
    });
    let (status, problem) = server.send("POST", "/services", Some(&a), Some(&body));
    assert_eq!(status, 400, "{problem}");
    assert_eq!(
        common::fields(&problem),
        [
            "attributes[0].taxonomy_term_id",
            "service_at_locations[0].location.attributes[0].taxonomy_term_id"
        ]
    );
    assert!(server.names("/services?search=peer").is_empty());

    // Known: one of Haven's, or a term nested in the same record, which is then stored and
    // may be named by id alone afterwards.
    let wheelchair = haven::vocab::term_id("haven-accessibility", "wheelchair").to_string();
    let mut known = body.clone();
    known["attributes"] = json!([
        {"taxonomy_term_id": samhsa_term, "taxonomy_term": {
            "id": samhsa_term, "name": "Peer support", "description": "SAMHSA service code PEER",
            "code": "PEER", "taxonomy": "samhsa"}},
    ]);
    known["service_at_locations"][0]["location"]["attributes"] =
        json!([{"taxonomy_term_id": wheelchair}]);
    let (status, created) = server.send("POST", "/services", Some(&a), Some(&known));
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap();
    let (status, patched) = server.send(
        "PATCH",
        &format!("/services/{id}"),
        Some(&a),
        Some(&json!({"attributes": [{"taxonomy_term_id": samhsa_term}]})),
    );
    assert_eq!(status, 200, "{patched}");
    let (status, problem) = server.send(
        "PATCH",
        &format!("/services/{id}"),
        Some(&a),
        Some(&json!({"attributes": [{"taxonomy_term_id": unknown}]})),
    );
    assert_eq!(status, 400, "{problem}");
    assert_eq!(
        problem["errors"][0]["field"],
        "attributes[0].taxonomy_term_id"
    );
    let (_, stored) = server.send("GET", &format!("/services/{id}"), None, None);
    assert_eq!(stored["attributes"][0]["taxonomy_term_id"], samhsa_term);

    // An import does not check; a later write that keeps such a term as it is may change the
    // rest, and one through a service_at_location names the field as its body has it.
    let mut imported = stored.clone();
    imported["attributes"] = json!([{"id": common::id("attr/x"), "taxonomy_term_id": unknown}]);
    server.import(&[imported]);
    let (status, patched) = server.send(
        "PATCH",
        &format!("/services/{id}"),
        Some(&a),
        Some(&json!({"description": "Drop in, Mondays too."})),
    );
    assert_eq!(status, 200, "{patched}");
    let sal = stored["service_at_locations"][0]["id"].as_str().unwrap();
    let (status, problem) = server.send(
        "PATCH",
        &format!("/service_at_locations/{sal}"),
        Some(&a),
        Some(
            &json!({"attributes": [{"taxonomy_term_id": "88888888-0000-4000-8000-000000000000"}]}),
        ),
    );
    assert_eq!(status, 400, "{problem}");
    assert_eq!(
        problem["errors"][0]["field"],
        "attributes[0].taxonomy_term_id"
    );
}

#[test]
fn a_confidential_location_stays_so_unless_a_write_says_otherwise() {
    let server = server();
    let a = server.token("a@a.example");
    let body = json!({
        "name": "Women's shelter intake",
        "description": "Safe beds.",
        "status": "active",
        "service_at_locations": [{"location": {
            "name": "Shelter", "location_type": "physical", "confidential": true,
            "latitude": 38.031234, "longitude": -78.481234,
            "addresses": [{"address_1": "10 Hidden Lane", "city": "Charlottesville",
                "state_province": "VA", "postal_code": "22903", "country": "US",
                "address_type": "physical"}]
        }}]
    });
    let (status, created) = server.send("POST", "/services", Some(&a), Some(&body));
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let location_id = created["service_at_locations"][0]["location"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let public = |server: &TestServer| server.json(&format!("/locations/{location_id}"));
    let hidden = |l: &Value| l.get("addresses").is_none() && l["latitude"] == 38.03;

    // A tool that drops extension fields writes the service back without the flag.
    let mut dropped = created.clone();
    dropped["service_at_locations"][0]["location"]
        .as_object_mut()
        .unwrap()
        .remove("confidential");
    let (status, body) = server.send("PUT", &format!("/services/{id}"), Some(&a), Some(&dropped));
    assert_eq!(status, 200, "{body}");
    assert!(hidden(&public(&server)), "{}", public(&server));
    // The location itself, likewise.
    let mut location = dropped["service_at_locations"][0]["location"].clone();
    let path = format!("/locations/{location_id}");
    let (status, body) = server.send("PUT", &path, Some(&a), Some(&location));
    assert_eq!(status, 200, "{body}");
    assert!(hidden(&public(&server)));
    // Only an explicit false makes it public.
    location["confidential"] = json!(false);
    let (status, body) = server.send("PUT", &path, Some(&a), Some(&location));
    assert_eq!(status, 200, "{body}");
    let shown = public(&server);
    assert_eq!(shown["addresses"][0]["address_1"], "10 Hidden Lane");
}
