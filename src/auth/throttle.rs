//! Slowing down password guessing: failed logins are counted per account and per client
//! address, in the database so every instance sees them; past the limit, attempts are refused
//! with 429 until the window passes.

use diesel::sql_types::BigInt;
use diesel::QueryableByName;

use crate::db::{DbConnection, Sql};

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = BigInt)]
    failures: i64,
    #[diesel(sql_type = BigInt)]
    first_at: i64,
}

/// Seconds until `keys` may try again, if any of them is locked.
pub fn locked(
    conn: &mut DbConnection,
    keys: &[String],
    now: i64,
    max: i64,
    window: i64,
) -> anyhow::Result<Option<i64>> {
    let mut q = Sql::new("SELECT failures, first_at FROM login_failure WHERE key IN ");
    q.bind_list(keys);
    let wait = q
        .load::<Row>(conn)?
        .into_iter()
        .filter(|r| r.failures >= max && now < r.first_at + window)
        .map(|r| r.first_at + window - now)
        .max();
    Ok(wait)
}

/// Counts a failure against each key; a window that has passed starts again.
pub fn fail(conn: &mut DbConnection, keys: &[String], now: i64, window: i64) -> anyhow::Result<()> {
    for key in keys {
        let mut q = Sql::new("INSERT INTO login_failure (key, failures, first_at) VALUES (");
        q.bind(key)
            .push(", 1, ")
            .bind(now)
            .push(") ON CONFLICT (key) DO UPDATE SET failures = CASE WHEN login_failure.first_at + ")
            .bind(window)
            .push(" <= ")
            .bind(now)
            .push(" THEN 1 ELSE login_failure.failures + 1 END, first_at = CASE WHEN login_failure.first_at + ")
            .bind(window)
            .push(" <= ")
            .bind(now)
            .push(" THEN ")
            .bind(now)
            .push(" ELSE login_failure.first_at END");
        q.execute(conn)?;
    }
    Ok(())
}

/// Forgets the failures of an account after it logs in.
pub fn clear(conn: &mut DbConnection, key: &str) -> anyhow::Result<()> {
    let mut q = Sql::new("DELETE FROM login_failure WHERE key = ");
    q.bind(key);
    q.execute(conn)?;
    Ok(())
}
