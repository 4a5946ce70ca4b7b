//! Query parameters → a typed, validated search. Pure: no I/O.
//!
//! Every parameter arrives as text so that a bad value becomes a 400 naming that parameter
//! (rather than a framework error), and all bad parameters are reported at once.

use std::future::{ready, Ready};

use actix_web::{dev::Payload, FromRequest, HttpRequest};
use chrono::{DateTime, NaiveDate, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, FieldError};
use crate::hsds::validate::{is_language_code, is_uuid};
use crate::vocab::{Facet, VOCABULARIES};

pub const DEFAULT_PER_PAGE: i64 = 20;
pub const MAX_PER_PAGE: i64 = 100;
pub const DEFAULT_PROXIMITY: f64 = 10_000.0;
pub const MAX_PROXIMITY: f64 = 250_000.0;
const MAX_SEARCH_LEN: usize = 200;
const MAX_LIST_ITEMS: usize = 60;
const STATUSES: [&str; 4] = ["active", "inactive", "defunct", "temporarily closed"];

/// Query parameters, with a repeated parameter read as a comma list (`cost=free&cost=medicaid`
/// is `cost=free,medicaid`), and an unreadable query string a 400 rather than a framework error.
pub struct Params<T>(pub T);

impl<T: DeserializeOwned> Params<T> {
    pub fn parse(query: &str) -> Result<T, ApiError> {
        let unreadable = |e: serde_urlencoded::de::Error| {
            ApiError::invalid("query", format!("the query string cannot be read: {e}"))
        };
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).map_err(unreadable)?;
        let mut merged: Vec<(String, String)> = Vec::with_capacity(pairs.len());
        for (k, v) in pairs {
            match merged.iter_mut().find(|(name, _)| *name == k) {
                Some((_, existing)) => {
                    existing.push(',');
                    existing.push_str(&v);
                }
                None => merged.push((k, v)),
            }
        }
        let again = serde_urlencoded::to_string(&merged)
            .map_err(|e| ApiError::invalid("query", e.to_string()))?;
        serde_urlencoded::from_str(&again).map_err(unreadable)
    }
}

impl<T: DeserializeOwned> FromRequest for Params<T> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Self::parse(req.query_string()).map(Params))
    }
}

// The allowed values of the vocabulary parameters, for the OpenAPI document only: parsing
// checks against the vocabularies themselves, and a test keeps the two the same.

/// A `haven-cost` code.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CostCode {
    Free,
    SlidingScale,
    Medicaid,
    Medicare,
    PrivateInsurance,
    PayWhatYouCan,
}

/// A `haven-accessibility` code.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccessibilityCode {
    Wheelchair,
    SignLanguage,
    Interpreter,
    HearingLoop,
    Braille,
    AccessibleRestroom,
}

/// A `haven-delivery` code.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryCode {
    InPerson,
    Virtual,
    Phone,
    Outreach,
}

/// A `haven-low-barrier` code.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LowBarrierCode {
    WalkIn,
    NoIdRequired,
    Anonymous,
    NoAbstinenceRequired,
    NoInsuranceRequired,
    NoReferralRequired,
}

/// A `haven-population` code.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PopulationCode {
    PeopleWhoUseDrugs,
    Youth,
    Women,
    Lgbtq,
    SexWorkers,
    Veterans,
    Families,
    Homeless,
}

/// An HSDS service status.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatusCode {
    Active,
    Inactive,
    Defunct,
    #[serde(rename = "temporarily closed")]
    TemporarilyClosed,
}

/// A response format.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FormatCode {
    Json,
    Ndjson,
}

