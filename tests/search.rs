//! Every Haven filter on data where the right answer is known, including the edges.

mod common;

use common::{destination, Fixture, TestServer};
use serde_json::json;

const LAT: f64 = 38.0293;
const LON: f64 = -78.4767;

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn radius_is_inclusive_exact_and_nearest_first() {
    let near = destination(LAT, LON, 45.0, 2_000.0);
    let inside = destination(LAT, LON, 90.0, 9_900.0);
    let edge = destination(LAT, LON, 180.0, 9_999.0);
    let outside = destination(LAT, LON, 270.0, 10_100.0);
    let far = destination(LAT, LON, 0.0, 50_000.0);
    let server = TestServer::with(&[
        Fixture::new("near").at(near.0, near.1).build(),
        Fixture::new("inside").at(inside.0, inside.1).build(),
        Fixture::new("edge").at(edge.0, edge.1).build(),
        Fixture::new("outside").at(outside.0, outside.1).build(),
        Fixture::new("far").at(far.0, far.1).build(),
        Fixture::new("nowhere").build(),
    ]);
    for path in ["/services", "/service_at_locations"] {
        let page = server.json(&format!("{path}?lat={LAT}&lon={LON}&proximity=10000"));
        let items = page["contents"].as_array().unwrap();
        let names: Vec<&str> = items
            .iter()
            .map(|i| {
                i["name"]
                    .as_str()
                    .or(i["service"]["name"].as_str())
                    .unwrap()
            })
            .collect();
        assert_eq!(names, ["near", "inside", "edge"], "{path}");
        let distances: Vec<f64> = items
            .iter()
            .map(|i| i["distance"].as_f64().unwrap())
            .collect();
        assert!((distances[0] - 2_000.0).abs() < 1.0, "{distances:?}");
        assert!((distances[1] - 9_900.0).abs() < 1.0, "{distances:?}");
        assert!((distances[2] - 9_999.0).abs() < 1.0, "{distances:?}");
        assert_eq!(page["total_items"], 3);
    }
    // The default radius is 10 km.
    assert_eq!(
        server.names(&format!("/services?lat={LAT}&lon={LON}")),
        ["near", "inside", "edge"]
    );
    // A wider radius, paged: order holds across pages.
    assert_eq!(
        server.names(&format!(
            "/services?lat={LAT}&lon={LON}&proximity=60000&per_page=2&page=2"
        )),
        ["edge", "outside"]
    );
    // Without a point there is no distance and no distance order.
    let plain = server.json("/services?per_page=10");
    assert_eq!(plain["total_items"], 6);
    assert!(plain["contents"][0].get("distance").is_none());
    assert_eq!(
        server.names("/services"),
        ["edge", "far", "inside", "near", "nowhere", "outside"]
    );
}

#[test]
fn service_at_several_places_is_as_near_as_its_nearest() {
    let a = destination(LAT, LON, 0.0, 8_000.0);
    let b = destination(LAT, LON, 0.0, 1_000.0);
    let mut two = Fixture::new("two places").at(a.0, a.1).build();
    let mut second = two["service_at_locations"][0].clone();
    second["id"] = json!(common::id("sal/two places/b"));
    second["location_id"] = json!(common::id("location/two places/b"));
    second["location"]["id"] = second["location_id"].clone();
    second["location"]["latitude"] = json!(b.0);
    second["location"]["longitude"] = json!(b.1);
    two["service_at_locations"]
        .as_array_mut()
        .unwrap()
        .push(second);
    let c = destination(LAT, LON, 0.0, 3_000.0);
    let server = TestServer::with(&[two, Fixture::new("one place").at(c.0, c.1).build()]);
    let page = server.json(&format!("/services?lat={LAT}&lon={LON}"));
    assert_eq!(page["total_items"], 2);
    assert_eq!(page["contents"][0]["name"], "two places");
    assert!((page["contents"][0]["distance"].as_f64().unwrap() - 1_000.0).abs() < 1.0);
    let sal = server.json(&format!("/service_at_locations?lat={LAT}&lon={LON}"));
    assert_eq!(sal["total_items"], 3);
}

