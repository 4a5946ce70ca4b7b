//! Secondary indexes a bulk load into empty tables sets aside on SQLite, to build after it.
//!
//! Most of the catalogue's indexes are keyed by UUIDs or names, so each row lands on a random
//! page of each of them: a batch of 5,000 services dirties most of the pages of an index of a
//! million, and every commit writes them all again, to the WAL and then to the file. Loading a
//! million services wrote 78 GB for a 10.4 GB database, in 437–469 s. Building an index after
//! the load sorts its keys once and writes each page once: the same load wrote 43 GB, in
//! 254–305 s, about 10 s of it building the indexes.
//!
//! An index is set aside by recording its definition in `deferred_index` and dropping it, in one
//! transaction. `restore` builds every index recorded there and forgets it, in the caller's
//! transaction: at the end of the load; before a write of the load that looks rows up by
//! something other than their primary key (an update, or an organisation or location that
//! changed), so that it does not scan a table; and when any process migrates on start, so a
//! load that was killed leaves no index missing once something opens the database again.
//! Meanwhile the answers are the same, since an index changes no answer, only how fast it
//! comes: a server's searches and writes during such a load are right, and may scan.
//! PostgreSQL sets nothing aside: there a load is bound by round trips, not by pages.

use diesel::connection::SimpleConnection;
use diesel::sql_types::{BigInt, Text};
use diesel::QueryResult;

use super::{Backend, DbConnection, Sql};

#[derive(diesel::QueryableByName)]
struct Definition {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    sql: String,
}

/// A connection's settings that `restore` changes for the while.
#[derive(diesel::QueryableByName)]
struct Settings {
    #[diesel(sql_type = BigInt)]
    cache_size: i64,
    #[diesel(sql_type = BigInt)]
    temp_store: i64,
}

/// Sets aside the secondary indexes of `tables` (not those behind a primary key or a unique
/// constraint, which SQLite builds itself and which the load's own lookups use), in the
/// caller's transaction. Returns how many; none on PostgreSQL.
pub fn set_aside(conn: &mut DbConnection, tables: &[&str]) -> QueryResult<usize> {
    if Backend::of(conn) != Backend::Sqlite {
        return Ok(0);
    }
    // An automatic index has no SQL: it cannot be dropped, and is not listed.
    let mut q = Sql::new(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL \
         AND tbl_name IN ",
    );
    q.bind_list(tables.iter().copied()).push(" ORDER BY name");
    let indexes: Vec<Definition> = q.load(conn)?;
    for index in &indexes {
        let mut keep = Sql::new("INSERT INTO deferred_index (name, sql) VALUES (");
        keep.bind(&index.name).push(", ").bind(&index.sql).push(")");
        keep.execute(conn)?;
        conn.batch_execute(&format!("DROP INDEX \"{}\"", index.name))?;
    }
    Ok(indexes.len())
}

/// Builds every index set aside, in the caller's transaction. Returns how many; none, after one
/// lookup, when nothing is set aside.
pub fn restore(conn: &mut DbConnection) -> QueryResult<usize> {
    if Backend::of(conn) != Backend::Sqlite {
        return Ok(0);
    }
    let indexes: Vec<Definition> =
        Sql::prepared("SELECT name, sql FROM deferred_index ORDER BY name").load(conn)?;
    if indexes.is_empty() {
        return Ok(0);
    }
    // Building an index is mostly sorting its keys, which SQLite spreads over worker threads
    // when allowed: at a million services, 6.8 s on two cores rather than 9.6 s. Each thread
    // keeps up to a page cache's worth of keys before it writes them out as a run, to a
    // temporary file, which a load keeps in memory (`tune_for_bulk`) and which would then grow
    // with the table. So the build runs with SQLite's default cache (2 MB) and temporary
    // files on disk: with a load's settings it took 14 s and 300 MB at a million services,
    // with these 6 s and 24 MB. Within a transaction SQLite moves temporary files only while
    // the connection's temporary database is closed (a load's is: `tune_for_bulk` closes it,
    // and nothing opens it); otherwise they stay where they are, which changes no answer,
    // only the memory the build takes.
    let before: Settings =
        Sql::new("SELECT cache_size, temp_store FROM pragma_cache_size(), pragma_temp_store()")
            .load(conn)?
            .pop()
            .ok_or(diesel::result::Error::NotFound)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    conn.batch_execute(&format!(
        "PRAGMA threads = {cores}; PRAGMA cache_size = -2000"
    ))?;
    let moved = conn.batch_execute("PRAGMA temp_store = FILE").is_ok();
    let built = build(conn, &indexes);
    conn.batch_execute(&format!(
        "PRAGMA threads = 0; PRAGMA cache_size = {}",
        before.cache_size
    ))?;
    if moved {
        // Nor is a refusal to move them back an error.
        let _ = conn.batch_execute(&format!("PRAGMA temp_store = {}", before.temp_store));
    }
    built?;
    Ok(indexes.len())
}

fn build(conn: &mut DbConnection, indexes: &[Definition]) -> QueryResult<()> {
    for index in indexes {
        conn.batch_execute(&index.sql)?;
        let mut done = Sql::new("DELETE FROM deferred_index WHERE name = ");
        done.bind(&index.name);
        done.execute(conn)?;
    }
    Ok(())
}
