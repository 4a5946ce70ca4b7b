//! The public catalogue over HTTP against a real database (SQLite, or PostgreSQL when
//! HAVEN_TEST_DATABASE_URL is set).

mod common;

use common::{assert_hsds, demo, samhsa, TestServer};
use serde_json::{json, Value};

#[test]
fn imported_services_read_back_identical_and_valid() {
    let services = samhsa();
    let server = TestServer::with(&services);
    for s in &services {
        let id = s["id"].as_str().unwrap();
        let got = server.json(&format!("/services/{id}"));
        assert_eq!(&got, s, "service {id} changed on the way through");
        assert_hsds("service", &got);
    }
}

#[test]
fn demo_directory_round_trips_and_validates() {
    // The demo set has schedules, cost amounts and confidential locations; compare exactly
    // through export, which shows everything as stored.
    let services = demo();
    let server = TestServer::with(&services);
    let mut conn = server.state.pool.get().unwrap();
    let mut out = Vec::new();
    haven::catalog::import::export(&mut conn, &mut out).unwrap();
    let exported: Vec<Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(exported.len(), services.len());
    for s in &services {
        let back = exported.iter().find(|e| e["id"] == s["id"]).unwrap();
        assert_eq!(back, s);
        assert_hsds("service", back);
    }
}

#[test]
fn a_service_may_name_its_organisation_only_by_nesting_it() {
    let mut service = common::Fixture::new("nested only").build();
    service.as_object_mut().unwrap().remove("organization_id");
    let server = TestServer::with(std::slice::from_ref(&service));
    let got = server.json(&format!("/services/{}", service["id"].as_str().unwrap()));
    assert_eq!(got, service);
    let org = common::id("organization/test");
    assert_eq!(
        server.names(&format!("/services?organization_id={org}")),
        ["nested only"]
    );
}

#[test]
fn list_pages_use_the_hsds_envelope() {
    let server = TestServer::with(&samhsa());
    let page = server.json("/services?per_page=7&page=2");
    assert_eq!(page["total_items"], 30);
    assert_eq!(page["total_pages"], 5);
    assert_eq!(page["page_number"], 2);
    assert_eq!(page["size"], 7);
    assert_eq!(page["first_page"], false);
    assert_eq!(page["last_page"], false);
    assert_eq!(page["empty"], false);
    for item in page["contents"].as_array().unwrap() {
        // The list form: no nested arrays.
        assert!(item.get("service_at_locations").is_none());
        assert!(item["organization"]["name"].is_string());
        assert_hsds("service", item);
    }
    let last = server.json("/services?per_page=7&page=5");
    assert_eq!(last["size"], 2);
    assert_eq!(last["last_page"], true);
    let beyond = server.json("/services?per_page=7&page=9");
    assert_eq!(beyond["empty"], true);
    assert_eq!(beyond["contents"], Value::Array(vec![]));

    // Every service appears exactly once across the pages.
    let mut seen = std::collections::BTreeSet::new();
    for p in 1..=5 {
        for item in server.json(&format!("/services?per_page=7&page={p}"))["contents"]
            .as_array()
            .unwrap()
        {
            assert!(seen.insert(item["id"].as_str().unwrap().to_string()));
        }
    }
    assert_eq!(seen.len(), 30);
}

#[test]
fn full_minimal_and_ndjson() {
    let services = samhsa();
    let server = TestServer::with(&services);
    let full = server.json("/services?full=true&per_page=3");
    for item in full["contents"].as_array().unwrap() {
        let original = services.iter().find(|s| s["id"] == item["id"]).unwrap();
        assert_eq!(item, original);
    }
    let minimal = server.json("/services?minimal=true&per_page=100");
    let items = minimal["contents"].as_array().unwrap();
    assert_eq!(items.len(), 30);
    for item in items {
        let keys: Vec<&String> = item.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["id", "last_modified"]);
    }
    let res = server.get("/services?format=ndjson&taxonomy_code=MD");
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/x-ndjson");
    let body = res.text().unwrap();
    let lines: Vec<Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let paged = server.json("/services?taxonomy_code=MD&per_page=100");
    assert_eq!(lines.len() as i64, paged["total_items"].as_i64().unwrap());
    assert!(!lines.is_empty());
}

