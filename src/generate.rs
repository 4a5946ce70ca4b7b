//! `haven generate`: a large, fictional, deterministic HSDS 3.0 directory for benchmarks and
//! tests.
//!
//! [`services`] writes ndjson, one fully nested HSDS 3.0 `service` per line; [`queries`] writes
//! search paths for the benchmark's "10 km search with a cost and an accessibility filter",
//! centred on the generated towns with a few kilometres of jitter:
//!
//! ```text
//! /service_at_locations?lat=..&lon=..&proximity=10000&cost=free,sliding_scale&accessibility=wheelchair&per_page=20
//! ```
//!
//! The shape of the data:
//! - services cluster around 22 US towns and cities (a Gaussian spread of a few km around each
//!   centre, wider for bigger cities), with about 8% of locations scattered 15-60 km out;
//! - organisations (one per 30 services, so 3,333 for 100,000) each have 1-6 physical locations
//!   near their home town; a service is offered at one or two of its organisation's locations,
//!   so a location is shared by several services (as in real directories);
//! - attributes carry Haven's vocabularies ([`crate::vocab::VOCABULARIES`]) by taxonomy + code,
//!   with the contract's term ids: haven-services (1-3 terms of data/taxonomy.csv), haven-cost
//!   (1-2), haven-accessibility (0-3, on the service and sometimes on the location),
//!   haven-low-barrier, haven-population, haven-delivery; cost_options match the cost terms
//!   (free -> amount 0); languages are en plus sometimes es, vi, zh, ar, fr, ht, ko, ru or ase;
//!   about 60% of service_at_locations have a weekly schedule.
//!
//! Everything is made up: names are generated, phone numbers are in the fictional 555-01xx
//! range, web sites use the reserved .example domain, street numbers are invented.
//!
//! Ids are UUID v5: N = uuid5(NAMESPACE_URL, "https://haven.example/bench/seed/<seed>") and each
//! object's id is uuid5(N, "<kind>:<index>..."). Taxonomy and term ids are Haven's
//! ([`crate::vocab::term_id`]).
//!
//! The same services and seed always give the same bytes. Randomness comes from a small
//! xoshiro256++ generator defined here (not a library's), so the output does not change with
//! dependency versions. Each organisation is drawn from a stream of its own, seeded by its
//! index, and re-drawn whenever a service needs it: nothing is kept between services, so memory
//! stays flat however many services are written.

use std::f64::consts::PI;
use std::io::{self, Write};

use sha1::{Digest, Sha1};
use uuid::Uuid;

use crate::vocab::{Facet, Vocabulary, VOCABULARIES};

/// A town: name, state, latitude, longitude, postal code, weight (share of organisations),
/// spread (km, the standard deviation of locations around the centre).
struct Town {
    name: &'static str,
    state: &'static str,
    lat: f64,
    lon: f64,
    postal_code: &'static str,
    weight: u64,
    spread: f64,
}

const fn town(
    name: &'static str,
    state: &'static str,
    lat: f64,
    lon: f64,
    postal_code: &'static str,
    weight: u64,
    spread: f64,
) -> Town {
    Town {
        name,
        state,
        lat,
        lon,
        postal_code,
        weight,
        spread,
    }
}

const TOWNS: &[Town] = &[
    town("Charlottesville", "VA", 38.0293, -78.4767, "22902", 2, 3.0),
    town("Richmond", "VA", 37.5407, -77.4360, "23219", 3, 4.5),
    town("Baltimore", "MD", 39.2904, -76.6122, "21201", 4, 5.0),
    town("Philadelphia", "PA", 39.9526, -75.1652, "19107", 6, 6.5),
    town("Pittsburgh", "PA", 40.4406, -79.9959, "15222", 3, 4.5),
    town("Boston", "MA", 42.3601, -71.0589, "02108", 5, 5.5),
    town("Chicago", "IL", 41.8781, -87.6298, "60601", 7, 7.0),
    town("Detroit", "MI", 42.3314, -83.0458, "48226", 4, 5.5),
    town("Columbus", "OH", 39.9612, -82.9988, "43215", 3, 5.0),
    town("Atlanta", "GA", 33.7490, -84.3880, "30303", 5, 6.5),
    town("Nashville", "TN", 36.1627, -86.7816, "37203", 3, 5.0),
    town("Denver", "CO", 39.7392, -104.9903, "80202", 4, 5.5),
    town("Phoenix", "AZ", 33.4484, -112.0740, "85004", 5, 7.0),
    town("Albuquerque", "NM", 35.0844, -106.6504, "87102", 2, 4.0),
    town("Seattle", "WA", 47.6062, -122.3321, "98101", 4, 5.0),
    town("Portland", "OR", 45.5152, -122.6784, "97204", 3, 4.5),
    town("San Francisco", "CA", 37.7749, -122.4194, "94102", 4, 3.5),
    town("Los Angeles", "CA", 34.0522, -118.2437, "90012", 7, 8.0),
    town("Minneapolis", "MN", 44.9778, -93.2650, "55401", 3, 5.0),
    town("Burlington", "VT", 44.4759, -73.2121, "05401", 1, 2.5),
    town("New Orleans", "LA", 29.9511, -90.0715, "70112", 3, 4.0),
    town("Huntington", "WV", 38.4192, -82.4452, "25701", 1, 2.5),
];

/// The share of locations scattered 15-60 km from a town centre.
const RURAL_SHARE: f64 = 0.08;

/// Services per organisation.
const SERVICES_PER_ORGANIZATION: u64 = 30;

const MAX_LOCATIONS: usize = 6;

