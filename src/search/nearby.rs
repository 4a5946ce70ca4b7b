//! An in-memory index of every located search row, for near-here searches.
//!
//! Dense cities put thousands of rows in every 10 km box. Asking the database for them all and
//! finishing in Rust cost about 30 ms a search at 100,000 services. This index keeps what the
//! filters test (point, masks, fees, ages, and interned languages, postcodes and organisations)
//! in a grid of small cells, so a near-here search reads memory only and asks the database just
//! for the names and ids of the rows that may make its page, keeping those it has read
//! (`Names`). Opening hours are kept as a number per row: the row's pattern of open minutes in
//! the local week (`week.rs`), stored once however many places share it, and its time zone.
//! (Holding the schedules themselves, parsed, took gigabytes at a million services.) The few
//! rows whose hours change from week to week are checked against their schedules, read from
//! the database, when a search asks for hours.
//!
//! It also keeps the status of every service's text by the text's number, located or not, so
//! that keyword searches count their matches in memory (`search::keyword`).
//!
//! It follows the database through `search_change`, to which every change of a service's search
//! rows appends the service's id in the same transaction. A search first reads the newest
//! sequence number (one indexed read) and catches up when it is behind, so it sees every write
//! committed before it, through any instance; a background task also catches up every second,
//! so the work rarely falls on a search. PostgreSQL can commit sequence numbers out of order: a
//! number seen missing is asked for again until it appears, or until `GAP_WAIT` has passed (its
//! transaction rolled back).
//!
//! Results are the same as the database path's (`query.rs`), which a test checks against a
//! brute-force scan: the same exact geodesic distance decides the radius and the order, and a
//! fast local approximation only skips the exact computation where it cannot change the answer.

use std::collections::{BinaryHeap, HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use diesel::sql_types::{BigInt, Double, Nullable, Text};
use diesel::QueryableByName;
use lru::LruCache;

use crate::catalog::rendered::Rendered;
use crate::db::{Backend, DbConnection, Sql};
use crate::search::answers::Answers;
use crate::search::filters::{Point, Search};
use crate::search::hours::{self, is_open};
use crate::search::place::{bounds, distance};
use crate::search::query::{Hit, Unit};
use crate::search::week::{self, Week};
use crate::state::AppState;

/// The highest text number `Grid::texts` holds, plus one.
const TEXTS_MAX: usize = 1 << 26;

/// Cell size in degrees. A 10 km search touches about 9 × 11 cells at 40° latitude. Cells
/// half as wide as the first 0.05° mean fewer rows in the cells the circle's edge crosses,
/// each of which is tested: at a million services that gave 14–30 % more searches a second
/// and a third lower p99, for about 12 MB more memory; at 10,000 it changed nothing.
const CELL: f64 = 0.025;
/// Blocks per cell side. A cell's rows are kept in order of the block they fall in, and its
/// kept passing rows (`Passing`) by block, so a search whose circle's edge crosses a cell
/// reads only the rows of the blocks the edge crosses, and counts the others whole.
const SUB: usize = 4;
const BLOCKS: usize = SUB * SUB;
/// How long a missing sequence number is waited for.
const GAP_WAIT: Duration = Duration::from_secs(120);
/// More changes than this at once (an import) are followed by loading everything again.
const RELOAD_AFTER: i64 = 20_000;
/// Rows read per query when loading. A batch is held twice at once, as the driver's result
/// (libpq keeps all of it) and as rows: with 50,000, a server of a million services on
/// PostgreSQL peaked at 331–337 MB resident while loading and then served in 224; with
/// 10,000 it peaks at 242 MB, and loading takes 8.6 s instead of 7.5.
const LOAD_BATCH: i64 = 10_000;
/// Filter combinations whose passing rows are kept per cell.
const TESTS_PER_CELL: usize = 8;
/// Passing rows kept in all (`Passing`, 12 bytes each): about 24 MB. The benchmark's 10 km
/// searches around fifty towns of a million services kept about 7 MB. Past it, everything
/// kept is dropped and found again as searches need it.
const KEPT_ROWS: usize = 2_000_000;
/// What is kept for one cell: each test with the rows that pass it.
type KeptRows = Vec<(SlotTest, Arc<Passing>)>;
/// Rows named per query when a page is chosen: a page of 20 and its ties in one.
const NAMED_CHUNK: usize = 32;
/// Rows whose ids and names are kept once read (`Names`), about 250 bytes each.
const NAMES_KEPT: usize = 20_000;
/// Above this radius every candidate's distance is computed exactly (the approximation below
/// is checked up to it).
const APPROX_MAX_RADIUS: f64 = 100_000.0;
/// Relative error bounds of `Approx` against the geodesic distance, each for searches up to a
/// radius: it holds within 1.5 times that radius, away from the poles (tested below, with a
/// margin). The error grows with the distance, and a tighter bound leaves fewer rows near
/// the circle's edge to measure exactly (at a million services, 10 km searches spent a tenth
/// of their time there with 0.005 alone).
const EPS_BY_RADIUS: [(f64, f64); 2] = [(20_000.0, 0.000_2), (APPROX_MAX_RADIUS, 0.005)];
const NONE: u32 = u32::MAX;
/// The `week` of a row whose hours are not the same every week.
const DATED: u32 = u32::MAX;

/// The error bound of `Approx` for a search of `radius`; `None` beyond its range, where every
/// distance is computed exactly.
fn eps(radius: f64) -> Option<f64> {
    EPS_BY_RADIUS
        .iter()
        .find(|(max, _)| radius <= *max)
        .map(|&(_, eps)| eps)
}

/// How far the approximate distance of a row may exceed another's while its exact distance
/// is not larger.
fn spread(eps: Option<f64>) -> f64 {
    eps.map_or(1.0, |e| (1.0 + e) / (1.0 - e))
}

/// Whether a search can be answered from memory: a point, a page, and only filters the index
/// holds. Keyword and taxonomy filters, `modified_after` and all-results exports go to the
/// database.
pub fn handles(s: &Search) -> bool {
    let Some(p) = s.point else {
        return false;
    };
    s.words.is_empty()
        && s.taxonomy_term_id.is_none()
        && s.taxonomy_id.is_none()
        && s.modified_after.is_none()
        && !s.around_postcode
        && bounds(p, s.radius).lon.is_some()
        && p.lat.abs() <= 80.0
}

/// What a scan reads of every row in the cells it visits, kept small (40 bytes), because at a
/// million services a 10 km search in a city passes tens of thousands of rows.
#[derive(Debug, Clone, Copy)]
struct Slot {
    lat: f64,
    lon: f64,
    service_types: i64,
    /// cost, accessibility, delivery, low_barrier, population (each vocabulary but the
    /// service types has at most 16 terms; a test checks).
    masks: [u16; 5],
    status: u16,
    organization: u32,
}

/// What a search asks of a row's `Slot`, prepared once. Testing a row takes no branch that
/// depends on the row: rows pass or fail at random, and a scan in a city tests tens of
/// thousands.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SlotTest {
    /// 0 for any.
    service_types: i64,
    /// By status number: whether the search asks for it.
    statuses: Vec<bool>,
    /// cost, accessibility, delivery, low_barrier, population as in `Slot::masks`; 0 for any.
    masks: [i64; 5],
    organization: Option<u32>,
}

impl SlotTest {
    /// Whether each of `masks` needs all of its bits (else any one).
    const ALL: [bool; 5] = [false, true, false, true, false];

    #[inline]
    fn passes(&self, slot: &Slot) -> bool {
        let mut ok = (self.service_types == 0) | (slot.service_types & self.service_types != 0);
        ok &= self
            .statuses
            .get(usize::from(slot.status))
            .copied()
            .unwrap_or(false);
        for ((&want, has), all) in self.masks.iter().zip(slot.masks).zip(Self::ALL) {
            let has = i64::from(has) & want;
            ok &= if all {
                has == want
            } else {
                (want == 0) | (has != 0)
            };
        }
        ok & self.organization.is_none_or(|o| o == slot.organization)
    }
}

/// What only some filters, and the rows a page may show, need (32 bytes).
#[derive(Debug, Clone, Copy)]
struct Cold {
    key: i64,
    service: u64,
    /// The row's fees, ages and time zone in `Grid::commons`.
    common: u32,
    languages: u32,
    postcodes: u32,
    /// The pattern of open minutes in `Grid::weeks`, or `DATED`.
    week: u32,
}

/// Values that few distinct combinations cover among many rows, kept once each: at a million
/// rows that saves about 28 MB over keeping them in every row.
#[derive(Debug, Clone, Copy)]
struct Common {
    min_fee: f64,
    minimum_age: f64,
    maximum_age: f64,
    /// The time zone in `Grid::zones`, or `NONE`.
    zone: u32,
}

impl Common {
    fn key(&self) -> [u64; 4] {
        [
            self.min_fee.to_bits(),
            self.minimum_age.to_bits(),
            self.maximum_age.to_bits(),
            u64::from(self.zone),
        ]
    }
}

