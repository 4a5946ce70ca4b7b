//! Migrations that move stored data, run over real data on a real database (SQLite, or
//! PostgreSQL when HAVEN_TEST_DATABASE_URL is set).

mod common;

use std::collections::BTreeSet;

use common::{demo, id, samhsa, TestServer};
use diesel::sql_types::Text;
use diesel::QueryableByName;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use haven::db::{DbConnection, Sql};
use serde_json::{json, Value};

const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Where each entity's owned objects were kept before they moved into its doc: the key in
/// its JSON and the table that held one row per object.
const OLD_LAYOUT: [(&str, &[(&str, &str)]); 4] = [
    (
        "organization",
        &[
            ("funding", "funding"),
            ("contacts", "contact"),
            ("phones", "phone"),
            ("programs", "program"),
            ("organization_identifiers", "organization_identifier"),
            ("attributes", "attribute"),
            ("metadata", "metadata"),
        ],
    ),
    (
        "location",
        &[
            ("languages", "language"),
            ("addresses", "address"),
            ("contacts", "contact"),
            ("accessibility", "accessibility"),
            ("phones", "phone"),
            ("schedules", "schedule"),
            ("attributes", "attribute"),
            ("metadata", "metadata"),
        ],
    ),
    (
        "service",
        &[
            ("phones", "phone"),
            ("schedules", "schedule"),
            ("service_areas", "service_area"),
            ("languages", "language"),
            ("funding", "funding"),
            ("cost_options", "cost_option"),
            ("required_documents", "required_document"),
            ("contacts", "contact"),
            ("attributes", "attribute"),
            ("metadata", "metadata"),
        ],
    ),
    (
        "service_at_location",
        &[
            ("contacts", "contact"),
            ("phones", "phone"),
            ("schedules", "schedule"),
            ("attributes", "attribute"),
            ("metadata", "metadata"),
        ],
    ),
];

#[derive(QueryableByName)]
struct DocRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    doc: String,
}

/// Undoes the latest migration applied, and names it.
fn revert_last(conn: &mut DbConnection) -> String {
    match conn {
        DbConnection::Sqlite(c) => c.revert_last_migration(SQLITE).unwrap().to_string(),
        DbConnection::Postgres(c) => c.revert_last_migration(POSTGRES).unwrap().to_string(),
    }
}

/// Undoes the latest migrations down to `version` included (later ones may be of one backend
/// only).
fn revert_through(conn: &mut DbConnection, version: &str) {
    loop {
        let undone = revert_last(conn);
        if undone == version {
            return;
        }
        assert!(undone.as_str() > version, "{version} was not applied");
    }
}

/// Loads `services`, takes the database back with `undo` while keeping it, starts a server on
/// it (which migrates), and checks every answer of `snapshot` reads as before. Returns the
/// migrated server.
fn reads_alike_after_migrating(
    services: &[Value],
    undo: impl FnOnce(&mut DbConnection),
) -> TestServer {
    let mut server = TestServer::with(services);
    let before = snapshot(&server, services);

    // Stop the server but keep its database.
    let handle = server.db.shared();
    let db = std::mem::replace(&mut server.db, handle);
    undo(&mut server.state.pool.get().unwrap());
    drop(server);

    // Starting migrates.
    let server = TestServer::start_on(db, &[]);
    let after = snapshot(&server, services);
    assert_eq!(before.len(), after.len());
    for ((path, was), (_, now)) in before.iter().zip(&after) {
        assert_eq!(was, now, "{path} reads differently after migrating");
    }
    server
}

/// Undoes the latest migrations, then stores every entity as the schema before them did:
/// owned objects out of the doc, one row each in their table.
fn back_to_owned_object_tables(conn: &mut DbConnection) {
    revert_through(conn, "20261206000009");
    assert_eq!(revert_last(conn), "20261206000008");
    for (kind, children) in OLD_LAYOUT {
        let rows = Sql::new(&format!("SELECT id, doc FROM {kind}"))
            .load::<DocRow>(conn)
            .unwrap();
        for row in rows {
            let mut doc: serde_json::Map<String, Value> = serde_json::from_str(&row.doc).unwrap();
            for (key, table) in children {
                let Some(Value::Array(items)) = doc.remove(*key) else {
                    continue;
                };
                for (position, item) in items.iter().enumerate() {
                    let term = item["taxonomy_term_id"]
                        .as_str()
                        .or(item["taxonomy_term"]["id"].as_str())
                        .map(str::to_ascii_lowercase);
                    let mut columns = vec![
                        ("owner_kind", kind.into()),
                        ("owner_id", row.id.clone().into()),
                        ("position", (position as i64).into()),
                        ("id", item["id"].as_str().unwrap_or_default().into()),
                        ("doc", item.to_string().into()),
                    ];
                    if *table == "attribute" {
                        columns.push(("taxonomy_term_id", term.into()));
                    }
                    Sql::insert(table, columns).execute(conn).unwrap();
                }
            }
            let mut update = Sql::new(&format!("UPDATE {kind} SET doc = "));
            update
                .bind(Value::Object(doc).to_string())
                .push(" WHERE id = ")
                .bind(&row.id);
            update.execute(conn).unwrap();
        }
    }
}