/// The query parameters of `GET /services` and `GET /service_at_locations`.
#[derive(Debug, Default, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Keywords over service, organisation and taxonomy-term names and descriptions. Every word
    /// must match; a word matches as a prefix (`nalox` finds naloxone).
    pub search: Option<String>,
    /// Page number, from 1.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000000)]
    pub page: Option<String>,
    /// Items per page: default 20, maximum 100.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub per_page: Option<String>,
    /// Services linked (by an attribute) to this taxonomy term.
    #[param(value_type = Option<String>, format = Uuid)]
    pub taxonomy_term_id: Option<String>,
    /// Services linked to any term of this taxonomy.
    #[param(value_type = Option<String>, format = Uuid)]
    pub taxonomy_id: Option<String>,
    /// Services of this organisation.
    #[param(value_type = Option<String>, format = Uuid)]
    pub organization_id: Option<String>,
    /// Services changed in Haven on or after this time (RFC 3339, or a date).
    #[param(value_type = Option<String>, format = DateTime)]
    pub modified_after: Option<String>,
    /// `true`: items are just `id` and `last_modified` (when Haven last changed the service).
    #[param(value_type = Option<bool>)]
    pub minimal: Option<String>,
    /// `true`: items are fully nested, as `GET /services/{id}` returns them.
    #[param(value_type = Option<bool>)]
    pub full: Option<String>,
    /// `json` (paged, the default) or `ndjson` (every match, one per line, unpaged).
    #[param(value_type = Option<FormatCode>)]
    pub format: Option<String>,
    /// Latitude of the search point (WGS84). Give with `lon`.
    #[param(value_type = Option<f64>, minimum = -90, maximum = 90)]
    pub lat: Option<String>,
    /// Longitude of the search point (WGS84). Give with `lat`.
    #[param(value_type = Option<f64>, minimum = -180, maximum = 180)]
    pub lon: Option<String>,
    /// Radius around the point in metres, inclusive: default 10000, maximum 250000.
    #[param(value_type = Option<f64>, minimum = 0, maximum = 250000)]
    pub proximity: Option<String>,
    /// Haven service-type codes or category codes, any of (`HR01,MD`). See the
    /// `haven-services` taxonomy. (Its schema, every code, is written from the vocabulary by
    /// `openapi::complete`.)
    #[param(value_type = Option<String>)]
    pub taxonomy_code: Option<String>,
    /// Any of: `free, sliding_scale, medicaid, medicare, private_insurance, pay_what_you_can`.
    #[param(value_type = Option<Vec<CostCode>>, style = Form, explode = false)]
    pub cost: Option<String>,
    /// Services whose cheapest cost option is at most this amount (free counts as 0).
    #[param(value_type = Option<f64>, minimum = 0, maximum = 1000000000000.0)]
    pub max_fee: Option<String>,
    /// All of: `wheelchair, sign_language, interpreter, hearing_loop, braille,
    /// accessible_restroom`.
    #[param(value_type = Option<Vec<AccessibilityCode>>, style = Form, explode = false)]
    pub accessibility: Option<String>,
    /// Language codes, any of: ISO 639-1 where the language has one (`en`, `es`), ISO 639-3
    /// otherwise (`ase`).
    #[param(value_type = Option<Vec<String>>, style = Form, explode = false, example = json!(["es", "ase"]))]
    pub language: Option<String>,
    /// Any of: `in_person, virtual, phone, outreach`.
    #[param(value_type = Option<Vec<DeliveryCode>>, style = Form, explode = false)]
    pub delivery: Option<String>,
    /// All of: `walk_in, no_id_required, anonymous, no_abstinence_required,
    /// no_insurance_required, no_referral_required`.
    #[param(value_type = Option<Vec<LowBarrierCode>>, style = Form, explode = false)]
    pub low_barrier: Option<String>,
    /// Any of: `people_who_use_drugs, youth, women, lgbtq, sex_workers, veterans, families,
    /// homeless`.
    #[param(value_type = Option<Vec<PopulationCode>>, style = Form, explode = false)]
    pub population: Option<String>,
    /// The client's age in years: services whose minimum and maximum age admit it.
    #[param(value_type = Option<f64>, minimum = 0, maximum = 150)]
    pub age: Option<String>,
    /// `true`: only services open now, in each location's local time. Services with no known
    /// hours are left out. With `open_at`, the instant is `open_at`'s.
    #[param(value_type = Option<bool>)]
    pub open_now: Option<String>,
    /// Only services open at this instant (RFC 3339), in each location's local time.
    #[param(value_type = Option<String>, format = DateTime)]
    pub open_at: Option<String>,
    /// Postcode of a service's location (`/service_at_locations`; also accepted on `/services`).
    /// With `proximity` and no `lat`/`lon`: services within that distance of the centroid of
    /// the locations with this postcode.
    pub postcode: Option<String>,
    /// Service status, any of `active, inactive, defunct, temporarily closed`; default `active`
    /// (a Haven extension: people should not be sent to a closed service).
    #[param(value_type = Option<Vec<StatusCode>>, style = Form, explode = false)]
    pub status: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub lat: f64,
    pub lon: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Ndjson,
}

