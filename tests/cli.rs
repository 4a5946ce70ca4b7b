//! The `haven` binary: migrate, import (with rejections), export, and a round trip through an
//! empty database.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{samhsa, TestDb};
use serde_json::{json, Value};

fn haven(db: &TestDb, args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_haven"))
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env("HAVEN_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn import_reports_bad_records_and_keeps_the_good_ones() {
    let db = TestDb::new();
    let mut services = samhsa();
    services.truncate(4);
    let mut bad_latitude = services[1].clone();
    bad_latitude["service_at_locations"][0]["location"]["latitude"] = json!(123.0);
    let mut no_name = services[2].clone();
    no_name.as_object_mut().unwrap().remove("name");
    let lines = [
        services[0].to_string(),
        bad_latitude.to_string(),
        no_name.to_string(),
        "{not json".to_string(),
        services[3].to_string(),
    ];
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.ndjson");
    std::fs::write(&file, lines.join("\n")).unwrap();
    let (code, _, err) = haven(&db, &["import", file.to_str().unwrap()], None);
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("2 created"), "{err}");
    assert!(err.contains("3 rejected"), "{err}");
    let bad_id = services[1]["id"].as_str().unwrap();
    assert!(
        err.contains(&format!(
            "record 2 (id {bad_id}): service_at_locations[0].location.latitude"
        )),
        "{err}"
    );
    assert!(err.contains("record 3 (id "), "{err}");
    assert!(err.contains(": name"), "{err}");
    assert!(err.contains("record 4 (id unknown)"), "{err}");

    // The good ones are there; the bad ones are not.
    let (code, out, err) = haven(&db, &["export"], None);
    assert_eq!(code, 0, "{err}");
    let ids: Vec<String> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let mut expected = vec![
        services[0]["id"].as_str().unwrap().to_string(),
        services[3]["id"].as_str().unwrap().to_string(),
    ];
    expected.sort();
    assert_eq!(ids, expected);
}

#[test]
fn an_import_leaves_postgresql_with_planner_statistics() {
    let db = TestDb::new();
    if !db.is_postgres() {
        return;
    }
    let mut services = samhsa();
    services.truncate(3);
    let lines: Vec<String> = services.iter().map(Value::to_string).collect();
    let (code, _, err) = haven(&db, &["import", "-"], Some(&lines.join("\n")));
    assert_eq!(code, 0, "{err}");
    let mut conn = haven::db::pool(&db.url, 1, std::time::Duration::from_secs(10))
        .unwrap()
        .get()
        .unwrap();
    // Without statistics, the planner guesses; autovacuum may take a minute to gather them.
    let analysed = haven::db::Sql::new(
        "SELECT COUNT(*) AS n FROM pg_stat_user_tables \
         WHERE relname IN ('service_text', 'search_entry') AND last_analyze IS NOT NULL",
    )
    .count(&mut conn)
    .unwrap();
    assert_eq!(analysed, 2);
}

#[test]
fn export_then_import_into_an_empty_database_reproduces_it() {
    let first = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let array = dir.path().join("samhsa.json");
    std::fs::write(&array, serde_json::to_string(&samhsa()).unwrap()).unwrap();
    let (code, _, err) = haven(&first, &["import", array.to_str().unwrap()], None);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("30 created"), "{err}");
    // Importing the same file again changes nothing.
    let (code, _, err) = haven(&first, &["import", array.to_str().unwrap()], None);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("30 unchanged"), "{err}");
    let (_, exported, _) = haven(&first, &["export"], None);
    assert_eq!(exported.lines().count(), 30);

    let second = TestDb::new();
    let (code, _, err) = haven(&second, &["migrate"], None);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = haven(&second, &["import", "-"], Some(&exported));
    assert_eq!(code, 0, "{err}");
    let (_, again, _) = haven(&second, &["export"], None);
    assert_eq!(again, exported);
    // And it is the input, service for service.
    for line in exported.lines() {
        let s: Value = serde_json::from_str(line).unwrap();
        let original = samhsa().into_iter().find(|o| o["id"] == s["id"]).unwrap();
        assert_eq!(s, original);
    }
}

#[test]
fn a_malformed_setting_stops_the_program_naming_it() {
    let out = Command::new(env!("CARGO_BIN_EXE_haven"))
        .arg("migrate")
        .env("DATABASE_URL", "mysql://nowhere")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("DATABASE_URL"));
    let out = Command::new(env!("CARGO_BIN_EXE_haven"))
        .arg("migrate")
        .env("HAVEN_DEMO", "sometimes")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("HAVEN_DEMO"));
    for (name, value) in [("HAVEN_LOG", "not[valid"), ("HAVEN_LOG_FORMAT", "xml")] {
        let out = Command::new(env!("CARGO_BIN_EXE_haven"))
            .arg("migrate")
            .env("DATABASE_URL", "sqlite://:memory:")
            .env(name, value)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{name}={value}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(name),
            "{name}"
        );
    }
}

#[test]
fn openapi_command_prints_the_committed_document() {
    let out = Command::new(env!("CARGO_BIN_EXE_haven"))
        .arg("openapi")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        include_str!("../openapi/openapi.json")
    );
}

#[test]
fn serve_loads_the_demo_directory_into_an_empty_database() {
    let db = TestDb::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_haven"))
        .arg("serve")
        .env("DATABASE_URL", &db.url)
        .env("HAVEN_ADDR", format!("127.0.0.1:{port}"))
        .env("HAVEN_DEMO", "true")
        .env("HAVEN_LOG", "warn")
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::blocking::Client::new();
    let ready = (0..300).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        client
            .get(format!("{base}/readyz"))
            .send()
            .is_ok_and(|r| r.status() == 200)
    });
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        assert!(ready, "the server did not become ready");
        let page: Value = client
            .get(format!("{base}/services"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(page["total_items"], 75);
        // The healthcheck command agrees.
        let status = Command::new(env!("CARGO_BIN_EXE_haven"))
            .arg("healthcheck")
            .env("HAVEN_ADDR", format!("127.0.0.1:{port}"))
            .status()
            .unwrap();
        assert!(status.success());
    }));
    child.kill().unwrap();
    child.wait().unwrap();
    result.unwrap();
}
