//! Keyword searches over the whole directory, counted in memory.
//!
//! A common word matches a tenth of a million services or more. Asking the database to count
//! the matches that have search rows of the wanted status took an index step per match, and
//! finding the page by name meant first building a temporary index of every match: 100–600 ms
//! at a million services. Here the full-text index gives the numbers of the matching texts in
//! one pass; the near-here index holds the status of every text (`Nearby::count_texts`), so
//! counting is a pass over memory; and when the matches are common, the page is found by
//! walking the rows in name order, a chunk at a time through an index that covers the walk,
//! keeping the services whose text matched until the page is full. For rarer words the
//! database starts from the matches, as before (`query::walks` decides).
//!
//! Only searches with words and no filter but status come here: a filter on the rows (cost,
//! accessibility, place) would need every row in memory, not only the located ones the
//! near-here index holds, so those are counted by the database.

use std::collections::HashMap;
use std::sync::Arc;

use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::QueryableByName;

use crate::db::{Backend, DbConnection, Sql};
use crate::search::answers::Key;
use crate::search::filters::Search;
use crate::search::nearby::Nearby;
use crate::search::postings;
use crate::search::query::{self, Hit, Unit, Window};

/// The most rows one step of a walk reads.
const CHUNK_MAX: i64 = 20_000;

/// Whether a search is one this module answers: words, services, and no filter but status.
pub fn handles(s: &Search, unit: Unit) -> bool {
    // Every field named, so that a filter added to `Search` must be decided on here.
    let Search {
        page: _,
        per_page: _,
        point,
        radius: _,
        service_types,
        cost,
        accessibility,
        delivery,
        low_barrier,
        population,
        languages,
        max_fee,
        age,
        open_at,
        words,
        taxonomy_term_id,
        taxonomy_id,
        organization_id,
        modified_after,
        postcode,
        around_postcode,
        statuses: _,
        minimal: _,
        full: _,
        format: _,
    } = s;
    unit == Unit::Service
        && !words.is_empty()
        && point.is_none()
        && [
            *service_types,
            *cost,
            *accessibility,
            *delivery,
            *low_barrier,
            *population,
        ] == [0; 6]
        && languages.is_empty()
        && max_fee.is_none()
        && age.is_none()
        && open_at.is_none()
        && taxonomy_term_id.is_none()
        && taxonomy_id.is_none()
        && organization_id.is_none()
        && modified_after.is_none()
        && postcode.is_none()
        && !around_postcode
}

#[derive(QueryableByName)]
struct Texts {
    #[diesel(sql_type = Nullable<Text>)]
    ids: Option<String>,
}

/// The numbers of the texts every word matches, in one pass of the full-text index, in
/// order. Joined into one string by the database: reading each number as its own row cost
/// more than the full-text search itself.
fn matching_texts(conn: &mut DbConnection, s: &Search) -> anyhow::Result<Vec<i64>> {
    if let Some(ids) = postings::matching(conn, &s.words)? {
        return Ok(ids);
    }
    let backend = Backend::of(conn);
    let mut q = Sql::new(match backend {
        Backend::Sqlite => "SELECT group_concat(rowid) AS ids FROM service_text_fts WHERE ",
        Backend::Postgres => "SELECT string_agg(id::text, ',') AS ids FROM service_text WHERE ",
    });
    query::words_match(&mut q, s, backend);
    let Some(ids) = q.load::<Texts>(conn)?.pop().and_then(|t| t.ids) else {
        return Ok(vec![]);
    };
    let mut ids = numbers(&ids)?;
    ids.sort_unstable();
    Ok(ids)
}

/// The numbers of a comma-separated list of keys (digits only). By hand, because splitting
/// and parsing each of a hundred thousand numbers took a tenth of a common word's search.
fn numbers(list: &str) -> anyhow::Result<Vec<i64>> {
    let mut out = Vec::with_capacity(list.len() / 7 + 1);
    let mut n: i64 = 0;
    let mut digits = 0;
    for &b in list.as_bytes() {
        match b {
            b'0'..=b'9' if digits < 18 => {
                n = n * 10 + i64::from(b - b'0');
                digits += 1;
            }
            b',' if digits > 0 => {
                out.push(n);
                (n, digits) = (0, 0);
            }
            _ => anyhow::bail!("unexpected text key list from the database"),
        }
    }
    if digits == 0 {
        anyhow::bail!("unexpected text key list from the database");
    }
    out.push(n);
    Ok(out)
}