/// The rows of one cell, in two parallel lists, in order of their block (once settled).
#[derive(Default)]
struct Cell {
    slots: Vec<Slot>,
    cold: Vec<Cold>,
    /// Where each block's rows start, and where the last ends (once settled).
    starts: Vec<u32>,
    /// How many rows have `DATED` hours.
    dated: usize,
}

impl Cell {
    /// Puts the rows in order of their block and notes where each block starts.
    fn settle(&mut self) {
        let mut order: Vec<(usize, usize)> = self
            .slots
            .iter()
            .enumerate()
            .map(|(i, s)| (block_of(s.lat, s.lon), i))
            .collect();
        order.sort_unstable();
        self.slots = order.iter().map(|&(_, i)| self.slots[i]).collect();
        self.cold = order.iter().map(|&(_, i)| self.cold[i]).collect();
        let mut starts = vec![0u32; BLOCKS + 1];
        for &(block, _) in &order {
            starts[block + 1] += 1;
        }
        for b in 0..BLOCKS {
            starts[b + 1] += starts[b];
        }
        self.starts = starts;
    }

    /// The rows of block `b`, as a range of `slots` and `cold`.
    fn block(&self, b: usize) -> std::ops::Range<usize> {
        self.starts[b] as usize..self.starts[b + 1] as usize
    }
}

/// The rows of one cell that pass one test, by block: where each block's rows start in `rows`
/// (and where the last ends), the rows themselves (positions in the cell's `slots`), and each
/// one's point as its offset from the cell's corner. A block's count is the length of its
/// run. A search that must count a block's rows within the radius (the circle's edge crosses
/// it) reads these offsets, in order, rather than every row of the block, scattered over a
/// grid of tens of megabytes, tested again: at a million services that was a sixth of a 10 km
/// search's time. Twelve bytes a passing row, up to `KEPT_ROWS` in all.
struct Passing {
    starts: [u32; BLOCKS + 1],
    rows: Vec<u32>,
    /// Latitude and longitude less the cell's corner's: within a millimetre of the row's
    /// point (a cell is `CELL` degrees a side), which is what `EdgeCount` allows for.
    offsets: Vec<[f32; 2]>,
}

impl Passing {
    fn of(at: (i32, i32), cell: &Cell, test: &SlotTest) -> Passing {
        let corner = cell_corner(at);
        let mut starts = [0u32; BLOCKS + 1];
        let mut rows = Vec::new();
        let mut offsets = Vec::new();
        for b in 0..BLOCKS {
            let block = cell.block(b);
            let first = block.start;
            for (i, slot) in cell.slots[block].iter().enumerate() {
                if test.passes(slot) {
                    rows.push((first + i) as u32);
                    offsets.push([(slot.lat - corner.0) as f32, (slot.lon - corner.1) as f32]);
                }
            }
            starts[b + 1] = rows.len() as u32;
        }
        rows.shrink_to_fit();
        offsets.shrink_to_fit();
        Passing {
            starts,
            rows,
            offsets,
        }
    }

    fn range(&self, b: usize) -> std::ops::Range<usize> {
        self.starts[b] as usize..self.starts[b + 1] as usize
    }

    /// The passing rows of block `b`.
    fn block(&self, b: usize) -> &[u32] {
        &self.rows[self.range(b)]
    }

    fn count(&self, b: usize) -> u32 {
        self.starts[b + 1] - self.starts[b]
    }

    fn total(&self) -> usize {
        self.rows.len()
    }
}

/// The kept passing rows of cells, by cell (see `Nearby::kept`).
#[derive(Default)]
struct Kept {
    cells: HashMap<(i32, i32), KeptRows>,
    /// Passing rows held in all, up to `KEPT_ROWS`.
    rows: usize,
}

impl Kept {
    fn clear(&mut self) {
        self.cells.clear();
        self.rows = 0;
    }
}

/// Strings stored once, by number.
#[derive(Default)]
struct Strings {
    ids: HashMap<Arc<str>, u32>,
    values: Vec<Arc<str>>,
}

impl Strings {
    fn intern(&mut self, s: Option<&str>) -> u32 {
        let Some(s) = s else { return NONE };
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let value: Arc<str> = Arc::from(s);
        let id = self.values.len() as u32;
        self.values.push(value.clone());
        self.ids.insert(value, id);
        id
    }

    fn find(&self, s: &str) -> Option<u32> {
        self.ids.get(s).copied()
    }

    fn get(&self, id: u32) -> &str {
        self.values.get(id as usize).map_or("", |v| v)
    }
}

#[derive(Default)]
struct Grid {
    cells: HashMap<(i32, i32), Cell>,
    /// The cell of each service's first row, to replace its rows when it changes; the other
    /// cells of the few services with rows in several, in `more_homes`. (One small map entry
    /// per service, rather than a list each: a million services save about 50 MB.)
    homes: HashMap<u64, (i32, i32)>,
    more_homes: HashMap<u64, Vec<(i32, i32)>>,
    /// Cells changed since they were last put in block order (`settle`).
    unsettled: HashSet<(i32, i32)>,
    statuses: Strings,
    languages: Strings,
    postcodes: Strings,
    organizations: Strings,
    zones: Strings,
    /// Each of `zones` parsed, by number.
    tzs: Vec<Option<Tz>>,
    commons: Vec<Common>,
    common_ids: HashMap<[u64; 4], u32>,
    /// Each weekly pattern of opening hours once.
    weeks: Vec<Week>,
    week_ids: HashMap<Week, u32>,
    /// The status of each service's search rows (its number in `statuses`, plus one; 0 for
    /// none) by the number of its text (`text_id`), for counting keyword matches without
    /// asking the database about each (`search::keyword`). A text's number is never given
    /// again; the change that removes a text logs its number, and the number's status goes
    /// back to 0 when the change is applied, as PostgreSQL's lists of texts by word still
    /// return it (`search::postings`). A byte for every number up to the highest (about 1 MB
    /// at a million services; each rewrite of a service takes a new number), up to
    /// `TEXTS_MAX`.
    texts: Vec<u8>,
    /// Whether a text's number was `TEXTS_MAX` or more, so not held: keyword searches then
    /// count in the database.
    texts_cut: bool,
    /// Located rows held.
    rows: usize,
}

/// The south-west corner of cell `at`.
fn cell_corner(at: (i32, i32)) -> (f64, f64) {
    (at.0 as f64 * CELL, at.1 as f64 * CELL)
}

fn cell_of(lat: f64, lon: f64) -> (i32, i32) {
    ((lat / CELL).floor() as i32, (lon / CELL).floor() as i32)
}

/// The block of its cell a point falls in: row-major, `SUB` a side.
fn block_of(lat: f64, lon: f64) -> usize {
    let part = |x: f64| {
        let f = x / CELL;
        (((f - f.floor()) * SUB as f64) as usize).min(SUB - 1)
    };
    part(lat) * SUB + part(lon)
}

/// The latitudes and longitudes that bound block `b` of cell `at`.
fn block_bounds(at: (i32, i32), b: usize) -> ((f64, f64), (f64, f64)) {
    let side = CELL / SUB as f64;
    let lat0 = at.0 as f64 * CELL + (b / SUB) as f64 * side;
    let lon0 = at.1 as f64 * CELL + (b % SUB) as f64 * side;
    ((lat0, lat0 + side), (lon0, lon0 + side))
}

fn service_hash(id: &str) -> u64 {
    // A 64-bit hash tells services apart for counting; two of a million services sharing one
    // has a chance of about 3 in 100 million, and would only make a total one too small.
    let mut h = DefaultHasher::new();
    id.hash(&mut h);
    h.finish()
}

fn or_nan(v: Option<f64>) -> f64 {
    v.unwrap_or(f64::NAN)
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    service_id: String,
    #[diesel(sql_type = Nullable<Text>)]
    organization_id: Option<String>,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Nullable<Double>)]
    latitude: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    longitude: Option<f64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    text_id: Option<i64>,
    #[diesel(sql_type = BigInt)]
    service_types: i64,
    #[diesel(sql_type = BigInt)]
    cost: i64,
    #[diesel(sql_type = BigInt)]
    accessibility: i64,
    #[diesel(sql_type = BigInt)]
    delivery: i64,
    #[diesel(sql_type = BigInt)]
    low_barrier: i64,
    #[diesel(sql_type = BigInt)]
    population: i64,
    #[diesel(sql_type = Text)]
    languages: String,
    #[diesel(sql_type = Text)]
    postcodes: String,
    #[diesel(sql_type = Nullable<Double>)]
    min_fee: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    minimum_age: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    maximum_age: Option<f64>,
    #[diesel(sql_type = Nullable<Text>)]
    time_zone: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    hours: Option<String>,
}

/// Every row, located or not: the statuses of texts (`texts`) cover them all.
const ROW_COLUMNS: &str = "SELECT id, service_id, organization_id, status, latitude, longitude, \
     text_id, service_types, cost, accessibility, delivery, low_barrier, population, languages, \
     postcodes, min_fee, minimum_age, maximum_age, time_zone, hours FROM search_entry";