const STREETS: &[&str] = &[
    "Main Street",
    "Market Street",
    "Church Street",
    "High Street",
    "Park Avenue",
    "Oak Street",
    "Maple Avenue",
    "Elm Street",
    "Washington Street",
    "Jefferson Street",
    "Broad Street",
    "Water Street",
    "Union Street",
    "Spring Street",
    "Center Street",
    "River Road",
    "Mill Road",
    "Grove Avenue",
    "Pine Street",
    "Cedar Street",
];

const ORG_WORDS_A: &[&str] = &[
    "Harbor",
    "Lantern",
    "Bridge",
    "Open Door",
    "Riverside",
    "Common Ground",
    "Northstar",
    "Safe Passage",
    "Kindred",
    "Crossroads",
    "Beacon",
    "Horizon",
    "Willow",
    "Keystone",
    "Hearth",
    "Compass",
    "Anchor",
    "Meadow",
    "Summit",
    "Mosaic",
];

const ORG_WORDS_B: &[&str] = &[
    "Harm Reduction Collective",
    "Recovery Center",
    "Health Services",
    "Community Clinic",
    "Outreach Project",
    "Peer Network",
    "Treatment Services",
    "Wellness Alliance",
    "Drop-in Center",
    "Care Cooperative",
];

/// Languages besides English: name, code, probability.
const LANGUAGES: &[(&str, &str, f64)] = &[
    ("Spanish", "es", 0.25),
    ("Vietnamese", "vi", 0.05),
    ("Chinese", "zh", 0.04),
    ("Arabic", "ar", 0.03),
    ("French", "fr", 0.03),
    ("Haitian Creole", "ht", 0.02),
    ("Korean", "ko", 0.02),
    ("Russian", "ru", 0.02),
    ("American Sign Language", "ase", 0.03),
];

/// The probability that a service carries each code: independent draws, then the first few
/// kept (`max`).
struct Draws {
    facet: Facet,
    codes: &'static [(&'static str, f64)],
    max: usize,
}

const COST: Draws = Draws {
    facet: Facet::Cost,
    codes: &[
        ("free", 0.40),
        ("sliding_scale", 0.20),
        ("medicaid", 0.30),
        ("medicare", 0.12),
        ("private_insurance", 0.20),
        ("pay_what_you_can", 0.08),
    ],
    max: 2,
};

const ACCESSIBILITY: Draws = Draws {
    facet: Facet::Accessibility,
    codes: &[
        ("wheelchair", 0.55),
        ("sign_language", 0.10),
        ("interpreter", 0.25),
        ("hearing_loop", 0.05),
        ("braille", 0.04),
        ("accessible_restroom", 0.40),
    ],
    max: 3,
};

const LOW_BARRIER: Draws = Draws {
    facet: Facet::LowBarrier,
    codes: &[
        ("walk_in", 0.45),
        ("no_id_required", 0.25),
        ("anonymous", 0.15),
        ("no_abstinence_required", 0.30),
        ("no_insurance_required", 0.30),
        ("no_referral_required", 0.50),
    ],
    max: 3,
};

const POPULATION: Draws = Draws {
    facet: Facet::Population,
    codes: &[
        ("people_who_use_drugs", 0.35),
        ("youth", 0.10),
        ("women", 0.10),
        ("lgbtq", 0.08),
        ("sex_workers", 0.05),
        ("veterans", 0.07),
        ("families", 0.08),
        ("homeless", 0.15),
    ],
    max: 2,
};

/// Every service is delivered in person, and perhaps one other way.
const DELIVERY: Draws = Draws {
    facet: Facet::Delivery,
    codes: &[("phone", 0.2), ("virtual", 0.1), ("outreach", 0.1)],
    max: 1,
};

/// Accessibility some locations record themselves (Haven ORs it into the service's).
const LOCATION_ACCESSIBILITY: Draws = Draws {
    facet: Facet::Accessibility,
    codes: &[("wheelchair", 0.3), ("accessible_restroom", 0.2)],
    max: 2,
};

/// How many haven-services terms a service has, drawn uniformly from this list.
const SERVICE_TERM_COUNTS: [usize; 6] = [1, 1, 2, 2, 2, 3];

/// The lowest fee on a sliding scale, drawn uniformly.
const SLIDING_SCALE_AMOUNTS: [u64; 4] = [5, 10, 20, 40];

/// The share of service_at_locations with a schedule.
const SCHEDULE_SHARE: f64 = 0.6;

/// byday, opens_at, closes_at, description.
const SCHEDULES: &[(&str, &str, &str, &str)] = &[
    (
        "MO,TU,WE,TH,FR",
        "09:00",
        "17:00",
        "Monday to Friday, 9am to 5pm.",
    ),
    (
        "MO,TU,WE,TH,FR",
        "08:00",
        "20:00",
        "Monday to Friday, 8am to 8pm.",
    ),
    (
        "MO,WE,FR",
        "10:00",
        "16:00",
        "Monday, Wednesday and Friday, 10am to 4pm.",
    ),
    (
        "TU,TH",
        "12:00",
        "18:00",
        "Tuesday and Thursday, noon to 6pm.",
    ),
    ("SA,SU", "10:00", "14:00", "Weekends, 10am to 2pm."),
    (
        "MO,TU,WE,TH,FR,SA,SU",
        "00:00",
        "23:59",
        "Every day, around the clock.",
    ),
    (
        "MO,TU,WE,TH,FR,SA",
        "07:00",
        "15:00",
        "Monday to Saturday, 7am to 3pm.",
    ),
];

