//! Validation of HSDS 3.0 objects beyond what serde checks. Pure functions, no I/O.
//!
//! [`service`], [`organization`], [`location`] and [`service_at_location`] walk a whole nested
//! object and return every problem found, each naming its field by a JSON path into the body the
//! caller sent (`id`, `service_at_locations[0].location.latitude`, `cost_options[1].amount`).
//! An empty list means valid.
//!
//! What is checked:
//! - ids: every `id` and `*_id` present is a UUID in canonical form; required ids are present;
//!   a child's link to its enclosing object (`phones[0].service_id`, `attributes[2].link_id`,
//!   `service_at_locations[0].location_id` against the nested location's id, ...) must agree
//!   with it when both are given;
//! - fields the schemas require (`name`, `status`, `address_1`, ...) are present and not blank;
//! - the enumerations the schemas declare (`status`, `location_type`, `address_type`, `freq`,
//!   `wkst`) and the iCal syntax of `byday`, `bymonthday`, `byweekno`, `byyearday`;
//! - numbers: coordinates in range and given as a pair, ages, amounts, counts;
//! - codes: language codes, currency codes, country codes;
//! - formats: http(s) URLs, emails, dates, date-times and times.
//!
//! The `is_*` and `parse_*` helpers are public for reuse (query parameters, schedules).

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, Weekday};

use crate::error::FieldError;
use crate::hsds::model::*;

/// `service.status` values (HSDS 3.0 enum).
pub const SERVICE_STATUSES: &[&str] = &["active", "inactive", "defunct", "temporarily closed"];
/// `location.location_type` values (HSDS 3.0 enum).
pub const LOCATION_TYPES: &[&str] = &["physical", "postal", "virtual"];
/// `address.address_type` values (HSDS 3.0 enum).
pub const ADDRESS_TYPES: &[&str] = &["physical", "postal", "virtual"];
/// `schedule.freq` values (HSDS 3.0 enum).
pub const SCHEDULE_FREQS: &[&str] = &["WEEKLY", "MONTHLY"];
/// iCal day codes, as used by `schedule.wkst` (HSDS 3.0 enum) and `schedule.byday`.
pub const DAY_CODES: &[&str] = &["MO", "TU", "WE", "TH", "FR", "SA", "SU"];

// ---------------------------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------------------------

/// Every problem in a (possibly fully nested) service.
pub fn service(s: &Service) -> Vec<FieldError> {
    let mut c = Checker::default();
    c.service("", s);
    c.errors
}

/// Every problem in a (possibly nested) organization.
pub fn organization(o: &Organization) -> Vec<FieldError> {
    let mut c = Checker::default();
    c.organization("", o, Parent::NONE);
    c.errors
}

/// Every problem in a (possibly nested) location.
pub fn location(l: &Location) -> Vec<FieldError> {
    let mut c = Checker::default();
    c.location("", l, Parent::NONE);
    c.errors
}

/// Every problem in a (possibly nested) service at location.
pub fn service_at_location(sal: &ServiceAtLocation) -> Vec<FieldError> {
    let mut c = Checker::default();
    c.service_at_location("", sal, Parent::NONE);
    c.errors
}

/// Every problem in a taxonomy term (with its nested taxonomy, if any).
pub fn taxonomy_term(t: &TaxonomyTerm) -> Vec<FieldError> {
    let mut c = Checker::default();
    c.taxonomy_term("", t);
    c.errors
}

/// Every problem in a taxonomy.
pub fn taxonomy(t: &Taxonomy) -> Vec<FieldError> {
    let mut c = Checker::default();
    c.taxonomy("", t);
    c.errors
}

// ---------------------------------------------------------------------------------------------
// Reusable checks
// ---------------------------------------------------------------------------------------------

/// A UUID (any version) in canonical form: 36 characters, lowercase hex, hyphenated.
pub fn is_uuid(s: &str) -> bool {
    // At 36 characters the uuid crate accepts only the hyphenated form; canonical is lowercase.
    s.len() == 36 && !s.bytes().any(|b| b.is_ascii_uppercase()) && uuid::Uuid::parse_str(s).is_ok()
}

/// An ISO 639-1 (`en`) or ISO 639-3 (`ase`) code in lowercase, optionally followed by a BCP 47
/// script subtag (`zh-Hant`) and/or region subtag (`pt-BR`, `es-419`). Syntax only.
pub fn is_language_code(s: &str) -> bool {
    let mut parts = s.split('-');
    let primary = parts.next().unwrap_or("");
    if !(2..=3).contains(&primary.len()) || !primary.bytes().all(|b| b.is_ascii_lowercase()) {
        return false;
    }
    let mut seen_script = false;
    let mut seen_region = false;
    for part in parts {
        let is_script = part.len() == 4 && part.bytes().all(|b| b.is_ascii_alphabetic());
        let is_region = (part.len() == 2 && part.bytes().all(|b| b.is_ascii_alphabetic()))
            || (part.len() == 3 && part.bytes().all(|b| b.is_ascii_digit()));
        if is_script && !seen_script && !seen_region {
            seen_script = true;
        } else if is_region && !seen_region {
            seen_region = true;
        } else {
            return false;
        }
    }
    true
}

/// An ISO 4217 currency code: three uppercase letters (`USD`).
pub fn is_currency_code(s: &str) -> bool {
    s.len() == 3 && s.bytes().all(|b| b.is_ascii_uppercase())
}

/// An ISO 3166-1 alpha-2 country code: two uppercase letters (`US`).
pub fn is_country_code(s: &str) -> bool {
    s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase())
}

/// An absolute `http://` or `https://` URL with a host and no whitespace. A simple check, not a
/// full RFC 3986 parse.
pub fn is_http_url(s: &str) -> bool {
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &s[8..]
    } else if lower.starts_with("http://") {
        &s[7..]
    } else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        match v6.split_once(']') {
            Some((addr, port)) if !addr.is_empty() && (port.is_empty() || is_port(port)) => {
                return addr
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
            }
            _ => return false,
        }
    } else {
        match host_port.split_once(':') {
            Some((host, port)) if is_port(port) => host,
            Some(_) => return false,
            None => host_port,
        }
    };
    !host.is_empty()
        && !host.starts_with('.')
        && !host.starts_with('-')
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'%'))
}