#[test]
fn vocabulary_filters_any_of_and_all_of() {
    let server = TestServer::with(&[
        Fixture::new("A")
            .at(LAT, LON)
            .term("haven-cost", "free")
            .term("haven-accessibility", "wheelchair")
            .term("haven-low-barrier", "walk_in")
            .term("haven-services", "HR01")
            .term("haven-population", "youth")
            .term("haven-delivery", "in_person")
            .build(),
        Fixture::new("B")
            .at(LAT, LON)
            .term("haven-cost", "sliding_scale")
            .term("haven-accessibility", "wheelchair")
            .term("haven-accessibility", "braille")
            .term("haven-low-barrier", "walk_in")
            .term("haven-low-barrier", "no_id_required")
            .term("haven-services", "MD01")
            .term("haven-population", "veterans")
            .term("haven-delivery", "phone")
            .build(),
        Fixture::new("C")
            .at(LAT, LON)
            .term("haven-cost", "medicaid")
            .term("haven-accessibility", "braille")
            .term("haven-low-barrier", "no_id_required")
            .term("haven-services", "MD02")
            .term("haven-population", "women")
            .build(),
        Fixture::new("D").build(),
    ]);
    let names = |q: &str| sorted(server.names(&format!("/services?{q}")));
    // Any of; a repeated parameter is the same as a comma list.
    assert_eq!(names("cost=free,medicaid"), ["A", "C"]);
    assert_eq!(names("cost=free&cost=medicaid"), ["A", "C"]);
    assert_eq!(names("cost=sliding_scale"), ["B"]);
    assert_eq!(names("population=youth,women"), ["A", "C"]);
    assert_eq!(names("delivery=phone,in_person"), ["A", "B"]);
    // All of.
    assert_eq!(names("accessibility=wheelchair"), ["A", "B"]);
    assert_eq!(names("accessibility=wheelchair,braille"), ["B"]);
    assert_eq!(names("low_barrier=walk_in,no_id_required"), ["B"]);
    assert_eq!(names("low_barrier=no_id_required"), ["B", "C"]);
    // Categories and terms, any of.
    assert_eq!(names("taxonomy_code=MD"), ["B", "C"]);
    assert_eq!(names("taxonomy_code=HR01,MD02"), ["A", "C"]);
    assert_eq!(names("taxonomy_code=hr"), ["A"]);
    assert!(names("taxonomy_code=WM").is_empty());
    // Parameters combine with AND.
    assert_eq!(
        names("cost=free,sliding_scale&accessibility=braille"),
        ["B"]
    );
    assert_eq!(
        names("taxonomy_code=MD&cost=medicaid&accessibility=braille"),
        ["C"]
    );
    // The standard HSDS filter by term id sees the same links.
    let md01 = haven::vocab::term_id("haven-services", "MD01");
    assert_eq!(names(&format!("taxonomy_term_id={md01}")), ["B"]);
    let cost_taxonomy = haven::vocab::taxonomy_id("haven-cost");
    assert_eq!(
        names(&format!("taxonomy_id={cost_taxonomy}")),
        ["A", "B", "C"]
    );
}

#[test]
fn terms_linked_through_a_location_find_the_service_by_term_id() {
    // api.md links haven-accessibility through the service or its location; the standard
    // HSDS filters by term and by taxonomy see both, as the accessibility filter does.
    let ramp = Fixture::new("ramp").at(LAT, LON);
    let location = json!({"attributes": [common::attribute(
        &common::id("location/ramp"), "location", "haven-accessibility", "wheelchair")]});
    // Offered up steps too, where the terms do not hold: found at the ramp only.
    let mut ramp = ramp.location(location).build();
    let steps = common::id("location/steps");
    ramp["service_at_locations"]
        .as_array_mut()
        .unwrap()
        .push(json!({
        "id": common::id("sal/steps"), "service_id": Fixture::new("ramp").id(),
        "location_id": steps, "location": {"id": steps, "location_type": "physical",
            "name": "Steps", "latitude": LAT, "longitude": LON}}));
    let server = TestServer::with(&[
        ramp,
        Fixture::new("own")
            .at(LAT, LON)
            .term("haven-accessibility", "wheelchair")
            .build(),
        Fixture::new("stairs").at(LAT, LON).build(),
    ]);
    let wheelchair = haven::vocab::term_id("haven-accessibility", "wheelchair");
    let accessibility = haven::vocab::taxonomy_id("haven-accessibility");
    for path in ["/services", "/service_at_locations"] {
        let names = |q: &str| sorted(server.names(&format!("{path}?{q}")));
        assert_eq!(names("accessibility=wheelchair"), ["own", "ramp"], "{path}");
        assert_eq!(
            names(&format!("taxonomy_term_id={wheelchair}")),
            ["own", "ramp"],
            "{path}"
        );
        assert_eq!(
            names(&format!("taxonomy_id={accessibility}")),
            ["own", "ramp"],
            "{path}"
        );
    }
}

