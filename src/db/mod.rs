//! Storage: one diesel code path over SQLite (the embedded default) and PostgreSQL.
//!
//! The backend is picked from the URL scheme. Migrations for both live in `migrations/`, are
//! embedded in the binary, and run at start and on `haven migrate`.

use std::cell::Cell;
use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

pub mod checkpointer;
pub mod deferred;
pub mod sql;

pub use sql::Sql;

#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

pub type Pool = r2d2::Pool<Manager>;
pub type PooledConnection = r2d2::PooledConnection<Manager>;

/// A pooled connection, with when it last proved to work.
///
/// The pool used to test every connection it handed out with a `SELECT 1`: on PostgreSQL a
/// round trip per request, which held a near-here search over 100,000 services to about
/// 5,000 requests a second instead of 11,000 (BENCHMARKS.md). Now a connection is tested when
/// it is handed out only if it has not worked within `TRUSTED` (it sat idle, and the server
/// may have closed it) or its last user met a database error (`failed`); one that fails the
/// test is replaced.
pub struct Checked {
    conn: DbConnection,
    worked: Option<Instant>,
}

impl Deref for Checked {
    type Target = DbConnection;

    fn deref(&self) -> &DbConnection {
        &self.conn
    }
}

impl DerefMut for Checked {
    fn deref_mut(&mut self) -> &mut DbConnection {
        &mut self.conn
    }
}

/// How long a connection that worked is trusted without a test.
const TRUSTED: Duration = Duration::from_secs(1);

thread_local! {
    /// Set when the work done with a connection on this thread failed, for the pool to test
    /// it before it is used again: an error may mean the server went away.
    static FAILED: Cell<bool> = const { Cell::new(false) };
}

/// Notes that the work with the connection this thread holds failed; call before giving the
/// connection back (dropping it).
pub fn failed() {
    FAILED.with(|f| f.set(true));
}

thread_local! {
    /// Set when a `write` on this thread committed (or, nested, ended well).
    static WROTE: Cell<bool> = const { Cell::new(false) };
}

/// Whether a `write` on this thread has ended well since the last call.
pub fn wrote() -> bool {
    WROTE.with(|w| w.replace(false))
}

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> anyhow::Result<Backend> {
        if url.starts_with("sqlite://") || url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(anyhow!(
                "must start with sqlite:// or postgres://, got {:?}",
                url.split(':').next().unwrap_or_default()
            ))
        }
    }

    pub fn of(conn: &DbConnection) -> Backend {
        match conn {
            DbConnection::Postgres(_) => Backend::Postgres,
            DbConnection::Sqlite(_) => Backend::Sqlite,
        }
    }
}

/// The path SQLite opens for a `sqlite://PATH` URL (`sqlite://haven.db` is `./haven.db`,
/// `sqlite:///var/lib/haven.db` is absolute).
pub fn sqlite_path(url: &str) -> &str {
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url)
}

/// Opens connections for the pool, with the settings each backend needs.
#[derive(Debug, Clone)]
pub struct Manager {
    url: String,
    backend: Backend,
}

impl Manager {
    pub fn new(url: &str) -> anyhow::Result<Self> {
        Ok(Manager {
            url: url.to_string(),
            backend: Backend::of_url(url)?,
        })
    }
}

impl r2d2::ManageConnection for Manager {
    type Connection = Checked;
    type Error = ConnectionError;

    fn connect(&self) -> Result<Checked, ConnectionError> {
        Ok(Checked {
            conn: self.open()?,
            worked: Some(Instant::now()),
        })
    }

    fn is_valid(&self, conn: &mut Checked) -> Result<(), ConnectionError> {
        if conn.worked.is_some_and(|at| at.elapsed() < TRUSTED) {
            return Ok(());
        }
        conn.conn
            .batch_execute("SELECT 1")
            .map_err(ConnectionError::CouldntSetupConfiguration)?;
        conn.worked = Some(Instant::now());
        Ok(())
    }

    fn has_broken(&self, conn: &mut Checked) -> bool {
        use diesel::connection::{AnsiTransactionManager, TransactionManager};
        // A panic, or a transaction that failed to end, may have left it inside one.
        let status = match &mut conn.conn {
            DbConnection::Postgres(c) => {
                AnsiTransactionManager::transaction_manager_status_mut(c).transaction_depth()
            }
            DbConnection::Sqlite(c) => {
                AnsiTransactionManager::transaction_manager_status_mut(c).transaction_depth()
            }
        };
        if std::thread::panicking() || !matches!(status, Ok(None)) {
            return true;
        }
        conn.worked = if FAILED.with(|f| f.replace(false)) {
            None
        } else {
            Some(Instant::now())
        };
        false
    }
}

impl Manager {
    /// A connection with the settings each backend needs, outside the pool.
    pub fn open(&self) -> Result<DbConnection, ConnectionError> {
        match self.backend {
            Backend::Sqlite => {
                let mut conn = SqliteConnection::establish(sqlite_path(&self.url))?;
                // WAL lets readers run beside the one writer; a commit is durable once it
                // returns (synchronous=FULL), so an acknowledged write survives a crash.
                // busy_timeout first: switching to WAL takes a lock, and another connection
                // may be writing.
                conn.batch_execute(
                    "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
                )
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConnection::Sqlite(conn))
            }
            Backend::Postgres => Ok(DbConnection::Postgres(PgConnection::establish(&self.url)?)),
        }
    }
}

