//! `haven generate`: its services import into a fresh database without a rejection, and its
//! output is the same on every run.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::TestDb;

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
    let writer = std::thread::spawn(move || stdin.write_all(services.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("imported: 500 created, 0 updated, 0 unchanged, 0 rejected"),
        "{err}"
    );
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
