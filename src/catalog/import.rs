//! `haven import` and `haven export`: HSDS 3.0 services in and out.
//!
//! Input is a JSON array or ndjson of fully nested services. Each record is read, validated and
//! upserted by id on its own: a bad record is reported with its position, id and field, and the
//! good ones are stored. Records are committed in batches; a batch with a record the database
//! refuses is written again with a savepoint per record, so that record does not take its
//! neighbours with it.

use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::store::{self, Prepared, Written};
use super::terms;
use crate::db::checkpointer::Checkpointer;
use crate::db::DbConnection;
use crate::error::FieldError;
use crate::hsds::model::Service;
use crate::hsds::validate;

/// Records per transaction. Each commit writes every page the batch touched, and with random
/// ids that is most index pages: 5,000 a commit loaded 50,000 services in 57 s, 500 in 81 s.
/// The batch is held prepared in memory, to be written again should the database refuse a
/// record: an import of 100,000 services peaks at 430 MB resident.
const BATCH: usize = 5000;
/// How long a batch's transaction may stay open waiting for records. It holds the database's
/// write lock, which a running server's writes (referrals among them) wait for: an import fed
/// slowly (a pipe, a network stream) commits what it has rather than make them wait.
const HOLD: Duration = Duration::from_secs(1);
/// Records the reader may prepare ahead of the writer: enough to keep it busy while a batch
/// commits, few enough not to hold another batch in memory.
const READ_AHEAD: usize = 1000;

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

/// Reads one record into a valid service, or says why not. Haven's terms named by taxonomy
/// and code are completed first (see `terms`).
pub fn parse(position: usize, value: Value) -> Result<Service, Rejection> {
    let id = value.get("id").and_then(Value::as_str).map(str::to_string);
    let reject = |errors| Rejection {
        position,
        id: id.clone(),
        errors,
    };
    let Value::Object(mut record) = value else {
        return Err(reject(vec![FieldError::new(
            "",
            "must be a JSON object (an HSDS service)",
        )]));
    };
    let errors = terms::complete(&mut record);
    if !errors.is_empty() {
        return Err(reject(errors));
    }
    let service: Service =
        serde_path_to_error::deserialize(Value::Object(record)).map_err(|e| {
            let field = e.path().to_string();
            let field = if field == "." { String::new() } else { field };
            reject(vec![FieldError::new(field, e.inner().to_string())])
        })?;
    checked(position, service)
}

/// Reads one line of ndjson. A line that is a valid service is read straight into one, which
/// takes half the time of reading it as JSON first; only a line that is not is read again that
/// way, to complete the terms it names by code (`parse`) or to say which field is wrong.
fn parse_line(position: usize, line: &str) -> Result<Service, Rejection> {
    if let Ok(service) = serde_json::from_str::<Service>(line) {
        if let Ok(valid) = checked(position, service) {
            return Ok(valid);
        }
    }
    let value = serde_json::from_str::<Value>(line).map_err(|e| Rejection {
        position,
        id: None,
        errors: vec![FieldError::new("", format!("not valid JSON: {e}"))],
    })?;
    parse(position, value)
}

/// The service if it is valid HSDS.
fn checked(position: usize, service: Service) -> Result<Service, Rejection> {
    let errors = validate::service(&service);
    if errors.is_empty() {
        Ok(service)
    } else {
        Err(Rejection {
            position,
            id: Some(service.id),
            errors,
        })
    }
}

/// A valid service worked out for storage (see `store::Prepared`), on the reading thread:
/// every row when `changing` (the writer's last record was new or changed), else the digest
/// alone. Re-importing a file finds most records unchanged, and working out their rows only
/// to throw them away made the reader take twice as long as the writer.
fn prepare(position: usize, parsed: Result<Service, Rejection>, changing: &AtomicBool) -> Parsed {
    let prepared = parsed.and_then(|service| {
        if !changing.load(Ordering::Relaxed) {
            return Ok(Prepared::digest_only(service));
        }
        let id = service.id.clone();
        Prepared::new(service).map_err(|e| Rejection {
            position,
            id: Some(id),
            errors: vec![FieldError::new("", format!("could not be prepared: {e:#}"))],
        })
    });
    (position, prepared)
}