/// What the caller asked for, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    pub page: i64,
    pub per_page: i64,
    pub point: Option<Point>,
    /// Metres; meaningful with a point.
    pub radius: f64,
    /// Any-of mask over `haven-services` (0: no filter).
    pub service_types: i64,
    /// Any-of.
    pub cost: i64,
    /// All-of.
    pub accessibility: i64,
    /// Any-of.
    pub delivery: i64,
    /// All-of.
    pub low_barrier: i64,
    /// Any-of.
    pub population: i64,
    pub languages: Vec<String>,
    pub max_fee: Option<f64>,
    pub age: Option<f64>,
    pub open_at: Option<DateTime<Utc>>,
    /// Lower-cased keyword tokens, all of which must match.
    pub words: Vec<String>,
    pub taxonomy_term_id: Option<String>,
    pub taxonomy_id: Option<String>,
    pub organization_id: Option<String>,
    /// In the stored timestamp format, for comparison as text.
    pub modified_after: Option<String>,
    pub postcode: Option<String>,
    /// `postcode` with `proximity` and no point: search around the postcode's centroid (the
    /// HSDS meaning), rather than for the postcode itself.
    pub around_postcode: bool,
    pub statuses: Vec<String>,
    pub minimal: bool,
    pub full: bool,
    pub format: Format,
}

impl Default for Search {
    fn default() -> Self {
        Search {
            page: 1,
            per_page: DEFAULT_PER_PAGE,
            point: None,
            radius: DEFAULT_PROXIMITY,
            service_types: 0,
            cost: 0,
            accessibility: 0,
            delivery: 0,
            low_barrier: 0,
            population: 0,
            languages: vec![],
            max_fee: None,
            age: None,
            open_at: None,
            words: vec![],
            taxonomy_term_id: None,
            taxonomy_id: None,
            organization_id: None,
            modified_after: None,
            postcode: None,
            around_postcode: false,
            statuses: vec!["active".to_string()],
            minimal: false,
            full: false,
            format: Format::Json,
        }
    }
}

/// Collects errors while parsing, so every bad parameter is reported.
#[derive(Default)]
struct Errors(Vec<FieldError>);

impl Errors {
    fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }
}

/// A text or list parameter: an empty one (`search=`, as HTML forms send) is as if absent.
fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// A typed parameter (a number, a UUID, a boolean, an instant): present means it must parse,
/// so `per_page=` is an error rather than a quiet default.
fn typed(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim)
}

fn number(errors: &mut Errors, field: &str, v: &Option<String>, min: f64, max: f64) -> Option<f64> {
    let v = typed(v)?;
    match v.parse::<f64>() {
        Ok(n) if n.is_finite() && (min..=max).contains(&n) => Some(n),
        Ok(_) => {
            errors.add(field, format!("must be between {min} and {max}"));
            None
        }
        Err(_) => {
            errors.add(field, "must be a number");
            None
        }
    }
}

fn integer(
    errors: &mut Errors,
    field: &str,
    v: &Option<String>,
    min: i64,
    max: i64,
) -> Option<i64> {
    let v = typed(v)?;
    match v.parse::<i64>() {
        Ok(n) if (min..=max).contains(&n) => Some(n),
        Ok(_) => {
            errors.add(field, format!("must be a whole number from {min} to {max}"));
            None
        }
        Err(_) => {
            errors.add(field, format!("must be a whole number from {min} to {max}"));
            None
        }
    }
}

pub fn boolean(errors_field: &str, v: &Option<String>) -> Result<Option<bool>, FieldError> {
    match typed(v).map(str::to_ascii_lowercase).as_deref() {
        None => Ok(None),
        Some("true" | "1") => Ok(Some(true)),
        Some("false" | "0") => Ok(Some(false)),
        Some(_) => Err(FieldError::new(errors_field, "must be true or false")),
    }
}

/// A boolean parameter, `false` when absent; a bad value is recorded in `errors`.
pub fn flag(errors: &mut Vec<FieldError>, field: &str, v: &Option<String>) -> bool {
    boolean(field, v)
        .map_err(|e| errors.push(e))
        .ok()
        .flatten()
        .unwrap_or(false)
}

fn list(errors: &mut Errors, field: &str, v: &Option<String>) -> Vec<String> {
    let Some(v) = given(v) else { return vec![] };
    let items: Vec<String> = v
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if items.len() > MAX_LIST_ITEMS {
        errors.add(field, format!("at most {MAX_LIST_ITEMS} values"));
        return vec![];
    }
    items
}