/// Everything a reader sees of `services`: each service, organisation and location as the
/// API returns it, and which services each taxonomy filter finds.
fn snapshot(server: &TestServer, services: &[Value]) -> Vec<(String, Value)> {
    let mut paths = BTreeSet::new();
    let mut terms = BTreeSet::new();
    for s in services {
        paths.insert(format!("/services/{}", s["id"].as_str().unwrap()));
        paths.insert(format!(
            "/organizations/{}",
            s["organization_id"].as_str().unwrap()
        ));
        for sal in s["service_at_locations"].as_array().into_iter().flatten() {
            paths.insert(format!(
                "/locations/{}",
                sal["location_id"].as_str().unwrap()
            ));
            paths.insert(format!(
                "/service_at_locations/{}",
                sal["id"].as_str().unwrap()
            ));
        }
        for a in s["attributes"].as_array().into_iter().flatten() {
            terms.insert(a["taxonomy_term_id"].as_str().unwrap().to_string());
        }
    }
    assert!(terms.len() > 10, "the data names few terms: {terms:?}");
    let lists = terms
        .iter()
        .map(|t| format!("/services?taxonomy_term_id={t}&per_page=100"))
        .chain(["/services?taxonomy_id=".to_string()
            + &haven::vocab::taxonomy_id("haven-cost").to_string()]);
    paths
        .into_iter()
        .chain(lists)
        .map(|p| {
            let body = server.json(&p);
            (p, body)
        })
        .collect()
}

/// The demo and SAMHSA directories, with owned objects on every kind of owner: the data sets
/// give organisations and service_at_locations none.
fn directory() -> Vec<Value> {
    let mut services = demo();
    services.extend(samhsa());
    let first = &mut services[0];
    let sid = first["id"].as_str().unwrap().to_string();
    let org = first["organization_id"].as_str().unwrap().to_string();
    first["organization"]["phones"] = json!([
        {"id": id("org phone 1"), "number": "555-0101", "organization_id": org},
        {"id": id("org phone 2"), "number": "555-0102", "organization_id": org},
    ]);
    first["organization"]["contacts"] = json!([
        {"id": id("org contact"), "name": "Intake desk \"front\" \\ rear", "organization_id": org},
    ]);
    let sal = &mut first["service_at_locations"][0];
    let lid = sal["location_id"].as_str().unwrap().to_string();
    sal["phones"] = json!([{"id": id("sal phone"), "number": "555-0103"}]);
    sal["location"]["phones"] =
        json!([{"id": id("location phone"), "number": "555-0104", "location_id": lid}]);
    sal["location"]["schedules"] = json!([{
        "id": id("location schedule"), "location_id": lid,
        "freq": "WEEKLY", "byday": "MO,TU", "opens_at": "09:00", "closes_at": "17:00",
    }]);
    first["service_areas"] = json!([{"id": id("area"), "name": "The city", "service_id": sid}]);
    services
}

#[test]
fn terms_move_under_their_service_text_and_filter_the_same() {
    // Back to terms listed by service id.
    reads_alike_after_migrating(&directory(), |conn| {
        revert_through(conn, "20261206000009");
        let listed = Sql::new("SELECT count(*) AS n FROM service_term")
            .count(conn)
            .unwrap();
        assert!(listed > 100, "the old layout lists {listed} terms");
    });
}

#[test]
fn owned_objects_move_into_their_entity_and_read_back_the_same() {
    let services = directory();
    // The data put back as the old schema held it.
    let server = reads_alike_after_migrating(&services, back_to_owned_object_tables);

    // The terms the migration recorded are the ones a rewrite replaces: a migrated service
    // that drops an attribute leaves that term's list.
    let mut changed = services[0].clone();
    let dropped = changed["attributes"].as_array_mut().unwrap().remove(0);
    let term = dropped["taxonomy_term_id"].as_str().unwrap().to_string();
    let kept_by_others = services[1..]
        .iter()
        .filter(|s| {
            s["attributes"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|a| a["taxonomy_term_id"] == term)
        })
        .count();
    server.import(&[changed.clone()]);
    let page = server.json(&format!("/services?taxonomy_term_id={term}&per_page=100"));
    assert_eq!(page["total_items"], kept_by_others);
    assert!(page["contents"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["id"] != changed["id"]));
}

