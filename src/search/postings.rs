//! Which texts each word is in, listed by PostgreSQL in blocks of numbers, for a keyword's
//! first search.
//!
//! PostgreSQL's GIN index finds the rows whose `tsv` holds a word, but it has no index-only
//! scan: every match costs a visit to its row. A common word over a million services
//! (`treatment` is in 38 % of them) read most of `service_text` and its TOAST table, 0.2–4 s
//! before its answer was kept (`search::answers`), and again after any write. Here the texts
//! holding a word are listed by number, a row for each 1,024 numbers (`text_word`), so that
//! search reads about a thousand rows through one index: a few milliseconds.
//!
//! A text's number (`service_text.id`) is new on every write of its service, so a block of
//! numbers, once every number in it is handed out and every transaction that took one is
//! over, never gains a text: it is listed once (sealed). A text rewritten or deleted since
//! stays listed under its old number: the change that removed it logs the number
//! (`search_change.gone_text`), and the near-here index, which counts matches by the status of
//! their number (`Nearby::count_texts`), sets its status to none; walks test live rows only.
//! A block that has lost more than half its texts is listed again without them (`tidy`).
//! Texts after the last sealed block, the tail, are matched through `tsv` as before; the
//! sealer of each running server keeps the tail under two blocks, and when it is longer (a
//! database just migrated, an import under way) a search asks the GIN index alone.
//!
//! SQLite's FTS5 index keeps its own lists of numbers, so this is PostgreSQL's alone.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use diesel::connection::Connection;
use diesel::pg::PgConnection;
use diesel::sql_types::{BigInt, Binary, Bool, Nullable, Text};
use diesel::{QueryResult, QueryableByName, RunQueryDsl};

use crate::db::DbConnection;
use crate::state::AppState;

/// Numbers per block: a common word's row then holds a few hundred of them (under PostgreSQL's
/// 2 KB, so rows stay uncompressed in the table), and a million texts make about a thousand
/// rows a word.
const BLOCK_BITS: u32 = 10;
const BLOCK: i64 = 1 << BLOCK_BITS;
/// Blocks sealed a transaction: about a second of work at eighty words a text.
const SEAL_CHUNK: i64 = 16;
/// The longest tail a search matches through `tsv` beside the lists.
const TAIL_MAX: i64 = 4 * BLOCK;
/// The advisory lock that keeps two sealers (two servers, or a server and an import) from
/// listing the same block.
const SEALER_LOCK: i64 = 0x6861_7665_6e5f_7477;

#[derive(QueryableByName)]
struct Bounds {
    #[diesel(sql_type = Nullable<BigInt>)]
    upto: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    newest: Option<i64>,
}

/// The last sealed number and the newest text's.
fn bounds(pg: &mut PgConnection) -> QueryResult<Bounds> {
    diesel::sql_query(
        "SELECT (SELECT upto FROM text_word_sealed) AS upto, \
         (SELECT max(id) FROM service_text) AS newest",
    )
    .get_result(pg)
}

#[derive(QueryableByName)]
struct Listed {
    /// The word's place in the query (from 1); 0 for a text of the tail, whose number is in
    /// `block`; -1 for the number of words, in `block`.
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = BigInt)]
    block: i64,
    #[diesel(sql_type = Nullable<Binary>)]
    ids: Option<Vec<u8>>,
}