#[test]
fn taxonomy_filters_page_alike_for_common_and_rare_terms() {
    // 40 services, every one with "free" and every third with "medicaid" too, some at two
    // places: a page of a term most services have is found by walking the services in name
    // order, one of a rare term from the services that have it. Both must agree with a plain
    // reading of the data, on every page.
    let services: Vec<_> = (0..40)
        .map(|i| {
            let mut f = Fixture::new(&format!("s{i:02}"))
                .at(LAT + i as f64 * 0.001, LON)
                .term("haven-cost", "free");
            if i % 3 == 0 {
                f = f.term("haven-cost", "medicaid");
            }
            let mut s = f.build();
            if i % 4 == 0 {
                let mut other = s["service_at_locations"][0].clone();
                other["id"] = json!(common::id(&format!("sal/s{i:02}/2")));
                s["service_at_locations"]
                    .as_array_mut()
                    .unwrap()
                    .push(other);
            }
            s
        })
        .collect();
    let server = TestServer::with(&services);
    let free = haven::vocab::term_id("haven-cost", "free");
    let medicaid = haven::vocab::term_id("haven-cost", "medicaid");
    let cost = haven::vocab::taxonomy_id("haven-cost");
    let all: Vec<String> = (0..40).map(|i| format!("s{i:02}")).collect();
    let thirds: Vec<String> = (0..40).step_by(3).map(|i| format!("s{i:02}")).collect();
    for (filter, expected) in [
        (format!("taxonomy_term_id={free}"), &all),
        (format!("taxonomy_id={cost}"), &all),
        (format!("taxonomy_term_id={medicaid}"), &thirds),
    ] {
        for per_page in [1, 3, 7] {
            let mut seen = vec![];
            for page in 1..=(expected.len() / per_page + 1) {
                let got = server.json(&format!(
                    "/services?{filter}&per_page={per_page}&page={page}"
                ));
                assert_eq!(got["total_items"], expected.len(), "{filter} page {page}");
                seen.extend(
                    got["contents"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|s| s["name"].as_str().unwrap().to_string()),
                );
            }
            assert_eq!(&seen, expected, "{filter}, {per_page} a page");
        }
    }
}