/// The page and total of a search `handles` accepts; `None` when the index cannot count it.
pub fn page(
    conn: &mut DbConnection,
    index: &Nearby,
    s: &Search,
    page: i64,
    per_page: i64,
) -> anyhow::Result<Option<(Vec<Hit>, i64)>> {
    let texts = index
        .answers
        .texts_or(Key::texts(s), || matching_texts(conn, s).map(Arc::new))?;
    let Some(total) = index.count_texts(&texts, &s.statuses) else {
        return Ok(None);
    };
    let skip = (page - 1).saturating_mul(per_page);
    if total <= skip {
        return Ok(Some((vec![], total)));
    }
    let needed = skip.saturating_add(per_page);
    let rows = query::rows_bound(conn)?;
    if !query::walks(total, needed, rows) {
        let window = Window::Page { page, per_page };
        let hits = query::page_in_sql(conn, s, Unit::Service, window, false)?;
        return Ok(Some((hits, total)));
    }
    // Rows per matching service, with a margin, so the first chunk usually fills the page.
    let spread = rows as f64 / total as f64;
    let first = ((needed as f64 * spread * 1.25) as i64 + 16).clamp(32, CHUNK_MAX);
    let keys = walk(
        |offset, limit| read_chunk(conn, &s.statuses, offset, limit),
        |text| texts.binary_search(&text).is_ok(),
        skip as usize,
        per_page as usize,
        first,
    )?;
    Ok(Some((services_of(conn, &keys)?, total)))
}

/// One row of a walk in name order: its key, and the number of its service's text.
#[derive(Debug, Clone, QueryableByName)]
struct Step {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    text_id: Option<i64>,
}

/// Up to `limit` rows with one of `statuses` in name order, from the `offset`th. The index
/// `search_entry_name` holds every column read or tested, so this reads the index alone;
/// numbers only, as reading the names and ids of every row cost more than the reading.
fn read_chunk(
    conn: &mut DbConnection,
    statuses: &[String],
    offset: i64,
    limit: i64,
) -> anyhow::Result<Vec<Step>> {
    let mut q = Sql::new("SELECT id, text_id FROM search_entry");
    if Backend::of(conn) == Backend::Sqlite {
        q.push(" INDEXED BY search_entry_name");
    }
    q.push(" WHERE status IN ")
        .bind_list(statuses)
        .push(" ORDER BY name, service_id LIMIT ")
        .bind(limit)
        .push(" OFFSET ")
        .bind(offset);
    Ok(q.load::<Step>(conn)?)
}

#[derive(QueryableByName)]
struct Owner {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    service_id: String,
}

/// The services of these rows, in order. A row deleted since the walk read it is left out.
fn services_of(conn: &mut DbConnection, keys: &[i64]) -> anyhow::Result<Vec<Hit>> {
    if keys.is_empty() {
        return Ok(vec![]);
    }
    let mut q = Sql::new("SELECT id, service_id FROM search_entry WHERE id IN ");
    q.bind_list(keys.iter().copied());
    let owners: HashMap<i64, String> = q
        .load::<Owner>(conn)?
        .into_iter()
        .map(|o| (o.id, o.service_id))
        .collect();
    Ok(keys
        .iter()
        .filter_map(|k| owners.get(k))
        .map(|id| Hit {
            id: id.clone(),
            distance: None,
        })
        .collect())
}

