//! Runs a search against `search_entry`.
//!
//! Everything expressible in SQL is filtered there, on both databases. Exact distance and
//! opening hours need the location's geometry and time zone, so with a point or a time the
//! database narrows the candidates (a bounding box, "has hours") and this module finishes the
//! job: exact geodesic distance, schedule evaluation, nearest-first order, paging.

use std::collections::HashMap;

use chrono_tz::Tz;
use diesel::sql_types::{Double, Nullable, Text};
use diesel::QueryableByName;

use crate::db::{Backend, DbConnection, Sql};
use crate::search::answers::{Answers, Key};
use crate::search::filters::{Point, Search};
use crate::search::hours::{self, is_open};
use crate::search::keyword;
use crate::search::nearby::{self, Nearby};
use crate::search::place::{bounds, distance};
use crate::vocab::{Facet, VOCABULARIES};

/// What is listed: services, or services at their locations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unit {
    Service,
    ServiceAtLocation,
}

/// One result: a service or a service_at_location id, with its distance when a point was given.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub id: String,
    pub distance: Option<f64>,
}

/// A search's answer: the hits of the window and the total number of matches.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub hits: Vec<Hit>,
    pub total: i64,
    /// Whether memory answered (the near-here index, or an answer kept from an earlier
    /// search), else the database did, allocating more.
    pub from_memory: bool,
}

impl Answer {
    fn from_database((hits, total): (Vec<Hit>, i64)) -> Answer {
        Answer {
            hits,
            total,
            from_memory: false,
        }
    }

    fn from_index((hits, total): (Vec<Hit>, i64)) -> Answer {
        Answer {
            hits,
            total,
            from_memory: true,
        }
    }
}

/// Which part of the results to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    Page { page: i64, per_page: i64 },
    All,
}

#[derive(QueryableByName)]
struct Candidate {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Nullable<Double>)]
    latitude: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    longitude: Option<f64>,
    #[diesel(sql_type = Nullable<Text>)]
    time_zone: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    hours: Option<String>,
}

#[derive(QueryableByName)]
struct Ranked {
    #[diesel(sql_type = Text)]
    id: String,
}

/// How a taxonomy filter is tested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Terms {
    /// Against the services whose attributes name the term, gathered first: for a query the
    /// database answers from the matches.
    Gathered,
    /// For each row, by looking its text up under the term: for a walk in name order, which
    /// stops at its page. Gathering first would read every match of a common term (hundreds
    /// of thousands at a million services) before the walk could start.
    Probed,
}

/// The WHERE clause for everything SQL can decide.
fn conditions(q: &mut Sql, s: &Search, unit: Unit, backend: Backend, terms: Terms) {
    filters(q, s, unit, terms);
    if !s.words.is_empty() {
        let text = match backend {
            Backend::Sqlite => "SELECT rowid FROM service_text_fts WHERE ",
            Backend::Postgres => "SELECT id FROM service_text WHERE ",
        };
        // By `text_id`, the number of the service's text, which the full-text index returns
        // without reading the text.
        q.push(" AND text_id IN (").push(text);
        words_match(q, s, backend);
        q.push(")");
    }
}

/// The full-text condition on `service_text_fts` (SQLite) or `service_text` (PostgreSQL):
/// every word, each as a prefix.
pub(super) fn words_match(q: &mut Sql, s: &Search, backend: Backend) {
    match backend {
        Backend::Sqlite => {
            let expr: Vec<String> = s.words.iter().map(|w| format!("\"{w}\"*")).collect();
            q.push("service_text_fts MATCH ").bind(expr.join(" "));
        }
        Backend::Postgres => {
            let expr: Vec<String> = s.words.iter().map(|w| format!("{w}:*")).collect();
            q.push("tsv @@ to_tsquery('simple', ")
                .bind(expr.join(" & "))
                .push(")");
        }
    }
}