/// The numbers of the texts that hold every word (each as a prefix), in order, and perhaps
/// numbers of texts no longer stored; `None` when the tail is too long to match beside the
/// lists (or on SQLite), for the caller to ask the full-text index.
pub fn matching(conn: &mut DbConnection, words: &[String]) -> anyhow::Result<Option<Vec<i64>>> {
    let DbConnection::Postgres(pg) = conn else {
        return Ok(None);
    };
    let bounds = bounds(pg)?;
    let (Some(upto), newest) = (bounds.upto, bounds.newest) else {
        return Ok(None);
    };
    if newest.unwrap_or(upto) - upto > TAIL_MAX {
        return Ok(None);
    }
    // The words as the full-text index reads them, from the same parser. The tail's bound is
    // the one just read: a block sealed since is then read twice, once from each, in the same
    // snapshot, and the numbers are taken once.
    let query: Vec<String> = words.iter().map(|w| format!("{w}:*")).collect();
    let rows: Vec<Listed> = diesel::sql_query(
        "WITH lexeme AS ( \
             SELECT l.word, l.n \
             FROM unnest(tsvector_to_array(to_tsvector('simple', $1))) WITH ORDINALITY AS l(word, n) \
         ) \
         SELECT l.n, t.block, t.ids FROM lexeme l JOIN LATERAL ( \
             SELECT block, ids FROM text_word \
             WHERE word >= l.word COLLATE \"C\" AND word < (l.word || chr(1114111)) COLLATE \"C\" \
         ) t ON true \
         UNION ALL \
         SELECT 0, t.id, NULL::bytea FROM ( \
             SELECT id, tsv FROM service_text WHERE id > $2 OFFSET 0 \
         ) t WHERE t.tsv @@ to_tsquery('simple', $3) \
         UNION ALL \
         SELECT -1, count(*), NULL::bytea FROM lexeme",
    )
    .bind::<Text, _>(words.join(" "))
    .bind::<BigInt, _>(upto)
    .bind::<Text, _>(query.join(" & "))
    .load(pg)?;
    Ok(Some(combine(rows)?))
}