#[test]
fn accessibility_on_the_location_counts_at_that_location() {
    let mut service = Fixture::new("clinic").at(LAT, LON).build();
    let lid = service["service_at_locations"][0]["location"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    service["service_at_locations"][0]["location"]["attributes"] = json!([common::attribute(
        &lid,
        "location",
        "haven-accessibility",
        "wheelchair"
    )]);
    let server = TestServer::with(&[service, Fixture::new("other").at(LAT, LON).build()]);
    assert_eq!(
        server.names("/services?accessibility=wheelchair"),
        ["clinic"]
    );
}

#[test]
fn fees_ages_languages_postcodes_and_delivery() {
    let sid = |n: &str| Fixture::new(n).id();
    let server = TestServer::with(&[
        Fixture::new("free by amount")
            .at(LAT, LON)
            .with(json!({
                "cost_options": [{"id": common::id("co/1"), "service_id": sid("free by amount"), "amount": 0, "currency": "USD"}],
                "languages": [{"id": common::id("lang/1"), "service_id": sid("free by amount"), "code": "es", "name": "Spanish"}],
                "minimum_age": 18,
            }))
            .location(json!({"addresses": [{
                "id": common::id("addr/1"), "location_id": common::id("location/free by amount"),
                "address_1": "1 Main St", "city": "Charlottesville", "state_province": "VA",
                "postal_code": "22902", "country": "US", "address_type": "physical"}]}))
            .build(),
        Fixture::new("twenty")
            .at(LAT, LON)
            .with(json!({
                "cost_options": [
                    {"id": common::id("co/2"), "service_id": sid("twenty"), "amount": 40, "currency": "USD"},
                    {"id": common::id("co/3"), "service_id": sid("twenty"), "amount": 20, "currency": "USD"}
                ],
                "languages": [{"id": common::id("lang/2"), "service_id": sid("twenty"), "code": "ase", "name": "American Sign Language"}],
                "minimum_age": 12, "maximum_age": 24,
            }))
            .build(),
        Fixture::new("free by term")
            .term("haven-cost", "free")
            .with(json!({
                "languages": [{"id": common::id("lang/3"), "service_id": sid("free by term"), "code": "pt-BR", "name": "Portuguese"}],
            }))
            .location(json!({"location_type": "virtual"}))
            .at(LAT, LON)
            .build(),
        Fixture::new("unknown cost").at(LAT, LON).build(),
    ]);
    let names = |q: &str| sorted(server.names(&format!("/services?{q}")));
    assert_eq!(names("max_fee=0"), ["free by amount", "free by term"]);
    assert_eq!(
        names("max_fee=20"),
        ["free by amount", "free by term", "twenty"]
    );
    assert_eq!(names("max_fee=19.99"), ["free by amount", "free by term"]);
    assert_eq!(names("cost=free"), ["free by amount", "free by term"]);
    assert_eq!(names("age=16"), ["free by term", "twenty", "unknown cost"]);
    assert_eq!(
        names("age=30"),
        ["free by amount", "free by term", "unknown cost"]
    );
    assert_eq!(
        names("age=18"),
        ["free by amount", "free by term", "twenty", "unknown cost"]
    );
    assert_eq!(names("language=es"), ["free by amount"]);
    assert_eq!(names("language=ase,es"), ["free by amount", "twenty"]);
    assert_eq!(names("language=pt"), ["free by term"]);
    assert_eq!(names("language=pt-br"), ["free by term"]);
    assert_eq!(names("delivery=virtual"), ["free by term"]);
    assert_eq!(
        sorted(server.names("/service_at_locations?postcode=22902")),
        ["free by amount"]
    );
    // With a proximity and no point, HSDS measures from the postcode's centroid.
    let around = server.json("/service_at_locations?postcode=22902&proximity=1000");
    assert_eq!(around["total_items"], 4);
    assert!(around["contents"][0]["distance"].as_f64().unwrap() < 1.0);
    assert_eq!(
        server.json("/service_at_locations?postcode=99999&proximity=1000")["total_items"],
        0
    );
}

#[test]
fn open_now_and_open_at_respect_local_time_and_daylight_saving() {
    let sid = |n: &str| Fixture::new(n).id();
    let weekdays = |name: &str, opens: &str, closes: &str, byday: &str| {
        json!({"schedules": [{
            "id": common::id(&format!("schedule/{name}")),
            "service_id": sid(name),
            "freq": "WEEKLY", "byday": byday, "opens_at": opens, "closes_at": closes,
        }]})
    };
    let server = TestServer::with(&[
        // Charlottesville, Virginia: America/New_York.
        Fixture::new("nine to five")
            .at(LAT, LON)
            .with(weekdays(
                "nine to five",
                "09:00",
                "17:00",
                "MO,TU,WE,TH,FR,SA,SU",
            ))
            .build(),
        Fixture::new("night shelter")
            .at(LAT, LON)
            .with(weekdays("night shelter", "20:00", "06:00", "FR"))
            .build(),
        // London: Europe/London, which changed clocks a week earlier.
        Fixture::new("london")
            .at(51.5072, -0.1276)
            .with(weekdays("london", "09:00", "17:00", "MO,TU,WE,TH,FR,SA,SU"))
            .build(),
        Fixture::new("no hours").at(LAT, LON).build(),
        Fixture::new("always")
            .at(LAT, LON)
            .with(weekdays("always", "00:00", "23:59", "MO,TU,WE,TH,FR,SA,SU"))
            .build(),
        // Hours that hold only from a date: not the same every week.
        Fixture::new("from november")
            .at(LAT, LON)
            .with(json!({"schedules": [{
                "id": common::id("schedule/from november"),
                "service_id": sid("from november"),
                "freq": "WEEKLY", "opens_at": "09:00", "closes_at": "17:00",
                "valid_from": "2026-11-01",
            }]}))
            .build(),
    ]);
    let open = |at: &str| {
        let everywhere = sorted(server.names(&format!("/services?open_at={at}")));
        // Near Charlottesville the near-here index answers, from its own copy of the hours;
        // it must agree with the schedules.
        let near = sorted(server.names(&format!(
            "/services?open_at={at}&lat={LAT}&lon={LON}&proximity=20000"
        )));
        let expected: Vec<String> = everywhere
            .iter()
            .filter(|n| *n != "london")
            .cloned()
            .collect();
        assert_eq!(near, expected, "near here at {at}");
        everywhere
    };
    // Saturday 31 October 2026, before the US change: EDT, UTC-4. 13:30Z is 09:30 in Virginia.
    assert_eq!(
        open("2026-10-31T13:30:00Z"),
        ["always", "london", "nine to five"]
    );
    // 12:30Z is 08:30 EDT: closed in Virginia; 12:30 GMT in London (its change was 25 Oct).
    assert_eq!(open("2026-10-31T12:30:00Z"), ["always", "london"]);
    // Monday 2 November, after the change: EST, UTC-5. 13:30Z is 08:30, still closed...
    assert_eq!(open("2026-11-02T13:30:00Z"), ["always", "london"]);
    // ...and 14:30Z is 09:30, open. The same instant is given with an offset too.
    assert_eq!(
        open("2026-11-02T14:30:00Z"),
        ["always", "from november", "london", "nine to five"]
    );
    assert_eq!(
        open("2026-11-02T09:30:00-05:00"),
        ["always", "from november", "london", "nine to five"]
    );
    // 21:30Z on 2 Nov is 16:30 EST (open); on 31 Oct 21:30Z was 17:30 EDT (closed).
    assert_eq!(
        open("2026-11-02T21:30:00Z"),
        ["always", "from november", "nine to five"]
    );
    assert_eq!(open("2026-10-31T21:30:00Z"), ["always"]);
    // Friday 27 November 23:00 EST and the small hours of Saturday belong to Friday night.
    assert_eq!(open("2026-11-28T04:00:00Z"), ["always", "night shelter"]);
    // 10:30Z is 05:30 in Virginia (still Friday night) and 10:30 in London.
    assert_eq!(
        open("2026-11-28T10:30:00Z"),
        ["always", "london", "night shelter"]
    );
    assert_eq!(open("2026-11-28T11:30:00Z"), ["always", "london"]);
    // Services with no known hours never match; open_now uses the current time.
    let now = sorted(server.names("/services?open_now=true"));
    assert!(now.contains(&"always".to_string()));
    assert!(!now.contains(&"no hours".to_string()));
    // With a point too: both filters hold.
    assert_eq!(
        sorted(server.names(&format!(
            "/services?open_at=2026-10-31T13:30:00Z&lat={LAT}&lon={LON}"
        ))),
        ["always", "nine to five"]
    );
}

#[test]
fn an_online_place_reads_its_hours_in_the_zone_of_the_services_other_places() {
    // A group that meets in Charlottesville and, on Monday evenings, online: the online
    // meeting's hours are the organiser's wall-clock times (America/New_York).
    let online = |name: &str, at: Option<(f64, f64)>, timezone: Option<f64>| {
        let mut f = Fixture::new(name);
        if let Some((lat, lon)) = at {
            f = f.at(lat, lon);
        }
        let mut service = f.build();
        let mut schedule = json!({
            "id": common::id(&format!("schedule/{name}")),
            "freq": "WEEKLY", "byday": "MO", "opens_at": "19:00", "closes_at": "20:30",
        });
        if let Some(hours) = timezone {
            schedule["timezone"] = json!(hours);
        }
        let lid = common::id(&format!("online/{name}"));
        let sal = json!({
            "id": common::id(&format!("online sal/{name}")),
            "service_id": f.id(),
            "location_id": lid,
            "schedules": [schedule],
            "location": {"id": lid, "location_type": "virtual", "name": "Video call"},
        });
        let sals = service["service_at_locations"].as_array().cloned();
        service["service_at_locations"] = json!([sals.unwrap_or_default(), vec![sal]].concat());
        service
    };
    let server = TestServer::with(&[
        online("with a meeting room", Some((LAT, LON)), None),
        online("online only", None, None),
        online("online with an offset", None, Some(-5.0)),
    ]);
    // Monday 2 November 2026, 19:30 EST.
    let at = "open_at=2026-11-03T00:30:00Z";
    assert_eq!(
        sorted(server.names(&format!("/services?{at}"))),
        ["online with an offset", "with a meeting room"]
    );
    let page = server.json(&format!("/service_at_locations?{at}"));
    let places: Vec<&str> = page["contents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["location"]["location_type"].as_str().unwrap())
        .collect();
    assert_eq!(places, ["virtual", "virtual"]);
    // An hour later the meeting is over.
    assert!(server
        .names("/services?open_at=2026-11-03T01:45:00Z")
        .is_empty());
}

#[test]
fn keyword_search_uses_the_full_text_index() {
    let server = TestServer::with(&[
        Fixture::new("Needle exchange")
            .term("haven-services", "HR02")
            .with(json!({"description": "Sterile syringes and sharps disposal"}))
            .build(),
        Fixture::new("Counselling")
            .with(json!({"description": "Talking therapy for anxiety"}))
            .build(),
        Fixture::new("Café Crème")
            .with(json!({"description": "Drop-in with coffee"}))
            .build(),
    ]);
    let names = |q: &str| sorted(server.names(&format!("/services?search={q}")));
    assert_eq!(names("syringes"), ["Needle exchange"]);
    assert_eq!(names("SYRINGE"), ["Needle exchange"]);
    // Term names count: HR02 is naloxone distribution.
    assert_eq!(names("naloxone"), ["Needle exchange"]);
    // Organisation names count.
    assert_eq!(names("organisation").len(), 3);
    // Every word must match.
    assert_eq!(names("talking%20anxiety"), ["Counselling"]);
    assert!(names("talking%20syringes").is_empty());
    // Query syntax is not injected: OR is just a word that must match too.
    assert!(names("syringes%20OR%20anxiety").is_empty());
    assert!(names("syringes%20%7C%20anxiety").is_empty());
    assert_eq!(names("%22syringes%22"), ["Needle exchange"]);
    assert_eq!(names("coffee"), ["Café Crème"]);
}

#[test]
fn keyword_pages_are_in_name_order_however_they_are_found() {
    // Ten of twelve services mention naloxone, stored in no particular order. A page that is
    // small next to the matches is found by walking the names in order, a large one by sorting
    // the matches (`walk_names` in query.rs); both must give the same order and total.
    let all = [
        "kilo", "alpha", "hotel", "echo", "juliet", "bravo", "india", "golf", "delta", "foxtrot",
        "charlie", "lima",
    ];
    let fixtures: Vec<_> = all
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let about = if i < 10 {
                "Naloxone kits and training"
            } else {
                "Housing advice"
            };
            Fixture::new(name)
                .at(LAT, LON)
                .with(json!({"description": about}))
                .build()
        })
        .collect();
    let server = TestServer::with(&fixtures);
    let expected = sorted(all[..10].iter().map(|n| n.to_string()).collect());
    for list in ["services", "service_at_locations"] {
        let whole = format!("/{list}?search=naloxone&per_page=50");
        assert_eq!(server.json(&whole)["total_items"], 10, "{whole}");
        assert_eq!(server.names(&whole), expected, "{whole}");
        let mut paged = Vec::new();
        for page in 1..=5 {
            let path = format!("/{list}?search=naloxone&per_page=2&page={page}");
            assert_eq!(server.json(&path)["total_items"], 10, "{path}");
            paged.extend(server.names(&path));
        }
        assert_eq!(paged, expected, "{list} page by page");
    }
}