/// The WHERE clause for every filter but the words.
fn filters(q: &mut Sql, s: &Search, unit: Unit, terms: Terms) {
    q.push(" WHERE status IN ").bind_list(&s.statuses);
    if unit == Unit::ServiceAtLocation {
        q.push(" AND service_at_location_id IS NOT NULL");
    }
    for (column, mask, all) in [
        ("service_types", s.service_types, false),
        ("cost", s.cost, false),
        ("accessibility", s.accessibility, true),
        ("delivery", s.delivery, false),
        ("low_barrier", s.low_barrier, true),
        ("population", s.population, false),
    ] {
        if mask == 0 {
            continue;
        }
        if all {
            q.push(&format!(" AND ({column} & "))
                .bind(mask)
                .push(") = ")
                .bind(mask);
        } else {
            q.push(&format!(" AND ({column} & "))
                .bind(mask)
                .push(") <> 0");
        }
    }
    if !s.languages.is_empty() {
        q.push(" AND (");
        for (i, code) in s.languages.iter().enumerate() {
            if i > 0 {
                q.push(" OR ");
            }
            q.push("languages LIKE ").bind(format!("%,{code},%"));
        }
        q.push(")");
    }
    if let Some(fee) = s.max_fee {
        q.push(" AND min_fee <= ").bind(fee);
    }
    if let Some(age) = s.age {
        q.push(" AND (minimum_age IS NULL OR minimum_age <= ")
            .bind(age)
            .push(") AND (maximum_age IS NULL OR maximum_age >= ")
            .bind(age)
            .push(")");
    }
    if s.open_at.is_some() {
        q.push(" AND hours IS NOT NULL");
    }
    if let Some(org) = &s.organization_id {
        q.push(" AND organization_id = ").bind(org);
    }
    if let Some(postcode) = &s.postcode {
        q.push(" AND postcodes LIKE ")
            .bind(format!("%,{postcode},%"));
    }
    let (with_text, of_row) = match terms {
        Terms::Gathered => (" AND text_id IN (SELECT a.text_id", ""),
        Terms::Probed => (
            " AND EXISTS (SELECT 1",
            " AND a.text_id = search_entry.text_id",
        ),
    };
    if let Some(term) = &s.taxonomy_term_id {
        q.push(with_text)
            .push(" FROM service_term a WHERE a.taxonomy_term_id = ")
            .bind(term)
            .push(of_row)
            .push(")");
        // `service_term` lists a service's terms, its locations' included. An accessibility
        // term holds at a place, as the `accessibility` filter reads it: a service at a
        // wheelchair-accessible place and at one up steps is found at the first only.
        let place = VOCABULARIES
            .term_by_id(term)
            .filter(|(facet, _)| *facet == Facet::Accessibility)
            .and_then(|(facet, code)| VOCABULARIES.get(facet).bit(code));
        if let (Unit::ServiceAtLocation, Some(bit)) = (unit, place) {
            q.push(" AND (accessibility & ").bind(bit).push(") <> 0");
        }
    }
    if let Some(taxonomy) = &s.taxonomy_id {
        q.push(with_text)
            .push(
                " FROM service_term a JOIN taxonomy_term t ON t.id = a.taxonomy_term_id \
                 WHERE t.taxonomy_id = ",
            )
            .bind(taxonomy)
            .push(of_row)
            .push(")");
        // Likewise, Haven's accessibility taxonomy at a place.
        let accessibility = VOCABULARIES.get(Facet::Accessibility);
        if unit == Unit::ServiceAtLocation
            && taxonomy.eq_ignore_ascii_case(&accessibility.taxonomy_id().to_string())
        {
            q.push(" AND accessibility <> 0");
        }
    }
    if let Some(after) = &s.modified_after {
        q.push(" AND updated_at >= ").bind(after);
    }
    if let Some(p) = s.point {
        let b = bounds(p, s.radius);
        q.push(" AND latitude BETWEEN ")
            .bind(b.min_lat)
            .push(" AND ")
            .bind(b.max_lat);
        match b.lon {
            Some((lo, hi)) => {
                q.push(" AND longitude BETWEEN ")
                    .bind(lo)
                    .push(" AND ")
                    .bind(hi);
            }
            None => {
                q.push(" AND longitude IS NOT NULL");
            }
        }
    }
}