/// The attribute `link_type` of each vocabulary.
fn link_type(facet: Facet) -> &'static str {
    match facet {
        Facet::ServiceTypes => "service_type",
        Facet::Cost => "cost",
        Facet::Accessibility => "accessibility",
        Facet::Delivery => "delivery",
        Facet::LowBarrier => "low-barrier",
        Facet::Population => "population",
    }
}

// Random streams: one for services, one per organisation, one for queries.
const STREAM_SERVICES: u64 = 1;
const STREAM_ORGANIZATION: u64 = 2;
const STREAM_QUERIES: u64 = 3;

/// Writes `services` fully nested HSDS 3.0 services as ndjson, the same bytes for the same
/// `(services, seed)`. Each service is written as it is made.
pub fn services<W: Write>(services: u64, seed: u64, mut out: W) -> io::Result<()> {
    let mut generator = Generator::new(services, seed);
    let mut buf = Vec::with_capacity(FLUSH_AT * 2);
    for i in 0..services {
        generator.service(i, &mut buf);
        if buf.len() >= FLUSH_AT {
            out.write_all(&buf)?;
            buf.clear();
        }
    }
    out.write_all(&buf)?;
    out.flush()
}

/// Writes `queries` search paths, one per line: a 10 km search with a cost and an
/// accessibility filter, centred on the towns (cycling through them) with a Gaussian jitter of
/// about 2 km.
pub fn queries<W: Write>(queries: u64, seed: u64, mut out: W) -> io::Result<()> {
    let mut rng = Rng::new(seed, STREAM_QUERIES, 0);
    for q in 0..queries {
        let t = &TOWNS[(q % TOWNS.len() as u64) as usize];
        let (dx, dy) = (rng.gauss(2.0), rng.gauss(2.0));
        let (lat, lon) = offset(t.lat, t.lon, dx, dy);
        writeln!(
            out,
            "/service_at_locations?lat={lat:.5}&lon={lon:.5}&proximity=10000\
             &cost=free,sliding_scale&accessibility=wheelchair&per_page=20"
        )?;
    }
    out.flush()
}

/// Output is handed to the writer in pieces of about this size.
const FLUSH_AT: usize = 1 << 16;

/// A point `dx_km` east and `dy_km` north of (`lat`, `lon`), rounded to 6 decimals (~0.1 m).
fn offset(lat: f64, lon: f64, dx_km: f64, dy_km: f64) -> (f64, f64) {
    let dlat = dy_km / 111.32;
    let dlon = dx_km / (111.32 * lat.to_radians().cos());
    let round = |x: f64| (x * 1e6).round() / 1e6;
    (round(lat + dlat), round(lon + dlon))
}

// ---------------------------------------------------------------------------------------------
// Randomness
// ---------------------------------------------------------------------------------------------

/// xoshiro256++, seeded through SplitMix64 from (seed, stream, index).
struct Rng([u64; 4]);