#[test]
fn status_organization_and_modified_after() {
    let server = TestServer::with(&[
        Fixture::new("open").build(),
        Fixture::new("closed")
            .with(json!({"status": "defunct"}))
            .build(),
    ]);
    assert_eq!(server.names("/services"), ["open"]);
    assert_eq!(server.names("/services?status=defunct"), ["closed"]);
    assert_eq!(
        sorted(server.names("/services?status=active,defunct")),
        ["closed", "open"]
    );
    // The defunct one is still readable by id.
    let closed = Fixture::new("closed").id();
    assert_eq!(
        server.json(&format!("/services/{closed}"))["status"],
        "defunct"
    );
    let org = common::id("organization/test");
    assert_eq!(
        server.names(&format!("/services?organization_id={org}")),
        ["open"]
    );
    assert!(server
        .names(&format!(
            "/services?organization_id={}",
            uuid::Uuid::new_v4()
        ))
        .is_empty());
    assert_eq!(
        server.names("/services?modified_after=2000-01-01"),
        ["open"]
    );
    assert!(server
        .names("/services?modified_after=2999-01-01T00:00:00Z")
        .is_empty());
    // A change moves the service past a later modified_after.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let mark = chrono::Utc::now().to_rfc3339();
    std::thread::sleep(std::time::Duration::from_millis(20));
    server.import(&[Fixture::new("open")
        .with(json!({"description": "changed"}))
        .build()]);
    let q = format!("/services?modified_after={}", mark.replace('+', "%2B"));
    assert_eq!(server.names(&q), ["open"]);
    // An identical re-import changes nothing.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let mark = chrono::Utc::now().to_rfc3339();
    server.import(&[Fixture::new("open")
        .with(json!({"description": "changed"}))
        .build()]);
    assert!(server
        .names(&format!(
            "/services?modified_after={}",
            mark.replace('+', "%2B")
        ))
        .is_empty());
}