fn is_port(p: &str) -> bool {
    let digits = p.strip_prefix(':').unwrap_or(p);
    !digits.is_empty() && digits.len() <= 5 && digits.bytes().all(|b| b.is_ascii_digit())
}

/// A simple syntactic email check: one `@`, a non-empty local part, a domain with a dot inside
/// it, no whitespace.
pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
}

/// An ISO 8601 calendar date, `YYYY-MM-DD` (HSDS `date`).
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// An RFC 3339 date-time with an offset or `Z` (HSDS `date-time`), e.g. `2023-03-15T10:30:45.123Z`.
pub fn parse_date_time(s: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s).ok()
}

/// A time of day, `HH:MM` or `HH:MM:SS` (optionally with a fraction of a second), optionally
/// followed by `Z` or a `±HH:MM` UTC offset, as HSDS `opens_at` / `closes_at` are written.
/// The offset is checked but dropped; see [`parse_time_with_offset`] to keep it.
pub fn parse_time(s: &str) -> Option<NaiveTime> {
    parse_time_with_offset(s).map(|(t, _)| t)
}

/// Like [`parse_time`], also returning the UTC offset if one was given (`Z` is `+00:00`).
pub fn parse_time_with_offset(s: &str) -> Option<(NaiveTime, Option<FixedOffset>)> {
    let (time, offset) = if let Some(t) = s.strip_suffix(['Z', 'z']) {
        (t, Some(FixedOffset::east_opt(0)?))
    } else if let Some(at) = s.rfind(['+', '-']) {
        let (t, off) = s.split_at(at);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (h, m) = two_digit_pair(&off[1..])?;
        if h > 23 || m > 59 {
            return None;
        }
        (
            t,
            Some(FixedOffset::east_opt(
                sign * (h as i32 * 3600 + m as i32 * 60),
            )?),
        )
    } else {
        (s, None)
    };
    let (hour, minute) = two_digit_pair(time.get(..5)?)?;
    let rest = &time[5..];
    let (second, nanos) = if rest.is_empty() {
        (0, 0)
    } else {
        let rest = rest.strip_prefix(':')?;
        let sec = rest.get(..2)?;
        if !sec.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let frac = &rest[2..];
        let nanos = if frac.is_empty() {
            0
        } else {
            let digits = frac.strip_prefix('.')?;
            if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return None;
            }
            format!("{digits:0<9}").parse::<u32>().ok()?
        };
        (sec.parse::<u32>().ok()?, nanos)
    };
    if second > 59 {
        return None;
    }
    Some((
        NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)?,
        offset,
    ))
}

/// `HH:MM` as two numbers (no range check).
fn two_digit_pair(s: &str) -> Option<(u32, u32)> {
    let b = s.as_bytes();
    if b.len() != 5 || b[2] != b':' || !b[..2].iter().chain(&b[3..]).all(u8::is_ascii_digit) {
        return None;
    }
    Some((s[..2].parse().ok()?, s[3..].parse().ok()?))
}

/// An iCal day code (`MO` .. `SU`).
pub fn parse_day_code(s: &str) -> Option<Weekday> {
    Some(match s {
        "MO" => Weekday::Mon,
        "TU" => Weekday::Tue,
        "WE" => Weekday::Wed,
        "TH" => Weekday::Thu,
        "FR" => Weekday::Fri,
        "SA" => Weekday::Sat,
        "SU" => Weekday::Sun,
        _ => return None,
    })
}

/// An iCal `BYDAY` list (`MO,WE,FR`, `1MO,-1FR`): each entry's optional ordinal (±1..=53, as
/// RFC 5545 allows; meaningful with `MONTHLY`) and weekday. `None` if any entry is malformed.
pub fn parse_byday(s: &str) -> Option<Vec<(Option<i32>, Weekday)>> {
    s.split(',')
        .map(|part| {
            let part = part.trim();
            let split = part.len().checked_sub(2)?;
            let day = parse_day_code(part.get(split..)?)?;
            let ordinal = &part[..split];
            if ordinal.is_empty() {
                return Some((None, day));
            }
            let n = parse_signed(ordinal)?;
            (n != 0 && n.abs() <= 53).then_some((Some(n), day))
        })
        .collect()
}

/// A comma-separated iCal list of non-zero integers within ±`max` (`BYMONTHDAY` 31,
/// `BYWEEKNO` 53, `BYYEARDAY` 366). `None` if any entry is malformed or out of range.
pub fn parse_int_list(s: &str, max: i32) -> Option<Vec<i32>> {
    s.split(',')
        .map(|part| {
            let n = parse_signed(part.trim())?;
            (n != 0 && n.abs() <= max).then_some(n)
        })
        .collect()
}

fn parse_signed(s: &str) -> Option<i32> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || digits.len() > 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

// ---------------------------------------------------------------------------------------------
// The walk
// ---------------------------------------------------------------------------------------------

/// The object enclosing a child, for checking the child's link back to it: the child's field
/// `field` (e.g. `service_id`) must equal `id` when both are given.
#[derive(Clone, Copy)]
struct Parent<'a> {
    field: &'static str,
    id: &'a str,
    what: &'static str,
}

impl<'a> Parent<'a> {
    const NONE: Self = Parent {
        field: "",
        id: "",
        what: "",
    };

    fn new(field: &'static str, id: &'a str, what: &'static str) -> Self {
        Parent { field, id, what }
    }
}

fn path(prefix: &str, field: &str) -> String {
    if prefix.is_empty() {
        field.to_string()
    } else {
        format!("{prefix}.{field}")
    }
}

fn item(prefix: &str, field: &str, i: usize) -> String {
    format!("{}[{i}]", path(prefix, field))
}