fn splitmix(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    fn new(seed: u64, stream: u64, index: u64) -> Rng {
        let mut x = seed;
        let mut x = splitmix(&mut x) ^ stream;
        let mut x = splitmix(&mut x) ^ index;
        Rng([
            splitmix(&mut x),
            splitmix(&mut x),
            splitmix(&mut x),
            splitmix(&mut x),
        ])
    }

    fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in 0..n (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    fn uniform(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.unit()
    }

    /// Normal with mean 0 (Box-Muller).
    fn gauss(&mut self, sigma: f64) -> f64 {
        let u1 = 1.0 - self.unit(); // (0, 1]
        let u2 = self.unit();
        sigma * (-2.0 * u1.ln()).sqrt() * (2.0 * PI * u2).cos()
    }

    /// Exponential with rate `lambda`.
    fn exponential(&mut self, lambda: f64) -> f64 {
        -(1.0 - self.unit()).ln() / lambda
    }

    /// The codes of `draws` that come up, at most `draws.max` of them, as indexes.
    fn draw(&mut self, draws: &Draws, into: &mut Vec<usize>) {
        into.clear();
        for (k, (_, p)) in draws.codes.iter().enumerate() {
            if self.chance(*p) && into.len() < draws.max {
                into.push(k);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Writing JSON
// ---------------------------------------------------------------------------------------------

type Id = [u8; 36];

#[inline(always)]
fn hyphenated(u: Uuid) -> Id {
    let mut id = [0u8; 36];
    u.hyphenated().encode_lower(&mut id);
    id
}

#[inline(always)]
fn push_u64(buf: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[at..]);
}

fn push_f64(buf: &mut Vec<u8>, x: f64) {
    // Display gives the shortest form that reads back as the same number, never an exponent.
    write!(buf, "{x}").expect("writing to a Vec cannot fail");
}

/// A JSON string's contents (without the quotes).
#[inline(always)]
fn push_escaped(buf: &mut Vec<u8>, s: &str) {
    let clean = |b: u8| b >= 0x20 && b != b'"' && b != b'\\';
    if s.bytes().all(clean) {
        buf.extend_from_slice(s.as_bytes());
    } else {
        push_escaped_slowly(buf, s);
    }
}

#[cold]
fn push_escaped_slowly(buf: &mut Vec<u8>, s: &str) {
    for b in s.bytes() {
        match b {
            b'"' => buf.extend_from_slice(b"\\\""),
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            b if b < 0x20 => {
                write!(buf, "\\u{b:04x}").expect("writing to a Vec cannot fail");
            }
            b => buf.push(b),
        }
    }
}

/// `"key":"value"` with a comma before it unless it opens the object.
#[inline(always)]
fn field(buf: &mut Vec<u8>, key: &str, value: &str) {
    key_of(buf, key);
    buf.push(b'"');
    push_escaped(buf, value);
    buf.push(b'"');
}

#[inline(always)]
fn field_id(buf: &mut Vec<u8>, key: &str, id: &Id) {
    key_of(buf, key);
    buf.push(b'"');
    buf.extend_from_slice(id);
    buf.push(b'"');
}

#[inline(always)]
fn field_u64(buf: &mut Vec<u8>, key: &str, n: u64) {
    key_of(buf, key);
    push_u64(buf, n);
}

#[inline(always)]
fn key_of(buf: &mut Vec<u8>, key: &str) {
    if buf.last() != Some(&b'{') {
        buf.push(b',');
    }
    buf.push(b'"');
    buf.extend_from_slice(key.as_bytes());
    buf.extend_from_slice(b"\":");
}

// ---------------------------------------------------------------------------------------------
// The generator
// ---------------------------------------------------------------------------------------------

/// A Haven term, ready to write: its id and its whole `taxonomy_term` object.
struct Term {
    code: &'static str,
    name: &'static str,
    description: &'static str,
    link_type: &'static str,
    id: Id,
    json: Vec<u8>,
}

impl Term {
    fn new(facet: Facet, code: &str) -> Term {
        let vocabulary: &'static Vocabulary = VOCABULARIES.get(facet);
        let t = vocabulary
            .terms
            .iter()
            .find(|t| t.code == code)
            .unwrap_or_else(|| panic!("{} has no term {code}", vocabulary.taxonomy));
        let id = hyphenated(vocabulary.term_id(code));
        let mut json = Vec::new();
        json.push(b'{');
        field_id(&mut json, "id", &id);
        field(&mut json, "code", &t.code);
        field(&mut json, "name", &t.name);
        field(&mut json, "description", &t.description);
        field(&mut json, "taxonomy", vocabulary.taxonomy);
        field(&mut json, "language", "en");
        field_id(
            &mut json,
            "taxonomy_id",
            &hyphenated(vocabulary.taxonomy_id()),
        );
        if let Some(parent) = &t.parent {
            field_id(
                &mut json,
                "parent_id",
                &hyphenated(vocabulary.term_id(parent)),
            );
        }
        json.push(b'}');
        Term {
            code: &t.code,
            name: &t.name,
            description: &t.description,
            link_type: link_type(facet),
            id,
            json,
        }
    }

    fn all(draws: &Draws) -> Vec<Term> {
        draws
            .codes
            .iter()
            .map(|(code, _)| Term::new(draws.facet, code))
            .collect()
    }
}

/// One part of an id's name: `kind:part:part...`.
enum Part<'a> {
    S(&'a str),
    N(u64),
}

/// Makes `uuid5(N, "<kind>:<part>:...")`.
///
/// The same UUIDs as `Uuid::new_v5`, hashed with the `sha1` crate, which uses the CPU's SHA
/// instructions where it has them: hashing is most of the generator's work.
struct Ids {
    /// SHA-1 with the namespace N already fed in.
    namespace: Sha1,
    name: Vec<u8>,
}

impl Ids {
    fn new(seed: u64) -> Ids {
        let namespace = Uuid::new_v5(
            &Uuid::NAMESPACE_URL,
            format!("https://haven.example/bench/seed/{seed}").as_bytes(),
        );
        Ids {
            namespace: Sha1::new_with_prefix(namespace.as_bytes()),
            name: Vec::with_capacity(64),
        }
    }

    fn id(&mut self, parts: &[Part]) -> Id {
        self.name.clear();
        for (k, part) in parts.iter().enumerate() {
            if k > 0 {
                self.name.push(b':');
            }
            match part {
                Part::S(s) => self.name.extend_from_slice(s.as_bytes()),
                Part::N(n) => push_u64(&mut self.name, *n),
            }
        }
        let digest = self.namespace.clone().chain_update(&self.name).finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        hyphenated(uuid::Builder::from_sha1_bytes(bytes).into_uuid())
    }
}

/// A location as drawn (ids and JSON are made when a service uses it).
#[derive(Clone, Copy, Default)]
struct Site {
    latitude: f64,
    longitude: f64,
    street_number: u64,
    street: usize,
    /// Bits of LOCATION_ACCESSIBILITY.
    accessibility: u8,
}

/// An organisation as drawn from its own stream.
struct Organization {
    index: u64,
    town: usize,
    name: String,
    sites: [Site; MAX_LOCATIONS],
    n_sites: usize,
}

struct Generator {
    seed: u64,
    n_organizations: u64,
    ids: Ids,
    rng: Rng,
    towns_total: u64,
    /// haven-services terms below a category.
    service_terms: Vec<Term>,
    cost: Vec<Term>,
    accessibility: Vec<Term>,
    low_barrier: Vec<Term>,
    population: Vec<Term>,
    in_person: Term,
    delivery: Vec<Term>,
    location_accessibility: Vec<Term>,
    // Scratch space, reused from service to service.
    org: Organization,
    picked: Vec<usize>,
    cost_picked: Vec<usize>,
    accessibility_picked: Vec<usize>,
    low_barrier_picked: Vec<usize>,
    population_picked: Vec<usize>,
    delivery_picked: Vec<usize>,
    text: String,
}

impl Generator {
    fn new(services: u64, seed: u64) -> Generator {
        let vocabulary = VOCABULARIES.get(Facet::ServiceTypes);
        let service_terms = vocabulary
            .terms
            .iter()
            .filter(|t| t.parent.is_some())
            .map(|t| Term::new(Facet::ServiceTypes, &t.code))
            .collect();
        Generator {
            seed,
            n_organizations: (services / SERVICES_PER_ORGANIZATION).max(1),
            ids: Ids::new(seed),
            rng: Rng::new(seed, STREAM_SERVICES, 0),
            towns_total: TOWNS.iter().map(|t| t.weight).sum(),
            service_terms,
            cost: Term::all(&COST),
            accessibility: Term::all(&ACCESSIBILITY),
            low_barrier: Term::all(&LOW_BARRIER),
            population: Term::all(&POPULATION),
            in_person: Term::new(Facet::Delivery, "in_person"),
            delivery: Term::all(&DELIVERY),
            location_accessibility: Term::all(&LOCATION_ACCESSIBILITY),
            org: Organization {
                index: u64::MAX,
                town: 0,
                name: String::new(),
                sites: [Site::default(); MAX_LOCATIONS],
                n_sites: 0,
            },
            picked: Vec::new(),
            cost_picked: Vec::new(),
            accessibility_picked: Vec::new(),
            low_barrier_picked: Vec::new(),
            population_picked: Vec::new(),
            delivery_picked: Vec::new(),
            text: String::new(),
        }
    }

    /// Draws organisation `index` into `self.org` (the same every time for the same index).
    fn organization(&mut self, index: u64) {
        if self.org.index == index {
            return;
        }
        let mut rng = Rng::new(self.seed, STREAM_ORGANIZATION, index);
        let org = &mut self.org;
        org.index = index;
        let mut x = rng.below(self.towns_total);
        org.town = TOWNS
            .iter()
            .position(|t| {
                if x < t.weight {
                    true
                } else {
                    x -= t.weight;
                    false
                }
            })
            .expect("x is below the total weight");
        let town = &TOWNS[org.town];
        org.name.clear();
        use std::fmt::Write as _;
        let _ = write!(
            org.name,
            "{} {} {} ({})",
            town.name,
            ORG_WORDS_A[rng.index(ORG_WORDS_A.len())],
            ORG_WORDS_B[rng.index(ORG_WORDS_B.len())],
            index + 1
        );
        org.n_sites = MAX_LOCATIONS.min(1 + rng.exponential(0.6) as usize);
        for site in &mut org.sites[..org.n_sites] {
            let (latitude, longitude) = if rng.chance(RURAL_SHARE) {
                let r = rng.uniform(15.0, 60.0);
                let a = rng.uniform(0.0, 2.0 * PI);
                offset(town.lat, town.lon, r * a.cos(), r * a.sin())
            } else {
                let (dx, dy) = (rng.gauss(town.spread), rng.gauss(town.spread));
                offset(town.lat, town.lon, dx, dy)
            };
            let street_number = 1 + rng.below(4999);
            let street = rng.index(STREETS.len());
            let mut accessibility = 0;
            for (k, (_, p)) in LOCATION_ACCESSIBILITY.codes.iter().enumerate() {
                if rng.chance(*p) {
                    accessibility |= 1 << k;
                }
            }
            *site = Site {
                latitude,
                longitude,
                street_number,
                street,
                accessibility,
            };
        }
    }

    /// One attribute linking `link_id` to `term`.
    fn attribute(buf: &mut Vec<u8>, id: &Id, link_id: &Id, entity: &str, term: &Term, first: bool) {
        if !first {
            buf.push(b',');
        }
        buf.push(b'{');
        field_id(buf, "id", id);
        field_id(buf, "link_id", link_id);
        field_id(buf, "taxonomy_term_id", &term.id);
        field(buf, "link_type", term.link_type);
        field(buf, "link_entity", entity);
        key_of(buf, "taxonomy_term");
        buf.extend_from_slice(&term.json);
        buf.push(b'}');
    }

    /// Site `j` of the current organisation, as a nested location with this `id`.
    fn location(&mut self, buf: &mut Vec<u8>, j: usize, id: &Id, org_id: &Id) {
        let org = &self.org;
        let site = org.sites[j];
        let town = &TOWNS[org.town];
        let (oi, jj) = (org.index, j as u64);
        buf.push(b'{');
        field_id(buf, "id", id);
        field(buf, "location_type", "physical");
        field_id(buf, "organization_id", org_id);
        key_of(buf, "name");
        buf.push(b'"');
        push_escaped(buf, &org.name);
        buf.extend_from_slice(b" site ");
        push_u64(buf, jj + 1);
        buf.push(b'"');
        key_of(buf, "latitude");
        push_f64(buf, site.latitude);
        key_of(buf, "longitude");
        push_f64(buf, site.longitude);
        key_of(buf, "addresses");
        buf.extend_from_slice(b"[{");
        let address = self.ids.id(&[Part::S("address"), Part::N(oi), Part::N(jj)]);
        field_id(buf, "id", &address);
        field_id(buf, "location_id", id);
        key_of(buf, "address_1");
        buf.push(b'"');
        push_u64(buf, site.street_number);
        buf.push(b' ');
        push_escaped(buf, STREETS[site.street]);
        buf.push(b'"');
        field(buf, "city", town.name);
        field(buf, "state_province", town.state);
        field(buf, "postal_code", town.postal_code);
        field(buf, "country", "US");
        field(buf, "address_type", "physical");
        buf.extend_from_slice(b"}]");
        if site.accessibility != 0 {
            key_of(buf, "attributes");
            buf.push(b'[');
            let mut first = true;
            for (k, term) in self.location_accessibility.iter().enumerate() {
                if site.accessibility & (1 << k) == 0 {
                    continue;
                }
                let attribute = self.ids.id(&[
                    Part::S("attribute"),
                    Part::S("loc-attr"),
                    Part::N(oi),
                    Part::N(jj),
                    Part::S(term.code),
                ]);
                Self::attribute(buf, &attribute, id, "location", term, first);
                first = false;
            }
            buf.push(b']');
        }
        buf.push(b'}');
    }

    /// Service `i`, as one line of ndjson appended to `buf`.
    fn service(&mut self, i: u64, buf: &mut Vec<u8>) {
        let org_index = self.rng.below(self.n_organizations);
        self.organization(org_index);
        let sid = self.ids.id(&[Part::S("service"), Part::N(i)]);
        let oid = self.ids.id(&[Part::S("organization"), Part::N(org_index)]);

        // Draws, in a fixed order.
        let rng = &mut self.rng;
        let n_terms = SERVICE_TERM_COUNTS[rng.index(SERVICE_TERM_COUNTS.len())];
        self.picked.clear();
        while self.picked.len() < n_terms {
            let t = rng.index(self.service_terms.len());
            if !self.picked.contains(&t) {
                self.picked.push(t);
            }
        }
        rng.draw(&COST, &mut self.cost_picked);
        if self.cost_picked.is_empty() {
            self.cost_picked.push(rng.index(COST.codes.len()));
        }
        rng.draw(&ACCESSIBILITY, &mut self.accessibility_picked);
        rng.draw(&LOW_BARRIER, &mut self.low_barrier_picked);
        rng.draw(&POPULATION, &mut self.population_picked);
        rng.draw(&DELIVERY, &mut self.delivery_picked);

        let main = &self.service_terms[self.picked[0]];
        let town = &TOWNS[self.org.town];

        buf.push(b'{');
        field_id(buf, "id", &sid);
        field_id(buf, "organization_id", &oid);
        self.text.clear();
        {
            use std::fmt::Write as _;
            let _ = write!(self.text, "{} ({}, #{})", main.name, town.name, i + 1);
        }
        field(buf, "name", &self.text);
        key_of(buf, "description");
        buf.push(b'"');
        push_escaped(buf, main.description);
        buf.extend_from_slice(b" Offered by ");
        push_escaped(buf, &self.org.name);
        buf.extend_from_slice(b". (Fictional benchmark record.)\"");
        field(buf, "status", "active");
        key_of(buf, "url");
        buf.extend_from_slice(b"\"https://org");
        push_u64(buf, org_index + 1);
        buf.extend_from_slice(b".haven-bench.example/services/");
        push_u64(buf, i + 1);
        buf.push(b'"');

        let extension = self.rng.below(100);
        let phone = self.ids.id(&[Part::S("phone"), Part::N(i)]);
        key_of(buf, "phones");
        buf.extend_from_slice(b"[{");
        field_id(buf, "id", &phone);
        field_id(buf, "service_id", &sid);
        key_of(buf, "number");
        buf.extend_from_slice(b"\"555-01");
        buf.push(b'0' + (extension / 10) as u8);
        buf.push(b'0' + (extension % 10) as u8);
        buf.push(b'"');
        field(buf, "type", "voice");
        buf.extend_from_slice(b"}]");

        // Service at locations: one, or two of the organisation's sites.
        let n_sites = self.org.n_sites;
        let n_sal = if n_sites == 1 || self.rng.chance(0.7) {
            1
        } else {
            2
        };
        let first_site = self.rng.index(n_sites);
        let second_site = if n_sal == 2 {
            (first_site + 1 + self.rng.index(n_sites - 1)) % n_sites
        } else {
            first_site
        };
        key_of(buf, "service_at_locations");
        buf.push(b'[');
        for k in 0..n_sal {
            let site = if k == 0 { first_site } else { second_site };
            if k > 0 {
                buf.push(b',');
            }
            let sal = self.ids.id(&[
                Part::S("service_at_location"),
                Part::N(i),
                Part::N(k as u64),
            ]);
            buf.push(b'{');
            field_id(buf, "id", &sal);
            field_id(buf, "service_id", &sid);
            let location = self.ids.id(&[
                Part::S("location"),
                Part::N(org_index),
                Part::N(site as u64),
            ]);
            field_id(buf, "location_id", &location);
            if self.rng.chance(SCHEDULE_SHARE) {
                let (byday, opens, closes, description) =
                    SCHEDULES[self.rng.index(SCHEDULES.len())];
                let schedule = self
                    .ids
                    .id(&[Part::S("schedule"), Part::N(i), Part::N(k as u64)]);
                key_of(buf, "schedules");
                buf.extend_from_slice(b"[{");
                field_id(buf, "id", &schedule);
                field_id(buf, "service_at_location_id", &sal);
                field(buf, "freq", "WEEKLY");
                field(buf, "byday", byday);
                field(buf, "opens_at", opens);
                field(buf, "closes_at", closes);
                field(buf, "description", description);
                buf.extend_from_slice(b"}]");
            }
            key_of(buf, "location");
            self.location(buf, site, &location, &oid);
            buf.push(b'}');
        }
        buf.push(b']');

        // Languages: English, and sometimes others.
        key_of(buf, "languages");
        buf.push(b'[');
        self.language(buf, i, &sid, "English", "en");
        for (name, code, p) in LANGUAGES {
            if self.rng.chance(*p) {
                buf.push(b',');
                self.language(buf, i, &sid, name, code);
            }
        }
        buf.push(b']');

        // The organisation.
        let org = &self.org;
        key_of(buf, "organization");
        buf.push(b'{');
        field_id(buf, "id", &oid);
        field(buf, "name", &org.name);
        key_of(buf, "description");
        buf.extend_from_slice(
            b"\"A fictional organisation generated for Haven's benchmarks, based in ",
        );
        push_escaped(buf, town.name);
        buf.extend_from_slice(b", ");
        push_escaped(buf, town.state);
        buf.extend_from_slice(b". (Fictional benchmark record.)\"");
        key_of(buf, "website");
        buf.extend_from_slice(b"\"https://org");
        push_u64(buf, org_index + 1);
        buf.extend_from_slice(b".haven-bench.example\"");
        key_of(buf, "email");
        buf.extend_from_slice(b"\"hello@org");
        push_u64(buf, org_index + 1);
        buf.extend_from_slice(b".haven-bench.example\"");
        buf.push(b'}');

        // Cost options, one per cost term.
        key_of(buf, "cost_options");
        buf.push(b'[');
        for (n, &c) in self.cost_picked.iter().enumerate() {
            let term = &self.cost[c];
            if n > 0 {
                buf.push(b',');
            }
            let id = self
                .ids
                .id(&[Part::S("cost_option"), Part::N(i), Part::S(term.code)]);
            buf.push(b'{');
            field_id(buf, "id", &id);
            field_id(buf, "service_id", &sid);
            field(buf, "currency", "USD");
            match term.code {
                "free" => {
                    field(buf, "option", "Free");
                    field_u64(buf, "amount", 0);
                    field(buf, "amount_description", "No charge.");
                }
                "sliding_scale" => {
                    let amount = SLIDING_SCALE_AMOUNTS[self.rng.index(SLIDING_SCALE_AMOUNTS.len())];
                    field(buf, "option", "Sliding scale");
                    field_u64(buf, "amount", amount);
                    field(
                        buf,
                        "amount_description",
                        "Lowest fee on the sliding scale.",
                    );
                }
                "pay_what_you_can" => {
                    field(buf, "option", "Pay what you can");
                    field_u64(buf, "amount", 0);
                    field(
                        buf,
                        "amount_description",
                        "Suggested donation; nobody is turned away.",
                    );
                }
                _ => {
                    field(buf, "option", term.name);
                    key_of(buf, "amount_description");
                    buf.extend_from_slice(b"\"Billed to ");
                    push_escaped(buf, term.name);
                    buf.extend_from_slice(b".\"");
                }
            }
            buf.push(b'}');
        }
        buf.push(b']');

        // Attributes: service types, then the filter vocabularies.
        key_of(buf, "attributes");
        buf.push(b'[');
        let mut first = true;
        let lists: [(&[Term], &[usize]); 5] = [
            (&self.service_terms, &self.picked),
            (&self.cost, &self.cost_picked),
            (&self.accessibility, &self.accessibility_picked),
            (&self.low_barrier, &self.low_barrier_picked),
            (&self.population, &self.population_picked),
        ];
        let delivery = std::iter::once(&self.in_person)
            .chain(self.delivery_picked.iter().map(|&k| &self.delivery[k]));
        let terms = lists
            .into_iter()
            .flat_map(|(terms, picked)| picked.iter().map(move |&k| &terms[k]))
            .chain(delivery);
        for term in terms {
            let id = self.ids.id(&[
                Part::S("attribute"),
                Part::S("svc"),
                Part::N(i),
                Part::S(term.code),
            ]);
            Self::attribute(buf, &id, &sid, "service", term, first);
            first = false;
        }
        buf.push(b']');

        // Ages: youth services are for 12-24; some others are for adults.
        let youth = self
            .population_picked
            .iter()
            .any(|&k| POPULATION.codes[k].0 == "youth");
        if youth {
            field_u64(buf, "minimum_age", 12);
            field_u64(buf, "maximum_age", 24);
        } else if self.rng.chance(0.3) {
            field_u64(buf, "minimum_age", 18);
        }
        buf.extend_from_slice(b"}\n");
    }

    fn language(&mut self, buf: &mut Vec<u8>, i: u64, sid: &Id, name: &str, code: &str) {
        let id = self
            .ids
            .id(&[Part::S("language"), Part::N(i), Part::S(code)]);
        buf.push(b'{');
        field_id(buf, "id", &id);
        field_id(buf, "service_id", sid);
        field(buf, "name", name);
        field(buf, "code", code);
        buf.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;
    use crate::hsds::model::{Attribute, Service};
    use crate::hsds::validate;

    fn generate(n: u64, seed: u64) -> Vec<u8> {
        let mut out = Vec::new();
        services(n, seed, &mut out).unwrap();
        out
    }

    fn parse(out: &[u8]) -> Vec<Service> {
        std::str::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Great-circle distance in km.
    fn km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
        let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
        let dp = p2 - p1;
        let dl = (lon2 - lon1).to_radians();
        let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        2.0 * 6371.0 * a.sqrt().asin()
    }

    #[test]
    fn ids_are_uuid5_of_kind_and_parts() {
        let namespace = Uuid::new_v5(&Uuid::NAMESPACE_URL, b"https://haven.example/bench/seed/42");
        let mut ids = Ids::new(42);
        let id = ids.id(&[
            Part::S("attribute"),
            Part::S("svc"),
            Part::N(17),
            Part::S("free"),
        ]);
        let expected = Uuid::new_v5(&namespace, b"attribute:svc:17:free");
        assert_eq!(id, hyphenated(expected));
        let id = ids.id(&[Part::S("service"), Part::N(0)]);
        assert_eq!(id, hyphenated(Uuid::new_v5(&namespace, b"service:0")));
    }

    #[test]
    fn the_same_seed_gives_the_same_bytes() {
        let a = generate(300, 7);
        assert_eq!(a, generate(300, 7));
        assert_ne!(a, generate(300, 8));
        assert_eq!(a.iter().filter(|&&b| b == b'\n').count(), 300);
        // A longer run with as many organisations starts with the same services.
        assert!(generate(301, 7).starts_with(&a));

        let mut q1 = Vec::new();
        let mut q2 = Vec::new();
        let mut q3 = Vec::new();
        queries(50, 1, &mut q1).unwrap();
        queries(50, 1, &mut q2).unwrap();
        queries(50, 2, &mut q3).unwrap();
        assert_eq!(q1, q2);
        assert_ne!(q1, q3);
        let q1 = String::from_utf8(q1).unwrap();
        assert_eq!(q1.lines().count(), 50);
        for line in q1.lines() {
            assert!(
                line.starts_with("/service_at_locations?lat=")
                    && line.ends_with(
                        "&proximity=10000&cost=free,sliding_scale&accessibility=wheelchair&per_page=20"
                    ),
                "{line}"
            );
        }
    }

    #[test]
    fn every_service_is_valid_hsds_with_havens_vocabularies() {
        let services = parse(&generate(2000, 1));
        assert_eq!(services.len(), 2000);
        let mut codes: HashMap<&str, HashSet<String>> = HashMap::new();
        let mut check = |a: &Attribute| {
            let term = a
                .taxonomy_term
                .as_ref()
                .expect("attributes carry their term");
            let taxonomy = term.taxonomy.as_deref().unwrap();
            let vocabulary = VOCABULARIES.by_taxonomy(taxonomy).unwrap();
            let code = term.code.as_deref().unwrap();
            let id = vocabulary.term_id(code).to_string();
            assert_eq!(a.taxonomy_term_id.as_ref(), Some(&id));
            assert_eq!(term.id, id);
            assert_eq!(
                term.taxonomy_id.as_deref(),
                Some(vocabulary.taxonomy_id().to_string().as_str())
            );
            let known = vocabulary.terms.iter().find(|t| t.code == code).unwrap();
            assert_eq!(term.name, known.name);
            codes
                .entry(vocabulary.taxonomy)
                .or_default()
                .insert(code.to_string());
        };
        let mut ids = HashSet::new();
        for s in &services {
            assert_eq!(validate::service(s), vec![], "{}", s.id);
            assert!(ids.insert(s.id.clone()), "duplicate id {}", s.id);
            s.attributes.iter().for_each(&mut check);
            for sal in &s.service_at_locations {
                sal.location
                    .as_ref()
                    .unwrap()
                    .attributes
                    .iter()
                    .for_each(&mut check);
            }
            // Cost options match the cost terms.
            let cost: Vec<&str> = s
                .attributes
                .iter()
                .filter_map(|a| a.taxonomy_term.as_ref())
                .filter(|t| t.taxonomy.as_deref() == Some("haven-cost"))
                .map(|t| t.code.as_deref().unwrap())
                .collect();
            assert!((1..=2).contains(&cost.len()));
            assert_eq!(s.cost_options.len(), cost.len());
            for (option, code) in s.cost_options.iter().zip(&cost) {
                if *code == "free" {
                    assert_eq!(option.amount, Some(0.0));
                }
            }
            assert_eq!(s.languages[0].code.as_deref(), Some("en"));
            assert!((1..=2).contains(&s.service_at_locations.len()));
        }
        // Every vocabulary, and every term a service can carry (all but the categories).
        for vocabulary in &VOCABULARIES.all {
            let seen = codes
                .get(vocabulary.taxonomy)
                .unwrap_or_else(|| panic!("{} never appears", vocabulary.taxonomy));
            for t in vocabulary
                .terms
                .iter()
                .filter(|t| vocabulary.facet != Facet::ServiceTypes || t.parent.is_some())
            {
                assert!(
                    seen.contains(&t.code),
                    "{} {} never appears",
                    vocabulary.taxonomy,
                    t.code
                );
            }
        }
    }

    #[test]
    fn locations_cluster_around_towns_and_are_shared() {
        let services = parse(&generate(2000, 5));
        let mut locations = HashMap::new();
        let mut organizations = HashSet::new();
        let (mut sals, mut scheduled) = (0, 0);
        for s in &services {
            organizations.insert(s.organization_id.clone().unwrap());
            for sal in &s.service_at_locations {
                sals += 1;
                scheduled += usize::from(!sal.schedules.is_empty());
                let l = sal.location.clone().unwrap();
                // A shared location is the same object in every service that has it.
                if let Some(before) = locations.insert(l.id.clone(), l.clone()) {
                    assert_eq!(before, l);
                }
            }
        }
        assert_eq!(organizations.len(), 2000 / 30);
        assert!(locations.len() < sals, "locations are shared");
        let share = scheduled as f64 / sals as f64;
        assert!((0.55..0.65).contains(&share), "{share} scheduled");

        let mut towns = HashSet::new();
        let (mut near, mut out_of_town) = (0, 0);
        for l in locations.values() {
            let (lat, lon) = (l.latitude.unwrap(), l.longitude.unwrap());
            let (nearest, d) = TOWNS
                .iter()
                .enumerate()
                .map(|(k, t)| (k, km(lat, lon, t.lat, t.lon)))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .unwrap();
            towns.insert(nearest);
            near += usize::from(d <= 30.0);
            out_of_town += usize::from(d > 15.0);
            assert!(d < 70.0, "{} is {d} km from any town", l.id);
        }
        let n = locations.len() as f64;
        assert!(near as f64 / n > 0.85, "{near} of {n} within 30 km");
        assert!(
            out_of_town as f64 / n > 0.02,
            "{out_of_town} of {n} beyond 15 km"
        );
        assert!(towns.len() >= 18, "{} towns", towns.len());
    }
}