fn id_column(unit: Unit) -> &'static str {
    match unit {
        Unit::Service => "service_id",
        Unit::ServiceAtLocation => "service_at_location_id",
    }
}

/// Runs the search.
///
/// With `nearby`, the index first catches up with every committed change; then a page of a
/// near-here search is answered from it, and the page of another search may be one kept
/// since the last change (`answers.rs`).
pub fn run(
    conn: &mut DbConnection,
    nearby: Option<&Nearby>,
    s: &Search,
    unit: Unit,
    window: Window,
) -> anyhow::Result<Answer> {
    // While the index loads everything (at start, or after an import: about 9 s at a million
    // services) the database answers, as it does when no index is kept, rather than every
    // search waiting for the load. Its answers are current, and kept nowhere.
    let Some(index) = nearby.filter(|n| !n.is_loading()) else {
        return run_in_database(conn, None, s, unit, window);
    };
    // Also when the database answers: the items it renders may come from the index's cache,
    // which must have seen every change first, as must the answers kept.
    index.catch_up(conn)?;
    if let Window::Page { page, per_page } = window {
        if nearby::handles(s) {
            return index
                .search(conn, s, unit, page, per_page)
                .map(Answer::from_index);
        }
    }
    if !Answers::keeps(s, window) {
        return run_in_database(conn, nearby, s, unit, window);
    }
    let mut computed = false;
    let mut answer = index.answers.get_or(Key::new(s, unit, window), || {
        computed = true;
        run_in_database(conn, nearby, s, unit, window)
    })?;
    answer.from_memory = !computed;
    Ok(answer)
}

/// Runs a near-here search (`nearby::handles`) if the index has already applied every
/// change, without catching up: `None` when it has not, for `run` to catch up and answer.
/// This never loads the index or applies changes, so it is cheap enough to call where
/// blocking is costly.
pub fn run_current(
    conn: &mut DbConnection,
    index: &Nearby,
    s: &Search,
    unit: Unit,
    page: i64,
    per_page: i64,
) -> anyhow::Result<Option<Answer>> {
    if !nearby::handles(s) || !index.is_current(conn)? {
        return Ok(None);
    }
    index
        .search(conn, s, unit, page, per_page)
        .map(|found| Some(Answer::from_index(found)))
}

/// Runs a search the near-here index does not answer.
fn run_in_database(
    conn: &mut DbConnection,
    nearby: Option<&Nearby>,
    s: &Search,
    unit: Unit,
    window: Window,
) -> anyhow::Result<Answer> {
    let backend = Backend::of(conn);
    if s.around_postcode {
        let Some(point) = postcode_centroid(conn, s.postcode.as_deref().unwrap_or_default())?
        else {
            return Ok(Answer::from_database((vec![], 0)));
        };
        let around = Search {
            point: Some(point),
            around_postcode: false,
            postcode: None,
            ..s.clone()
        };
        return run(conn, nearby, &around, unit, window);
    }
    if let (Some(index), Window::Page { page, per_page }) = (nearby, window) {
        if keyword::handles(s, unit) {
            if let Some(found) = keyword::page(conn, index, s, page, per_page)? {
                return Ok(Answer::from_database(found));
            }
        }
    }
    if s.point.is_none() && s.open_at.is_none() {
        let answers = nearby.map(|index| &index.answers);
        return run_in_sql(conn, answers, s, unit, window, backend).map(Answer::from_database);
    }
    let mut q = Sql::new(&format!(
        "SELECT {} AS id, name, latitude, longitude, time_zone, hours FROM search_entry",
        id_column(unit)
    ));
    conditions(&mut q, s, unit, backend, Terms::Gathered);
    let candidates = q.load::<Candidate>(conn)?;
    let mut best: HashMap<String, (Option<f64>, String)> = HashMap::new();
    let mut zones: HashMap<String, Option<Tz>> = HashMap::new();
    for c in candidates {
        let d = match (s.point, c.latitude.zip(c.longitude)) {
            (Some(p), Some((lat, lon))) => {
                let d = distance(p, Point { lat, lon });
                if d > s.radius {
                    continue;
                }
                Some(d)
            }
            (Some(_), None) => continue,
            (None, _) => None,
        };
        if let Some(at) = s.open_at {
            let zone = c
                .time_zone
                .as_deref()
                .and_then(|z| *zones.entry(z.to_string()).or_insert_with(|| hours::zone(z)));
            if !is_open(&hours::stored_schedules(c.hours.as_deref()), zone, at) {
                continue;
            }
        }
        // A service at several places is as near as its nearest matching one.
        match best.get_mut(&c.id) {
            Some(entry) => {
                if let (Some(new), Some(old)) = (d, entry.0) {
                    if new < old {
                        entry.0 = Some(new);
                    }
                }
            }
            None => {
                best.insert(c.id, (d, c.name));
            }
        }
    }
    let mut hits: Vec<(String, Option<f64>, String)> = best
        .into_iter()
        .map(|(id, (d, name))| (id, d, name))
        .collect();
    hits.sort_by(|a, b| {
        a.1.partial_cmp(&b.1)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.2.cmp(&b.2))
            .then_with(|| a.0.cmp(&b.0))
    });
    let total = hits.len() as i64;
    let selected: Vec<Hit> = match window {
        Window::All => hits
            .into_iter()
            .map(|(id, distance, _)| Hit { id, distance })
            .collect(),
        Window::Page { page, per_page } => hits
            .into_iter()
            .skip(((page - 1) * per_page) as usize)
            .take(per_page as usize)
            .map(|(id, distance, _)| Hit { id, distance })
            .collect(),
    };
    Ok(Answer::from_database((selected, total)))
}