#[test]
fn a_listing_counts_each_service_once_on_every_page_until_a_change() {
    // "two places" has a search row per place; the others one each.
    let mut two = Fixture::new("two places").at(52.52, 13.40).build();
    let mut second =
        Fixture::new("second site").at(52.50, 13.45).build()["service_at_locations"][0].clone();
    second["service_id"] = two["id"].clone();
    two["service_at_locations"]
        .as_array_mut()
        .unwrap()
        .push(second);
    let server = TestServer::with(&[
        two,
        Fixture::new("alpha").at(52.51, 13.41).build(),
        Fixture::new("omega").build(),
        Fixture::new("gone")
            .with(json!({"status": "defunct"}))
            .build(),
    ]);
    let names = |page: &serde_json::Value| -> Vec<String> {
        page["contents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_string())
            .collect()
    };
    let mut seen = vec![];
    for page in 1..=4 {
        let got = server.json(&format!("/services?per_page=1&page={page}"));
        assert_eq!(got["total_items"], 3, "page {page}");
        seen.extend(names(&got));
    }
    assert_eq!(seen, ["alpha", "omega", "two places"]);
    let all = server.json("/services?status=active,defunct&per_page=2&page=2");
    assert_eq!(all["total_items"], 4);
    assert_eq!(names(&all), ["omega", "two places"]);
    // A filter the name index does not hold is counted the other way, alike.
    let org = common::id("organization/test");
    let filtered = server.json(&format!(
        "/services?organization_id={org}&per_page=1&page=3"
    ));
    assert_eq!(filtered["total_items"], 3);
    assert_eq!(names(&filtered), ["two places"]);
    // A new service is counted on the pages asked after it.
    server.import(&[Fixture::new("beta").build()]);
    let got = server.json("/services?per_page=1&page=2");
    assert_eq!(got["total_items"], 4);
    assert_eq!(names(&got), ["beta"]);
}

#[test]
fn a_change_to_an_organisation_stamps_its_services_changed() {
    let server = TestServer::with(&[Fixture::new("first").build()]);
    let stamp = |server: &TestServer| {
        let page = server.json("/services?minimal=true");
        page["contents"][0]["last_modified"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let before = stamp(&server);
    let since = |at: &str| format!("/services?modified_after={}", at.replace('+', "%2B"));
    assert_eq!(server.names(&since(&before)), ["first"]);
    std::thread::sleep(std::time::Duration::from_millis(20));
    // Another service brings the same organisation, changed: the first one shows its name.
    let mut second = Fixture::new("second")
        .with(json!({"status": "inactive"}))
        .build();
    second["organization"]["description"] = json!("Runs test services, and more.");
    server.import(&[second]);
    let after = stamp(&server);
    assert!(after > before, "{after} is not after {before}");
    assert_eq!(server.names(&since(&after)), ["first"]);
}

#[test]
fn confidential_locations_are_coarsened_in_public() {
    let exact = (38.031234, -78.481234);
    let server = TestServer::with(&[Fixture::new("safe house")
        .at(exact.0, exact.1)
        .location(json!({"confidential": true, "addresses": [{
            "id": common::id("addr/safe"), "address_1": "10 Hidden Lane", "city": "Charlottesville",
            "state_province": "VA", "postal_code": "22903", "country": "US", "address_type": "physical"}]}))
        .build()]);
    let id = Fixture::new("safe house").id();
    let s = server.json(&format!("/services/{id}"));
    let l = &s["service_at_locations"][0]["location"];
    assert!(l.get("addresses").is_none());
    assert_eq!(l["latitude"], 38.03);
    assert_eq!(l["longitude"], -78.48);
    // An authenticated partner sees it exactly (frontline staff need the address to refer);
    // a token that does not verify is refused rather than quietly treated as public.
    server.user("worker@partner.example", "admin", None);
    let token = server.token("worker@partner.example");
    let (status, exact) = server.send("GET", &format!("/services/{id}"), Some(&token), None);
    assert_eq!(status, 200);
    let l = &exact["service_at_locations"][0]["location"];
    assert_eq!(l["latitude"], 38.031234);
    assert_eq!(l["addresses"][0]["address_1"], "10 Hidden Lane");
    assert_eq!(
        server
            .send(
                "GET",
                &format!("/services/{id}"),
                Some("expired.or.forged"),
                None
            )
            .0,
        401
    );
    // Distances are from the coarse point, so they cannot be used to find the exact one.
    let page = server.json(&format!("/service_at_locations?lat={LAT}&lon={LON}"));
    let from_coarse = haven::search::place::distance(
        haven::search::filters::Point { lat: LAT, lon: LON },
        haven::search::filters::Point {
            lat: 38.03,
            lon: -78.48,
        },
    );
    assert!((page["contents"][0]["distance"].as_f64().unwrap() - from_coarse).abs() < 0.01);
    let text = server
        .get(&format!(
            "/service_at_locations?lat={LAT}&lon={LON}&full=true"
        ))
        .text()
        .unwrap();
    assert!(!text.contains("Hidden Lane") && !text.contains("38.031234"));
    // Its postcode does not find it either: trying postcodes one by one would place it.
    for path in ["/services", "/service_at_locations"] {
        let found = server.json(&format!("{path}?postcode=22903"));
        assert_eq!(found["total_items"], 0, "{path}");
    }

    // Tags are of what the caller sees: the public one differs from a partner's and stays the
    // same when only the hidden address changes, so it cannot confirm a guess at it.
    let tags = || {
        let http = reqwest::blocking::Client::new();
        let url = format!("{}/services/{id}", server.base);
        let tag =
            |res: reqwest::blocking::Response| res.headers()["etag"].to_str().unwrap().to_string();
        (
            tag(http.get(&url).send().unwrap()),
            tag(http.get(&url).bearer_auth(&token).send().unwrap()),
        )
    };
    let (public, partner) = tags();
    assert_ne!(public, partner);
    server.import(&[Fixture::new("safe house")
        .at(38.031234, -78.481234)
        .location(json!({"confidential": true, "addresses": [{
            "id": common::id("addr/safe"), "address_1": "12 Hidden Lane", "city": "Charlottesville",
            "state_province": "VA", "postal_code": "22903", "country": "US", "address_type": "physical"}]}))
        .build()]);
    let (public_after, partner_after) = tags();
    assert_ne!(partner_after, partner, "the partner's view changed");
    assert_eq!(public_after, public, "the public view did not");
}