#[derive(QueryableByName)]
struct Hours {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Nullable<Text>)]
    time_zone: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    hours: Option<String>,
}

impl Grid {
    fn week_id(&mut self, w: Week) -> u32 {
        if let Some(&id) = self.week_ids.get(&w) {
            return id;
        }
        let id = self.weeks.len() as u32;
        self.weeks.push(w.clone());
        self.week_ids.insert(w, id);
        id
    }

    /// The number of a time zone name in `zones`, parsed once into `tzs`.
    fn zone_id(&mut self, name: Option<&str>) -> u32 {
        let id = self.zones.intern(name);
        if let Some(name) = name.filter(|_| id as usize == self.tzs.len()) {
            self.tzs.push(hours::zone(name));
        }
        id
    }

    fn common_id(&mut self, c: Common) -> u32 {
        let key = c.key();
        if let Some(&id) = self.common_ids.get(&key) {
            return id;
        }
        let id = self.commons.len() as u32;
        self.commons.push(c);
        self.common_ids.insert(key, id);
        id
    }

    /// Adds a row: its status by its text's number, and the row itself if it has a point.
    fn add(&mut self, r: Row) {
        let status = self.statuses.intern(Some(&r.status));
        match r.text_id.and_then(|t| usize::try_from(t).ok()) {
            Some(text) if text < TEXTS_MAX => {
                if text >= self.texts.len() {
                    self.texts.resize(text + 1, 0);
                }
                // Statuses are the four of HSDS, so the number always fits.
                self.texts[text] = u8::try_from(status + 1).unwrap_or(u8::MAX);
            }
            Some(_) => self.texts_cut = true,
            None => {}
        }
        let (Some(lat), Some(lon)) = (r.latitude, r.longitude) else {
            return;
        };
        let narrow = |mask: i64| u16::try_from(mask).unwrap_or(u16::MAX);
        let slot = Slot {
            lat,
            lon,
            service_types: r.service_types,
            masks: [
                r.cost,
                r.accessibility,
                r.delivery,
                r.low_barrier,
                r.population,
            ]
            .map(narrow),
            status: status as u16,
            organization: self.organizations.intern(r.organization_id.as_deref()),
        };
        let service = service_hash(&r.service_id);
        let zone = self.zone_id(r.time_zone.as_deref());
        let zoned = self.tzs.get(zone as usize).is_some_and(Option::is_some);
        let week = match week::weekly(&hours::stored_schedules(r.hours.as_deref()), zoned) {
            Some(w) => self.week_id(w),
            None => DATED,
        };
        let common = self.common_id(Common {
            min_fee: or_nan(r.min_fee),
            minimum_age: or_nan(r.minimum_age),
            maximum_age: or_nan(r.maximum_age),
            zone,
        });
        let cold = Cold {
            key: r.id,
            service,
            common,
            languages: self.languages.intern(Some(&r.languages)),
            postcodes: self.postcodes.intern(Some(&r.postcodes)),
            week,
        };
        let at = cell_of(slot.lat, slot.lon);
        match self.homes.get(&service) {
            None => {
                self.homes.insert(service, at);
            }
            Some(first) if *first != at => {
                let more = self.more_homes.entry(service).or_default();
                if !more.contains(&at) {
                    more.push(at);
                }
            }
            Some(_) => {}
        }
        let cell = self.cells.entry(at).or_default();
        cell.slots.push(slot);
        cell.cold.push(cold);
        self.unsettled.insert(at);
        cell.dated += usize::from(week == DATED);
        self.rows += 1;
    }

    /// Forgets the statuses of texts that are gone: a number is never given again, but
    /// PostgreSQL's lists of texts by word (`search::postings`) still return it.
    fn forget_texts(&mut self, gone: &[i64]) {
        for &t in gone {
            if let Some(status) = usize::try_from(t).ok().and_then(|t| self.texts.get_mut(t)) {
                *status = 0;
            }
        }
    }

    /// Removes a service's rows, and says which (by key).
    fn remove_service(&mut self, service: u64) -> Vec<i64> {
        let mut removed = Vec::new();
        let Some(first) = self.homes.remove(&service) else {
            return removed;
        };
        let more = self.more_homes.remove(&service).unwrap_or_default();
        for at in std::iter::once(first).chain(more) {
            if let Some(cell) = self.cells.get_mut(&at) {
                let mut i = 0;
                while i < cell.cold.len() {
                    if cell.cold[i].service == service {
                        cell.slots.swap_remove(i);
                        let gone = cell.cold.swap_remove(i);
                        cell.dated -= usize::from(gone.week == DATED);
                        removed.push(gone.key);
                        self.rows -= 1;
                    } else {
                        i += 1;
                    }
                }
                if cell.slots.is_empty() {
                    self.cells.remove(&at);
                } else {
                    self.unsettled.insert(at);
                }
            }
        }
        removed
    }

    /// Puts every cell changed since the last call in block order. Call before searching.
    fn settle(&mut self) {
        for at in std::mem::take(&mut self.unsettled) {
            if let Some(cell) = self.cells.get_mut(&at) {
                cell.settle();
            }
        }
    }
}

/// Sets `Nearby::loading` for as long as it lives, however a load ends.
pub(crate) struct Loading<'a>(&'a AtomicBool);

impl<'a> Loading<'a> {
    fn start(flag: &'a AtomicBool) -> Self {
        flag.store(true, Ordering::Release);
        Loading(flag)
    }
}

impl Drop for Loading<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// What this instance has read of `search_change`.
#[derive(Default)]
struct Cursor {
    loaded: bool,
    /// When the database last said the index had every change (asked then), and how many of
    /// this instance's writes had ended by that time.
    confirmed: Option<(Instant, u64)>,
    /// The highest sequence number applied.
    seen: i64,
    /// Numbers below `seen` not yet seen, with when they were first missed.
    gaps: HashMap<i64, Instant>,
}

#[derive(QueryableByName)]
struct Change {
    #[diesel(sql_type = BigInt)]
    seq: i64,
    #[diesel(sql_type = Text)]
    service_id: String,
    /// The number of the text the change removed.
    #[diesel(sql_type = Nullable<BigInt>)]
    gone_text: Option<i64>,
}

#[derive(QueryableByName)]
struct Named {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    service_id: String,
    #[diesel(sql_type = Nullable<Text>)]
    service_at_location_id: Option<String>,
    #[diesel(sql_type = Text)]
    name: String,
}

/// The ids and names of rows searches have shown or weighed for a page, by key. Naming a
/// page's rows was a quarter of a near-here search's time at a million services: a B-tree
/// step per row, through pages SQLite's cache rarely still held. Searches near the same places
/// weigh the same rows, so their names are kept, least recently used first out.
///
/// A key is forgotten whenever the grid removes or adds a row under it (SQLite gives a
/// deleted row's key to the next row inserted), under the grid's write lock; a name read
/// before that is not kept (`generation`).
struct Names {
    rows: LruCache<i64, Arc<Named>>,
    /// Bumped by every forgetting.
    generation: u64,
}

impl Default for Names {
    fn default() -> Names {
        Names {
            rows: LruCache::new(NonZeroUsize::new(NAMES_KEPT).expect("not zero")),
            generation: 0,
        }
    }
}

impl Names {
    fn forget(&mut self, keys: impl IntoIterator<Item = i64>) {
        for key in keys {
            self.rows.pop(&key);
        }
        self.generation += 1;
    }

    fn clear(&mut self) {
        self.rows.clear();
        self.generation += 1;
    }
}

/// The index. One per process, shared by every worker.
pub struct Nearby {
    grid: RwLock<Grid>,
    /// The rows of each cell that pass a test, by block (`Passing`): a city's count then costs
    /// lookups and the passing rows of the blocks the circle's edge crosses, not a pass over
    /// tens of thousands of rows. Emptied, under the grid's write lock, whenever the grid
    /// changes.
    kept: Mutex<Kept>,
    /// Pages of searches the database answered, emptied with `kept`.
    pub answers: Answers,
    /// Names of rows read for pages, each forgotten when its row changes.
    names: Mutex<Names>,
    cursor: Mutex<Cursor>,
    /// Whether everything is being loaded (`reload`), which holds `cursor` for seconds at a
    /// million services: searches then go to the database rather than wait (`is_loading`).
    loading: AtomicBool,
    /// Writes through this instance that have ended (`wrote`).
    writes: AtomicU64,
    /// How long a check that the index holds every committed change stands for the searches
    /// that follow on this instance (`HAVEN_SEARCH_FOLLOW_MS`). Asking the database for its
    /// newest change before every search cost a round trip per search on PostgreSQL. A write
    /// through this instance is seen by its next search at once (`wrote`); one through another
    /// instance, or `haven import`, within this time, inside the second the index must follow
    /// writes in.
    follow: Duration,
    /// Search items already rendered, forgotten as their services change.
    pub rendered: Rendered,
}

/// A fast distance in metres on a plane tangent at the search point, with the ellipsoid's radii
/// of curvature there. Within `eps(radius)` of the geodesic distance for the radii it is used for.
struct Approx {
    lat: f64,
    lon: f64,
    ky: f64,
    kx: f64,
    kx_slope: f64,
}