/// Stores records as the reader sends them, in one transaction, until the batch is full, the
/// input has ended (then `ended` is set), or the reader has kept it waiting past `HOLD`. The
/// writer stores each record as it arrives, so it works while the reader prepares the next
/// ones. Each record is kept in `batch` (and each rejection goes to `rejected`): if the
/// database refuses one, nothing of the batch is kept, and the caller writes it again record
/// by record.
fn store_arriving(
    conn: &mut DbConnection,
    from: &Receiver<Parsed>,
    batch: &mut Vec<(usize, Prepared)>,
    rejected: &mut Vec<Rejection>,
    ended: &mut bool,
    changing: &AtomicBool,
) -> anyhow::Result<Report> {
    crate::db::write(conn, |conn| {
        let opened = Instant::now();
        let mut report = Report::default();
        let mut texts = store::PendingTexts::default();
        while batch.len() < BATCH {
            // A record already waiting is taken at once, however long the batch has been open.
            let (position, parsed) = match from.recv_timeout(HOLD.saturating_sub(opened.elapsed()))
            {
                Ok(next) => next,
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => {
                    *ended = true;
                    break;
                }
            };
            match parsed {
                Ok(prepared) => {
                    let written = store::store_service(conn, &prepared, &mut texts);
                    batch.push((position, prepared));
                    let written = written?;
                    changing.store(written != Written::Unchanged, Ordering::Relaxed);
                    count(&mut report, written);
                }
                Err(rejection) => rejected.push(rejection),
            }
        }
        texts.write(conn)?;
        Ok(report)
    })
}

/// Stores a batch in one transaction, each record under its own savepoint, so a record the
/// database refuses is reported and the others are kept.
fn store_one_by_one(
    conn: &mut DbConnection,
    batch: &[(usize, Prepared)],
) -> anyhow::Result<Report> {
    let mut report = Report::default();
    crate::db::write(conn, |conn| {
        for (position, prepared) in batch {
            match store::put_prepared(conn, prepared) {
                Ok(written) => count(&mut report, written),
                Err(e) => report.rejected.push(Rejection {
                    position: *position,
                    id: Some(prepared.service().id.clone()),
                    errors: vec![FieldError::new("", format!("could not be stored: {e:#}"))],
                }),
            }
        }
        anyhow::Ok(())
    })?;
    Ok(report)
}

fn count(report: &mut Report, written: Written) {
    match written {
        Written::Created => report.created += 1,
        Written::Updated => report.updated += 1,
        Written::Unchanged => report.unchanged += 1,
    }
}

/// A record read, checked and prepared, with its position (1-based: the line for ndjson, the
/// element for an array).
type Parsed = (usize, Result<Prepared, Rejection>);

/// Sends the elements of a JSON array, checked, as they are read. When the receiver has gone
/// (the database failed), reading stops.
struct Elements<'s> {
    to: &'s SyncSender<Parsed>,
    changing: &'s AtomicBool,
}

impl<'de> serde::de::Visitor<'de> for Elements<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON array of HSDS services")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut position = 0;
        while let Some(value) = seq.next_element::<Value>()? {
            position += 1;
            if self
                .to
                .send(prepare(position, parse(position, value), self.changing))
                .is_err()
            {
                return Err(serde::de::Error::custom("the import stopped"));
            }
        }
        Ok(())
    }
}

