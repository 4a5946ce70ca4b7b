//! `haven import` and `haven export`: HSDS 3.0 services in and out.
//!
//! Input is a JSON array or ndjson of fully nested services. Each record is read, validated and
//! upserted by id on its own: a bad record is reported with its position, id and field, and the
//! good ones are stored. Records are committed in batches; each record is a savepoint inside its
//! batch, so a record the database refuses does not take its neighbours with it.

use std::io::{BufRead, Write};

use diesel::Connection;
use serde_json::Value;

use super::store::{self, Written};
use crate::db::DbConnection;
use crate::error::FieldError;
use crate::hsds::model::Service;
use crate::hsds::validate;

/// Records per transaction.
const BATCH: usize = 500;

/// A record that was not imported.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// 1-based: the line for ndjson, the element for an array.
    pub position: usize,
    pub id: Option<String>,
    pub errors: Vec<FieldError>,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "record {} (id {}): ",
            self.position,
            self.id.as_deref().unwrap_or("unknown")
        )?;
        let errors: Vec<String> = self
            .errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect();
        write!(f, "{}", errors.join("; "))
    }
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Report {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub rejected: Vec<Rejection>,
}

impl Report {
    pub fn add(&mut self, other: &Report) {
        self.created += other.created;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
        self.rejected.extend(other.rejected.iter().cloned());
    }

    pub fn seen(&self) -> usize {
        self.created + self.updated + self.unchanged + self.rejected.len()
    }
}

/// Reads one record into a valid service, or says why not.
pub fn parse(position: usize, value: Value) -> Result<Service, Rejection> {
    let id = value.get("id").and_then(Value::as_str).map(str::to_string);
    let reject = |errors| Rejection {
        position,
        id: id.clone(),
        errors,
    };
    if !value.is_object() {
        return Err(reject(vec![FieldError::new(
            "",
            "must be a JSON object (an HSDS service)",
        )]));
    }
    let service: Service = serde_path_to_error::deserialize(value).map_err(|e| {
        let field = e.path().to_string();
        let field = if field == "." { String::new() } else { field };
        reject(vec![FieldError::new(field, e.inner().to_string())])
    })?;
    let errors = validate::service(&service);
    if errors.is_empty() {
        Ok(service)
    } else {
        Err(reject(errors))
    }
}

/// Collects valid records and stores them a batch at a time.
struct Loader<'c, P: FnMut(&Report)> {
    conn: &'c mut DbConnection,
    batch: Vec<(usize, Service)>,
    report: Report,
    progress: P,
}

impl<P: FnMut(&Report)> Loader<'_, P> {
    fn push(&mut self, position: usize, value: Result<Value, String>) -> anyhow::Result<()> {
        match value.map_err(|message| Rejection {
            position,
            id: None,
            errors: vec![FieldError::new("", message)],
        }) {
            Err(rejection) => self.report.rejected.push(rejection),
            Ok(value) => match parse(position, value) {
                Ok(service) => self.batch.push((position, service)),
                Err(rejection) => self.report.rejected.push(rejection),
            },
        }
        if self.batch.len() >= BATCH {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        let batch = std::mem::take(&mut self.batch);
        let report = &mut self.report;
        self.conn.transaction::<_, anyhow::Error, _>(|conn| {
            for (position, service) in &batch {
                match store::put_service(conn, service) {
                    Ok(Written::Created) => report.created += 1,
                    Ok(Written::Updated) => report.updated += 1,
                    Ok(Written::Unchanged) => report.unchanged += 1,
                    Err(e) => report.rejected.push(Rejection {
                        position: *position,
                        id: Some(service.id.clone()),
                        errors: vec![FieldError::new("", format!("could not be stored: {e:#}"))],
                    }),
                }
            }
            Ok(())
        })?;
        (self.progress)(&self.report);
        Ok(())
    }
}

/// Feeds the elements of a JSON array to a loader as they are read. A failure of the loader
/// (the database) is kept in `failed`, to be reported as itself rather than as bad JSON.
struct Elements<'l, 'c, P: FnMut(&Report)> {
    loader: &'l mut Loader<'c, P>,
    failed: &'l mut Option<anyhow::Error>,
}