#[test]
fn service_at_locations_organizations_and_taxonomies() {
    let services = samhsa();
    let server = TestServer::with(&services);
    let page = server.json("/service_at_locations?per_page=100");
    let total: usize = services
        .iter()
        .map(|s| s["service_at_locations"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(page["total_items"], total);
    let first = &page["contents"][0];
    assert_hsds("service_at_location", first);
    assert!(first["location"]["latitude"].is_number());
    assert!(first["service"]["name"].is_string());
    let one = server.json(&format!(
        "/service_at_locations/{}",
        first["id"].as_str().unwrap()
    ));
    assert_hsds("service_at_location", &one);
    assert_eq!(one["service"]["id"], first["service"]["id"]);

    let orgs = server.json("/organizations?per_page=100");
    assert_eq!(orgs["total_items"], 12);
    for o in orgs["contents"].as_array().unwrap() {
        assert_hsds("organization", o);
        assert!(o.get("services").is_none());
    }
    let org_id = services[0]["organization"]["id"].as_str().unwrap();
    let org = server.json(&format!("/organizations/{org_id}"));
    assert_hsds("organization", &org);
    let expected = services
        .iter()
        .filter(|s| s["organization_id"] == org_id)
        .count();
    assert_eq!(org["services"].as_array().unwrap().len(), expected);
    assert!(org["services"][0].get("service_at_locations").is_none());
    let full = server.json(&format!("/organizations/{org_id}?full_service=true"));
    assert!(full["services"][0]["service_at_locations"].is_array());
    assert_eq!(
        server.json("/organizations?search=region%20ten")["total_items"],
        orgs["contents"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["name"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .contains("region ten"))
            .count()
    );

    let haven_services = "ebdff8ee-d22a-5ea6-8cce-5748b9f76074";
    let taxonomy = server.json(&format!("/taxonomies/{haven_services}"));
    assert_eq!(taxonomy["name"], "haven-services");
    assert_hsds("taxonomy", &taxonomy);
    let taxonomies = server.json("/taxonomies?per_page=100");
    let names: Vec<&str> = taxonomies["contents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    for name in [
        "haven-services",
        "haven-cost",
        "haven-accessibility",
        "haven-delivery",
        "haven-low-barrier",
        "haven-population",
        "samhsa-findtreatment",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    let top = server.json(&format!(
        "/taxonomy_terms?taxonomy_id={haven_services}&top_only=true&per_page=100"
    ));
    assert_eq!(top["total_items"], 10);
    let all = server.json(&format!(
        "/taxonomy_terms?taxonomy_id={haven_services}&per_page=100"
    ));
    assert_eq!(all["total_items"], 52);
    let hr = haven::vocab::term_id("haven-services", "HR").to_string();
    let children = server.json(&format!("/taxonomy_terms?parent_id={hr}&per_page=100"));
    assert_eq!(children["total_items"], 7);
    for t in children["contents"].as_array().unwrap() {
        assert_hsds("taxonomy_term", t);
    }
    let hr01 = haven::vocab::term_id("haven-services", "HR01").to_string();
    assert_eq!(
        server.json(&format!("/taxonomy_terms/{hr01}"))["code"],
        "HR01"
    );
}

#[test]
fn bad_input_is_a_problem_naming_the_parameter() {
    let server = TestServer::with(&samhsa());
    for path in ["/services", "/service_at_locations"] {
        for (query, field) in [
            ("lat=91&lon=0", "lat"),
            ("lat=10&lon=-181", "lon"),
            ("lat=38&lon=-78&proximity=-5", "proximity"),
            ("lat=38&lon=-78&proximity=1e9", "proximity"),
            ("cost=cheap", "cost"),
            ("accessibility=stairs", "accessibility"),
            ("low_barrier=soon", "low_barrier"),
            ("delivery=pigeon", "delivery"),
            ("population=everyone", "population"),
            ("taxonomy_code=ZZ99", "taxonomy_code"),
            ("per_page=101", "per_page"),
            ("per_page=abc", "per_page"),
            ("page=0", "page"),
            ("open_at=next%20tuesday", "open_at"),
            ("open_now=perhaps", "open_now"),
            ("max_fee=-1", "max_fee"),
            ("age=old", "age"),
            ("language=english", "language"),
            ("organization_id=42", "organization_id"),
            ("taxonomy_term_id=x", "taxonomy_term_id"),
            ("modified_after=yesterday", "modified_after"),
            ("format=xml", "format"),
            ("lat=38", "lon"),
        ] {
            let fields = server.problem(&format!("{path}?{query}"), 400);
            assert_eq!(fields, [field], "{path}?{query}");
        }
    }
    assert_eq!(server.problem("/services/not-a-uuid", 400), ["id"]);
    assert_eq!(server.problem("/service_at_locations/123", 400), ["id"]);
    assert_eq!(server.problem("/organizations/nope", 400), ["id"]);
    assert_eq!(server.problem("/taxonomy_terms/nope", 400), ["id"]);
    assert_eq!(
        server.problem("/organizations?per_page=500", 400),
        ["per_page"]
    );
    assert_eq!(
        server.problem("/taxonomy_terms?top_only=maybe", 400),
        ["top_only"]
    );
    let unknown = uuid::Uuid::new_v4();
    for path in [
        "services",
        "service_at_locations",
        "organizations",
        "taxonomies",
        "taxonomy_terms",
    ] {
        assert!(server
            .problem(&format!("/{path}/{unknown}"), 404)
            .is_empty());
    }
    assert!(server.problem("/no/such/route", 404).is_empty());
    // Several bad parameters are reported together.
    let mut both = server.problem("/services?cost=cheap&lat=99&lon=0", 400);
    both.sort();
    assert_eq!(both, ["cost", "lat"]);
}

#[test]
fn meta_endpoints_cors_and_docs() {
    let server = TestServer::start();
    let root = server.json("/");
    assert_eq!(root["version"], "3.0");
    assert_eq!(root["openapi_url"], format!("{}/openapi.json", server.base));
    assert!(root["profile"].as_str().unwrap().starts_with("http"));
    // A proxy's word on the public address is taken only from a trusted proxy.
    let forwarded = |server: &TestServer| -> Value {
        reqwest::blocking::Client::new()
            .get(format!("{}/", server.base))
            .header("X-Forwarded-Host", "elsewhere.example")
            .header("X-Forwarded-Proto", "https")
            .send()
            .unwrap()
            .json()
            .unwrap()
    };
    assert_eq!(
        forwarded(&server)["openapi_url"],
        format!("{}/openapi.json", server.base)
    );
    let behind_proxy = TestServer::start_with(&[("HAVEN_TRUST_FORWARDED_FOR", "true")]);
    assert_eq!(
        forwarded(&behind_proxy)["openapi_url"],
        "https://elsewhere.example/openapi.json"
    );
    let profile = server.json("/profile");
    assert_eq!(profile["taxonomies"].as_array().unwrap().len(), 6);
    assert_eq!(server.json("/healthz")["status"], "ok");
    assert_eq!(server.json("/readyz")["status"], "ready");
    // Browsers send Origin; any site may read the public catalogue.
    let res = reqwest::blocking::Client::new()
        .get(format!("{}/services", server.base))
        .header("Origin", "https://example.org")
        .send()
        .unwrap();
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
    // As the contract says, whoever asks: a script sends no Origin, and a problem too.
    for path in ["/services", "/services?per_page=0"] {
        let res = server.get(path);
        assert_eq!(res.headers()["access-control-allow-origin"], "*", "{path}");
    }
    let docs = server.get("/docs/");
    assert_eq!(docs.status(), 200);
    assert!(docs.text().unwrap().contains("swagger"));
    // The page sends no visitor to swagger.io's online validator.
    let init = server.get("/docs/swagger-initializer.js").text().unwrap();
    assert!(init.contains(r#""validatorUrl": "none""#), "{init}");

    // HEAD answers as GET does, without the body: the same status and length.
    let http = reqwest::blocking::Client::new();
    for path in ["/", "/services", "/openapi.json", "/taxonomies"] {
        let res = http.head(format!("{}{path}", server.base)).send().unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.headers()["access-control-allow-origin"], "*");
        let length = res.headers()["content-length"]
            .to_str()
            .unwrap()
            .to_string();
        let body = server.get(path).bytes().unwrap();
        assert_eq!(length, body.len().to_string(), "{path}");
    }
    // A path that is not the API's says so, rather than that a record is not visible.
    let res = server.get("/servicez");
    assert_eq!(res.status(), 404);
    let problem: Value = res.json().unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("/servicez"));
}

#[test]
fn served_openapi_matches_the_committed_file() {
    let server = TestServer::start();
    let served = server.json("/openapi.json");
    let committed: Value = serde_json::from_str(include_str!("../openapi/openapi.json"))
        .expect("openapi/openapi.json");
    assert!(
        served == committed,
        "openapi/openapi.json is stale: regenerate it with `cargo run -- openapi > openapi/openapi.json`"
    );
    assert_eq!(
        haven::openapi::pretty(),
        include_str!("../openapi/openapi.json")
    );
    // Every public path of the contract is documented.
    for path in [
        "/",
        "/services",
        "/services/{id}",
        "/service_at_locations",
        "/service_at_locations/{id}",
        "/organizations",
        "/organizations/{id}",
        "/taxonomies",
        "/taxonomies/{id}",
        "/taxonomy_terms",
        "/taxonomy_terms/{id}",
        "/healthz",
        "/readyz",
    ] {
        assert!(
            served["paths"][path]["get"].is_object(),
            "{path} is not documented"
        );
    }
    // Each type keeps its own schema: HSDS's contact (a person at an organisation) is not the
    // referral's way to reach a client, though both are called Contact in the code.
    let schemas = &served["components"]["schemas"];
    assert!(schemas["Contact"]["properties"]["name"].is_object());
    assert!(schemas["ClientContact"]["properties"]["method"].is_object());
    // A client generated from the document can name a Haven term by taxonomy and code alone,
    // as the contract shows, so the schema asks for nothing more.
    let term = &served["components"]["schemas"]["TaxonomyTerm"];
    assert!(term["properties"]["code"].is_object());
    let required = term["required"].as_array().cloned().unwrap_or_default();
    assert!(
        required.iter().all(|k| k == "taxonomy" || k == "code"),
        "TaxonomyTerm requires {required:?}"
    );
    let params: Vec<&str> = served["paths"]["/services"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for p in [
        "search",
        "page",
        "per_page",
        "taxonomy_term_id",
        "taxonomy_id",
        "organization_id",
        "modified_after",
        "minimal",
        "full",
        "format",
        "lat",
        "lon",
        "proximity",
        "taxonomy_code",
        "cost",
        "max_fee",
        "accessibility",
        "language",
        "delivery",
        "low_barrier",
        "population",
        "age",
        "open_now",
        "open_at",
    ] {
        assert!(params.contains(&p), "/services lacks {p}");
    }
}

/// A method the path does not take is a 405 naming the ones it does; an unknown path stays a
/// 404. Typed parameters that are present but empty are errors, not defaults.
#[test]
fn methods_and_empty_parameters() {
    let server = TestServer::start();
    let http = reqwest::blocking::Client::new();
    for (method, path, allow) in [
        ("TRACE", "/healthz", "GET, HEAD"),
        ("DELETE", "/services", "GET, HEAD, POST"),
        (
            "POST",
            "/services/00000000-0000-4000-8000-000000000000",
            "GET, HEAD, PUT, PATCH, DELETE",
        ),
    ] {
        let res = http
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{}{path}", server.base),
            )
            .send()
            .unwrap();
        assert_eq!(res.status(), 405, "{method} {path}");
        assert_eq!(res.headers()["allow"], allow, "{method} {path}");
        assert_eq!(res.headers()["content-type"], "application/problem+json");
    }
    assert_eq!(server.get("/no/such/path").status(), 404);

    assert_eq!(server.problem("/taxonomies?per_page=", 400), ["per_page"]);
    assert_eq!(
        server.problem("/services?taxonomy_id=", 400),
        ["taxonomy_id"]
    );
    assert_eq!(server.problem("/services?lat=&lon=-78.4", 400), ["lat"]);
    // Text stays forgiving: an empty search is no search.
    assert_eq!(server.get("/services?search=").status(), 200);
    // Both open_now and open_at: the instant is open_at's.
    assert_eq!(
        server
            .get("/services?open_now=true&open_at=2026-11-27T10:00:00Z")
            .status(),
        200
    );
}

/// `n` phones for `owner`, numbered so that their order shows.
fn phones(owner: &str, n: usize) -> Value {
    (0..n)
        .map(|i| json!({"id": common::id(&format!("{owner}/phone/{i}")), "number": format!("555-01{i:02}")}))
        .collect()
}

#[test]
fn owned_objects_of_any_count_read_back_in_order() {
    // Owned objects are written several rows to a statement: each count below is made of
    // different statement widths (37 = 16 + 16 + 4 + 1).
    let services: Vec<Value> = [0, 1, 3, 9, 16, 37]
        .into_iter()
        .map(|n| {
            let name = format!("{n} phones");
            let mut s = common::Fixture::new(&name).at(52.5, 13.4).build();
            // An empty list is stored as no list, so only lists with items are given.
            if n > 0 {
                s["phones"] = phones(&name, n);
                s["service_at_locations"][0]["location"]["phones"] =
                    phones(&format!("{name} location"), n / 2 + 1);
            }
            s["service_at_locations"][0]["phones"] = phones(&format!("{name} sal"), 38 - n);
            s
        })
        .collect();
    let server = TestServer::with(&services);
    for s in &services {
        let id = s["id"].as_str().unwrap();
        assert_eq!(&server.json(&format!("/services/{id}")), s);
    }
}

#[test]
fn a_service_at_location_taken_over_by_a_new_service_keeps_only_its_new_children() {
    let mut first = common::Fixture::new("first").at(52.5, 13.4).build();
    first["service_at_locations"][0]["phones"] = phones("old", 3);
    let server = TestServer::with(std::slice::from_ref(&first));
    // A new service names the same service_at_location, with other phones.
    let mut second = common::Fixture::new("second").at(52.5, 13.4).build();
    second["service_at_locations"][0]["id"] = first["service_at_locations"][0]["id"].clone();
    second["service_at_locations"][0]["service_id"] = second["id"].clone();
    second["service_at_locations"][0]["phones"] = phones("new", 2);
    server.import(std::slice::from_ref(&second));
    let id = second["id"].as_str().unwrap();
    assert_eq!(server.json(&format!("/services/{id}")), second);
    let sal = second["service_at_locations"][0]["id"].as_str().unwrap();
    assert_eq!(
        server.json(&format!("/service_at_locations/{sal}"))["phones"],
        phones("new", 2)
    );
    // The first service is no longer offered there, and search knows it.
    let id = first["id"].as_str().unwrap();
    assert!(server.json(&format!("/services/{id}"))["service_at_locations"].is_null());
    assert_eq!(
        server.names("/services?lat=52.5&lon=13.4&proximity=1000"),
        ["second"]
    );
    assert_eq!(
        server.names("/service_at_locations?lat=52.5&lon=13.4&proximity=1000"),
        ["second"]
    );
}