/// Reads, checks and prepares every record of `input`, sending each to the writer.
fn read(
    mut input: impl BufRead,
    to: SyncSender<Parsed>,
    changing: &AtomicBool,
) -> anyhow::Result<()> {
    match first_byte(&mut input)? {
        None => {}
        Some(b'[') => {
            // A JSON array, read an element at a time (memory stays flat however long it is).
            let mut de = serde_json::Deserializer::from_reader(&mut input);
            serde::Deserializer::deserialize_seq(&mut de, Elements { to: &to, changing })
                .and_then(|()| de.end())
                .map_err(|e| anyhow::anyhow!("the input is not a valid JSON array: {e}"))?;
        }
        Some(_) => {
            // ndjson: one service a line; blank lines are skipped.
            for (i, line) in input.lines().enumerate() {
                let line = line?;
                if line.trim().is_empty() {
                    continue;
                }
                let position = i + 1;
                if to
                    .send(prepare(position, parse_line(position, &line), changing))
                    .is_err()
                {
                    break;
                }
            }
        }
    }
    Ok(())
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
///
/// One thread reads, checks and prepares records while this one stores them, so a load uses
/// two cores; on SQLite a third copies what each commit wrote to the WAL into the database
/// file (see `db::checkpointer`). Into an empty catalogue on SQLite, the secondary indexes of
/// the tables it fills are built after it (see `db::deferred`).
pub fn import(
    conn: &mut DbConnection,
    input: impl BufRead + Send,
    progress: impl FnMut(&Report),
) -> anyhow::Result<Report> {
    store::set_aside_indexes_if_empty(conn)?;
    let loaded = load(conn, input, progress);
    // Built however the load ended: a failed one keeps what it committed. Its own error, if
    // any, is the one to report.
    let built = crate::db::write(conn, crate::db::deferred::restore);
    let report = loaded?;
    built?;
    if report.created + report.updated > 0 {
        crate::db::refresh_statistics(conn)?;
    }
    // So that the first keyword searches after a load need not visit every match.
    crate::search::postings::seal(conn)?;
    crate::search::postings::tidy(conn)?;
    Ok(report)
}

fn load(
    conn: &mut DbConnection,
    input: impl BufRead + Send,
    mut progress: impl FnMut(&Report),
) -> anyhow::Result<Report> {
    // Whether the writer's last record was new or changed, which tells the reader what to
    // prepare (see `prepare`).
    let changing = &AtomicBool::new(true);
    let mut checkpoints = Checkpointer::start(conn)?;
    let loaded: anyhow::Result<Report> = std::thread::scope(|scope| {
        let (to, from) = std::sync::mpsc::sync_channel::<Parsed>(READ_AHEAD);
        let reader = scope.spawn(move || read(input, to, changing));
        let mut report = Report::default();
        let mut ended = false;
        let mut loaded = Ok(());
        while !ended {
            let mut batch = Vec::with_capacity(BATCH);
            let arriving = store_arriving(
                conn,
                &from,
                &mut batch,
                &mut report.rejected,
                &mut ended,
                changing,
            );
            let stored = match arriving {
                Ok(stored) => Ok(stored),
                // Savepoints cost a statement journal and an FTS flush each, about a fifth
                // of a load's time, so only a batch the database refused gets them.
                Err(_) => store_one_by_one(conn, &batch),
            };
            match stored {
                Ok(stored) => report.add(&stored),
                Err(e) => {
                    loaded = Err(e);
                    break;
                }
            }
            if let Some(checkpoints) = checkpoints.as_mut() {
                checkpoints.committed();
            }
            progress(&report);
        }
        // Dropping the receiver stops the reader, if the loader failed first.
        drop(from);
        let read = reader
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the reader thread panicked")));
        loaded?;
        read?;
        Ok(report)
    });
    // However the load ended; its own error, if any, is the one to report.
    let finished = checkpoints.map_or(Ok(()), |c| c.finish(conn));
    let report = loaded?;
    finished?;
    Ok(report)
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
    use crate::db::Sql;

    fn database() -> (tempfile::TempDir, crate::db::PooledConnection) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let pool = crate::db::pool(&url, 1, std::time::Duration::from_secs(10)).unwrap();
        let mut conn = pool.get().unwrap();
        crate::db::migrate(&mut conn).unwrap();
        (dir, conn)
    }

    /// One batch of `store_arriving` over what `from` holds: its report, and whether the
    /// input ended.
    fn one_batch(conn: &mut DbConnection, from: &Receiver<Parsed>) -> (Report, bool) {
        let (mut batch, mut rejected, mut ended) = (vec![], vec![], false);
        let changing = AtomicBool::new(true);
        let report =
            store_arriving(conn, from, &mut batch, &mut rejected, &mut ended, &changing).unwrap();
        assert!(rejected.is_empty(), "{rejected:?}");
        (report, ended)
    }

    #[test]
    fn a_record_the_database_refuses_does_not_take_its_batch_with_it() {
        let (_dir, mut conn) = database();
        let service =
            |id: &str| json!({"id": id, "name": "Drop-in", "description": "x", "status": "active"});
        // Valid HSDS, but its service_at_location names a location that is not stored.
        let mut orphan = service("7f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b");
        orphan["service_at_locations"] = json!([{
            "id": "8f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b",
            "service_id": "7f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b",
            "location_id": "9f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b"
        }]);
        let first = service("6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b");
        let last = service("af1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b");
        let text = format!("{first}\n{orphan}\n{last}\n");
        let report = import(&mut conn, text.as_bytes(), |_| {}).unwrap();
        assert_eq!(report.created, 2, "{report:?}");
        assert_eq!(report.rejected.len(), 1, "{report:?}");
        assert_eq!(report.rejected[0].position, 2);
        assert!(report.rejected[0].errors[0]
            .message
            .contains("could not be stored"));
        let ids = store::service_ids_after(&mut conn, None, 10).unwrap();
        assert_eq!(
            ids,
            [
                "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b",
                "af1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b"
            ]
        );
    }

    #[test]
    fn texts_rewritten_within_a_batch_keep_the_full_text_index_whole() {
        let (_dir, mut conn) = database();
        let org = |name: &str| {
            json!({"id": "1f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b",
            "name": name, "description": "x"})
        };
        let service = |id: &str, name: &str, org_name: &str| {
            json!({"id": id, "name": name,
            "description": "x", "status": "active", "organization": org(org_name)})
        };
        let a = "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b";
        let b = "af1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b";
        // In one batch: two services of one organisation, then the first again, renamed, with
        // its organisation renamed, which rewrites the text of both while their full-text
        // entries are still waiting to be written.
        let records = [
            service(a, "Otter drop-in", "Heron trust"),
            service(b, "Badger clinic", "Heron trust"),
            service(a, "Zebrafinch drop-in", "Quokka trust"),
        ];
        // The batch as a whole: were it refused, `import` would write each record again on its
        // own, and that would hide the fault.
        let (to, from) = std::sync::mpsc::sync_channel(records.len());
        for (position, record) in (1..).zip(records) {
            to.send(prepare(
                position,
                parse(position, record),
                &AtomicBool::new(true),
            ))
            .unwrap();
        }
        drop(to);
        let (report, ended) = one_batch(&mut conn, &from);
        assert!(ended);
        assert_eq!((report.created, report.updated), (2, 1), "{report:?}");
        // FTS5 checks its index against the texts, and fails on an entry removed that was
        // never written.
        Sql::new(
            "INSERT INTO service_text_fts (service_text_fts, rank) VALUES ('integrity-check', 1)",
        )
        .execute(&mut conn)
        .unwrap();
        let matches = |conn: &mut DbConnection, word: &str| {
            let mut q = Sql::new(
                "SELECT COUNT(*) AS n FROM service_text_fts WHERE service_text_fts MATCH ",
            );
            q.bind(word);
            q.count(conn).unwrap()
        };
        assert_eq!(matches(&mut conn, "zebrafinch"), 1);
        assert_eq!(matches(&mut conn, "quokka"), 2);
        assert_eq!(matches(&mut conn, "otter"), 0);
        assert_eq!(matches(&mut conn, "heron"), 0);
        assert_eq!(matches(&mut conn, "badger"), 1);
    }

    #[test]
    fn a_batch_waiting_for_a_slow_reader_commits_rather_than_hold_the_write_lock() {
        let (dir, mut conn) = database();
        let record = json!({"id": "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b", "name": "Drop-in",
            "description": "x", "status": "active"});
        let changing = AtomicBool::new(true);
        let (to, from) = std::sync::mpsc::sync_channel(1);
        to.send(prepare(1, parse(1, record), &changing)).unwrap();
        // The input stays open with nothing more to read, like a pipe whose writer is slow.
        let started = Instant::now();
        let (report, ended) = one_batch(&mut conn, &from);
        assert!(started.elapsed() < HOLD * 3, "{:?}", started.elapsed());
        assert_eq!((report.created, ended), (1, false));
        // Committed: another connection sees it, and can write.
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let pool = crate::db::pool(&url, 1, std::time::Duration::from_secs(10)).unwrap();
        let mut other = pool.get().unwrap();
        assert_eq!(
            store::service_ids_after(&mut other, None, 10)
                .unwrap()
                .len(),
            1
        );
        let next = json!({"id": "af1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b", "name": "Clinic",
            "description": "x", "status": "active"});
        let service = parse(2, next).unwrap();
        assert_eq!(
            store::put_service(&mut other, &service).unwrap(),
            Written::Created
        );
        drop(to);
    }

    #[test]
    fn a_changed_record_the_reader_took_for_unchanged_is_stored_whole() {
        let (_dir, mut conn) = database();
        let record = |name: &str, number: &str, site: &str| {
            json!({"id": "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b", "name": name,
                "description": "x", "status": "active",
                "phones": [{"id": "7f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b", "number": number}],
                "service_at_locations": [{"id": "8f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b",
                    "location": {"id": "9f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b",
                        "location_type": "physical", "name": site,
                        "latitude": 41.88, "longitude": -87.63}}]})
        };
        let first = parse(1, record("Drop-in", "555-0100", "Loop")).unwrap();
        assert_eq!(
            store::put_service(&mut conn, &first).unwrap(),
            Written::Created
        );
        // Its rows are left to the writer, which finds the record changed and works them out.
        let changed = parse(2, record("Needle exchange", "555-0199", "Pilsen")).unwrap();
        let digest_only = Prepared::digest_only(changed.clone());
        assert_eq!(
            store::put_prepared(&mut conn, &digest_only).unwrap(),
            Written::Updated
        );
        let stored = store::services(&mut conn, std::slice::from_ref(&changed.id))
            .unwrap()
            .pop()
            .unwrap();
        assert_eq!(stored.name, "Needle exchange");
        assert_eq!(stored.phones[0].number, "555-0199");
        let site = stored.service_at_locations[0].location.as_ref().unwrap();
        assert_eq!(site.name.as_deref(), Some("Pilsen"));
        // The same record again is unchanged, whichever way it was prepared.
        for again in [
            Prepared::digest_only(changed.clone()),
            Prepared::new(changed).unwrap(),
        ] {
            assert_eq!(
                store::put_prepared(&mut conn, &again).unwrap(),
                Written::Unchanged
            );
        }
    }

    #[test]
    fn terms_named_by_taxonomy_and_code_are_completed_on_import() {
        let (_dir, mut conn) = database();
        let id = "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b";
        let line = |code: &str| {
            json!({"id": id, "name": "Drop-in", "description": "x", "status": "active",
                "attributes": [{"id": "7f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b",
                    "taxonomy_term": {"taxonomy": "haven-cost", "code": code}}]})
            .to_string()
        };
        let text = format!("{}\n{}\n", line("cheap"), line("free"));
        let report = import(&mut conn, text.as_bytes(), |_| {}).unwrap();
        assert_eq!(report.created, 1, "{report:?}");
        assert_eq!(report.rejected.len(), 1);
        assert_eq!(
            report.rejected[0].errors[0].field,
            "attributes[0].taxonomy_term.code"
        );
        let stored = store::services(&mut conn, &[id.to_string()])
            .unwrap()
            .pop()
            .unwrap();
        let free = crate::vocab::term_id("haven-cost", "free").to_string();
        let attribute = &stored.attributes[0];
        assert_eq!(attribute.taxonomy_term_id.as_deref(), Some(free.as_str()));
        assert_eq!(attribute.taxonomy_term.as_ref().unwrap().id, free);
        assert_eq!(attribute.taxonomy_term.as_ref().unwrap().name, "Free");
    }

    #[test]
    fn a_line_that_does_not_read_as_a_service_at_once_is_read_as_json_first() {
        let id = "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b";
        // A repeated key: read straight into a service the line is refused, read as JSON the
        // last one counts, as it always has.
        let line = format!(
            r#"{{"id": "{id}", "name": "Old", "name": "Drop-in", "description": "x", "status": "active"}}"#
        );
        assert!(serde_json::from_str::<Service>(&line).is_err());
        assert_eq!(parse_line(1, &line).unwrap().name, "Drop-in");
        // A field of the wrong type is named, with the record's id.
        let line =
            format!(r#"{{"id": "{id}", "name": 7, "description": "x", "status": "active"}}"#);
        let rejection = parse_line(2, &line).unwrap_err();
        assert_eq!((rejection.position, rejection.id.as_deref()), (2, Some(id)));
        assert_eq!(rejection.errors[0].field, "name", "{rejection}");
        // A valid service that breaks an HSDS rule is refused by the same checks either way.
        let line =
            format!(r#"{{"id": "{id}", "name": "", "description": "x", "status": "active"}}"#);
        let rejection = parse_line(3, &line).unwrap_err();
        assert_eq!(rejection.id.as_deref(), Some(id));
        assert!(
            rejection.errors.iter().any(|e| e.field == "name"),
            "{rejection}"
        );
    }

    #[derive(diesel::QueryableByName, Debug, PartialEq)]
    struct IndexRow {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        sql: String,
    }

    /// Every index SQLite was asked to build, with its definition.
    fn indexes(conn: &mut DbConnection) -> Vec<IndexRow> {
        Sql::new(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL \
             ORDER BY name",
        )
        .load(conn)
        .unwrap()
    }

    fn set_aside(conn: &mut DbConnection) -> i64 {
        Sql::new("SELECT COUNT(*) AS n FROM deferred_index")
            .count(conn)
            .unwrap()
    }

    /// A second connection to the database in `dir`, to look at it while a load holds the first.
    fn onlooker(dir: &tempfile::TempDir) -> crate::db::PooledConnection {
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let pool = crate::db::pool(&url, 1, std::time::Duration::from_secs(10)).unwrap();
        pool.get().unwrap()
    }

    fn generated(services: u64, seed: u64) -> Vec<u8> {
        let mut out = vec![];
        crate::generate::services(services, seed, &mut out).unwrap();
        out
    }

    #[test]
    fn a_load_into_an_empty_catalogue_builds_its_indexes_after_it() {
        let (dir, mut conn) = database();
        let all = indexes(&mut conn);
        let mut other = onlooker(&dir);
        // What another connection sees once the load's one batch is committed.
        let mut during = vec![];
        let report = import(&mut conn, generated(30, 1).as_slice(), |_| {
            during = indexes(&mut other);
        })
        .unwrap();
        assert_eq!(report.created, 30);
        let names = |rows: &[IndexRow]| rows.iter().map(|r| r.name.clone()).collect::<Vec<_>>();
        for name in [
            "search_entry_name",
            "search_entry_point",
            "service_organization_id",
        ] {
            assert!(names(&all).iter().any(|n| n == name), "{name}");
            assert!(!names(&during).iter().any(|n| n == name), "{name} kept");
        }
        // Those of the other tables stay throughout.
        assert!(names(&during).iter().any(|n| n == "service_term_text"));
        assert_eq!(indexes(&mut conn), all, "built again as they were");
        assert_eq!(set_aside(&mut conn), 0);

        // A load into a catalogue that holds services keeps them.
        let report = import(&mut conn, generated(30, 2).as_slice(), |_| {
            during = indexes(&mut other);
        })
        .unwrap();
        assert_eq!(report.created, 30);
        assert_eq!(during, all);
    }

    #[test]
    fn a_load_builds_the_indexes_before_a_write_that_looks_rows_up() {
        let (dir, mut conn) = database();
        let all = indexes(&mut conn);
        let mut other = onlooker(&dir);
        let id = "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b";
        let service =
            |name: &str| json!({"id": id, "name": name, "description": "x", "status": "active"});
        // In one batch: a service, then the same one renamed, whose rows are found by its id.
        let text = format!("{}\n{}\n", service("Drop-in"), service("Needle exchange"));
        let mut during = (vec![], -1);
        let report = import(&mut conn, text.as_bytes(), |_| {
            during = (indexes(&mut other), set_aside(&mut other));
        })
        .unwrap();
        assert_eq!((report.created, report.updated), (1, 1), "{report:?}");
        assert_eq!(during, (all, 0));
        let named = |conn: &mut DbConnection, name: &str| {
            let mut q = Sql::new("SELECT COUNT(*) AS n FROM search_entry WHERE name = ");
            q.bind(name);
            q.count(conn).unwrap()
        };
        assert_eq!(named(&mut conn, "Needle exchange"), 1);
        assert_eq!(named(&mut conn, "Drop-in"), 0);
    }

    #[test]
    fn indexes_a_killed_load_set_aside_are_built_when_the_database_is_next_opened() {
        let (_dir, mut conn) = database();
        let all = indexes(&mut conn);
        assert!(store::set_aside_indexes_if_empty(&mut conn).unwrap() > 0);
        assert!(indexes(&mut conn).len() < all.len());
        // Every process migrates as it starts.
        crate::db::migrate(&mut conn).unwrap();
        assert_eq!(indexes(&mut conn), all);
        assert_eq!(set_aside(&mut conn), 0);
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