/// A mask of vocabulary codes; unknown codes are reported with the allowed ones.
fn mask(errors: &mut Errors, facet: Facet, v: &Option<String>) -> i64 {
    let vocab = VOCABULARIES.get(facet);
    let mut mask = 0;
    for item in list(errors, vocab.param, v) {
        let code = if facet == Facet::ServiceTypes {
            item.to_ascii_uppercase()
        } else {
            item.to_ascii_lowercase()
        };
        match vocab.bit(&code) {
            Some(bit) => mask |= bit,
            None => {
                let allowed: Vec<&str> = if facet == Facet::ServiceTypes {
                    vec!["a haven-services code such as HR01 or a category such as MD"]
                } else {
                    vocab.codes().collect()
                };
                errors.add(
                    vocab.param,
                    format!("unknown value {item:?}; allowed: {}", allowed.join(", ")),
                );
            }
        }
    }
    mask
}

fn uuid_param(errors: &mut Errors, field: &str, v: &Option<String>) -> Option<String> {
    uuid_value(field, v).map_err(|e| errors.0.push(e)).ok()?
}

/// A UUID parameter, lower-cased; present but not a UUID (empty included) is an error.
pub fn uuid_value(field: &str, v: &Option<String>) -> Result<Option<String>, FieldError> {
    let Some(v) = typed(v) else { return Ok(None) };
    let v = v.to_ascii_lowercase();
    if is_uuid(&v) {
        Ok(Some(v))
    } else {
        Err(FieldError::new(field, "must be a UUID"))
    }
}

/// The timestamp format Haven stores, which sorts as text in time order.
pub fn stored_timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

fn instant(
    errors: &mut Errors,
    field: &str,
    v: &Option<String>,
    date_ok: bool,
) -> Option<DateTime<Utc>> {
    let v = typed(v)?;
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Some(t.with_timezone(&Utc));
    }
    if date_ok {
        if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
            return Some(d.and_hms_opt(0, 0, 0).expect("midnight").and_utc());
        }
        errors.add(
            field,
            "must be an RFC 3339 date-time such as 2026-11-27T09:30:00Z, or a date",
        );
    } else {
        errors.add(
            field,
            "must be an RFC 3339 date-time such as 2026-11-27T09:30:00-05:00",
        );
    }
    None
}

/// Keyword tokens: runs of letters and digits, lower-cased. Anything else separates words,
/// so no input can inject full-text query syntax.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .take(16)
        .collect()
}

