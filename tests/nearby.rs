//! The in-memory near-here index: it answers as the database does, and follows writes made
//! through any instance sharing the database.

mod common;

use common::{Fixture, TestServer};
use haven::db::Sql;
use serde_json::{json, Value};

const ORG: &str = "5b0e8f0a-3c2d-4e1f-8a9b-7c6d5e4f3a21";

fn near(lat: f64, lon: f64) -> String {
    format!("/service_at_locations?lat={lat}&lon={lon}&proximity=5000&per_page=50")
}

fn ids(page: &Value) -> Vec<String> {
    page["contents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["service_id"].as_str().unwrap().to_string())
        .collect()
}

fn body(name: &str, lat: f64, lon: f64) -> Value {
    common::partner_body(
        Fixture::new(name)
            .at(lat, lon)
            .term("haven-services", "HR01"),
    )
}

/// Two instances over one database, and a staff token of a partner organisation. Each asks
/// the database for changes before every search (`HAVEN_SEARCH_FOLLOW_MS=0`), so a write
/// through one is found by the other at once, as these tests check; by default within a
/// tenth of a second (`a_write_is_found_here_at_once_and_elsewhere_within_a_second`).
fn two_instances() -> (TestServer, TestServer, String) {
    let strict = [("HAVEN_SEARCH_FOLLOW_MS", "0")];
    two_instances_with(&strict, &strict)
}

/// Two instances with these settings each, and a staff token.
fn two_instances_with(a: &[(&str, &str)], b: &[(&str, &str)]) -> (TestServer, TestServer, String) {
    let (a, b) = {
        let first = TestServer::start_with(a);
        let second = first.beside(b);
        (first, second)
    };
    a.user("admin@haven.example", "admin", None);
    let admin = a.token("admin@haven.example");
    let org = json!({"id": ORG, "name": "Org", "description": "A partner."});
    assert_eq!(
        a.send("POST", "/organizations", Some(&admin), Some(&org)).0,
        201
    );
    a.user("staff@org.example", "staff", Some(ORG));
    let staff = a.token("staff@org.example");
    (a, b, staff)
}

/// Creates a service through `server`, returning its id.
fn add(server: &TestServer, staff: &str, name: &str, lat: f64, lon: f64) -> String {
    let (status, created) = server.send(
        "POST",
        "/services",
        Some(staff),
        Some(&body(name, lat, lon)),
    );
    assert_eq!(status, 201, "{created}");
    created["id"].as_str().unwrap().to_string()
}

/// Rewrites a service through `server` with some fields changed.
fn change(server: &TestServer, staff: &str, id: &str, fields: Value) {
    let path = format!("/services/{id}");
    let (status, mut service) = server.send("GET", &path, None, None);
    assert_eq!(status, 200);
    for (k, v) in fields.as_object().unwrap() {
        service[k] = v.clone();
    }
    let (status, answer) = server.send("PUT", &path, Some(staff), Some(&service));
    assert_eq!(status, 200, "{answer}");
}

/// Checks the total of a search on each server.
fn assert_total(servers: [&TestServer; 2], search: &str, total: u64) {
    for server in servers {
        assert_eq!(server.json(search)["total_items"], total, "{search}");
    }
}

#[test]
fn a_write_through_one_instance_is_found_by_another_at_once() {
    let (a, b, staff) = two_instances();

    // Both indexes are loaded (and empty) before the write.
    assert_eq!(ids(&b.json(&near(51.5, -0.12))), Vec::<String>::new());
    assert_eq!(ids(&a.json(&near(51.5, -0.12))), Vec::<String>::new());

    let (status, created) = a.send(
        "POST",
        "/services",
        Some(&staff),
        Some(&body("Walk-in naloxone", 51.5, -0.12)),
    );
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(ids(&b.json(&near(51.5, -0.12))), vec![id.clone()]);
    assert_eq!(ids(&a.json(&near(51.5, -0.12))), vec![id.clone()]);

    // Moved 40 km and renamed.
    let mut moved = created.clone();
    moved["service_at_locations"][0]["location"]["latitude"] = json!(51.86);
    moved["name"] = json!("Walk-in naloxone and testing");
    let (status, answer) = a.send(
        "PUT",
        &format!("/services/{id}"),
        Some(&staff),
        Some(&moved),
    );
    assert_eq!(status, 200, "{answer}");
    // First a keyword search, answered by the database: its items come from the same cache
    // of rendered items, and show the change at once, on the instance that wrote it too.
    for server in [&a, &b] {
        let page = server.json("/service_at_locations?search=testing");
        assert_eq!(ids(&page), vec![id.clone()]);
        assert_eq!(
            page["contents"][0]["service"]["name"],
            "Walk-in naloxone and testing"
        );
    }
    // Gone from the old place, found at the new one, on both.
    for server in [&a, &b] {
        assert_eq!(ids(&server.json(&near(51.5, -0.12))), Vec::<String>::new());
        let page = server.json(&near(51.86, -0.12));
        assert_eq!(ids(&page), vec![id.clone()]);
        // Items shown before were kept rendered; the change replaced them.
        assert_eq!(
            page["contents"][0]["service"]["name"],
            "Walk-in naloxone and testing"
        );
    }

    // Deleted.
    let (status, _) = a.send("DELETE", &format!("/services/{id}"), Some(&staff), None);
    assert_eq!(status, 204);
    for server in [&a, &b] {
        assert_eq!(ids(&server.json(&near(51.86, -0.12))), Vec::<String>::new());
    }

    // An import straight into the database (another process's work) is seen too.
    a.import(&[Fixture::new("Imported drop-in").at(51.5, -0.121).build()]);
    assert_eq!(ids(&b.json(&near(51.5, -0.12))).len(), 1);
    assert_eq!(b.state.nearby.as_ref().unwrap().rows(), 1);
}

#[test]
fn a_write_is_found_here_at_once_and_elsewhere_within_a_second() {
    // An instance asks the database for changes at most every HAVEN_SEARCH_FOLLOW_MS between
    // its own writes, and at once after one: `a` waits a whole second, so only its own write
    // can make it look at once; `b` has the default.
    let (a, b, staff) = two_instances_with(&[("HAVEN_SEARCH_FOLLOW_MS", "1000")], &[]);
    let place = near(51.5, -0.12);
    for server in [&a, &b] {
        assert!(ids(&server.json(&place)).is_empty());
    }
    for round in 0..5 {
        // Searched just before the write, so that each instance has just asked and would not
        // ask again for a while.
        for server in [&a, &b] {
            assert_eq!(ids(&server.json(&place)).len(), round);
        }
        add(&a, &staff, &format!("Drop-in {round}"), 51.5, -0.12);
        // Here: at once.
        assert_eq!(ids(&a.json(&place)).len(), round + 1, "round {round}");
        // There: within a second.
        let asked = std::time::Instant::now();
        while ids(&b.json(&place)).len() != round + 1 {
            assert!(
                asked.elapsed() < std::time::Duration::from_secs(1),
                "round {round}: not found through the other instance within a second"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

#[test]
fn the_index_and_the_database_give_the_same_pages() {
    let memory = TestServer::start();
    let sql = memory.beside(&[("HAVEN_SEARCH_MEMORY", "false")]);
    // Services around one point, several at one place (equal distances order by name).
    let mut services = Vec::new();
    for i in 0..60 {
        let (lat, lon) =
            common::destination(40.0, -75.0, (i * 37 % 360) as f64, (i % 12) as f64 * 900.0);
        let cost = if i % 3 == 0 { "free" } else { "sliding_scale" };
        let name = format!("Service {:02}", 59 - i);
        let sid = Fixture::new(&name).id();
        // Fees, ages and hours, in few combinations (the index keeps each once), one of them
        // only from a date.
        let (opens, closes) = [("09:00", "17:00"), ("20:00", "06:00"), ("00:00", "23:59")][i % 3];
        let days = ["MO,TU,WE,TH,FR", "SA,SU", "FR"][i % 3];
        let (fee, age) = ([0, 10, 25][i % 3], [12, 18, 18, 25][i % 4]);
        let mut schedule = json!({
            "id": common::id(&format!("schedule/{i}")), "service_id": sid,
            "freq": "WEEKLY", "byday": days,
            "opens_at": opens, "closes_at": closes,
        });
        if i % 7 == 0 {
            schedule["valid_from"] = json!("2026-11-01");
        }
        let mut f = Fixture::new(&name)
            .at(lat, lon)
            .term("haven-cost", cost)
            .with(json!({
                "cost_options": [{"id": common::id(&format!("co/{i}")), "service_id": sid,
                    "amount": fee, "currency": "USD"}],
                "minimum_age": age,
                "schedules": if i % 5 == 4 { json!([]) } else { json!([schedule]) },
            }));
        if i % 2 == 0 {
            f = f.term("haven-accessibility", "wheelchair");
        }
        services.push(f.build());
    }
    memory.import(&services);
    for query in [
        "lat=40&lon=-75&proximity=5000&per_page=7",
        "lat=40&lon=-75&proximity=5000&per_page=7&page=3",
        "lat=40&lon=-75&proximity=10000&cost=free&accessibility=wheelchair",
        "lat=40.01&lon=-75.01&proximity=2500&per_page=5&page=2",
        "lat=40&lon=-75&proximity=100&per_page=5",
        "lat=40&lon=-75&proximity=20000&per_page=50&page=9",
        "lat=40&lon=-75&proximity=10000&max_fee=10&age=20",
        "lat=40&lon=-75&proximity=10000&max_fee=0&per_page=5&page=2",
        // In New York: Monday 09:30 before the dated hours hold (from 1 November) and again
        // after, then Saturday 03:00.
        "lat=40&lon=-75&proximity=10000&open_at=2026-10-26T13:30:00Z",
        "lat=40&lon=-75&proximity=10000&open_at=2026-11-30T14:30:00Z",
        "lat=40&lon=-75&proximity=10000&open_at=2026-11-28T08:00:00Z&age=18",
    ] {
        for list in ["service_at_locations", "services"] {
            let path = format!("/{list}?{query}");
            // Twice: the second answer is built from items kept rendered.
            assert_eq!(memory.json(&path), sql.json(&path), "{path}");
            assert_eq!(memory.json(&path), sql.json(&path), "{path}");
        }
    }
    // The pages above came from memory: the index holds every located row.
    assert_eq!(memory.state.nearby.as_ref().unwrap().rows(), 60);
    assert!(sql.state.nearby.is_none());
}

#[test]
fn counts_kept_for_a_city_follow_writes() {
    let (a, b, staff) = two_instances();
    let add = |name: &str, lat: f64| add(&a, &staff, name, lat, -0.121);
    // One page of one item, 20 km around: the nearest is at the point, and the cell 9 km north
    // lies wholly inside the circle and beyond the page, so its rows are counted only, and
    // the count is kept.
    let search = "/service_at_locations?lat=51.5&lon=-0.12&proximity=20000&per_page=1";
    add("Drop-in at the point", 51.5);
    add("Outreach north", 51.58);
    for server in [&a, &b] {
        assert_eq!(server.json(search)["total_items"], 2);
        assert_eq!(server.json(search)["total_items"], 2);
    }
    let third = add("Needle exchange north", 51.581);
    assert_total([&a, &b], search, 3);
    let (status, _) = a.send("DELETE", &format!("/services/{third}"), Some(&staff), None);
    assert_eq!(status, 204);
    assert_total([&a, &b], search, 2);
}

#[test]
fn kept_keyword_answers_and_items_follow_writes() {
    let (a, b, staff) = two_instances();
    let add = |name: &str| add(&a, &staff, name, 51.5, -0.12);
    let change = |id: &str, fields: Value| change(&a, &staff, id, fields);
    let search = "/services?search=detox&per_page=1";
    let first = add("Detox unit");
    for server in [&a, &b] {
        assert_eq!(server.json(search)["total_items"], 1);
        // The second time the page is the one kept.
        assert_eq!(server.json(search)["total_items"], 1);
        assert_eq!(server.state.nearby.as_ref().unwrap().answers.len(), 1);
    }
    // A write through one instance: both see it at once, in the total and in the page.
    let second = add("A detox clinic");
    for server in [&a, &b] {
        let page = server.json(search);
        assert_eq!(page["total_items"], 2);
        assert_eq!(page["contents"][0]["id"], second.as_str());
        assert_eq!(page["contents"][0]["name"], "A detox clinic");
    }
    // Its item was kept rendered; a change shows at once.
    change(&second, json!({"name": "A detox and withdrawal clinic"}));
    for server in [&a, &b] {
        let page = server.json(search);
        assert_eq!(page["contents"][0]["name"], "A detox and withdrawal clinic");
    }
    // Renamed so that the word no longer matches.
    change(
        &first,
        json!({"name": "Withdrawal unit", "description": "Medically managed withdrawal."}),
    );
    assert_total([&a, &b], search, 1);
    let (status, _) = a.send("DELETE", &format!("/services/{second}"), Some(&staff), None);
    assert_eq!(status, 204);
    assert_total([&a, &b], search, 0);
}

#[test]
fn kept_names_follow_renames() {
    // Services at one place are as near as each other, so their names decide the order, and
    // the names of rows a search weighed are kept. SQLite gives the rows a rename writes the
    // keys of the rows it deletes, so a kept name must go with its row.
    let (a, b, staff) = two_instances();
    let bravo = add(&a, &staff, "Bravo", 52.2, 0.12);
    let charlie = add(&a, &staff, "Charlie", 52.2, 0.12);
    let search = near(52.2, 0.12);
    for server in [&a, &b] {
        assert_eq!(ids(&server.json(&search)), [bravo.clone(), charlie.clone()]);
    }
    change(&a, &staff, &charlie, json!({"name": "Alpha"}));
    for server in [&a, &b] {
        let page = server.json(&search);
        assert_eq!(ids(&page), [charlie.clone(), bravo.clone()]);
        assert_eq!(page["contents"][0]["service"]["name"], "Alpha");
    }
}

#[test]
fn keyword_counts_from_memory_are_the_databases() {
    let (a, b, staff) = two_instances();
    let sql = a.beside(&[("HAVEN_SEARCH_MEMORY", "false")]);
    let generated = |n, seed| {
        let mut text = Vec::new();
        haven::generate::services(n, seed, &mut text).unwrap();
        text.split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect::<Vec<Value>>()
    };
    // On PostgreSQL, enough texts that the import lists the words of two blocks of them
    // (`search::postings`), and leaves the rest to be matched through the full-text index.
    a.import(&generated(2_100, 5));
    assert_sealed(&a, 2047);
    // The partner's own, to change below: they share the words searched, and three have no
    // place (rows the near-here index does not hold, whose texts it must still count).
    let ours: Vec<String> = (0..30)
        .map(|i| {
            let name = format!("Peer naloxone outreach {i:02}");
            if i % 10 == 0 {
                let (status, created) = a.send(
                    "POST",
                    "/services",
                    Some(&staff),
                    Some(&common::partner_body(Fixture::new(&name))),
                );
                assert_eq!(status, 201, "{created}");
                created["id"].as_str().unwrap().to_string()
            } else {
                add(&a, &staff, &name, 51.5 + i as f64 * 0.01, -0.12)
            }
        })
        .collect();
    // Common words (walked in name order), rarer ones and deep pages (from the matches), a
    // prefix, two words, and no match at all.
    let searches = [
        "search=peer",
        "search=peer&per_page=3&page=4",
        "search=peer&per_page=100&page=2",
        "search=peer&per_page=30&page=9",
        "search=nalox&per_page=7&page=2",
        "search=peer%20naloxone&per_page=5",
        "search=rehabilitation&per_page=4&page=3",
        "search=chicago&per_page=50",
        "search=outreach&per_page=10&page=3",
        "search=peer&status=active,inactive&per_page=15&page=2",
        "search=peer&status=inactive",
        "search=zzyzx",
        "search=kestrel",
        "search=housing%20kestrel&per_page=3",
    ];
    let agree = |when: &str| {
        for search in searches {
            let path = format!("/services?{search}");
            let expected = sql.json(&path);
            for server in [&a, &b] {
                assert_eq!(server.json(&path), expected, "{when}: {path}");
            }
        }
    };
    agree("imported");
    assert!(
        sql.json("/services?search=peer")["total_items"]
            .as_u64()
            .unwrap()
            > 100
    );
    // Closed, renamed so the words no longer match, and deleted, through one instance.
    for id in &ours[..8] {
        change(&a, &staff, id, json!({"status": "inactive"}));
    }
    for id in &ours[8..14] {
        change(&a, &staff, id, json!({"name": "Housing first kestrel"}));
    }
    for id in &ours[14..20] {
        let (status, _) = a.send("DELETE", &format!("/services/{id}"), Some(&staff), None);
        assert_eq!(status, 204);
    }
    agree("changed");
    assert!(sql.json("/services?search=peer&status=inactive")["total_items"] == 8);
    assert!(sql.json("/services?search=kestrel")["total_items"] == 6);
    // More texts, so that the changed ones are listed too, beside the old numbers of the
    // texts they replaced.
    a.import(&generated(1_000, 6));
    assert_sealed(&a, 3071);
    agree("listed after the changes");
    // Texts of the first block rewritten under new numbers: their old numbers stay listed,
    // and are passed over, until more than half the block is gone; then it is listed again
    // without them.
    let first = generated(2_100, 5);
    let rewrite = |services: &[Value]| {
        let rewritten: Vec<Value> = services
            .iter()
            .map(|s| {
                let mut s = s.clone();
                s["name"] = json!(format!("{} kestrel", s["name"].as_str().unwrap()));
                s
            })
            .collect();
        a.import(&rewritten);
    };
    rewrite(&first[..300]);
    agree("a third of a block rewritten");
    assert_listed_in_first_block(&a, 1023, 723);
    rewrite(&first[300..600]);
    agree("more than half a block rewritten");
    assert_listed_in_first_block(&a, 423, 423);
    assert!(sql.json("/services?search=kestrel")["total_items"] == 606);
}

/// On PostgreSQL, that the first block of numbers lists `listed` texts and holds `held`.
fn assert_listed_in_first_block(server: &TestServer, listed: i64, held: i64) {
    if !server.db.is_postgres() {
        return;
    }
    let mut conn = server.state.pool.get().unwrap();
    let mut count = |sql: &str| Sql::new(sql).count(&mut conn).unwrap();
    assert_eq!(
        (
            count("SELECT CAST(texts AS BIGINT) AS n FROM text_word_block WHERE block = 0"),
            count("SELECT count(*) AS n FROM service_text WHERE id < 1024"),
        ),
        (listed, held)
    );
}

/// On PostgreSQL, that the words of every text numbered up to `upto` are listed.
fn assert_sealed(server: &TestServer, upto: i64) {
    if !server.db.is_postgres() {
        return;
    }
    let mut conn = server.state.pool.get().unwrap();
    let sealed = Sql::new("SELECT upto AS n FROM text_word_sealed")
        .count(&mut conn)
        .unwrap();
    assert!(sealed >= upto, "listed up to {sealed}, not {upto}");
}