#[derive(Default)]
struct Checker {
    errors: Vec<FieldError>,
}

impl Checker {
    fn err(&mut self, p: &str, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(path(p, field), message));
    }

    // --- scalar checks -----------------------------------------------------------------------

    /// A required id: present and a UUID.
    fn id(&mut self, p: &str, value: &str) {
        if value.is_empty() {
            self.err(p, "id", "is required");
        } else if !is_uuid(value) {
            self.err(p, "id", "must be a UUID (lowercase, hyphenated)");
        }
    }

    /// An optional reference id: a UUID if present; if it is the link to the enclosing object,
    /// it must name that object.
    fn ref_id(&mut self, p: &str, field: &'static str, value: &Option<String>, parent: Parent) {
        let Some(value) = value else { return };
        if !is_uuid(value) {
            self.err(p, field, "must be a UUID (lowercase, hyphenated)");
        } else if parent.field == field && is_uuid(parent.id) && parent.id != value {
            self.err(
                p,
                field,
                format!("must match the id of the enclosing {}", parent.what),
            );
        }
    }

    /// `field` (an id reference) must agree with the id of the nested object it also names.
    fn same_id(
        &mut self,
        p: &str,
        field: &str,
        value: &Option<String>,
        nested_id: Option<&str>,
        nested: &str,
    ) {
        if let (Some(value), Some(nested_id)) = (value, nested_id) {
            if is_uuid(value) && is_uuid(nested_id) && value != nested_id {
                self.err(p, field, format!("must match {nested}.id"));
            }
        }
    }

    fn required(&mut self, p: &str, field: &str, value: &str) -> bool {
        if value.trim().is_empty() {
            self.err(p, field, "is required");
            false
        } else {
            true
        }
    }

    fn one_of(&mut self, p: &str, field: &str, value: &str, allowed: &[&str]) {
        if !allowed.contains(&value) {
            self.err(p, field, format!("must be one of: {}", allowed.join(", ")));
        }
    }

    fn opt_one_of(&mut self, p: &str, field: &str, value: &Option<String>, allowed: &[&str]) {
        if let Some(v) = value {
            self.one_of(p, field, v, allowed);
        }
    }

    fn url(&mut self, p: &str, field: &str, value: &Option<String>) {
        if let Some(v) = value {
            if !is_http_url(v) {
                self.err(p, field, "must be an absolute http(s) URL");
            }
        }
    }

    fn email(&mut self, p: &str, field: &str, value: &Option<String>) {
        if let Some(v) = value {
            if !is_email(v) {
                self.err(p, field, "must be an email address");
            }
        }
    }

    fn date(&mut self, p: &str, field: &str, value: Option<&str>) -> Option<NaiveDate> {
        let v = value?;
        let d = parse_date(v);
        if d.is_none() {
            self.err(p, field, "must be a date (YYYY-MM-DD)");
        }
        d
    }

    fn date_range(&mut self, p: &str, from: (&str, &Option<String>), to: (&str, &Option<String>)) {
        let from_date = self.date(p, from.0, from.1.as_deref());
        let to_date = self.date(p, to.0, to.1.as_deref());
        if let (Some(a), Some(b)) = (from_date, to_date) {
            if b < a {
                self.err(p, to.0, format!("must not be before {}", from.0));
            }
        }
    }

    fn time(&mut self, p: &str, field: &str, value: &Option<String>) {
        if let Some(v) = value {
            if parse_time(v).is_none() {
                self.err(
                    p,
                    field,
                    "must be a time (HH:MM or HH:MM:SS, optionally with Z or a UTC offset)",
                );
            }
        }
    }

    /// A finite number within `[min, max]`; returns it when it is.
    fn number(
        &mut self,
        p: &str,
        field: &str,
        value: Option<f64>,
        min: f64,
        max: f64,
    ) -> Option<f64> {
        let v = value?;
        if !v.is_finite() {
            self.err(p, field, "must be a finite number");
            None
        } else if v < min || v > max {
            let message = match (min.is_finite(), max.is_finite()) {
                (true, true) => format!("must be between {min} and {max}"),
                (true, false) => format!("must be at least {min}"),
                (false, true) => format!("must be at most {max}"),
                (false, false) => unreachable!(),
            };
            self.err(p, field, message);
            None
        } else {
            Some(v)
        }
    }

    /// A finite whole number of at least `min`.
    fn whole(&mut self, p: &str, field: &str, value: Option<f64>, min: f64) {
        if let Some(v) = self.number(p, field, value, min, f64::INFINITY) {
            if v.fract() != 0.0 {
                self.err(p, field, "must be a whole number");
            }
        }
    }

    // --- objects -----------------------------------------------------------------------------

    fn service(&mut self, p: &str, s: &Service) {
        let me = s.id.as_str();
        self.id(p, &s.id);
        self.ref_id(p, "organization_id", &s.organization_id, Parent::NONE);
        self.ref_id(p, "program_id", &s.program_id, Parent::NONE);
        self.required(p, "name", &s.name);
        if self.required(p, "status", &s.status) {
            self.one_of(p, "status", &s.status, SERVICE_STATUSES);
        }
        self.url(p, "url", &s.url);
        self.email(p, "email", &s.email);
        let min = self.number(p, "minimum_age", s.minimum_age, 0.0, f64::INFINITY);
        let max = self.number(p, "maximum_age", s.maximum_age, 0.0, f64::INFINITY);
        if let (Some(min), Some(max)) = (min, max) {
            if max < min {
                self.err(p, "maximum_age", "must not be less than minimum_age");
            }
        }
        self.date(p, "assured_date", s.assured_date.as_deref());
        self.email(p, "assurer_email", &s.assurer_email);
        if let Some(v) = &s.last_modified {
            if parse_date_time(v).is_none() {
                self.err(p, "last_modified", "must be an RFC 3339 date-time");
            }
        }
        if let Some(o) = &s.organization {
            self.same_id(
                p,
                "organization_id",
                &s.organization_id,
                Some(&o.id),
                "organization",
            );
        }
        if let Some(pr) = &s.program {
            self.same_id(p, "program_id", &s.program_id, Some(&pr.id), "program");
        }

        let parent = Parent::new("service_id", me, "service");
        for (i, x) in s.phones.iter().enumerate() {
            self.phone(&item(p, "phones", i), x, parent);
        }
        for (i, x) in s.schedules.iter().enumerate() {
            self.schedule(&item(p, "schedules", i), x, parent);
        }
        for (i, x) in s.service_areas.iter().enumerate() {
            self.service_area(&item(p, "service_areas", i), x, parent);
        }
        for (i, x) in s.service_at_locations.iter().enumerate() {
            self.service_at_location(&item(p, "service_at_locations", i), x, parent);
        }
        for (i, x) in s.languages.iter().enumerate() {
            self.language(&item(p, "languages", i), x, parent);
        }
        if let Some(o) = &s.organization {
            self.organization(&path(p, "organization"), o, Parent::NONE);
        }
        for (i, x) in s.funding.iter().enumerate() {
            self.funding(&item(p, "funding", i), x, parent);
        }
        for (i, x) in s.cost_options.iter().enumerate() {
            self.cost_option(&item(p, "cost_options", i), x, parent);
        }
        if let Some(pr) = &s.program {
            self.program(&path(p, "program"), pr, Parent::NONE);
        }
        for (i, x) in s.required_documents.iter().enumerate() {
            self.required_document(&item(p, "required_documents", i), x, parent);
        }
        for (i, x) in s.contacts.iter().enumerate() {
            self.contact(&item(p, "contacts", i), x, parent);
        }
        self.attributes_and_metadata(p, me, "service", &s.attributes, &s.metadata);
    }

    fn organization(&mut self, p: &str, o: &Organization, _parent: Parent) {
        let me = o.id.as_str();
        self.id(p, &o.id);
        self.required(p, "name", &o.name);
        self.required(p, "description", &o.description);
        self.email(p, "email", &o.email);
        self.url(p, "website", &o.website);
        self.whole(
            p,
            "year_incorporated",
            o.year_incorporated,
            f64::NEG_INFINITY,
        );
        self.url(p, "logo", &o.logo);
        self.url(p, "uri", &o.uri);
        self.ref_id(
            p,
            "parent_organization_id",
            &o.parent_organization_id,
            Parent::NONE,
        );
        if o.parent_organization_id.as_deref() == Some(me) && is_uuid(me) {
            self.err(
                p,
                "parent_organization_id",
                "must not be the organization's own id",
            );
        }

        let parent = Parent::new("organization_id", me, "organization");
        for (i, x) in o.funding.iter().enumerate() {
            self.funding(&item(p, "funding", i), x, parent);
        }
        for (i, x) in o.contacts.iter().enumerate() {
            self.contact(&item(p, "contacts", i), x, parent);
        }
        for (i, x) in o.phones.iter().enumerate() {
            self.phone(&item(p, "phones", i), x, parent);
        }
        for (i, x) in o.locations.iter().enumerate() {
            self.location(&item(p, "locations", i), x, parent);
        }
        for (i, x) in o.programs.iter().enumerate() {
            self.program(&item(p, "programs", i), x, parent);
        }
        for (i, x) in o.organization_identifiers.iter().enumerate() {
            self.organization_identifier(&item(p, "organization_identifiers", i), x, parent);
        }
        self.attributes_and_metadata(p, me, "organization", &o.attributes, &o.metadata);
    }

    fn program(&mut self, p: &str, x: &Program, parent: Parent) {
        self.id(p, &x.id);
        self.ref_id(p, "organization_id", &x.organization_id, parent);
        self.required(p, "name", &x.name);
        self.required(p, "description", &x.description);
        self.attributes_and_metadata(p, &x.id, "program", &x.attributes, &x.metadata);
    }

    fn service_at_location(&mut self, p: &str, x: &ServiceAtLocation, parent: Parent) {
        let me = x.id.as_str();
        self.id(p, &x.id);
        self.ref_id(p, "service_id", &x.service_id, parent);
        self.ref_id(p, "location_id", &x.location_id, Parent::NONE);
        if let Some(l) = &x.location {
            self.same_id(p, "location_id", &x.location_id, Some(&l.id), "location");
        }
        let child = Parent::new("service_at_location_id", me, "service_at_location");
        for (i, c) in x.contacts.iter().enumerate() {
            self.contact(&item(p, "contacts", i), c, child);
        }
        for (i, c) in x.phones.iter().enumerate() {
            self.phone(&item(p, "phones", i), c, child);
        }
        for (i, c) in x.schedules.iter().enumerate() {
            self.schedule(&item(p, "schedules", i), c, child);
        }
        if let Some(l) = &x.location {
            self.location(&path(p, "location"), l, Parent::NONE);
        }
        self.attributes_and_metadata(p, me, "service_at_location", &x.attributes, &x.metadata);
    }

    fn location(&mut self, p: &str, l: &Location, parent: Parent) {
        let me = l.id.as_str();
        self.id(p, &l.id);
        if self.required(p, "location_type", &l.location_type) {
            self.one_of(p, "location_type", &l.location_type, LOCATION_TYPES);
        }
        self.url(p, "url", &l.url);
        self.ref_id(p, "organization_id", &l.organization_id, parent);
        self.number(p, "latitude", l.latitude, -90.0, 90.0);
        self.number(p, "longitude", l.longitude, -180.0, 180.0);
        match (l.latitude, l.longitude) {
            (Some(_), None) => self.err(p, "longitude", "is required when latitude is given"),
            (None, Some(_)) => self.err(p, "latitude", "is required when longitude is given"),
            _ => {}
        }
        let child = Parent::new("location_id", me, "location");
        for (i, x) in l.languages.iter().enumerate() {
            self.language(&item(p, "languages", i), x, child);
        }
        for (i, x) in l.addresses.iter().enumerate() {
            self.address(&item(p, "addresses", i), x, child);
        }
        for (i, x) in l.contacts.iter().enumerate() {
            self.contact(&item(p, "contacts", i), x, child);
        }
        for (i, x) in l.accessibility.iter().enumerate() {
            self.accessibility(&item(p, "accessibility", i), x, child);
        }
        for (i, x) in l.phones.iter().enumerate() {
            self.phone(&item(p, "phones", i), x, child);
        }
        for (i, x) in l.schedules.iter().enumerate() {
            self.schedule(&item(p, "schedules", i), x, child);
        }
        self.attributes_and_metadata(p, me, "location", &l.attributes, &l.metadata);
    }

    fn address(&mut self, p: &str, a: &Address, parent: Parent) {
        self.id(p, &a.id);
        self.ref_id(p, "location_id", &a.location_id, parent);
        self.required(p, "address_1", &a.address_1);
        self.required(p, "city", &a.city);
        self.required(p, "state_province", &a.state_province);
        self.required(p, "postal_code", &a.postal_code);
        if self.required(p, "country", &a.country) && !is_country_code(&a.country) {
            self.err(
                p,
                "country",
                "must be an ISO 3166-1 alpha-2 code (two uppercase letters)",
            );
        }
        if self.required(p, "address_type", &a.address_type) {
            self.one_of(p, "address_type", &a.address_type, ADDRESS_TYPES);
        }
        self.attributes_and_metadata(p, &a.id, "address", &a.attributes, &a.metadata);
    }

    fn phone(&mut self, p: &str, x: &Phone, parent: Parent) {
        let me = x.id.as_str();
        self.id(p, &x.id);
        self.ref_id(p, "location_id", &x.location_id, parent);
        self.ref_id(p, "service_id", &x.service_id, parent);
        self.ref_id(p, "organization_id", &x.organization_id, parent);
        self.ref_id(p, "contact_id", &x.contact_id, parent);
        self.ref_id(
            p,
            "service_at_location_id",
            &x.service_at_location_id,
            parent,
        );
        self.required(p, "number", &x.number);
        self.whole(p, "extension", x.extension, 0.0);
        let child = Parent::new("phone_id", me, "phone");
        for (i, l) in x.languages.iter().enumerate() {
            self.language(&item(p, "languages", i), l, child);
        }
        self.attributes_and_metadata(p, me, "phone", &x.attributes, &x.metadata);
    }

    fn schedule(&mut self, p: &str, x: &Schedule, parent: Parent) {
        self.id(p, &x.id);
        self.ref_id(p, "service_id", &x.service_id, parent);
        self.ref_id(p, "location_id", &x.location_id, parent);
        self.ref_id(
            p,
            "service_at_location_id",
            &x.service_at_location_id,
            parent,
        );
        self.date_range(p, ("valid_from", &x.valid_from), ("valid_to", &x.valid_to));
        self.date_range(p, ("dtstart", &x.dtstart), ("until", &x.until));
        self.number(p, "timezone", x.timezone, -12.0, 14.0);
        self.whole(p, "count", x.count, 1.0);
        self.opt_one_of(p, "wkst", &x.wkst, DAY_CODES);
        self.opt_one_of(p, "freq", &x.freq, SCHEDULE_FREQS);
        self.whole(p, "interval", x.interval, 1.0);
        if let Some(v) = &x.byday {
            if parse_byday(v).is_none() {
                self.err(p, "byday", "must be a comma-separated list of day codes (MO..SU), each optionally preceded by an ordinal such as 1 or -1");
            }
        }
        for (field, value, max) in [
            ("byweekno", &x.byweekno, 53),
            ("bymonthday", &x.bymonthday, 31),
            ("byyearday", &x.byyearday, 366),
        ] {
            if let Some(v) = value {
                if parse_int_list(v, max).is_none() {
                    self.err(p, field, format!("must be a comma-separated list of non-zero integers between -{max} and {max}"));
                }
            }
        }
        self.time(p, "opens_at", &x.opens_at);
        self.time(p, "closes_at", &x.closes_at);
        self.url(p, "schedule_link", &x.schedule_link);
        self.attributes_and_metadata(p, &x.id, "schedule", &x.attributes, &x.metadata);
    }

    fn cost_option(&mut self, p: &str, x: &CostOption, parent: Parent) {
        self.id(p, &x.id);
        self.ref_id(p, "service_id", &x.service_id, parent);
        self.date_range(p, ("valid_from", &x.valid_from), ("valid_to", &x.valid_to));
        if let Some(c) = &x.currency {
            if !is_currency_code(c) {
                self.err(
                    p,
                    "currency",
                    "must be an ISO 4217 code (three uppercase letters)",
                );
            }
        }
        self.number(p, "amount", x.amount, 0.0, f64::INFINITY);
        self.attributes_and_metadata(p, &x.id, "cost_option", &x.attributes, &x.metadata);
    }

    fn language(&mut self, p: &str, x: &Language, parent: Parent) {
        self.id(p, &x.id);
        self.ref_id(p, "service_id", &x.service_id, parent);
        self.ref_id(p, "location_id", &x.location_id, parent);
        self.ref_id(p, "phone_id", &x.phone_id, parent);
        if let Some(code) = &x.code {
            if !is_language_code(code) {
                self.err(
                    p,
                    "code",
                    "must be an ISO 639-1 or ISO 639-3 code (e.g. en, ase, pt-BR)",
                );
            }
        }
        self.attributes_and_metadata(p, &x.id, "language", &x.attributes, &x.metadata);
    }

    fn accessibility(&mut self, p: &str, x: &Accessibility, parent: Parent) {
        self.id(p, &x.id);
        self.ref_id(p, "location_id", &x.location_id, parent);
        self.url(p, "url", &x.url);
        self.attributes_and_metadata(p, &x.id, "accessibility", &x.attributes, &x.metadata);
    }

    fn service_area(&mut self, p: &str, x: &ServiceArea, parent: Parent) {
        self.id(p, &x.id);
        self.ref_id(p, "service_id", &x.service_id, parent);
        self.attributes_and_metadata(p, &x.id, "service_area", &x.attributes, &x.metadata);
    }

    fn required_document(&mut self, p: &str, x: &RequiredDocument, parent: Parent) {
        self.id(p, &x.id);
        self.ref_id(p, "service_id", &x.service_id, parent);
        self.url(p, "uri", &x.uri);
        self.attributes_and_metadata(p, &x.id, "required_document", &x.attributes, &x.metadata);
    }

    fn contact(&mut self, p: &str, x: &Contact, parent: Parent) {
        let me = x.id.as_str();
        self.id(p, &x.id);
        self.ref_id(p, "organization_id", &x.organization_id, parent);
        self.ref_id(p, "service_id", &x.service_id, parent);
        self.ref_id(
            p,
            "service_at_location_id",
            &x.service_at_location_id,
            parent,
        );
        self.ref_id(p, "location_id", &x.location_id, parent);
        self.email(p, "email", &x.email);
        let child = Parent::new("contact_id", me, "contact");
        for (i, ph) in x.phones.iter().enumerate() {
            self.phone(&item(p, "phones", i), ph, child);
        }
        self.attributes_and_metadata(p, me, "contact", &x.attributes, &x.metadata);
    }

    fn funding(&mut self, p: &str, x: &Funding, parent: Parent) {
        self.id(p, &x.id);
        self.ref_id(p, "organization_id", &x.organization_id, parent);
        self.ref_id(p, "service_id", &x.service_id, parent);
        self.attributes_and_metadata(p, &x.id, "funding", &x.attributes, &x.metadata);
    }

    fn organization_identifier(&mut self, p: &str, x: &OrganizationIdentifier, parent: Parent) {
        self.id(p, &x.id);
        self.ref_id(p, "organization_id", &x.organization_id, parent);
        self.required(p, "identifier_type", &x.identifier_type);
        self.required(p, "identifier", &x.identifier);
        self.attributes_and_metadata(
            p,
            &x.id,
            "organization_identifier",
            &x.attributes,
            &x.metadata,
        );
    }

    /// The `attributes` and `metadata` every object carries; both link back by id
    /// (`link_id`, `resource_id`) to the object `owner_id`.
    fn attributes_and_metadata(
        &mut self,
        p: &str,
        owner_id: &str,
        owner: &'static str,
        attributes: &[Attribute],
        metadata: &[Metadata],
    ) {
        for (i, a) in attributes.iter().enumerate() {
            self.attribute(
                &item(p, "attributes", i),
                a,
                Parent::new("link_id", owner_id, owner),
            );
        }
        self.metadata(p, owner_id, owner, metadata);
    }

    fn metadata(&mut self, p: &str, owner_id: &str, owner: &'static str, metadata: &[Metadata]) {
        let parent = Parent::new("resource_id", owner_id, owner);
        for (i, m) in metadata.iter().enumerate() {
            let p = &item(p, "metadata", i);
            self.id(p, &m.id);
            self.ref_id(p, "resource_id", &m.resource_id, parent);
            if self.required(p, "last_action_date", &m.last_action_date) {
                self.date(p, "last_action_date", Some(&m.last_action_date));
            }
            self.required(p, "last_action_type", &m.last_action_type);
            self.required(p, "field_name", &m.field_name);
            // previous_value and replacement_value are required but may legitimately be empty
            // (a field set for the first time, or cleared).
            self.required(p, "updated_by", &m.updated_by);
        }
    }

    fn attribute(&mut self, p: &str, a: &Attribute, parent: Parent) {
        self.id(p, &a.id);
        self.ref_id(p, "link_id", &a.link_id, parent);
        self.ref_id(p, "taxonomy_term_id", &a.taxonomy_term_id, Parent::NONE);
        if let Some(t) = &a.taxonomy_term {
            self.same_id(
                p,
                "taxonomy_term_id",
                &a.taxonomy_term_id,
                Some(&t.id),
                "taxonomy_term",
            );
            self.taxonomy_term(&path(p, "taxonomy_term"), t);
        }
        self.metadata(p, &a.id, "attribute", &a.metadata);
    }

    fn taxonomy_term(&mut self, p: &str, t: &TaxonomyTerm) {
        self.id(p, &t.id);
        self.required(p, "name", &t.name);
        self.required(p, "description", &t.description);
        self.ref_id(p, "parent_id", &t.parent_id, Parent::NONE);
        if t.parent_id.as_deref() == Some(t.id.as_str()) && is_uuid(&t.id) {
            self.err(p, "parent_id", "must not be the term's own id");
        }
        if let Some(lang) = &t.language {
            if !is_language_code(lang) {
                self.err(
                    p,
                    "language",
                    "must be an ISO 639 language code (e.g. en, eng)",
                );
            }
        }
        self.ref_id(p, "taxonomy_id", &t.taxonomy_id, Parent::NONE);
        self.url(p, "term_uri", &t.term_uri);
        if let Some(tx) = &t.taxonomy_detail {
            self.same_id(
                p,
                "taxonomy_id",
                &t.taxonomy_id,
                Some(&tx.id),
                "taxonomy_detail",
            );
            self.taxonomy(&path(p, "taxonomy_detail"), tx);
        }
        self.metadata(p, &t.id, "taxonomy_term", &t.metadata);
    }

    fn taxonomy(&mut self, p: &str, t: &Taxonomy) {
        self.id(p, &t.id);
        self.required(p, "name", &t.name);
        self.required(p, "description", &t.description);
        self.url(p, "uri", &t.uri);
        self.metadata(p, &t.id, "taxonomy", &t.metadata);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SVC: &str = "5064b085-1f23-5567-8833-64e9bb710ed0";
    const ORG: &str = "fab08e0b-0277-537b-92cb-0a08ce240dfd";
    const LOC: &str = "ad9dcc06-17c1-57f5-beb6-ef8bef8849d1";
    const SAL: &str = "43e5df3e-bc00-5e69-b00d-0d3465e91b00";

    fn samhsa() -> Option<Vec<Service>> {
        let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let file = [
            "data/samhsa-va.hsds.json",
            "../shared/data/samhsa-va.hsds.json",
        ]
        .iter()
        .map(|p| root.join(p))
        .find(|p| p.is_file())?;
        Some(serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap())
    }

    fn fields(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    /// A small valid service with one nested location.
    fn good() -> Service {
        serde_json::from_value(serde_json::json!({
            "id": SVC,
            "organization_id": ORG,
            "name": "Needle exchange",
            "status": "active",
            "url": "https://example.org/nex",
            "email": "help@example.org",
            "minimum_age": 16,
            "maximum_age": 99,
            "last_modified": "2023-03-15T10:30:45.123Z",
            "organization": {"id": ORG, "name": "Org", "description": "An org", "website": "http://example.org"},
            "service_at_locations": [{
                "id": SAL, "service_id": SVC, "location_id": LOC,
                "location": {
                    "id": LOC, "location_type": "physical", "organization_id": ORG,
                    "latitude": 38.03, "longitude": -78.47,
                    "addresses": [{
                        "id": "d3d61ca8-90ad-5d15-be9c-a1a452b97e22", "location_id": LOC,
                        "address_1": "1 Main St", "city": "Charlottesville", "state_province": "VA",
                        "postal_code": "22902", "country": "US", "address_type": "physical"
                    }]
                }
            }],
            "schedules": [{
                "id": "48102e86-bb50-41c4-8f1e-e269368c41d1", "service_id": SVC,
                "freq": "WEEKLY", "wkst": "MO", "byday": "MO,TU,WE", "opens_at": "09:00",
                "closes_at": "17:30:00-05:00", "valid_from": "2024-01-01", "valid_to": "2024-12-31"
            }],
            "cost_options": [{"id": "1fdf4d39-3d80-484d-9f92-a8ffa08621e7", "service_id": SVC, "amount": 0, "currency": "USD"}],
            "languages": [{"id": "3a19ff88-4620-4d17-9830-ac1d859eb5d5", "service_id": SVC, "code": "en"}]
        }))
        .unwrap()
    }

    #[test]
    fn every_samhsa_service_is_valid() {
        let Some(services) = samhsa() else {
            eprintln!("samhsa-va.hsds.json not found; skipping");
            return;
        };
        assert_eq!(services.len(), 30);
        for s in &services {
            assert_eq!(service(s), vec![], "service {}", s.id);
            if let Some(o) = &s.organization {
                assert_eq!(organization(o), vec![]);
            }
            for sal in &s.service_at_locations {
                assert_eq!(service_at_location(sal), vec![]);
                assert_eq!(location(sal.location.as_ref().unwrap()), vec![]);
            }
        }
    }

    #[test]
    fn good_service_is_valid() {
        assert_eq!(service(&good()), vec![]);
    }

    #[test]
    fn missing_required_fields_are_named() {
        let errors = service(&Service::default());
        assert_eq!(fields(&errors), ["id", "name", "status"]);
        assert!(errors.iter().all(|e| e.message == "is required"));
        assert_eq!(
            fields(&organization(&Organization::default())),
            ["id", "name", "description"]
        );
        assert_eq!(
            fields(&location(&Location::default())),
            ["id", "location_type"]
        );
    }

    #[test]
    fn broken_fields_are_named_by_path() {
        let mut s = good();
        s.id = "not-a-uuid".into();
        s.status = "open".into();
        s.url = Some("example.org".into());
        s.email = Some("help at example.org".into());
        s.minimum_age = Some(30.0);
        s.maximum_age = Some(20.0);
        s.last_modified = Some("2023-03-15".into());
        {
            let l = s.service_at_locations[0].location.as_mut().unwrap();
            l.latitude = Some(91.0);
            l.longitude = None;
            l.location_type = "building".into();
            l.addresses[0].country = "USA".into();
        }
        {
            let sch = &mut s.schedules[0];
            sch.freq = Some("DAILY".into());
            sch.wkst = Some("Monday".into());
            sch.byday = Some("MO,XX".into());
            sch.opens_at = Some("9am".into());
            sch.valid_to = Some("2023-12-31".into());
        }
        s.cost_options[0].amount = Some(-5.0);
        s.cost_options[0].currency = Some("usd".into());
        s.languages[0].code = Some("English".into());
        s.organization.as_mut().unwrap().website = Some("ftp://example.org".into());

        let errors = service(&s);
        let got = fields(&errors);
        for expected in [
            "id",
            "status",
            "url",
            "email",
            "maximum_age",
            "last_modified",
            "service_at_locations[0].location.latitude",
            "service_at_locations[0].location.longitude",
            "service_at_locations[0].location.location_type",
            "service_at_locations[0].location.addresses[0].country",
            "schedules[0].freq",
            "schedules[0].wkst",
            "schedules[0].byday",
            "schedules[0].opens_at",
            "schedules[0].valid_to",
            "cost_options[0].amount",
            "cost_options[0].currency",
            "languages[0].code",
            "organization.website",
        ] {
            assert!(
                got.contains(&expected),
                "no error for {expected}: {errors:#?}"
            );
        }
        // Child links are not compared with an invalid parent id.
        assert!(
            !got.iter().any(|f| f.ends_with("service_id")),
            "{errors:#?}"
        );
    }

    #[test]
    fn links_to_enclosing_objects_must_agree() {
        let mut s = good();
        s.cost_options[0].service_id = Some(LOC.into());
        s.service_at_locations[0].location_id = Some(SVC.into());
        s.organization_id = Some(LOC.into());
        s.phones.push(Phone {
            id: "1554f2e2-a373-45db-a3fa-9fc48a61c15e".into(),
            number: "555".into(),
            service_id: Some("1554F2E2-A373-45DB-A3FA-9FC48A61C15E".into()),
            ..Default::default()
        });
        let errors = service(&s);
        assert_eq!(
            fields(&errors),
            [
                "organization_id",
                "phones[0].service_id",
                "service_at_locations[0].location_id",
                "cost_options[0].service_id",
            ],
            "{errors:#?}"
        );
    }

    #[test]
    fn child_ids_are_required_and_uuids() {
        let mut s = good();
        s.languages[0].id = String::new();
        s.cost_options[0].id = "1234".into();
        s.service_at_locations[0]
            .location
            .as_mut()
            .unwrap()
            .addresses[0]
            .id = String::new();
        let errors = service(&s);
        assert_eq!(
            fields(&errors),
            [
                "service_at_locations[0].location.addresses[0].id",
                "languages[0].id",
                "cost_options[0].id",
            ]
        );
        assert_eq!(errors[0].message, "is required");
    }

    #[test]
    fn uuids() {
        assert!(is_uuid(SVC));
        assert!(is_uuid("00000000-0000-0000-0000-000000000000"));
        assert!(is_uuid("3f7b145d-84af-42d7-8fae-eaca714b02b2"));
        assert!(!is_uuid("3F7B145D-84AF-42D7-8FAE-EACA714B02B2"));
        assert!(!is_uuid("3f7b145d84af42d78faeeaca714b02b2"));
        assert!(!is_uuid("{3f7b145d-84af-42d7-8fae-eaca714b02b2}"));
        assert!(!is_uuid("urn:uuid:3f7b145d-84af-42d7-8fae-eaca714b02b2"));
        assert!(!is_uuid("3f7b145d-84af-42d7-8fae-eaca714b02bz"));
        assert!(!is_uuid(""));
    }

    #[test]
    fn language_codes() {
        for ok in [
            "en",
            "ase",
            "pt-BR",
            "zh-Hant",
            "zh-Hant-TW",
            "es-419",
            "pt-br",
        ] {
            assert!(is_language_code(ok), "{ok}");
        }
        for bad in [
            "",
            "e",
            "EN",
            "English",
            "engl",
            "en-",
            "en_US",
            "en-USA",
            "en-US-CA",
            "zh-TW-Hant",
        ] {
            assert!(!is_language_code(bad), "{bad}");
        }
    }

    #[test]
    fn times() {
        let t = |h, m, s| NaiveTime::from_hms_opt(h, m, s).unwrap();
        assert_eq!(parse_time("09:00"), Some(t(9, 0, 0)));
        assert_eq!(parse_time("10:00:00"), Some(t(10, 0, 0)));
        assert_eq!(parse_time("23:59:59Z"), Some(t(23, 59, 59)));
        assert_eq!(parse_time("09:00-05:00"), Some(t(9, 0, 0)));
        assert_eq!(
            parse_time("09:00:30.5+05:30"),
            Some(NaiveTime::from_hms_milli_opt(9, 0, 30, 500).unwrap())
        );
        assert_eq!(
            parse_time_with_offset("09:00-05:00").unwrap().1,
            FixedOffset::west_opt(5 * 3600)
        );
        assert_eq!(parse_time_with_offset("09:00").unwrap().1, None);
        for bad in [
            "9:00",
            "24:00",
            "09:60",
            "09:00:60",
            "0900",
            "09:00-5",
            "09:00+25:00",
            "09:00:0",
            "",
            "9am",
            "09:00 ",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn dates_urls_emails_and_ical() {
        assert!(parse_date("2024-02-29").is_some());
        assert!(parse_date("2023-02-29").is_none());
        assert!(parse_date("2024-2-01").is_none());
        assert!(parse_date_time("2023-03-15T10:30:45.123Z").is_some());
        assert!(parse_date_time("2023-03-15T10:30:45").is_none());

        for ok in [
            "http://example.com",
            "https://www.regionten.org/a?b#c",
            "http://localhost:8080/",
            "https://[::1]/",
        ] {
            assert!(is_http_url(ok), "{ok}");
        }
        for bad in [
            "example.com",
            "ftp://example.com",
            "http://",
            "http:///path",
            "https://exa mple.com",
            "http://host:port/",
            "mailto:a@b.c",
        ] {
            assert!(!is_http_url(bad), "{bad}");
        }
        assert!(is_email("a.b+c@example.org"));
        for bad in [
            "",
            "a@b",
            "@example.org",
            "a@@example.org",
            "a b@example.org",
            "a@.org",
            "a@example.org.",
        ] {
            assert!(!is_email(bad), "{bad}");
        }

        assert_eq!(
            parse_byday("1MO,-1FR,SU"),
            Some(vec![
                (Some(1), Weekday::Mon),
                (Some(-1), Weekday::Fri),
                (None, Weekday::Sun)
            ])
        );
        for bad in ["", "MO,", "0MO", "54MO", "mo", "MON", "1", "+-1MO"] {
            assert_eq!(parse_byday(bad), None, "{bad}");
        }
        assert_eq!(parse_int_list("1,15,-1", 31), Some(vec![1, 15, -1]));
        assert_eq!(parse_int_list("0", 31), None);
        assert_eq!(parse_int_list("32", 31), None);
    }

    #[test]
    fn nested_taxonomy_terms_are_checked() {
        let mut s = good();
        s.attributes.push(Attribute {
            id: "ae58cc39-8b70-4ab1-8aea-786882e5ac8e".into(),
            link_id: Some(SVC.into()),
            taxonomy_term: Some(TaxonomyTerm {
                id: "3f7b145d-84af-42d7-8fae-eaca714b02b2".into(),
                name: "Syringe services".into(),
                description: String::new(),
                taxonomy_id: Some("07ff6aee-a219-438c-b694-d2fcb6c5373b".into()),
                taxonomy_detail: Some(Taxonomy {
                    id: "ebdff8ee-d22a-5ea6-8cce-5748b9f76074".into(),
                    name: "haven-services".into(),
                    description: "x".into(),
                    uri: Some("urn:x".into()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        });
        assert_eq!(
            fields(&service(&s)),
            [
                "attributes[0].taxonomy_term.description",
                "attributes[0].taxonomy_term.taxonomy_id",
                "attributes[0].taxonomy_term.taxonomy_detail.uri",
            ]
        );
    }
}