/// Walks rows in name order, read a chunk at a time by `read(offset, limit)` (each chunk
/// twice the last, from `first`), and returns the keys of one row each of services
/// `skip + 1` to `skip + take` among those whose text `matched`. A service's rows are next to
/// each other, as they share its name, and its text.
fn walk(
    mut read: impl FnMut(i64, i64) -> anyhow::Result<Vec<Step>>,
    matched: impl Fn(i64) -> bool,
    skip: usize,
    take: usize,
    first: i64,
) -> anyhow::Result<Vec<i64>> {
    let mut keys = Vec::with_capacity(take);
    let mut passed = 0;
    let mut last_text = None;
    let mut offset = 0;
    let mut limit = first.max(1);
    loop {
        let steps = read(offset, limit)?;
        for step in &steps {
            let Some(text) = step.text_id else { continue };
            if last_text == Some(text) {
                continue;
            }
            last_text = Some(text);
            if !matched(text) {
                continue;
            }
            if passed >= skip {
                keys.push(step.id);
                if keys.len() == take {
                    return Ok(keys);
                }
            }
            passed += 1;
        }
        if (steps.len() as i64) < limit {
            return Ok(keys);
        }
        offset += limit;
        limit = (limit * 2).min(CHUNK_MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows of `services` services in name order, `per_service` rows each; service `i` has
    /// text number `i + 1`, and its rows keys `100 · i`, `100 · i + 1`, ….
    fn rows(services: i64, per_service: i64) -> Vec<Step> {
        (0..services)
            .flat_map(|i| {
                (0..per_service).map(move |r| Step {
                    id: 100 * i + r,
                    text_id: Some(i + 1),
                })
            })
            .collect()
    }

    /// A reader over `rows` as the database reads them, counting its calls.
    fn reader<'a>(
        rows: &'a [Step],
        calls: &'a std::cell::Cell<usize>,
    ) -> impl FnMut(i64, i64) -> anyhow::Result<Vec<Step>> + 'a {
        move |offset, limit| {
            calls.set(calls.get() + 1);
            Ok(rows
                .iter()
                .skip(offset as usize)
                .take(limit as usize)
                .cloned()
                .collect())
        }
    }

    #[test]
    fn a_walk_pages_through_the_matching_services_once_each() {
        let all = rows(50, 3);
        let calls = std::cell::Cell::new(0);
        // Every third service matches: texts 3, 6, 9, … (services 2, 5, 8, …).
        let third = |t: i64| t % 3 == 0;
        // Small chunks, so that chunk edges split services' rows.
        let keys = walk(reader(&all, &calls), third, 2, 4, 4).unwrap();
        assert_eq!(keys, [800, 1100, 1400, 1700]);
        assert!(calls.get() > 2, "{} reads", calls.get());
        let keys = walk(reader(&all, &calls), third, 0, 100, 7).unwrap();
        assert_eq!(keys.len(), 16);
        assert_eq!(keys.last(), Some(&4700));
        // Past the end: nothing.
        let keys = walk(reader(&all, &calls), third, 16, 5, 1000).unwrap();
        assert!(keys.is_empty());
    }

    #[test]
    fn a_walk_stops_when_its_page_is_full() {
        let all = rows(1000, 2);
        let calls = std::cell::Cell::new(0);
        let keys = walk(reader(&all, &calls), |_| true, 0, 10, 64).unwrap();
        assert_eq!(keys.len(), 10);
        assert_eq!(calls.get(), 1);
    }

    #[test]
    fn key_lists_are_read_whole_or_refused() {
        assert_eq!(numbers("7").unwrap(), [7]);
        assert_eq!(numbers("1,22,333").unwrap(), [1, 22, 333]);
        for bad in ["", ",", "1,,2", "1,", "-1", "1.5", "12345678901234567890"] {
            assert!(numbers(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_word_searches_without_other_filters_are_counted_in_memory() {
        let words = Search {
            words: vec!["detox".into()],
            statuses: vec!["active".into(), "inactive".into()],
            ..Search::default()
        };
        assert!(handles(&words, Unit::Service));
        assert!(!handles(&words, Unit::ServiceAtLocation));
        assert!(!handles(&Search::default(), Unit::Service));
        let filtered = [
            Search {
                cost: 1,
                ..words.clone()
            },
            Search {
                languages: vec!["es".into()],
                ..words.clone()
            },
            Search {
                organization_id: Some("o".into()),
                ..words.clone()
            },
            Search {
                age: Some(20.0),
                ..words.clone()
            },
        ];
        for s in filtered {
            assert!(!handles(&s, Unit::Service), "{s:?}");
        }
    }
}