impl Approx {
    fn new(p: Point) -> Approx {
        const A: f64 = 6_378_137.0;
        const E2: f64 = 0.006_694_379_990_14;
        let phi = p.lat.to_radians();
        let w = 1.0 - E2 * phi.sin().powi(2);
        let m = A * (1.0 - E2) / w.powf(1.5);
        let n = A / w.sqrt();
        let rad = std::f64::consts::PI / 180.0;
        Approx {
            lat: p.lat,
            lon: p.lon,
            ky: m * rad,
            kx: n * phi.cos() * rad,
            // The parallel's radius at the mid-latitude, to first order.
            kx_slope: -n * phi.sin() * rad * rad / 2.0,
        }
    }

    /// Bounds of `metres` over a box of latitudes and longitudes (a cell or a block): a lower
    /// bound, and the largest value (at a corner, since for a fixed latitude it grows with the
    /// longitude's distance and for a fixed longitude it is convex in the latitude).
    fn rect(&self, (lat0, lat1): (f64, f64), (lon0, lon1): (f64, f64)) -> (f64, f64) {
        let dlat = (lat0 - self.lat).max(self.lat - lat1).max(0.0);
        let dlon = (lon0 - self.lon).max(self.lon - lon1).max(0.0);
        // The parallel's scale is linear in the latitude, so least at one edge.
        let kx = (self.kx + self.kx_slope * (lat0 - self.lat))
            .min(self.kx + self.kx_slope * (lat1 - self.lat))
            .max(0.0);
        let near = ((kx * dlon).powi(2) + (self.ky * dlat).powi(2)).sqrt();
        // One root of the largest square (the root is monotonic).
        let far = [(lat0, lon0), (lat0, lon1), (lat1, lon0), (lat1, lon1)]
            .into_iter()
            .map(|(lat, lon)| self.metres_squared(lat, lon))
            .fold(0.0, f64::max)
            .sqrt();
        (near, far)
    }

    /// `metres` squared: a scan compares these, and takes the root only of rows it keeps.
    fn metres_squared(&self, lat: f64, lon: f64) -> f64 {
        self.metres_squared_by(lat - self.lat, lon - self.lon)
    }

    /// `metres_squared` of a point `dlat` and `dlon` degrees from the search's.
    #[inline]
    fn metres_squared_by(&self, dlat: f64, dlon: f64) -> f64 {
        let dy = self.ky * dlat;
        let dx = (self.kx + self.kx_slope * dlat) * dlon;
        dx * dx + dy * dy
    }
}

/// A row that passed every filter, with its distance (exact when `exact`).
struct Match {
    key: i64,
    service: u64,
    lat: f64,
    lon: f64,
    metres: f64,
    exact: bool,
}

impl Nearby {
    /// An empty index (loaded on first use) that keeps up to `rendered` search items and asks
    /// for changes at least every `follow` (see the field).
    pub fn new(rendered: usize, follow: Duration) -> Nearby {
        Nearby {
            grid: RwLock::default(),
            kept: Mutex::default(),
            answers: Answers::default(),
            names: Mutex::default(),
            cursor: Mutex::default(),
            loading: AtomicBool::new(false),
            writes: AtomicU64::new(0),
            follow,
            rendered: Rendered::new(rendered),
        }
    }

    /// Notes that a write through this instance has committed, so that the next search asks
    /// the database for changes however recently it last asked.
    pub fn wrote(&self) {
        self.writes.fetch_add(1, Ordering::AcqRel);
    }

    /// Whether the database said, within `follow` and since this instance's last write, that
    /// the index had every change. Numbers still missing then (on PostgreSQL, transactions in
    /// flight, or numbers its sequences skipped) are asked for at the next check, so a late
    /// commit is also found within `follow`.
    fn fresh(&self, cursor: &Cursor) -> bool {
        let writes = self.writes.load(Ordering::Acquire);
        cursor.loaded
            && cursor
                .confirmed
                .is_some_and(|(at, seen)| seen == writes && at.elapsed() < self.follow)
    }

    /// Rows held, for logs and tests.
    pub fn rows(&self) -> usize {
        self.grid
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .rows
    }

    /// How many of these texts (by number) are of services whose search rows have one of
    /// `statuses`: the count of a keyword search without other filters. `None` when some
    /// text's number was too high to hold.
    pub fn count_texts(&self, texts: &[i64], statuses: &[String]) -> Option<i64> {
        let grid = self.grid.read().unwrap_or_else(PoisonError::into_inner);
        if grid.texts_cut {
            return None;
        }
        let mut wanted = [false; 256];
        for id in statuses.iter().filter_map(|s| grid.statuses.find(s)) {
            if let Ok(code) = u8::try_from(id + 1) {
                wanted[usize::from(code)] = true;
            }
        }
        let held = |t: i64| usize::try_from(t).ok().and_then(|t| grid.texts.get(t));
        let n = texts
            .iter()
            .filter(|&&t| held(t).is_some_and(|&code| wanted[usize::from(code)]))
            .count();
        Some(n as i64)
    }

    /// Applies every change committed since the last call; loads everything on first use, after
    /// a large batch, or when the change log was pruned past this instance.
    pub fn catch_up(&self, conn: &mut DbConnection) -> anyhow::Result<()> {
        let mut cursor = self.cursor.lock().unwrap_or_else(PoisonError::into_inner);
        if self.fresh(&cursor) {
            return Ok(());
        }
        let asked = (Instant::now(), self.writes.load(Ordering::Acquire));
        self.apply_changes(conn, &mut cursor)?;
        cursor.confirmed = Some(asked);
        Ok(())
    }

    fn apply_changes(&self, conn: &mut DbConnection, cursor: &mut Cursor) -> anyhow::Result<()> {
        let newest = newest_change(conn)?;
        if cursor.loaded && newest <= cursor.seen && cursor.gaps.is_empty() {
            return Ok(());
        }
        if !cursor.loaded || newest - cursor.seen > RELOAD_AFTER || pruned_past(conn, cursor)? {
            return self.reload(conn, cursor);
        }
        let mut q = Sql::new("SELECT seq, service_id, gone_text FROM search_change WHERE seq > ");
        q.bind(cursor.seen);
        if !cursor.gaps.is_empty() {
            q.push(" OR seq IN ").bind_list(cursor.gaps.keys().copied());
        }
        q.push(" ORDER BY seq");
        let changes = q.load::<Change>(conn)?;
        let postgres = Backend::of(conn) == Backend::Postgres;
        let now = Instant::now();
        // The cursor moves only once the changes are applied: should that fail, the next
        // catch-up reads them again.
        let (mut seen, mut gaps) = (cursor.seen, cursor.gaps.clone());
        let mut services = HashSet::new();
        let mut gone = Vec::new();
        for c in &changes {
            if c.seq > seen {
                if postgres {
                    for missing in seen + 1..c.seq {
                        gaps.insert(missing, now);
                    }
                }
                seen = c.seq;
            } else {
                gaps.remove(&c.seq);
            }
            services.insert(c.service_id.clone());
            gone.extend(c.gone_text);
        }
        gaps.retain(|_, since| now.duration_since(*since) < GAP_WAIT);
        self.replace(conn, services.into_iter().collect(), &gone)?;
        (cursor.seen, cursor.gaps) = (seen, gaps);
        Ok(())
    }

    /// Whether everything is being loaded: at start, or after a batch of more than
    /// `RELOAD_AFTER` changes (an import). A search that waited for it would wait seconds.
    pub fn is_loading(&self) -> bool {
        self.loading.load(Ordering::Acquire)
    }