/// A pool over `url`. Fails when the database cannot be reached within `timeout`.
pub fn pool(url: &str, size: u32, timeout: Duration) -> anyhow::Result<Pool> {
    let manager = Manager::new(url)?;
    // SQLite serialises writers anyway; a few connections are enough for concurrent reads.
    let size = if manager.backend == Backend::Sqlite {
        size.clamp(1, 8)
    } else {
        size
    };
    // Connections open as they are needed, not all at start: a command that uses one (import,
    // migrate) should not open eight.
    r2d2::Pool::builder()
        .max_size(size)
        .min_idle(Some(1))
        // A request waits this long for a connection, then gets a 503: an outage answers
        // quickly rather than holding every request open.
        .connection_timeout(timeout)
        .build(manager)
        .with_context(|| format!("cannot open the database at {}", redact(url)))
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Runs `work` in a transaction that writes. On SQLite it begins `IMMEDIATE`, taking the write
/// lock first: a deferred transaction that reads and then writes cannot wait for a busy writer
/// (SQLite answers "database is locked" at once rather than risk a deadlock), while an
/// immediate one waits out `busy_timeout` like any other writer. Inside a transaction already,
/// it is a savepoint, as `Connection::transaction` would make.
pub fn write<T, E, F>(conn: &mut DbConnection, work: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    let outermost_sqlite = match conn {
        DbConnection::Sqlite(c) => AnsiTransactionManager::transaction_manager_status_mut(c)
            .transaction_depth()?
            .is_none(),
        DbConnection::Postgres(_) => false,
    };
    if !outermost_sqlite {
        let result = conn.transaction(work);
        WROTE.with(|w| w.set(w.get() || result.is_ok()));
        return result;
    }
    if let DbConnection::Sqlite(c) = conn {
        AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?;
    }
    let result = work(conn);
    if let DbConnection::Sqlite(c) = conn {
        match &result {
            Ok(_) => AnsiTransactionManager::commit_transaction(c)?,
            Err(_) => AnsiTransactionManager::rollback_transaction(c)?,
        }
    }
    WROTE.with(|w| w.set(w.get() || result.is_ok()));
    result
}

/// Settings for a bulk load on this connection: on SQLite a page cache of 128 MB rather than
/// 2 MB, so that the indexes a load touches on every record stay in memory instead of being
/// read back from the file (a fixed bound, whatever the size of the input); statement
/// journals in memory rather than in temporary files (100,000 services loaded in 16.6–17.0 s
/// rather than 22.4–22.7 s, side by side); and a wait of up to ten minutes for the write
/// lock, since a process that starts during a load builds the indexes it set aside
/// (`deferred`) under that lock, which takes seconds per 100,000 services.
pub fn tune_for_bulk(conn: &mut DbConnection) -> anyhow::Result<()> {
    if Backend::of(conn) == Backend::Sqlite {
        conn.batch_execute(
            "PRAGMA cache_size = -131072; PRAGMA temp_store = MEMORY; \
             PRAGMA busy_timeout = 600000",
        )?;
    }
    Ok(())
}

/// After a bulk load, on PostgreSQL: fresh planner statistics. Until autovacuum gathers them
/// the planner misjudges the new rows: keyword searches right after importing 10,000 services
/// took 120 ms, and 25 ms once the tables were analysed.
pub fn refresh_statistics(conn: &mut DbConnection) -> anyhow::Result<()> {
    if Backend::of(conn) == Backend::Postgres {
        conn.batch_execute("ANALYZE")?;
    }
    Ok(())
}

/// Applies pending migrations. Several instances that start together do not migrate at once:
/// on PostgreSQL an advisory lock orders them, on SQLite an exclusive transaction.
pub fn migrate(conn: &mut DbConnection) -> anyhow::Result<()> {
    // Indexes a killed load left set aside are built first: a migration may expect them.
    if Backend::of(conn) == Backend::Sqlite && has_table(conn, "deferred_index")? {
        write(conn, deferred::restore)?;
    }
    match conn {
        DbConnection::Sqlite(c) => {
            // One exclusive transaction (each migration a savepoint in it): a second process
            // starting on the same file waits, then finds nothing left to do.
            c.exclusive_transaction(|c| {
                c.run_pending_migrations(SQLITE_MIGRATIONS)
                    .map(|_| ())
                    .map_err(|e| anyhow!("migration failed: {e}"))
            })?;
        }
        DbConnection::Postgres(c) => {
            c.batch_execute("SELECT pg_advisory_lock(72436)")?;
            let result = c
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|_| ())
                .map_err(|e| anyhow!("migration failed: {e}"));
            c.batch_execute("SELECT pg_advisory_unlock(72436)")?;
            result?;
        }
    }
    Ok(())
}

/// Whether SQLite holds a table of that name.
fn has_table(conn: &mut DbConnection, name: &str) -> anyhow::Result<bool> {
    let mut q =
        Sql::new("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = ");
    q.bind(name);
    Ok(q.count(conn)? > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_pick_the_backend() {
        assert_eq!(
            Backend::of_url("sqlite://haven.db").unwrap(),
            Backend::Sqlite
        );
        assert_eq!(
            Backend::of_url("postgres://u@h/db").unwrap(),
            Backend::Postgres
        );
        assert!(Backend::of_url("mysql://x").is_err());
        assert_eq!(sqlite_path("sqlite://haven.db"), "haven.db");
        assert_eq!(sqlite_path("sqlite:///var/lib/h.db"), "/var/lib/h.db");
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://haven:secret@db:5432/haven"),
            "postgres://haven:***@db:5432/haven"
        );
        assert_eq!(redact("sqlite://haven.db"), "sqlite://haven.db");
    }
}