impl SearchParams {
    /// Validates the parameters; `now` is the instant `open_now` refers to.
    pub fn parse(&self, now: DateTime<Utc>) -> Result<Search, ApiError> {
        let mut e = Errors::default();
        let mut s = Search {
            page: integer(&mut e, "page", &self.page, 1, 1_000_000).unwrap_or(1),
            per_page: integer(&mut e, "per_page", &self.per_page, 1, MAX_PER_PAGE)
                .unwrap_or(DEFAULT_PER_PAGE),
            ..Search::default()
        };
        let lat = number(&mut e, "lat", &self.lat, -90.0, 90.0);
        let lon = number(&mut e, "lon", &self.lon, -180.0, 180.0);
        match (typed(&self.lat), typed(&self.lon)) {
            (Some(_), None) => e.add("lon", "is required with lat"),
            (None, Some(_)) => e.add("lat", "is required with lon"),
            _ => {}
        }
        if let (Some(lat), Some(lon)) = (lat, lon) {
            s.point = Some(Point { lat, lon });
        }
        if let Some(p) = typed(&self.proximity) {
            match p.parse::<f64>() {
                Ok(r) if r.is_finite() && (0.0..=MAX_PROXIMITY).contains(&r) => s.radius = r,
                Ok(_) => e.add(
                    "proximity",
                    format!("must be a distance in metres from 0 to {MAX_PROXIMITY}"),
                ),
                Err(_) => e.add("proximity", "must be a number of metres"),
            }
            // Without lat/lon it is a radius around the postcode's centre; with neither, there
            // is nothing to measure from and it has no effect.
            if typed(&self.lat).is_none()
                && typed(&self.lon).is_none()
                && given(&self.postcode).is_some()
            {
                s.around_postcode = true;
            }
        }
        s.service_types = mask(&mut e, Facet::ServiceTypes, &self.taxonomy_code);
        s.cost = mask(&mut e, Facet::Cost, &self.cost);
        s.accessibility = mask(&mut e, Facet::Accessibility, &self.accessibility);
        s.delivery = mask(&mut e, Facet::Delivery, &self.delivery);
        s.low_barrier = mask(&mut e, Facet::LowBarrier, &self.low_barrier);
        s.population = mask(&mut e, Facet::Population, &self.population);
        for code in list(&mut e, "language", &self.language) {
            let code = code.to_ascii_lowercase();
            if is_language_code(code.split('-').next().unwrap_or_default()) {
                s.languages.push(code);
            } else {
                e.add(
                    "language",
                    format!("{code:?} is not an ISO 639-1 or ISO 639-3 language code"),
                );
            }
        }
        s.max_fee = number(&mut e, "max_fee", &self.max_fee, 0.0, 1e12);
        s.age = number(&mut e, "age", &self.age, 0.0, 150.0);
        let open_now = flag(&mut e.0, "open_now", &self.open_now);
        s.open_at = instant(&mut e, "open_at", &self.open_at, false);
        // Given both, `open_at` names the instant and `open_now` asks for the same filter.
        if open_now && s.open_at.is_none() {
            s.open_at = Some(now);
        }
        if let Some(text) = given(&self.search) {
            if text.chars().count() > MAX_SEARCH_LEN {
                e.add("search", format!("at most {MAX_SEARCH_LEN} characters"));
            }
            s.words = words(text);
        }
        s.taxonomy_term_id = uuid_param(&mut e, "taxonomy_term_id", &self.taxonomy_term_id);
        s.taxonomy_id = uuid_param(&mut e, "taxonomy_id", &self.taxonomy_id);
        s.organization_id = uuid_param(&mut e, "organization_id", &self.organization_id);
        s.modified_after =
            instant(&mut e, "modified_after", &self.modified_after, true).map(stored_timestamp);
        s.postcode = given(&self.postcode).map(normalise_postcode);
        if let Some(p) = &s.postcode {
            if p.len() > 16 || !p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                e.add("postcode", "must be up to 16 letters, digits and hyphens");
            }
        }
        let statuses = list(&mut e, "status", &self.status);
        if !statuses.is_empty() {
            s.statuses.clear();
            for st in statuses {
                let st = st.to_ascii_lowercase();
                if STATUSES.contains(&st.as_str()) {
                    s.statuses.push(st);
                } else {
                    e.add(
                        "status",
                        format!("unknown value {st:?}; allowed: {}", STATUSES.join(", ")),
                    );
                }
            }
        }
        s.minimal = flag(&mut e.0, "minimal", &self.minimal);
        s.full = flag(&mut e.0, "full", &self.full);
        s.format = match given(&self.format).map(str::to_ascii_lowercase).as_deref() {
            None | Some("json") => Format::Json,
            Some("ndjson") => Format::Ndjson,
            Some(_) => {
                e.add("format", "must be json or ndjson");
                Format::Json
            }
        };
        if e.0.is_empty() {
            Ok(s)
        } else {
            Err(ApiError::Invalid(e.0))
        }
    }
}

/// Postcodes compare upper-cased without spaces (`sw1a 1aa` = `SW1A1AA`).
pub fn normalise_postcode(p: &str) -> String {
    p.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase()
}

/// The page-only parameters of the other list endpoints.
#[derive(Debug, Default, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page number, from 1.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000000)]
    pub page: Option<String>,
    /// Items per page: default 20, maximum 100.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub per_page: Option<String>,
}

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub page: i64,
    pub per_page: i64,
}