    /// A load as far as searches can tell, for tests of what they do meanwhile.
    #[cfg(test)]
    pub(crate) fn loading_for_test(&self) -> Loading<'_> {
        Loading::start(&self.loading)
    }

    /// Whether the index has applied every change committed so far (one indexed read), so a
    /// search may skip `catch_up`. Never waits for a catch-up under way (a load takes
    /// seconds): it says no instead.
    pub fn is_current(&self, conn: &mut DbConnection) -> anyhow::Result<bool> {
        let cursor = match self.cursor.try_lock() {
            Ok(cursor) => cursor,
            Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return Ok(false),
        };
        if !cursor.loaded || !cursor.gaps.is_empty() {
            return Ok(false);
        }
        if self.fresh(&cursor) {
            return Ok(true);
        }
        Ok(newest_change(conn)? <= cursor.seen)
    }

    /// Reloads the rows of these services from the database; `gone` are the numbers of the
    /// texts their changes removed.
    fn replace(
        &self,
        conn: &mut DbConnection,
        services: Vec<String>,
        gone: &[i64],
    ) -> anyhow::Result<()> {
        // Nothing changed (a catch-up that only waited for missing numbers, which PostgreSQL's
        // sequences skip): the kept answers and items still hold. Emptying them here made
        // every search for two minutes after such a gap ask the database again.
        if services.is_empty() {
            return Ok(());
        }
        let mut rows = Vec::new();
        for chunk in services.chunks(500) {
            let mut q = Sql::new(ROW_COLUMNS);
            q.push(" WHERE service_id IN ")
                .bind_list(chunk.iter().cloned());
            rows.extend(q.load::<Row>(conn)?);
        }
        let mut grid = self.grid.write().unwrap_or_else(PoisonError::into_inner);
        self.forget_kept();
        let mut keys = Vec::new();
        for s in &services {
            keys.extend(grid.remove_service(service_hash(s)));
        }
        grid.forget_texts(gone);
        self.rendered.forget(services.iter().map(String::as_str));
        for r in rows {
            keys.push(r.id);
            grid.add(r);
        }
        grid.settle();
        self.lock_names().forget(keys);
        Ok(())
    }

    fn reload(&self, conn: &mut DbConnection, cursor: &mut Cursor) -> anyhow::Result<()> {
        let started = Instant::now();
        let _loading = Loading::start(&self.loading);
        // Read the log's position first: a change committed while loading is then applied
        // again by the next catch-up, never missed.
        let newest = newest_change(conn)?;
        let mut fresh = Grid::default();
        let mut after = i64::MIN;
        loop {
            let mut q = Sql::new(ROW_COLUMNS);
            q.push(" WHERE id > ")
                .bind(after)
                .push(" ORDER BY id LIMIT ")
                .bind(LOAD_BATCH);
            let rows = q.load::<Row>(conn)?;
            let Some(last) = rows.last().map(|r| r.id) else {
                break;
            };
            after = last;
            for r in rows {
                fresh.add(r);
            }
        }
        // On PostgreSQL, numbers just below the newest may belong to transactions still in
        // flight. SQLite commits one writer at a time, so it has no such gaps.
        cursor.gaps.clear();
        if Backend::of(conn) == Backend::Postgres {
            let mut q =
                Sql::new("SELECT seq, service_id, gone_text FROM search_change WHERE seq > ");
            q.bind(newest - 1000);
            let present: HashSet<i64> = q.load::<Change>(conn)?.iter().map(|c| c.seq).collect();
            let now = Instant::now();
            cursor.gaps = ((newest - 1000).max(0) + 1..=newest)
                .filter(|seq| !present.contains(seq))
                .map(|seq| (seq, now))
                .collect();
        }
        cursor.seen = newest;
        cursor.loaded = true;
        // Settling also leaves each cell's lists no longer than its rows.
        fresh.settle();
        let rows = fresh.rows;
        let mut grid = self.grid.write().unwrap_or_else(PoisonError::into_inner);
        *grid = fresh;
        self.forget_kept();
        self.lock_names().clear();
        drop(grid);
        self.rendered.clear();
        // The rows were read in batches of tens of thousands of strings, now freed.
        crate::heap::trim();
        tracing::info!(
            rows,
            millis = started.elapsed().as_millis() as u64,
            "near-here index loaded"
        );
        Ok(())
    }

    fn lock_names(&self) -> std::sync::MutexGuard<'_, Names> {
        self.names.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The ids and names of the rows of `keys` (those still in the database), kept ones from
    /// memory, the others read and kept.
    fn named(&self, conn: &mut DbConnection, keys: &[i64]) -> anyhow::Result<Vec<Arc<Named>>> {
        let mut named = Vec::with_capacity(keys.len());
        let mut missing = Vec::new();
        let generation = {
            let mut names = self.lock_names();
            for &key in keys {
                match names.rows.get(&key) {
                    Some(n) => named.push(n.clone()),
                    None => missing.push(key),
                }
            }
            names.generation
        };
        let mut read = Vec::with_capacity(missing.len());
        for chunk in missing.chunks(NAMED_CHUNK) {
            // One prepared statement whatever the count: parsing an `IN` list of a new length
            // cost more than the lookups themselves.
            let mut q = Sql::prepared(
                "SELECT id, service_id, service_at_location_id, name FROM search_entry WHERE id IN ",
            );
            q.bind_padded_list(chunk, NAMED_CHUNK);
            read.extend(q.load::<Named>(conn)?.into_iter().map(Arc::new));
        }
        if !read.is_empty() {
            let mut names = self.lock_names();
            if names.generation == generation {
                for n in &read {
                    names.rows.put(n.id, n.clone());
                }
            }
        }
        named.extend(read);
        Ok(named)
    }

    /// Forgets the kept passing rows and answers. Call with the grid's write lock held.
    fn forget_kept(&self) {
        self.kept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        self.answers.forget();
    }

    /// The rows of each of `cells` that pass `test`, by block: kept ones under one lock, the
    /// others found (outside it, so the other workers' searches do not wait) and kept. Call
    /// with the grid's read lock held, so what is kept is true of the grid until it next
    /// changes.
    fn passing(&self, cells: &[((i32, i32), &Cell)], test: &SlotTest) -> Vec<Arc<Passing>> {
        let known: Vec<Option<Arc<Passing>>> = {
            let kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
            cells
                .iter()
                .map(|(at, _)| {
                    let tests = kept.cells.get(at)?;
                    tests
                        .iter()
                        .find(|(t, _)| t == test)
                        .map(|(_, p)| p.clone())
                })
                .collect()
        };
        let found: Vec<Arc<Passing>> = known
            .iter()
            .zip(cells)
            .map(|(k, &(at, cell))| {
                k.clone()
                    .unwrap_or_else(|| Arc::new(Passing::of(at, cell, test)))
            })
            .collect();
        if known.iter().any(Option::is_none) {
            let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
            for ((k, (at, _)), p) in known.iter().zip(cells).zip(&found) {
                if k.is_some() {
                    continue;
                }
                if kept.rows + p.total() > KEPT_ROWS {
                    kept.clear();
                }
                let tests = kept.cells.entry(*at).or_default();
                // Another search may have kept the same cell meanwhile.
                if tests.iter().any(|(t, _)| t == test) {
                    continue;
                }
                // A few filter combinations per cell are most searches; the oldest goes first.
                let mut dropped = 0;
                if tests.len() >= TESTS_PER_CELL {
                    dropped = tests.remove(0).1.total();
                }
                tests.push((test.clone(), p.clone()));
                kept.rows = kept.rows + p.total() - dropped;
            }
        }
        found
    }

    /// Answers a search that `handles` accepts: the page's hits and the total. Call
    /// `catch_up` first.
    pub fn search(
        &self,
        conn: &mut DbConnection,
        s: &Search,
        unit: Unit,
        page: i64,
        per_page: i64,
    ) -> anyhow::Result<(Vec<Hit>, i64)> {
        let p = s.point.expect("handles() requires a point");
        let offset = ((page - 1) * per_page) as usize;
        let k = offset + per_page as usize;
        // Rows are units for service_at_locations, so the scan can keep just the rows that
        // may be among the first k; services count each service once, so it keeps them all.
        let dated_open = match s.open_at {
            Some(at) => self.dated_open(conn, s, p, at)?,
            None => HashSet::new(),
        };
        let (count, matches) = match unit {
            Unit::ServiceAtLocation => self.matches(s, p, Some(k), &dated_open),
            Unit::Service => self.matches(s, p, None, &dated_open),
        };

        // The total, and each unit's nearest approximate distance.
        let mut nearest: HashMap<u64, f64> = HashMap::new();
        let unit_metres: Vec<f64> = match unit {
            Unit::ServiceAtLocation => matches.iter().map(|m| m.metres).collect(),
            Unit::Service => {
                for m in &matches {
                    let e = nearest.entry(m.service).or_insert(f64::INFINITY);
                    *e = e.min(m.metres);
                }
                nearest.values().copied().collect()
            }
        };
        let total = match unit {
            Unit::ServiceAtLocation => count,
            Unit::Service => unit_metres.len(),
        } as i64;
        if offset >= unit_metres.len() {
            return Ok((vec![], total));
        }
        // Only rows whose approximate distance is within the error of the k-th nearest unit's
        // can be among the first k by exact distance (ties included).
        let k = k.min(unit_metres.len());
        let mut sorted = unit_metres;
        let (_, kth, _) = sorted.select_nth_unstable_by(k - 1, f64::total_cmp);
        let limit = *kth * spread(eps(s.radius));
        let mut candidates: Vec<Match> =
            matches.into_iter().filter(|m| m.metres <= limit).collect();
        for m in &mut candidates {
            if !m.exact {
                m.metres = distance(
                    p,
                    Point {
                        lat: m.lat,
                        lon: m.lon,
                    },
                );
                m.exact = true;
            }
        }
        let metres: HashMap<i64, f64> = candidates.iter().map(|m| (m.key, m.metres)).collect();
        let keys: Vec<i64> = candidates.iter().map(|m| m.key).collect();
        let named = self.named(conn, &keys)?;
        // A unit's distance is that of its nearest matching row; order as the database path
        // does: distance, then name, then id.
        let mut units: HashMap<String, (f64, String)> = HashMap::new();
        for n in named {
            let Some(&d) = metres.get(&n.id) else {
                continue;
            };
            let id = match unit {
                Unit::Service => &n.service_id,
                Unit::ServiceAtLocation => match &n.service_at_location_id {
                    Some(id) => id,
                    None => continue,
                },
            };
            let e = units
                .entry(id.clone())
                .or_insert_with(|| (f64::INFINITY, n.name.clone()));
            e.0 = e.0.min(d);
        }
        let mut hits: Vec<(String, f64, String)> = units
            .into_iter()
            .map(|(id, (d, name))| (id, d, name))
            .collect();
        hits.sort_by(|a, b| {
            a.1.total_cmp(&b.1)
                .then_with(|| a.2.cmp(&b.2))
                .then_with(|| a.0.cmp(&b.0))
        });
        let page = hits
            .into_iter()
            .skip(offset)
            .take(per_page as usize)
            .map(|(id, d, _)| Hit {
                id,
                distance: Some(d),
            })
            .collect();
        Ok((page, total))
    }

    /// Of the rows whose hours change from week to week, in the cells a search around `p`
    /// visits, those open at `at`, by the schedules themselves.
    fn dated_open(
        &self,
        conn: &mut DbConnection,
        s: &Search,
        p: Point,
        at: DateTime<Utc>,
    ) -> anyhow::Result<HashSet<i64>> {
        let keys: Vec<i64> = {
            let grid = self.grid.read().unwrap_or_else(PoisonError::into_inner);
            let (c0, c1) = cell_span(p, s.radius);
            let mut keys = Vec::new();
            for ci in c0.0..=c1.0 {
                for cj in c0.1..=c1.1 {
                    if let Some(cell) = grid.cells.get(&(ci, cj)).filter(|c| c.dated > 0) {
                        let dated = cell.cold.iter().filter(|c| c.week == DATED);
                        keys.extend(dated.map(|c| c.key));
                    }
                }
            }
            keys
        };
        let mut open = HashSet::new();
        for chunk in keys.chunks(500) {
            let mut q = Sql::new("SELECT id, time_zone, hours FROM search_entry WHERE id IN ");
            q.bind_list(chunk.iter().copied());
            for row in q.load::<Hours>(conn)? {
                let zone = row.time_zone.as_deref().and_then(hours::zone);
                if is_open(&hours::stored_schedules(row.hours.as_deref()), zone, at) {
                    open.insert(row.id);
                }
            }
        }
        Ok(open)
    }

    /// The rows within the radius that pass the filters: how many, and either all of them
    /// (`keep` None) or at least those that may be among the nearest `keep`. `dated_open`:
    /// the rows of `dated_open()` (when the search asks for hours).
    ///
    /// Cells are visited nearest first, so the distance a row must beat to be kept soon falls
    /// to about the k-th nearest match's; beyond it a row is only counted, and in a cell wholly
    /// inside the circle it is counted without computing its distance at all.
    fn matches(
        &self,
        s: &Search,
        p: Point,
        keep: Option<usize>,
        dated_open: &HashSet<i64>,
    ) -> (usize, Vec<Match>) {
        let grid = self.grid.read().unwrap_or_else(PoisonError::into_inner);
        let organization = match &s.organization_id {
            Some(o) => match grid.organizations.find(o) {
                Some(id) => Some(id),
                None => return (0, vec![]),
            },
            None => None,
        };
        // A status not stored matches no row.
        let mut statuses = vec![false; grid.statuses.values.len()];
        for id in s.statuses.iter().filter_map(|x| grid.statuses.find(x)) {
            statuses[id as usize] = true;
        }
        let test = SlotTest {
            service_types: s.service_types,
            statuses,
            masks: [
                s.cost,
                s.accessibility,
                s.delivery,
                s.low_barrier,
                s.population,
            ],
            organization,
        };
        let language_patterns: Vec<String> = s.languages.iter().map(|c| format!(",{c},")).collect();
        let postcode_pattern = s.postcode.as_ref().map(|pc| format!(",{pc},"));
        let mut language_ok: HashMap<u32, bool> = HashMap::new();
        let mut postcode_ok: HashMap<u32, bool> = HashMap::new();
        // The minute of the local week in each zone held, at the instant asked for.
        let minutes: Option<Vec<Option<u16>>> = s.open_at.map(|at| {
            grid.tzs
                .iter()
                .map(|tz| tz.map(|tz| week::minute_of_week(tz, at)))
                .collect()
        });
        let mut cold_passes = |c: &Cold| {
            let common = &grid.commons[c.common as usize];
            if let Some(minutes) = &minutes {
                let open = if c.week == DATED {
                    dated_open.contains(&c.key)
                } else {
                    let minute = minutes.get(common.zone as usize).copied().flatten();
                    minute.is_some_and(|m| week::open(&grid.weeks[c.week as usize], m))
                };
                if !open {
                    return false;
                }
            }
            // `min_fee <= max` and the age bounds are false for a missing fee, as in SQL.
            if s.max_fee
                .is_some_and(|max| common.min_fee.is_nan() || common.min_fee > max)
            {
                return false;
            }
            if let Some(age) = s.age {
                if common.minimum_age > age || common.maximum_age < age {
                    return false;
                }
            }
            if !language_patterns.is_empty()
                && !*language_ok.entry(c.languages).or_insert_with(|| {
                    let have = grid.languages.get(c.languages);
                    language_patterns.iter().any(|l| have.contains(l.as_str()))
                })
            {
                return false;
            }
            if let Some(pattern) = &postcode_pattern {
                if !*postcode_ok
                    .entry(c.postcodes)
                    .or_insert_with(|| grid.postcodes.get(c.postcodes).contains(pattern.as_str()))
                {
                    return false;
                }
            }
            true
        };
        let cold_filters = s.open_at.is_some()
            || s.max_fee.is_some()
            || s.age.is_some()
            || !language_patterns.is_empty()
            || postcode_pattern.is_some();

        let approx = Approx::new(p);
        let eps = eps(s.radius);
        let e = eps.unwrap_or(0.0);
        let spread = spread(eps);
        // Within `inner` by the approximation a row is within the radius, beyond `outer` it is
        // not; between them its exact distance decides.
        let (inner, outer) = (s.radius * (1.0 - e), s.radius * (1.0 + e));
        let (inner2, outer2) = (inner * inner, outer * outer);
        let (c0, c1) = cell_span(p, s.radius);
        let mut cells: Vec<(f64, bool, (i32, i32), &Cell)> = Vec::new();
        for ci in c0.0..=c1.0 {
            for cj in c0.1..=c1.1 {
                if let Some(cell) = grid.cells.get(&(ci, cj)) {
                    let (near, far) = approx.rect(
                        (ci as f64 * CELL, (ci + 1) as f64 * CELL),
                        (cj as f64 * CELL, (cj + 1) as f64 * CELL),
                    );
                    // A corner of the box may lie wholly outside the circle.
                    if eps.is_some() && near > outer {
                        continue;
                    }
                    cells.push((near, eps.is_some() && far < inner, (ci, cj), cell));
                }
            }
        }
        cells.sort_by(|a, b| a.0.total_cmp(&b.0));

        let mut count = 0;
        let mut out = Vec::new();
        let edge = EdgeCount {
            approx: &approx,
            p,
            radius: s.radius,
            inner2,
            outer2,
            sure_in2: (inner - 1.0).max(0.0).powi(2),
            sure_out2: (outer + 1.0).powi(2),
        };
        // The `keep` smallest distances kept so far; `bar` is what a row must not exceed to
        // be kept, and `bar2` a little over its square, to leave out the rest before taking a
        // root.
        let mut best: BinaryHeap<Metres> = BinaryHeap::new();
        let mut bar = f64::INFINITY;
        let mut bar2 = f64::INFINITY;
        // Where kept rows answer the filters (none of hours, fees, ages, languages or
        // postcodes is asked) and the planar approximation holds at this radius (it gives each
        // block's distances), each cell's passing rows are found once and kept.
        let by_block = !cold_filters && eps.is_some();
        let passing = if by_block {
            let at: Vec<((i32, i32), &Cell)> = cells.iter().map(|c| (c.2, c.3)).collect();
            self.passing(&at, &test).into_iter().map(Some).collect()
        } else {
            vec![None; cells.len()]
        };
        for ((near, inside, at, cell), passing) in cells.into_iter().zip(passing) {
            let may_keep = eps.is_none() || near / (1.0 + e) <= bar;
            if let (false, Some(passing)) = (may_keep, &passing) {
                // No row here can be kept, so rows are only counted. Every row of a cell
                // wholly inside the circle is within the radius, so only the filters count
                // there; elsewhere blocks wholly inside count whole, and only the passing rows
                // of blocks the edge crosses are read.
                if inside {
                    count += passing.total();
                    continue;
                }
                for b in 0..BLOCKS {
                    let n = passing.count(b);
                    if n == 0 {
                        continue;
                    }
                    let (lats, lons) = block_bounds(at, b);
                    let (near, far) = approx.rect(lats, lons);
                    if near > outer {
                        continue;
                    }
                    if far < inner {
                        count += n as usize;
                        continue;
                    }
                    count += edge.count(at, &cell.slots, passing, b);
                }
                continue;
            }
            // The rows are read one by one. By block, a cell's blocks are read nearest first,
            // and a block none of whose rows can be kept any more is only counted, as above:
            // in a city the cells nearest the point hold thousands of rows, and the page is
            // settled long before they are all read.
            let parts: Vec<Part> = match &passing {
                None => vec![Part {
                    near: 0.0,
                    far: 0.0,
                    block: None,
                }],
                Some(passing) => {
                    let mut parts: Vec<Part> = (0..BLOCKS)
                        .filter(|&b| passing.count(b) > 0)
                        .map(|b| {
                            let (lats, lons) = block_bounds(at, b);
                            let (near, far) = approx.rect(lats, lons);
                            Part {
                                near,
                                far,
                                block: Some(b),
                            }
                        })
                        .collect();
                    parts.sort_by(|a, b| a.near.total_cmp(&b.near));
                    parts
                }
            };
            for part in parts {
                // The rows to read: a block's passing rows, or every row of the cell, tested.
                let (rows, all): (&[u32], std::ops::Range<u32>) = match (part.block, &passing) {
                    (Some(b), Some(passing)) => {
                        if part.near > outer {
                            continue;
                        }
                        if part.near / (1.0 + e) > bar {
                            count += if part.far < inner {
                                passing.count(b) as usize
                            } else {
                                edge.count(at, &cell.slots, passing, b)
                            };
                            continue;
                        }
                        (passing.block(b), 0..0)
                    }
                    _ => (&[], 0..cell.slots.len() as u32),
                };
                let tested = passing.is_some();
                for i in rows.iter().copied().chain(all) {
                    let i = i as usize;
                    let slot = &cell.slots[i];
                    if !tested && !test.passes(slot)
                        || (cold_filters && !cold_passes(&cell.cold[i]))
                    {
                        continue;
                    }
                    if inside && !may_keep {
                        count += 1;
                        continue;
                    }
                    // The approximation decides alone where it cannot be wrong; the exact
                    // distance decides near the edge, and everywhere beyond its range.
                    let quick = eps.map(|_| approx.metres_squared(slot.lat, slot.lon));
                    if quick.is_some_and(|q| q > outer2) {
                        continue;
                    }
                    let (metres, exact) = match quick {
                        Some(q) if q < inner2 => {
                            if q > bar2 {
                                count += 1;
                                continue;
                            }
                            (q.sqrt(), false)
                        }
                        _ => (
                            distance(
                                p,
                                Point {
                                    lat: slot.lat,
                                    lon: slot.lon,
                                },
                            ),
                            true,
                        ),
                    };
                    if metres > s.radius {
                        continue;
                    }
                    count += 1;
                    if metres > bar {
                        continue;
                    }
                    if let Some(k) = keep {
                        best.push(Metres(metres));
                        if best.len() > k {
                            best.pop();
                        }
                        if best.len() == k {
                            bar = best.peek().map_or(f64::INFINITY, |m| m.0 * spread);
                            bar2 = bar * bar * (1.0 + 1e-9);
                        }
                    }
                    out.push(Match {
                        key: cell.cold[i].key,
                        service: cell.cold[i].service,
                        lat: slot.lat,
                        lon: slot.lon,
                        metres,
                        exact,
                    });
                }
            }
        }
        out.retain(|m| m.metres <= bar);
        (count, out)
    }
}