/// The numbers every word's lists share, with the tail's matches.
fn combine(rows: Vec<Listed>) -> anyhow::Result<Vec<i64>> {
    let mut words = 0;
    let mut listed: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    let mut out = Vec::new();
    for row in rows {
        match (row.n, row.ids) {
            (-1, _) => words = row.block,
            (0, _) => out.push(row.block),
            (n, Some(ids)) => numbers(row.block, &ids, listed.entry(n).or_default())?,
            (_, None) => anyhow::bail!("a word's block without numbers"),
        }
    }
    // A word that no block lists leaves nothing listed to share; `to_tsvector` of no word
    // gives none, and the full-text query of none matches nothing.
    if words > 0 && listed.len() as i64 == words {
        let mut lists: Vec<Vec<i64>> = listed.into_values().collect();
        for list in &mut lists {
            // A prefix may match several words (`detox`: detox, detoxification).
            list.sort_unstable();
            list.dedup();
        }
        lists.sort_by_key(Vec::len);
        let mut lists = lists.into_iter();
        let mut shared = lists.next().unwrap_or_default();
        for list in lists {
            shared.retain(|id| list.binary_search(id).is_ok());
        }
        out.extend(shared);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Appends the numbers a block's offsets stand for.
fn numbers(block: i64, offsets: &[u8], out: &mut Vec<i64>) -> anyhow::Result<()> {
    if !offsets.len().is_multiple_of(2) {
        anyhow::bail!("a block's offsets are not two bytes each");
    }
    let base = block << BLOCK_BITS;
    out.extend(
        offsets
            .chunks_exact(2)
            .map(|b| base + i64::from(u16::from_be_bytes([b[0], b[1]]))),
    );
    Ok(())
}

#[derive(QueryableByName)]
struct Newest {
    #[diesel(sql_type = Nullable<BigInt>)]
    id: Option<i64>,
}

#[derive(QueryableByName)]
struct Locked {
    #[diesel(sql_type = Bool)]
    locked: bool,
}

#[derive(QueryableByName)]
struct Sealed {
    #[diesel(sql_type = BigInt)]
    upto: i64,
}

/// Lists every complete block of numbers not listed yet; returns how many numbers it covered.
/// Does nothing on SQLite, or while another sealer works.
pub fn seal(conn: &mut DbConnection) -> anyhow::Result<i64> {
    let DbConnection::Postgres(pg) = conn else {
        return Ok(0);
    };
    let bounds = bounds(pg)?;
    let (Some(upto), Some(newest)) = (bounds.upto, bounds.newest) else {
        return Ok(0);
    };
    // Nothing to seal, which is most of the times asked: no lock taken.
    if last_complete(newest) <= upto {
        return Ok(0);
    }
    let Some(settled) = settled(pg)? else {
        return Ok(0);
    };
    let mut sealed = 0;
    while let Some(n) = seal_chunk(pg, last_complete(settled))? {
        sealed += n;
    }
    Ok(sealed)
}

/// The last number of the last block that ends at or before `id`.
fn last_complete(id: i64) -> i64 {
    ((id + 1) >> BLOCK_BITS << BLOCK_BITS) - 1
}

/// The highest number whose text is settled: every number up to it was taken by a
/// transaction that has ended. A writer takes its number inside `INSERT`, which holds a lock
/// on the table that this waits for (a second at most: an import's batch may hold it); a
/// writer that comes after takes a higher number.
fn settled(pg: &mut PgConnection) -> anyhow::Result<Option<i64>> {
    let newest = pg.transaction(|pg| {
        diesel::sql_query("SET LOCAL lock_timeout = '1s'").execute(pg)?;
        diesel::sql_query("LOCK TABLE service_text IN SHARE MODE").execute(pg)?;
        diesel::sql_query("SELECT max(id) AS id FROM service_text").get_result::<Newest>(pg)
    });
    match newest {
        Ok(newest) => Ok(newest.id),
        Err(diesel::result::Error::DatabaseError(_, info))
            if info.message().contains("lock timeout") =>
        {
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// Seals up to `SEAL_CHUNK` blocks after the last sealed one, none past `last`; `None` when
/// there is none or another sealer holds the lock.
fn seal_chunk(pg: &mut PgConnection, last: i64) -> anyhow::Result<Option<i64>> {
    Ok(pg.transaction(|pg| {
        if !locked(pg)? {
            return Ok::<_, diesel::result::Error>(None);
        }
        // Read under the lock: another sealer's last chunk is committed.
        let sealed: Sealed =
            diesel::sql_query("SELECT upto FROM text_word_sealed").get_result(pg)?;
        let from = sealed.upto + 1;
        let to = last.min(from + SEAL_CHUNK * BLOCK - 1);
        if to < from {
            return Ok(None);
        }
        list(pg, from, to)?;
        diesel::sql_query("UPDATE text_word_sealed SET upto = $1")
            .bind::<BigInt, _>(to)
            .execute(pg)?;
        Ok(Some(to - from + 1))
    })?)
}

/// Takes the sealers' lock until the end of the transaction, if no other sealer holds it.
fn locked(pg: &mut PgConnection) -> QueryResult<bool> {
    let locked: Locked = diesel::sql_query("SELECT pg_try_advisory_xact_lock($1) AS locked")
        .bind::<BigInt, _>(SEALER_LOCK)
        .get_result(pg)?;
    Ok(locked.locked)
}

/// Lists the words of the texts numbered `from` to `to` (whole blocks), and how many texts
/// each block holds.
fn list(pg: &mut PgConnection, from: i64, to: i64) -> QueryResult<()> {
    diesel::sql_query(format!(
        "INSERT INTO text_word (word, block, ids) \
         SELECT w, id >> {BLOCK_BITS}, \
             string_agg(int2send((id & {last})::smallint), ''::bytea ORDER BY id) \
         FROM service_text, unnest(tsvector_to_array(tsv)) AS w \
         WHERE id BETWEEN $1 AND $2 \
         GROUP BY 1, 2",
        last = BLOCK - 1
    ))
    .bind::<BigInt, _>(from)
    .bind::<BigInt, _>(to)
    .execute(pg)?;
    diesel::sql_query(format!(
        "INSERT INTO text_word_block (block, texts) \
         SELECT id >> {BLOCK_BITS}, count(*) FROM service_text WHERE id BETWEEN $1 AND $2 \
         GROUP BY 1"
    ))
    .bind::<BigInt, _>(from)
    .bind::<BigInt, _>(to)
    .execute(pg)?;
    Ok(())
}

#[derive(QueryableByName)]
struct Block {
    #[diesel(sql_type = BigInt)]
    block: i64,
}

/// Lists again, without the texts gone from them, the sealed blocks that lost more than half
/// their texts (rewritten under new numbers, or deleted), so that however often services are
/// rewritten a word's lists stay within twice its texts; returns how many blocks.
pub fn tidy(conn: &mut DbConnection) -> anyhow::Result<usize> {
    let DbConnection::Postgres(pg) = conn else {
        return Ok(0);
    };
    let thinned: Vec<Block> = diesel::sql_query(format!(
        "SELECT b.block FROM text_word_block b \
         WHERE b.texts > 2 * (SELECT count(*) FROM service_text t \
             WHERE t.id BETWEEN b.block << {BLOCK_BITS} AND (b.block << {BLOCK_BITS}) + {last}) \
         ORDER BY b.block",
        last = BLOCK - 1
    ))
    .load(pg)?;
    let mut done = 0;
    for chunk in thinned.chunks(SEAL_CHUNK as usize) {
        let listed = pg.transaction(|pg| {
            if !locked(pg)? {
                return Ok::<_, diesel::result::Error>(false);
            }
            for b in chunk {
                for table in ["text_word", "text_word_block"] {
                    diesel::sql_query(format!("DELETE FROM {table} WHERE block = $1"))
                        .bind::<BigInt, _>(b.block)
                        .execute(pg)?;
                }
                list(pg, b.block << BLOCK_BITS, ((b.block + 1) << BLOCK_BITS) - 1)?;
            }
            Ok(true)
        })?;
        if !listed {
            break;
        }
        done += chunk.len();
    }
    Ok(done)
}

/// Seals what writes through any server have added, every few seconds, and tidies every ten
/// minutes (PostgreSQL only).
pub async fn follow(state: AppState) {
    let mut last_tidy: Option<Instant> = None;
    loop {
        let tidy_now = last_tidy.is_none_or(|t| t.elapsed() >= Duration::from_secs(600));
        let done = state
            .db(move |conn| {
                let sealed = seal(conn)?;
                let tidied = if tidy_now { tidy(conn)? } else { 0 };
                Ok((sealed, tidied))
            })
            .await;
        match done {
            Ok((sealed, tidied)) => {
                if tidy_now {
                    last_tidy = Some(Instant::now());
                }
                if sealed + tidied as i64 > 0 {
                    tracing::debug!(texts = sealed, blocks = tidied, "listed texts' words");
                }
            }
            Err(e) => tracing::warn!(error = %e, "the words of new texts could not be listed"),
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(n: i64, block: i64, offsets: &[u16]) -> Listed {
        Listed {
            n,
            block,
            ids: Some(offsets.iter().flat_map(|o| o.to_be_bytes()).collect()),
        }
    }

    fn count(words: i64) -> Listed {
        Listed {
            n: -1,
            block: words,
            ids: None,
        }
    }

    fn tail(id: i64) -> Listed {
        Listed {
            n: 0,
            block: id,
            ids: None,
        }
    }

    #[test]
    fn every_word_must_list_a_number() {
        let rows = vec![
            count(2),
            listed(1, 0, &[3, 5, 900]),
            listed(1, 2, &[1]),
            listed(2, 0, &[5, 900, 901]),
            listed(2, 2, &[1, 2]),
            // A second word the prefix matches lists some of the same numbers.
            listed(2, 0, &[5, 7]),
            tail(5000),
        ];
        assert_eq!(combine(rows).unwrap(), [5, 900, 2049, 5000]);
    }

    #[test]
    fn a_word_listed_nowhere_leaves_only_the_tail() {
        let rows = vec![count(2), listed(1, 0, &[3]), tail(4100)];
        assert_eq!(combine(rows).unwrap(), [4100]);
        assert_eq!(combine(vec![count(0)]).unwrap(), Vec::<i64>::new());
    }

    #[test]
    fn a_block_sealed_while_reading_is_counted_once() {
        let rows = vec![count(1), listed(1, 1, &[0, 4]), tail(1024), tail(1028)];
        assert_eq!(combine(rows).unwrap(), [1024, 1028]);
    }

    #[test]
    fn complete_blocks_end_on_their_last_number() {
        assert_eq!(last_complete(1022), -1);
        assert_eq!(last_complete(1023), 1023);
        assert_eq!(last_complete(2100), 2047);
    }
}