#[derive(QueryableByName)]
struct Centroid {
    #[diesel(sql_type = Nullable<Double>)]
    lat: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    lon: Option<f64>,
}

/// The centroid of the located entries with a postcode, if any.
fn postcode_centroid(conn: &mut DbConnection, postcode: &str) -> anyhow::Result<Option<Point>> {
    let mut q = Sql::new("SELECT AVG(latitude) AS lat, AVG(longitude) AS lon FROM search_entry WHERE postcodes LIKE ");
    q.bind(format!("%,{postcode},%"))
        .push(" AND latitude IS NOT NULL AND longitude IS NOT NULL");
    Ok(q.load::<Centroid>(conn)?.pop().and_then(|c| {
        Some(Point {
            lat: c.lat?,
            lon: c.lon?,
        })
    }))
}

/// A bound on the number of search rows, in one index step: the highest key (keys are unique
/// and positive).
pub(super) fn rows_bound(conn: &mut DbConnection) -> anyhow::Result<i64> {
    Ok(Sql::new("SELECT COALESCE(MAX(id), 0) AS n FROM search_entry").count(conn)?)
}

/// Whether a keyword search's page is found sooner by walking the rows in name order until
/// `needed` of the `total` matches are passed than by starting from the matches and sorting
/// them: walking visits about `needed · rows / total` rows, starting from the matches about
/// `total`. A common word at a million services would otherwise mean sorting a tenth of them
/// or more for 20 names.
pub(super) fn walks(total: i64, needed: i64, rows: i64) -> bool {
    total > 0 && (total as f64).powi(2) > needed as f64 * rows as f64
}

/// Whether SQLite should walk the rows in name order for this page (`walks`). SQLite cannot
/// tell how many rows a full-text match or a taxonomy term brings, so it would always start
/// from the matches: for a term half the services have, at a million, that was 2.5 s a page
/// where the walk takes 10 ms.
fn walk_names(
    conn: &mut DbConnection,
    s: &Search,
    window: Window,
    total: i64,
) -> anyhow::Result<bool> {
    let Window::Page { page, per_page } = window else {
        return Ok(false);
    };
    let matches_first =
        !s.words.is_empty() || s.taxonomy_term_id.is_some() || s.taxonomy_id.is_some();
    if !matches_first || total == 0 {
        return Ok(false);
    }
    Ok(walks(
        total,
        page.saturating_mul(per_page),
        rows_bound(conn)?,
    ))
}