/// Rows of a cell a scan reads together: a block (with its approximate nearest and farthest
/// distance), or the whole cell.
struct Part {
    near: f64,
    far: f64,
    block: Option<usize>,
}

/// Counts rows that pass the filters and lie within the radius, where the circle's edge may
/// run among them: the approximation decides, without a branch, all but the rows near the
/// edge, which are measured.
struct EdgeCount<'a> {
    approx: &'a Approx,
    p: Point,
    radius: f64,
    inner2: f64,
    outer2: f64,
    /// `inner2` and `outer2` a metre further in and out: the bounds by which a row's offset
    /// decides (see `count`).
    sure_in2: f64,
    sure_out2: f64,
}

impl EdgeCount<'_> {
    /// Of the passing rows of block `b` of cell `at`, how many lie within the radius. Their
    /// offsets decide for rows a metre or more clear of the edge (the offsets are within a
    /// millimetre of the points, and the approximation's distance moves less than that);
    /// the others are decided by their stored points, as the scan does.
    fn count(&self, at: (i32, i32), slots: &[Slot], passing: &Passing, b: usize) -> usize {
        let corner = cell_corner(at);
        let (dlat, dlon) = (corner.0 - self.approx.lat, corner.1 - self.approx.lon);
        let range = passing.range(b);
        let mut count = 0;
        for (k, o) in passing.offsets[range.clone()].iter().enumerate() {
            let q = self
                .approx
                .metres_squared_by(dlat + f64::from(o[0]), dlon + f64::from(o[1]));
            count += usize::from(q < self.sure_in2);
            if (q >= self.sure_in2) & (q <= self.sure_out2) {
                let slot = &slots[passing.rows[range.start + k] as usize];
                count += usize::from(self.within(slot));
            }
        }
        count
    }

    fn within(&self, slot: &Slot) -> bool {
        let q = self.approx.metres_squared(slot.lat, slot.lon);
        if q < self.inner2 {
            return true;
        }
        if q > self.outer2 {
            return false;
        }
        let at = Point {
            lat: slot.lat,
            lon: slot.lon,
        };
        distance(self.p, at) <= self.radius
    }
}