#[test]
fn location_terms_are_listed_and_private_postcodes_leave_search() {
    let services = demo();
    let wheelchair = haven::vocab::term_id("haven-accessibility", "wheelchair").to_string();
    let names_it = |attributes: &Value| {
        attributes
            .as_array()
            .into_iter()
            .flatten()
            .any(|a| a["taxonomy_term_id"] == wheelchair.as_str())
    };
    // Services of the demo whose wheelchair access is recorded on a location only, and a
    // confidential location with a postcode.
    let through_location: Vec<&str> = services
        .iter()
        .filter(|s| !names_it(&s["attributes"]))
        .filter(|s| {
            s["service_at_locations"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|sal| names_it(&sal["location"]["attributes"]))
        })
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(!through_location.is_empty());
    let (hidden, postcode) = services
        .iter()
        .flat_map(|s| s["service_at_locations"].as_array().into_iter().flatten())
        .map(|sal| &sal["location"])
        .find_map(|l| {
            let postcode = l["addresses"][0]["postal_code"].as_str()?;
            (l["confidential"] == true).then(|| (l["id"].as_str().unwrap(), postcode))
        })
        .expect("the demo has a confidential location with a postcode");
    let by_term = format!("/services?taxonomy_term_id={wheelchair}&per_page=100");
    let by_postcode = format!("/service_at_locations?postcode={postcode}&per_page=100");
    let finds_hidden = |page: &Value| {
        page.to_string()
            .contains(&format!("\"location_id\":\"{hidden}\""))
    };

    let fresh = TestServer::with(&services);
    let listed = fresh.json(&by_term)["total_items"].clone();
    assert!(!finds_hidden(&fresh.json(&by_postcode)));
    // The check above would see the location by its id, were it listed.
    let shown = fresh.json(&format!(
        "/service_at_locations?postcode={postcode}&per_page=100"
    ));
    assert!(shown["contents"][0]["location_id"].is_string(), "{shown}");
    drop(fresh);

    // The rows as the code before wrote them: no terms of locations, the postcode searchable.
    let server = reads_alike_after_migrating(&services, |conn| {
        revert_through(conn, "20261207000011");
        let mut q = Sql::new("DELETE FROM service_term WHERE taxonomy_term_id = ");
        q.bind(&wheelchair)
            .push(" AND text_id IN (SELECT id FROM service_text WHERE service_id IN ")
            .bind_list(through_location.iter().copied())
            .push(")");
        assert_eq!(q.execute(conn).unwrap(), through_location.len());
        let mut q = Sql::new("UPDATE search_entry SET postcodes = ");
        q.bind(format!(",{postcode},"))
            .push(" WHERE location_id = ")
            .bind(hidden);
        assert!(q.execute(conn).unwrap() > 0);
    });
    assert_eq!(server.json(&by_term)["total_items"], listed);
    assert!(!finds_hidden(&server.json(&by_postcode)));
}

#[test]
fn an_online_place_takes_its_services_time_zone() {
    // Meets in Charlottesville and, on Monday evenings, online.
    let mut service = common::Fixture::new("group").at(38.03, -78.48).build();
    let online = id("sal/online");
    let lid = id("location/online");
    service["service_at_locations"]
        .as_array_mut()
        .unwrap()
        .push(json!({
            "id": online, "service_id": common::Fixture::new("group").id(), "location_id": lid,
            "schedules": [{"id": id("schedule/online"), "freq": "WEEKLY", "byday": "MO",
                "opens_at": "19:00", "closes_at": "20:30"}],
            "location": {"id": lid, "location_type": "virtual", "name": "Video call"}
        }));
    let mut services = demo();
    services.push(service);
    // Monday 2 November 2026, 19:30 EST.
    let open = "/service_at_locations?open_at=2026-11-03T00:30:00Z&per_page=100";
    let found = |server: &TestServer| {
        let page = server.json(open);
        page["contents"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == online.as_str())
    };
    assert!(found(&TestServer::with(&services)));
    // The row as the code before wrote it: no zone.
    let server = reads_alike_after_migrating(&services, |conn| {
        revert_through(conn, "20261207000012");
        let mut q =
            Sql::new("UPDATE search_entry SET time_zone = NULL WHERE service_at_location_id = ");
        q.bind(&online);
        assert_eq!(q.execute(conn).unwrap(), 1);
    });
    assert!(found(&server));
}