impl<'de, P: FnMut(&Report)> serde::de::Visitor<'de> for Elements<'_, '_, P> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON array of HSDS services")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut position = 0;
        while let Some(value) = seq.next_element::<Value>()? {
            position += 1;
            if let Err(e) = self.loader.push(position, Ok(value)) {
                *self.failed = Some(e);
                return Err(serde::de::Error::custom("the import stopped"));
            }
        }
        Ok(())
    }
}

/// Skips leading white space and returns the first byte, if any.
fn first_byte(input: &mut impl BufRead) -> std::io::Result<Option<u8>> {
    loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            return Ok(None);
        }
        match buf.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(i) => {
                let b = buf[i];
                input.consume(i);
                return Ok(Some(b));
            }
            None => {
                let n = buf.len();
                input.consume(n);
            }
        }
    }
}

/// Imports every record from `input`; `progress` sees the report after each batch.
pub fn import(
    conn: &mut DbConnection,
    mut input: impl BufRead,
    progress: impl FnMut(&Report),
) -> anyhow::Result<Report> {
    let first = first_byte(&mut input)?;
    let mut loader = Loader {
        conn,
        batch: Vec::with_capacity(BATCH),
        report: Report::default(),
        progress,
    };
    match first {
        None => {}
        Some(b'[') => {
            // A JSON array, read an element at a time (memory stays flat however long it is);
            // its elements are numbered from 1.
            let mut failed = None;
            let mut de = serde_json::Deserializer::from_reader(&mut input);
            let elements = Elements {
                loader: &mut loader,
                failed: &mut failed,
            };
            let read =
                serde::Deserializer::deserialize_seq(&mut de, elements).and_then(|()| de.end());
            if let Some(e) = failed {
                return Err(e);
            }
            read.map_err(|e| anyhow::anyhow!("the input is not a valid JSON array: {e}"))?;
        }
        Some(_) => {
            // ndjson: one service a line, numbered from 1; blank lines are skipped.
            for (i, line) in input.lines().enumerate() {
                let line = line?;
                if line.trim().is_empty() {
                    continue;
                }
                let value = serde_json::from_str::<Value>(&line)
                    .map_err(|e| format!("not valid JSON: {e}"));
                loader.push(i + 1, value)?;
            }
        }
    }
    if !loader.batch.is_empty() {
        loader.flush()?;
    }
    Ok(loader.report)
}

/// Writes every service, fully nested and exact (confidential locations included), one per
/// line, in id order.
pub fn export(conn: &mut DbConnection, mut out: impl Write) -> anyhow::Result<usize> {
    let mut after: Option<String> = None;
    let mut count = 0;
    loop {
        let ids = store::service_ids_after(conn, after.as_deref(), 200)?;
        let Some(last) = ids.last().cloned() else {
            break;
        };
        for service in store::services(conn, &ids)? {
            serde_json::to_writer(&mut out, &service)?;
            out.write_all(b"\n")?;
            count += 1;
        }
        after = Some(last);
    }
    out.flush()?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn database() -> (tempfile::TempDir, crate::db::PooledConnection) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let pool = crate::db::pool(&url, 1, std::time::Duration::from_secs(10)).unwrap();
        let mut conn = pool.get().unwrap();
        crate::db::migrate(&mut conn).unwrap();
        (dir, conn)
    }

    #[test]
    fn arrays_are_read_an_element_at_a_time_and_numbered_from_one() {
        let (_dir, mut conn) = database();
        let good = json!({"id": "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b", "name": "Drop-in",
            "description": "x", "status": "active"});
        let text = format!("[{{\"name\": 1}}, {good}, 7]");
        let report = import(&mut conn, text.as_bytes(), |_| {}).unwrap();
        assert_eq!(report.created, 1);
        let positions: Vec<usize> = report.rejected.iter().map(|r| r.position).collect();
        assert_eq!(positions, [1, 3]);
        // A truncated array, or one with something after it, is refused as such.
        let err = import(&mut conn, format!("[{good}, {{").as_bytes(), |_| {}).unwrap_err();
        assert!(err.to_string().contains("not a valid JSON array"), "{err}");
        let err = import(&mut conn, format!("[{good}] x").as_bytes(), |_| {}).unwrap_err();
        assert!(err.to_string().contains("not a valid JSON array"), "{err}");
    }
}