/// The first and last cells of the box around a circle.
fn cell_span(p: Point, radius: f64) -> ((i32, i32), (i32, i32)) {
    let b = bounds(p, radius);
    let (lo, hi) = b.lon.expect("handles() requires a longitude span");
    (cell_of(b.min_lat, lo), cell_of(b.max_lat, hi))
}

/// A distance ordered for a heap.
#[derive(PartialEq)]
struct Metres(f64);

impl Eq for Metres {}

impl PartialOrd for Metres {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Metres {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

#[derive(QueryableByName)]
struct Newest {
    #[diesel(sql_type = Nullable<BigInt>)]
    seq: Option<i64>,
}

fn newest_change(conn: &mut DbConnection) -> anyhow::Result<i64> {
    // Prepared: every near-here search asks.
    let q = Sql::prepared("SELECT MAX(seq) AS seq FROM search_change");
    Ok(q.load::<Newest>(conn)?
        .pop()
        .and_then(|n| n.seq)
        .unwrap_or(0))
}

/// Whether changes this instance has not read were pruned from the log.
fn pruned_past(conn: &mut DbConnection, cursor: &Cursor) -> anyhow::Result<bool> {
    let q = Sql::new("SELECT MIN(seq) AS seq FROM search_change");
    let oldest = q.load::<Newest>(conn)?.pop().and_then(|n| n.seq);
    Ok(oldest.is_some_and(|o| o > cursor.seen + 1))
}

/// Forgets changes older than `keep`; an instance that has not read them by then loads
/// everything again.
pub fn prune(conn: &mut DbConnection, keep: Duration) -> anyhow::Result<usize> {
    let cutoff = Utc::now() - chrono::Duration::from_std(keep)?;
    let mut q = Sql::new("DELETE FROM search_change WHERE changed_at < ");
    q.bind(crate::search::filters::stored_timestamp(cutoff));
    Ok(q.execute(conn)?)
}

/// Keeps this process's index in step with the database: catches up every second, and prunes
/// changes older than an hour every ten minutes.
pub async fn follow(state: AppState) {
    let Some(index) = state.nearby.clone() else {
        return;
    };
    let mut last_prune: Option<Instant> = None;
    loop {
        let prune_now = last_prune.is_none_or(|t| t.elapsed() >= Duration::from_secs(600));
        let index = index.clone();
        let result = state
            .db(move |conn| {
                index.catch_up(conn)?;
                if prune_now {
                    prune(conn, Duration::from_secs(3600))?;
                }
                Ok(())
            })
            .await;
        match result {
            Ok(()) => {
                if prune_now {
                    last_prune = Some(Instant::now());
                }
            }
            Err(e) => tracing::warn!(error = %e, "the near-here index could not catch up"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator, so the test needs no randomness crate.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    #[test]
    fn rows_stay_small() {
        // A million rows: each byte here is a megabyte of the server's memory.
        assert_eq!(std::mem::size_of::<Slot>(), 40);
        assert_eq!(std::mem::size_of::<Cold>(), 32);
    }

    #[test]
    fn a_row_lies_in_the_bounds_of_its_block() {
        let mut rng = Lcg(11);
        // A billionth of a degree (0.1 mm) of slack for rounding, far inside the margins the
        // search keeps at the circle's edge.
        let slack = 1e-9;
        for _ in 0..200_000 {
            let lat = (rng.next() * 2.0 - 1.0) * 80.0;
            let lon = (rng.next() * 2.0 - 1.0) * 180.0;
            let ((lat0, lat1), (lon0, lon1)) = block_bounds(cell_of(lat, lon), block_of(lat, lon));
            assert!(lat0 - slack <= lat && lat <= lat1 + slack, "{lat} {lon}");
            assert!(lon0 - slack <= lon && lon <= lon1 + slack, "{lat} {lon}");
        }
    }

    /// A located, active row for `Grid::add`.
    fn row(id: i64, lat: f64, lon: f64, cost: i64) -> Row {
        Row {
            id,
            service_id: format!("s{id}"),
            organization_id: None,
            status: "active".into(),
            latitude: Some(lat),
            longitude: Some(lon),
            text_id: None,
            service_types: 0,
            cost,
            accessibility: 0,
            delivery: 0,
            low_barrier: 0,
            population: 0,
            languages: String::new(),
            postcodes: String::new(),
            min_fee: None,
            minimum_age: None,
            maximum_age: None,
            time_zone: None,
            hours: None,
        }
    }

    #[test]
    fn a_catch_up_that_changed_nothing_keeps_the_kept_answers() {
        use crate::search::answers::Key;
        use crate::search::query::{Answer, Window};
        let nearby = Nearby::new(0, Duration::ZERO);
        let search = Search {
            words: vec!["naloxone".into()],
            ..Search::default()
        };
        let key = || {
            Key::new(
                &search,
                Unit::Service,
                Window::Page {
                    page: 1,
                    per_page: 20,
                },
            )
        };
        let answer = Answer {
            hits: vec![],
            total: 7,
            from_memory: false,
        };
        nearby
            .answers
            .get_or(key(), || Ok::<_, ()>(answer))
            .unwrap();
        let mut conn = crate::db::Manager::new("sqlite://:memory:")
            .unwrap()
            .open()
            .unwrap();
        // What a catch-up that only waited for a missing number applies.
        nearby.replace(&mut conn, vec![], &[]).unwrap();
        assert_eq!(nearby.answers.len(), 1);
    }

    #[test]
    fn counts_beyond_the_page_agree_with_exact_distances() {
        use geo::{Destination, Geodesic};
        // A crowded town, and a third of its rows within four metres of the circles' edge (a
        // sixth within four millimetres), where the offsets kept for counting must defer to
        // the rows' own points. A page of one leaves nearly every row to be counted.
        let p = Point {
            lat: 40.0,
            lon: -75.0,
        };
        let nearby = Nearby::new(0, Duration::ZERO);
        let mut rng = Lcg(7);
        let mut rows = Vec::new();
        for id in 0..9_000 {
            let (lat, lon) = if id % 3 == 0 {
                let radius = [2_000.0, 5_000.0][id as usize % 2];
                let slack = [4.0, 0.004][id as usize / 3 % 2];
                let at = Geodesic.destination(
                    geo::Point::new(p.lon, p.lat),
                    rng.next() * 360.0,
                    radius + (rng.next() - 0.5) * 2.0 * slack,
                );
                (at.y(), at.x())
            } else {
                (
                    p.lat + (rng.next() - 0.5) * 0.12,
                    p.lon + (rng.next() - 0.5) * 0.15,
                )
            };
            rows.push((lat, lon, 1i64 << (id % 2)));
        }
        {
            let mut grid = nearby.grid.write().unwrap();
            for (id, &(lat, lon, cost)) in rows.iter().enumerate() {
                grid.add(row(id as i64, lat, lon, cost));
            }
            grid.settle();
        }
        for radius in [2_000.0, 5_000.0] {
            for cost in [0, 1] {
                let s = Search {
                    point: Some(p),
                    radius,
                    cost,
                    statuses: vec!["active".into()],
                    ..Search::default()
                };
                let expected = rows
                    .iter()
                    .filter(|r| cost == 0 || r.2 & cost != 0)
                    .filter(|r| distance(p, Point { lat: r.0, lon: r.1 }) <= radius)
                    .count();
                // Twice: the second time from the rows kept for each cell.
                for _ in 0..2 {
                    let (count, _) = nearby.matches(&s, p, Some(1), &HashSet::new());
                    assert_eq!(count, expected, "radius {radius}, cost {cost}");
                }
            }
        }
    }

    #[test]
    fn a_settled_cell_lists_its_rows_by_block() {
        let mut rng = Lcg(5);
        let mut cell = Cell::default();
        for key in 0..1000 {
            let (lat, lon) = (51.5 + rng.next() * CELL, -0.125 + rng.next() * CELL);
            let slot = Slot {
                lat,
                lon,
                service_types: 0,
                masks: [0; 5],
                status: 0,
                organization: 0,
            };
            let cold = Cold {
                key,
                // To check the two lists stay in step.
                service: lat.to_bits(),
                common: 0,
                languages: 0,
                postcodes: 0,
                week: 0,
            };
            cell.slots.push(slot);
            cell.cold.push(cold);
        }
        cell.settle();
        let mut seen = HashSet::new();
        for b in 0..BLOCKS {
            for i in cell.block(b) {
                assert_eq!(block_of(cell.slots[i].lat, cell.slots[i].lon), b);
                assert_eq!(cell.cold[i].service, cell.slots[i].lat.to_bits());
                assert!(seen.insert(cell.cold[i].key), "each row once");
            }
        }
        assert_eq!(seen.len(), 1000);
    }

    #[test]
    fn every_filter_vocabulary_but_service_types_fits_a_slot_mask() {
        use crate::vocab::{Facet, VOCABULARIES};
        for facet in [
            Facet::Cost,
            Facet::Accessibility,
            Facet::Delivery,
            Facet::LowBarrier,
            Facet::Population,
        ] {
            for code in VOCABULARIES.get(facet).codes() {
                let bit = VOCABULARIES.get(facet).bit(code).unwrap();
                assert!(u16::try_from(bit).is_ok(), "{facet:?} {code}");
            }
        }
    }

    #[test]
    fn the_approximation_stays_within_its_bound() {
        let mut rng = Lcg(7);
        for (max_radius, eps) in EPS_BY_RADIUS {
            let mut worst: f64 = 0.0;
            for _ in 0..200_000 {
                let p = Point {
                    lat: (rng.next() * 2.0 - 1.0) * 80.0,
                    lon: (rng.next() * 2.0 - 1.0) * 179.0,
                };
                let radius = max_radius * 1.5 * rng.next().powi(2) + 1.0;
                let b = bounds(p, radius);
                let Some((lo, hi)) = b.lon else { continue };
                let q = Point {
                    lat: b.min_lat + (b.max_lat - b.min_lat) * rng.next(),
                    lon: lo + (hi - lo) * rng.next(),
                };
                let exact = distance(p, q);
                if exact < 1.0 {
                    continue;
                }
                let a = Approx::new(p).metres_squared(q.lat, q.lon).sqrt();
                worst = worst.max((a / exact - 1.0).abs());
            }
            assert!(
                worst < eps / 2.0,
                "up to {max_radius} m: worst relative error {worst}"
            );
        }
        assert_eq!(eps(10_000.0), Some(0.000_2));
        assert_eq!(eps(50_000.0), Some(0.005));
        assert_eq!(eps(APPROX_MAX_RADIUS + 1.0), None);
    }

    /// A load holds the cursor for seconds at a million services. A search meanwhile is
    /// answered by the database, the same answer, rather than waiting for the load.
    #[test]
    fn a_search_while_everything_loads_does_not_wait_for_the_load() {
        use crate::search::query::{self, Window};
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let pool = crate::db::pool(&url, 2, Duration::from_secs(10)).unwrap();
        let mut conn = pool.get().unwrap();
        crate::db::migrate(&mut conn).unwrap();
        let service = serde_json::json!({
            "id": "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b", "name": "Drop-in",
            "description": "x", "status": "active",
            "service_at_locations": [{
                "id": "7f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b",
                "location": {"id": "8f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b",
                    "location_type": "physical", "latitude": 40.0, "longitude": -75.0}
            }]
        });
        let service = serde_json::from_value(service).unwrap();
        crate::catalog::store::put_service(&mut conn, &service).unwrap();
        let search = Search {
            point: Some(Point {
                lat: 40.01,
                lon: -75.0,
            }),
            radius: 10_000.0,
            ..Search::default()
        };
        let window = Window::Page {
            page: 1,
            per_page: 20,
        };
        let nearby = Nearby::new(0, Duration::ZERO);
        // A load under way, as `reload` holds it, for as long as this test keeps it.
        let cursor = nearby.cursor.lock().unwrap();
        let _loading = nearby.loading_for_test();
        let (to, from) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            let (nearby, search, pool) = (&nearby, &search, &pool);
            scope.spawn(move || {
                let mut conn = pool.get().unwrap();
                let current = nearby.is_current(&mut conn).unwrap();
                let answer = query::run(&mut conn, Some(nearby), search, Unit::Service, window);
                to.send((current, answer.unwrap())).unwrap();
            });
            let answered = from.recv_timeout(Duration::from_secs(30));
            drop(cursor);
            let (current, answer) = answered.expect("the search waited for the load");
            assert!(!current);
            assert!(!answer.from_memory);
            assert_eq!(answer.total, 1);
            let by_database = query::run(&mut conn, None, search, Unit::Service, window).unwrap();
            assert_eq!(answer.hits, by_database.hits);
        });
    }
}