impl PageParams {
    pub fn parse(&self) -> Result<PageRequest, ApiError> {
        let mut e = Errors::default();
        let page = integer(&mut e, "page", &self.page, 1, 1_000_000).unwrap_or(1);
        let per_page = integer(&mut e, "per_page", &self.per_page, 1, MAX_PER_PAGE)
            .unwrap_or(DEFAULT_PER_PAGE);
        if e.0.is_empty() {
            Ok(PageRequest { page, per_page })
        } else {
            Err(ApiError::Invalid(e.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> Result<Search, ApiError> {
        let p: SearchParams = serde_urlencoded::from_str(q).unwrap();
        p.parse(Utc::now())
    }

    fn fields(q: &str) -> Vec<String> {
        match parse(q) {
            Err(ApiError::Invalid(errors)) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("{q}: expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn bad_parameters_are_named() {
        assert_eq!(fields("lat=91&lon=0"), ["lat"]);
        assert_eq!(fields("lat=1&lon=1&proximity=-5"), ["proximity"]);
        assert_eq!(fields("lat=1&lon=1&proximity=250001"), ["proximity"]);
        assert_eq!(fields("cost=cheap"), ["cost"]);
        assert_eq!(fields("per_page=101"), ["per_page"]);
        assert_eq!(fields("per_page=0"), ["per_page"]);
        assert_eq!(fields("open_at=tomorrow"), ["open_at"]);
        assert_eq!(fields("organization_id=42"), ["organization_id"]);
        assert_eq!(fields("lat=1"), ["lon"]);
        assert!(
            parse("proximity=100").is_ok(),
            "a radius alone has no effect"
        );
        assert_eq!(fields("per_page="), ["per_page"], "present but empty");
        assert!(
            parse("search=&language=").is_ok(),
            "empty text and lists are absent"
        );
        assert_eq!(fields("language=english"), ["language"]);
        assert_eq!(fields("lat=NaN&lon=1"), ["lat"]);
        assert_eq!(
            fields("cost=cheap&accessibility=stairs"),
            ["cost", "accessibility"]
        );
    }

    #[test]
    fn lists_become_masks() {
        let s = parse("taxonomy_code=hr01,MD&cost=free,medicaid&low_barrier=walk_in").unwrap();
        let services = VOCABULARIES.get(Facet::ServiceTypes);
        assert_eq!(
            s.service_types,
            services.bit("HR01").unwrap() | services.bit("MD").unwrap()
        );
        assert_eq!(s.cost.count_ones(), 2);
        assert_eq!(s.low_barrier.count_ones(), 1);
    }

    #[test]
    fn defaults() {
        let s = parse("lat=38.03&lon=-78.48").unwrap();
        assert_eq!(s.radius, DEFAULT_PROXIMITY);
        assert_eq!(s.per_page, DEFAULT_PER_PAGE);
        assert_eq!(s.statuses, ["active"]);
        assert_eq!(parse("").unwrap().point, None);
    }

    #[test]
    fn documented_values_are_the_vocabularies() {
        fn names<T: Serialize>(values: &[T]) -> Vec<String> {
            values
                .iter()
                .map(|v| {
                    serde_json::to_value(v)
                        .unwrap()
                        .as_str()
                        .unwrap()
                        .to_string()
                })
                .collect()
        }
        let codes =
            |f: Facet| -> Vec<String> { VOCABULARIES.get(f).codes().map(str::to_string).collect() };
        use AccessibilityCode as A;
        use LowBarrierCode as L;
        use PopulationCode as P;
        assert_eq!(
            names(&[
                CostCode::Free,
                CostCode::SlidingScale,
                CostCode::Medicaid,
                CostCode::Medicare,
                CostCode::PrivateInsurance,
                CostCode::PayWhatYouCan
            ]),
            codes(Facet::Cost)
        );
        assert_eq!(
            names(&[
                A::Wheelchair,
                A::SignLanguage,
                A::Interpreter,
                A::HearingLoop,
                A::Braille,
                A::AccessibleRestroom
            ]),
            codes(Facet::Accessibility)
        );
        assert_eq!(
            names(&[
                DeliveryCode::InPerson,
                DeliveryCode::Virtual,
                DeliveryCode::Phone,
                DeliveryCode::Outreach
            ]),
            codes(Facet::Delivery)
        );
        assert_eq!(
            names(&[
                L::WalkIn,
                L::NoIdRequired,
                L::Anonymous,
                L::NoAbstinenceRequired,
                L::NoInsuranceRequired,
                L::NoReferralRequired
            ]),
            codes(Facet::LowBarrier)
        );
        assert_eq!(
            names(&[
                P::PeopleWhoUseDrugs,
                P::Youth,
                P::Women,
                P::Lgbtq,
                P::SexWorkers,
                P::Veterans,
                P::Families,
                P::Homeless
            ]),
            codes(Facet::Population)
        );
        assert_eq!(
            names(&[
                StatusCode::Active,
                StatusCode::Inactive,
                StatusCode::Defunct,
                StatusCode::TemporarilyClosed
            ]),
            STATUSES
        );
    }

    #[test]
    fn repeated_parameters_are_lists() {
        let p: SearchParams = Params::parse("cost=free&cost=medicaid&lat=1").unwrap();
        assert_eq!(p.cost.as_deref(), Some("free,medicaid"));
        assert_eq!(p.lat.as_deref(), Some("1"));
    }

    #[test]
    fn search_words_cannot_inject_syntax() {
        assert_eq!(
            words("Naloxone \"OR\" * near:me"),
            ["naloxone", "or", "near", "me"]
        );
    }
}
