//! `haven generate`: its services import into a fresh database without a rejection, and its
//! output is the same on every run.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::TestDb;
use serde_json::Value;

fn generate(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_haven"))
        .arg("generate")
        .args(args)
        .env("HAVEN_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn generated_services_import_with_no_rejections() {
    let services = generate(&["--services", "500", "--seed", "3"]);
    assert_eq!(services.lines().count(), 500);
    assert_eq!(generate(&["--services", "500", "--seed", "3"]), services);

    let db = TestDb::new();
    let mut child = Command::new(env!("CARGO_BIN_EXE_haven"))
        .args(["import", "-"])
        .env("DATABASE_URL", &db.url)
        .env("HAVEN_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = services.clone();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("imported: 500 created, 0 updated, 0 unchanged, 0 rejected"),
        "{err}"
    );

    // They read back exactly, though stored with Haven's terms by id (`catalog::compact`):
    // those were four fifths of each service's doc.
    let out = Command::new(env!("CARGO_BIN_EXE_haven"))
        .arg("export")
        .env("DATABASE_URL", &db.url)
        .env("HAVEN_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success());
    let by_id = |text: &str| -> BTreeMap<String, Value> {
        text.lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .map(|v| (v["id"].as_str().unwrap().to_string(), v))
            .collect()
    };
    let exported = String::from_utf8(out.stdout).unwrap();
    assert!(
        by_id(&exported) == by_id(&services),
        "export differs from the input"
    );
    let pool = haven::db::pool(&db.url, 1, Duration::from_secs(5)).unwrap();
    let mut q = haven::db::Sql::new("SELECT COUNT(*) AS n FROM service WHERE doc LIKE ");
    q.bind(r#"%"taxonomy_term":{%"#);
    assert_eq!(q.count(&mut pool.get().unwrap()).unwrap(), 0);
    let q = haven::db::Sql::new("SELECT SUM(LENGTH(doc)) AS n FROM service");
    let stored = q.count(&mut pool.get().unwrap()).unwrap() as usize;
    assert!(stored < services.len() * 2 / 3, "{stored} bytes of docs");
}

#[test]
fn queries_are_search_paths() {
    let queries = generate(&["--seed", "3", "--queries", "40"]);
    assert_eq!(queries.lines().count(), 40);
    assert!(queries
        .lines()
        .all(|q| q.starts_with("/service_at_locations?lat=") && q.contains("&proximity=10000")));
    assert_eq!(generate(&["--seed", "3", "--queries", "40"]), queries);
}