fn run_in_sql(
    conn: &mut DbConnection,
    answers: Option<&Answers>,
    s: &Search,
    unit: Unit,
    window: Window,
    backend: Backend,
) -> anyhow::Result<(Vec<Hit>, i64)> {
    let id = id_column(unit);
    let count = if unit == Unit::Service && !s.words.is_empty() {
        // Each match of the text is one service: count the matches that have a row passing
        // the filters, one step in `search_entry_text` each, with nothing to deduplicate.
        let (text, key) = match backend {
            Backend::Sqlite => ("service_text_fts", "rowid"),
            Backend::Postgres => ("service_text", "id"),
        };
        let mut q = Sql::new(&format!("SELECT COUNT(*) AS n FROM {text} m WHERE "));
        words_match(&mut q, s, backend);
        q.push(" AND EXISTS (SELECT 1 FROM search_entry");
        filters(&mut q, s, unit, Terms::Gathered);
        q.push(&format!(" AND text_id = m.{key})"));
        q
    } else if unit == Unit::Service && only_status(s, unit) {
        // Every row of a service carries its name, so the services are the runs of equal
        // (name, id) in `search_entry_name`, which also holds the status: counting them reads
        // that index in order, where COUNT(DISTINCT) sorts every id again (at a million
        // services 0.3 s instead of 3.3 s). A filter the index does not hold would make this
        // read each row in name order, slower than the table in its own order.
        let mut q = Sql::new("SELECT COUNT(*) AS n FROM (SELECT 1 AS one FROM search_entry");
        conditions(&mut q, s, unit, backend, Terms::Gathered);
        q.push(" GROUP BY name, service_id) AS services");
        q
    } else {
        let mut q = Sql::new(&format!(
            "SELECT COUNT(DISTINCT {id}) AS n FROM search_entry"
        ));
        conditions(&mut q, s, unit, backend, Terms::Gathered);
        q
    };
    // Every page of a search has the same total: counted once until the directory changes,
    // each further page costs only its own rows (a partner reading a million services page by
    // page would otherwise count them all again for each page).
    let total = match answers {
        Some(answers) => answers.total_or(Key::total(s, unit), || count.count(conn))?,
        None => count.count(conn)?,
    };
    let walk = backend == Backend::Sqlite && walk_names(conn, s, window, total)?;
    Ok((page_in_sql(conn, s, unit, window, walk)?, total))
}

/// Whether a search (without words) filters by nothing but the status.
fn only_status(s: &Search, unit: Unit) -> bool {
    let status = Search {
        statuses: s.statuses.clone(),
        ..Search::default()
    };
    let (mut given, mut least) = (Sql::new(""), Sql::new(""));
    filters(&mut given, s, unit, Terms::Gathered);
    filters(&mut least, &status, unit, Terms::Gathered);
    given.text() == least.text()
}

/// The database's page of a search without a point or a time; with `walk`, SQLite is told to
/// walk the rows in name order (`walk_names`).
pub(super) fn page_in_sql(
    conn: &mut DbConnection,
    s: &Search,
    unit: Unit,
    window: Window,
    walk: bool,
) -> anyhow::Result<Vec<Hit>> {
    let backend = Backend::of(conn);
    let id = id_column(unit);
    // Every row of a service carries the service's name, so distinct (name, id) pairs are the
    // units, in the order of the `search_entry_name` index.
    let mut q = Sql::new(&format!(
        "SELECT DISTINCT name, {id} AS id FROM search_entry"
    ));
    let terms = if walk {
        q.push(" INDEXED BY search_entry_name");
        Terms::Probed
    } else {
        Terms::Gathered
    };
    conditions(&mut q, s, unit, backend, terms);
    q.push(&format!(" ORDER BY name, {id}"));
    if let Window::Page { page, per_page } = window {
        q.push(" LIMIT ")
            .bind(per_page)
            .push(" OFFSET ")
            .bind((page - 1) * per_page);
    }
    Ok(q.load::<Ranked>(conn)?
        .into_iter()
        .map(|r| Hit {
            id: r.id,
            distance: None,
        })
        .collect())
}
