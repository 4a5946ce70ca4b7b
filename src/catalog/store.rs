//! The one place that knows the catalogue's tables: writing HSDS objects into them and
//! assembling HSDS objects back out.
//!
//! Entities (organization, service, location, service_at_location) are stored as a JSON `doc`
//! each, with the objects they own (phones, schedules, attributes, ...) inside it; the
//! entities they nest or link to are stored on their own and put back when read, so what was
//! written is what is read. The taxonomy terms a service's attributes name are also kept in
//! `service_term`, under the service's search text, which the taxonomy filters read.
//!
//! Owned objects used to be rows of their own, one table per kind keyed by owner. A service
//! then took about twenty rows, each with entries in indexes keyed by random ids, and a bulk
//! load spent most of its time (and, at a million services, its disk) keeping those indexes.

use std::collections::{BTreeSet, HashMap, HashSet};

use anyhow::Context;
use chrono::Utc;
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::QueryableByName;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::catalog::compact;
use crate::crypto::hex;
use crate::db::{deferred, Backend, DbConnection, Sql};
use crate::hsds::model::{
    Attribute, Location, Organization, Service, ServiceAtLocation, Taxonomy, TaxonomyTerm,
};
use crate::search::filters::stored_timestamp;
use crate::search::{index, place};
use crate::vocab::VOCABULARIES;

/// Which keys of an entity's JSON are stored elsewhere (nested entities) or never stored
/// (computed extensions).
struct Shape {
    detached: &'static [&'static str],
}

const SERVICE: Shape = Shape {
    detached: &["organization", "service_at_locations", "distance"],
};

const ORGANIZATION: Shape = Shape {
    detached: &["locations", "services"],
};

const LOCATION: Shape = Shape { detached: &[] };

const SERVICE_AT_LOCATION: Shape = Shape {
    detached: &["location", "service", "distance"],
};

/// An entity's doc, ready to store, and its digest.
struct Parts {
    doc: String,
    hash: String,
}

fn split(value: Value, shape: &Shape) -> Parts {
    let mut map = match value {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    for key in shape.detached {
        map.remove(*key);
    }
    let mut value = Value::Object(map);
    compact::shorten(&mut value);
    let doc = value.to_string();
    let hash = hex(&Sha256::digest(doc.as_bytes()));
    Parts { doc, hash }
}

/// The taxonomy terms a service's attributes name, by id in lower case, each once and sorted:
/// its own, and those of its service_at_locations and their locations, since api.md links
/// terms such as `haven-accessibility` to a service through its location too, and the
/// `taxonomy_term_id` and `taxonomy_id` filters are to find it by them.
fn terms_of(service: &Service) -> Vec<String> {
    let at_locations = service.service_at_locations.iter().flat_map(|sal| {
        let location = sal.location.as_ref().map_or(&[][..], |l| &l.attributes);
        sal.attributes.iter().chain(location)
    });
    service
        .attributes
        .iter()
        .chain(at_locations)
        .filter_map(|a| {
            a.taxonomy_term_id
                .as_deref()
                .or(a.taxonomy_term.as_ref().map(|t| t.id.as_str()))
        })
        .map(str::to_ascii_lowercase)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

fn hash_of(value: &impl serde::Serialize) -> String {
    let json = serde_json::to_string(value).expect("HSDS objects serialise");
    hex(&Sha256::digest(json.as_bytes()))
}

fn now() -> String {
    stored_timestamp(Utc::now())
}

#[derive(QueryableByName)]
struct HashRow {
    #[diesel(sql_type = Text)]
    content_hash: String,
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = Text)]
    id: String,
}

#[derive(QueryableByName)]
struct DocRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    doc: String,
}

#[derive(QueryableByName)]
struct SalRow {
    #[diesel(sql_type = Text)]
    service_id: String,
    #[diesel(sql_type = Nullable<Text>)]
    location_id: Option<String>,
    #[diesel(sql_type = Text)]
    doc: String,
}

fn stored_hash(conn: &mut DbConnection, table: &str, id: &str) -> anyhow::Result<Option<String>> {
    let mut q = Sql::prepared(&format!("SELECT content_hash FROM {table} WHERE id = "));
    q.bind(id);
    Ok(q.load::<HashRow>(conn)?.pop().map(|r| r.content_hash))
}

fn ids_where(conn: &mut DbConnection, sql: &str, id: &str) -> anyhow::Result<Vec<String>> {
    let mut q = Sql::prepared(sql);
    q.bind(id);
    Ok(q.load::<IdRow>(conn)?.into_iter().map(|r| r.id).collect())
}

/// How many rows one insert of a service's terms carries. A list is written in the widest of
/// these that fit, so nine terms take two statements (8 + 1), not nine: the round trip per
/// statement is what a bulk load into PostgreSQL waits on. The widths are few and fixed, so
/// the statement keeps a handful of prepared forms whatever the counts.
const INSERT_WIDTHS: [usize; 5] = [16, 8, 4, 2, 1];

/// Lists a service's terms in `service_term` under its search text `text_id`, just written.
/// The rows go with the text: deleting it deletes them (by foreign key), and a rewrite gives
/// the service a new text. Keyed by term and then by text, which is numbered in the order of
/// writing, a load appends to each term's range instead of scattering entries through it.
fn write_terms(conn: &mut DbConnection, text_id: i64, terms: &[String]) -> anyhow::Result<()> {
    let mut done = 0;
    while done < terms.len() {
        let width = INSERT_WIDTHS
            .into_iter()
            .find(|w| *w <= terms.len() - done)
            .unwrap_or(1);
        let mut ins = Sql::prepared("INSERT INTO service_term (taxonomy_term_id, text_id) VALUES ");
        for (i, term) in terms[done..done + width].iter().enumerate() {
            if i > 0 {
                ins.push(", ");
            }
            ins.push("(").bind(term).push(", ").bind(text_id).push(")");
        }
        ins.execute(conn)?;
        done += width;
    }
    Ok(())
}

fn parse_doc(doc: &str) -> anyhow::Result<Map<String, Value>> {
    let mut map: Map<String, Value> = serde_json::from_str(doc).context("stored JSON")?;
    map.values_mut().for_each(compact::expand);
    Ok(map)
}

/// Whether a write created, changed or left alone what was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Created,
    Updated,
    Unchanged,
}

/// An organisation worked out for storage: its row, and the locations nested in it.
struct PreparedOrganization {
    id: String,
    name: String,
    parts: Parts,
    locations: Vec<PreparedLocation>,
}

impl PreparedOrganization {
    fn new(org: &Organization) -> anyhow::Result<Self> {
        Ok(PreparedOrganization {
            id: org.id.clone(),
            name: org.name.clone(),
            parts: split(serde_json::to_value(org)?, &ORGANIZATION),
            locations: org
                .locations
                .iter()
                .map(PreparedLocation::new)
                .collect::<anyhow::Result<_>>()?,
        })
    }
}

/// A location worked out for storage, with the time zone its coordinates fall in.
struct PreparedLocation {
    id: String,
    organization_id: Option<String>,
    latitude: Option<f64>,
    longitude: Option<f64>,
    time_zone: Option<String>,
    parts: Parts,
}

impl PreparedLocation {
    fn new(location: &Location) -> anyhow::Result<Self> {
        Ok(PreparedLocation {
            id: location.id.clone(),
            organization_id: location.organization_id.clone(),
            latitude: location.latitude,
            longitude: location.longitude,
            time_zone: location
                .latitude
                .zip(location.longitude)
                .and_then(|(lat, lon)| place::time_zone(lat, lon)),
            parts: split(serde_json::to_value(location)?, &LOCATION),
        })
    }
}

/// Stores an organisation's own fields and children; nested `locations` are stored as
/// locations. Returns whether anything changed.
fn put_organization(
    conn: &mut DbConnection,
    org: &PreparedOrganization,
) -> anyhow::Result<Written> {
    for location in &org.locations {
        put_location(conn, location, Some(&org.id))?;
    }
    let parts = &org.parts;
    let before = stored_hash(conn, "organization", &org.id)?;
    if before.as_deref() == Some(parts.hash.as_str()) {
        return Ok(Written::Unchanged);
    }
    let mut q = Sql::prepared(
        "INSERT INTO organization (id, name, doc, content_hash, updated_at) VALUES (",
    );
    q.bind(&org.id)
        .push(", ")
        .bind(&org.name)
        .push(", ")
        .bind(&parts.doc)
        .push(", ")
        .bind(&parts.hash)
        .push(", ")
        .bind(now())
        .push(
            ") ON CONFLICT (id) DO UPDATE SET name = excluded.name, doc = excluded.doc, \
             content_hash = excluded.content_hash, updated_at = excluded.updated_at",
        );
    q.execute(conn)?;
    Ok(if before.is_some() {
        Written::Updated
    } else {
        Written::Created
    })
}

/// Stores a location's own fields and children. Returns whether anything changed, and the
/// time zone it has as stored, which its search rows take.
fn put_location(
    conn: &mut DbConnection,
    location: &PreparedLocation,
    organization_id: Option<&str>,
) -> anyhow::Result<(Written, Option<String>)> {
    #[derive(QueryableByName)]
    struct Stored {
        #[diesel(sql_type = Text)]
        content_hash: String,
        #[diesel(sql_type = Nullable<Text>)]
        time_zone: Option<String>,
    }
    let parts = &location.parts;
    let mut q = Sql::prepared("SELECT content_hash, time_zone FROM location WHERE id = ");
    q.bind(&location.id);
    let before = q.load::<Stored>(conn)?.pop();
    if let Some(stored) = before.as_ref().filter(|b| b.content_hash == parts.hash) {
        return Ok((Written::Unchanged, stored.time_zone.clone()));
    }
    let mut q = Sql::prepared(
        "INSERT INTO location (id, organization_id, latitude, longitude, time_zone, doc, content_hash, updated_at) VALUES (",
    );
    q.bind(&location.id)
        .push(", ")
        .bind(location.organization_id.as_deref().or(organization_id))
        .push(", ")
        .bind(location.latitude)
        .push(", ")
        .bind(location.longitude)
        .push(", ")
        .bind(location.time_zone.as_deref())
        .push(", ")
        .bind(&parts.doc)
        .push(", ")
        .bind(&parts.hash)
        .push(", ")
        .bind(now())
        .push(
            ") ON CONFLICT (id) DO UPDATE SET organization_id = excluded.organization_id, \
             latitude = excluded.latitude, longitude = excluded.longitude, \
             time_zone = excluded.time_zone, doc = excluded.doc, \
             content_hash = excluded.content_hash, updated_at = excluded.updated_at",
        );
    q.execute(conn)?;
    let written = if before.is_some() {
        Written::Updated
    } else {
        Written::Created
    };
    Ok((written, location.time_zone.clone()))
}

/// Upserts a taxonomy.
pub fn put_taxonomy(conn: &mut DbConnection, taxonomy: &Taxonomy) -> anyhow::Result<()> {
    let mut q = Sql::prepared("INSERT INTO taxonomy (id, name, doc) VALUES (");
    q.bind(&taxonomy.id)
        .push(", ")
        .bind(&taxonomy.name)
        .push(", ")
        .bind(serde_json::to_string(taxonomy)?)
        .push(") ON CONFLICT (id) DO UPDATE SET name = excluded.name, doc = excluded.doc");
    q.execute(conn)?;
    Ok(())
}

/// Upserts a taxonomy term (its `taxonomy_detail` is stored as a taxonomy of its own).
pub fn put_term(conn: &mut DbConnection, term: &TaxonomyTerm) -> anyhow::Result<()> {
    let mut stored = term.clone();
    stored.taxonomy_detail = None;
    let taxonomy_id = term
        .taxonomy_id
        .clone()
        .or_else(|| term.taxonomy_detail.as_ref().map(|t| t.id.clone()));
    let mut q = Sql::prepared(
        "INSERT INTO taxonomy_term (id, code, name, parent_id, taxonomy, taxonomy_id, doc) VALUES (",
    );
    q.bind(&term.id)
        .push(", ")
        .bind(term.code.as_deref())
        .push(", ")
        .bind(&term.name)
        .push(", ")
        .bind(term.parent_id.as_deref())
        .push(", ")
        .bind(term.taxonomy.as_deref())
        .push(", ")
        .bind(taxonomy_id)
        .push(", ")
        .bind(serde_json::to_string(&stored)?)
        .push(
            ") ON CONFLICT (id) DO UPDATE SET code = excluded.code, name = excluded.name, \
             parent_id = excluded.parent_id, taxonomy = excluded.taxonomy, \
             taxonomy_id = excluded.taxonomy_id, doc = excluded.doc",
        );
    q.execute(conn)?;
    Ok(())
}

/// Whether the stored location with this id is confidential.
pub fn is_confidential(conn: &mut DbConnection, id: &str) -> anyhow::Result<bool> {
    let Some(row) = docs(conn, "location", &[id.to_string()])?.pop() else {
        return Ok(false);
    };
    let doc: Value = serde_json::from_str(&row.doc).context("stored JSON")?;
    Ok(doc.get("confidential") == Some(&Value::Bool(true)))
}

/// Whether a taxonomy term with this id (in any case) is stored.
pub fn term_exists(conn: &mut DbConnection, id: &str) -> anyhow::Result<bool> {
    let mut q = Sql::prepared("SELECT count(*) AS n FROM taxonomy_term WHERE lower(id) = ");
    q.bind(id.to_ascii_lowercase());
    Ok(q.count(conn)? > 0)
}

/// Keeps the taxonomy terms (and taxonomies) that attributes bring, except Haven's own, whose
/// definitions are fixed.
fn put_terms(conn: &mut DbConnection, attributes: &[&Attribute]) -> anyhow::Result<()> {
    for a in attributes {
        let Some(term) = &a.taxonomy_term else {
            continue;
        };
        if VOCABULARIES.term_by_id(&term.id).is_some()
            || term
                .taxonomy
                .as_deref()
                .is_some_and(|t| VOCABULARIES.by_taxonomy(t).is_some())
        {
            continue;
        }
        if let Some(taxonomy) = &term.taxonomy_detail {
            put_taxonomy(conn, taxonomy)?;
        }
        put_term(conn, term)?;
    }
    Ok(())
}

/// A fully nested service worked out for storage before the database is touched: the digest
/// that tells whether it changed, and (unless left to the writer) the rows each of its tables
/// gets. Working this out is pure, so an import does it on its reading thread while the
/// writer stores earlier records.
pub struct Prepared {
    service: Service,
    hash: String,
    /// `None`: worked out by the writer, should the service turn out to have changed.
    rows: Option<Rows>,
}

/// What a service's own tables get: its row, its organisation's, and one per
/// service_at_location with the location it nests.
struct Rows {
    parts: Parts,
    organization: Option<PreparedOrganization>,
    at_locations: Vec<(Parts, Option<PreparedLocation>)>,
}

impl Rows {
    fn new(service: &Service) -> anyhow::Result<Self> {
        Ok(Rows {
            parts: split(serde_json::to_value(service)?, &SERVICE),
            organization: service
                .organization
                .as_deref()
                .map(PreparedOrganization::new)
                .transpose()?,
            at_locations: service
                .service_at_locations
                .iter()
                .map(|sal| {
                    Ok((
                        split(serde_json::to_value(sal)?, &SERVICE_AT_LOCATION),
                        sal.location
                            .as_ref()
                            .map(PreparedLocation::new)
                            .transpose()?,
                    ))
                })
                .collect::<anyhow::Result<_>>()?,
        })
    }
}

impl Prepared {
    /// The digest and every row.
    pub fn new(service: Service) -> anyhow::Result<Self> {
        Ok(Prepared {
            rows: Some(Rows::new(&service)?),
            ..Prepared::digest_only(service)
        })
    }

    /// The digest alone: for a service likely stored already, which the writer then finds
    /// unchanged without ever needing its rows.
    pub fn digest_only(service: Service) -> Self {
        Prepared {
            hash: hash_of(&service),
            rows: None,
            service,
        }
    }

    pub fn service(&self) -> &Service {
        &self.service
    }
}

/// Stores a fully nested service (upsert by id) in one transaction: its organisation, its
/// locations, the service itself and its service_at_locations, then the search index of every
/// service whose answers the write changed.
pub fn put_service(conn: &mut DbConnection, service: &Service) -> anyhow::Result<Written> {
    put_prepared(conn, &Prepared::new(service.clone())?)
}

/// `put_service` for a service already prepared. Inside a transaction (an import's batch) it
/// is a savepoint, so a failure takes only this service with it.
pub fn put_prepared(conn: &mut DbConnection, prepared: &Prepared) -> anyhow::Result<Written> {
    crate::db::write(conn, |conn| {
        let mut texts = PendingTexts::default();
        let written = store_service(conn, prepared, &mut texts)?;
        texts.write(conn)?;
        Ok(written)
    })
}

/// `put_prepared` inside a transaction the caller holds (an import's batch): on an error the
/// caller must roll back, since what was written of this service stays. The service's text
/// joins `texts`, which the caller writes before it commits.
pub fn store_service(
    conn: &mut DbConnection,
    prepared: &Prepared,
    texts: &mut PendingTexts,
) -> anyhow::Result<Written> {
    let service = &prepared.service;
    let before = stored_hash(conn, "service", &service.id)?;
    if before.as_deref() == Some(prepared.hash.as_str()) {
        return Ok(Written::Unchanged);
    }
    if before.is_some() {
        // Its rows are replaced, found by its id.
        lookups_ahead(conn)?;
    }
    let computed;
    let rows = match &prepared.rows {
        Some(rows) => rows,
        None => {
            computed = Rows::new(service)?;
            &computed
        }
    };
    let mut affected: BTreeSet<String> = BTreeSet::new();
    affected.insert(service.id.clone());
    if let Some(org) = &rows.organization {
        if put_organization(conn, org)? == Written::Updated {
            lookups_ahead(conn)?;
            affected.extend(ids_where(
                conn,
                "SELECT id FROM service WHERE organization_id = ",
                &org.id,
            )?);
        }
    }
    let organization_id = service
        .organization_id
        .clone()
        .or_else(|| service.organization.as_ref().map(|o| o.id.clone()));
    let mut zones = HashMap::new();
    for location in rows.at_locations.iter().filter_map(|(_, l)| l.as_ref()) {
        let (written, zone) = put_location(conn, location, organization_id.as_deref())?;
        zones.insert(location.id.clone(), zone);
        if written == Written::Updated {
            lookups_ahead(conn)?;
            affected.extend(ids_where(
                conn,
                "SELECT service_id AS id FROM service_at_location WHERE location_id = ",
                &location.id,
            )?);
        }
    }
    let mut attributes: Vec<&Attribute> = service.attributes.iter().collect();
    for sal in &service.service_at_locations {
        attributes.extend(sal.attributes.iter());
        if let Some(l) = &sal.location {
            attributes.extend(l.attributes.iter());
        }
    }
    put_terms(conn, &attributes)?;

    // The time of the change: the service row and its search rows get the same, which
    // `modified_after` reads.
    let stamp = now();
    let parts = &rows.parts;
    let mut q = Sql::prepared(
        "INSERT INTO service (id, organization_id, name, status, doc, content_hash, updated_at) VALUES (",
    );
    q.bind(&service.id)
        .push(", ")
        .bind(organization_id)
        .push(", ")
        .bind(&service.name)
        .push(", ")
        .bind(&service.status)
        .push(", ")
        .bind(&parts.doc)
        .push(", ")
        .bind(&prepared.hash)
        .push(", ")
        .bind(&stamp)
        .push(
            ") ON CONFLICT (id) DO UPDATE SET organization_id = excluded.organization_id, \
             name = excluded.name, status = excluded.status, doc = excluded.doc, \
             content_hash = excluded.content_hash, updated_at = excluded.updated_at",
        );
    q.execute(conn)?;

    // A new service has no rows that name it yet (they all refer to it by foreign key).
    let fresh = before.is_none();
    if !fresh {
        let mut del = Sql::prepared("DELETE FROM service_at_location WHERE service_id = ");
        del.bind(&service.id);
        del.execute(conn)?;
    }
    // One that is still stored belongs to another service, and moves here; that service is no
    // longer offered there, so its search rows are rebuilt.
    let ids: Vec<&str> = service
        .service_at_locations
        .iter()
        .map(|sal| sal.id.as_str())
        .collect();
    let moved = stored_at_locations(conn, &ids)?;
    affected.extend(moved.values().cloned());
    for (position, (sal, (parts, _))) in service
        .service_at_locations
        .iter()
        .zip(&rows.at_locations)
        .enumerate()
    {
        put_service_at_location(conn, &service.id, position, sal, parts)?;
    }
    // The service as given says all search needs when it nests what it links to; otherwise
    // (and for the other services the write touched) read it back.
    let self_contained = service
        .service_at_locations
        .iter()
        .all(|sal| sal.location.is_some() || sal.location_id.is_none())
        && (service.organization.is_some() || service.organization_id.is_none());
    if self_contained {
        affected.remove(&service.id);
        reindex(conn, service, &zones, &stamp, fresh, texts)?;
    }
    let ids: Vec<String> = affected.into_iter().collect();
    reindex_services(conn, &ids, texts)?;
    Ok(if fresh {
        Written::Created
    } else {
        Written::Updated
    })
}

/// Upserts a service_at_location.
fn put_service_at_location(
    conn: &mut DbConnection,
    service_id: &str,
    position: usize,
    sal: &ServiceAtLocation,
    parts: &Parts,
) -> anyhow::Result<()> {
    let location_id = sal
        .location_id
        .clone()
        .or_else(|| sal.location.as_ref().map(|l| l.id.clone()));
    let mut q = Sql::prepared(
        "INSERT INTO service_at_location (id, service_id, location_id, position, doc) VALUES (",
    );
    q.bind(&sal.id)
        .push(", ")
        .bind(service_id)
        .push(", ")
        .bind(location_id)
        .push(", ")
        .bind(position as i64)
        .push(", ")
        .bind(&parts.doc)
        .push(
            ") ON CONFLICT (id) DO UPDATE SET service_id = excluded.service_id, \
             location_id = excluded.location_id, position = excluded.position, doc = excluded.doc",
        );
    q.execute(conn)?;
    Ok(())
}

/// Which of these service_at_locations are stored, with the service each belongs to: one
/// query for a few.
fn stored_at_locations(
    conn: &mut DbConnection,
    ids: &[&str],
) -> anyhow::Result<HashMap<String, String>> {
    #[derive(QueryableByName)]
    struct Stored {
        #[diesel(sql_type = Text)]
        id: String,
        #[diesel(sql_type = Text)]
        service_id: String,
    }
    const WIDTH: usize = 8;
    let mut stored = HashMap::new();
    for chunk in ids.chunks(WIDTH) {
        let mut q = Sql::prepared("SELECT id, service_id FROM service_at_location WHERE id IN ");
        q.bind_padded_list(chunk, WIDTH);
        stored.extend(
            q.load::<Stored>(conn)?
                .into_iter()
                .map(|r| (r.id, r.service_id)),
        );
    }
    Ok(stored)
}

/// Records that a service's search rows changed, for the near-here index of every instance
/// (`search::nearby`), with the number of the text the change removed, if any. Part of the
/// change's own transaction.
fn changed_search(
    conn: &mut DbConnection,
    service_id: &str,
    stamp: &str,
    gone_text: Option<i64>,
) -> anyhow::Result<()> {
    let mut q =
        Sql::prepared("INSERT INTO search_change (service_id, changed_at, gone_text) VALUES (");
    q.bind(service_id)
        .push(", ")
        .bind(stamp)
        .push(", ")
        .bind(gone_text)
        .push(")");
    q.execute(conn)?;
    Ok(())
}

#[derive(QueryableByName)]
struct TextNumber {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Deletes a service's text (and, by foreign key, its terms); returns its number. The
/// near-here index must forget that number's status: PostgreSQL's lists of texts by word
/// (`search::postings`) keep it.
fn delete_text(conn: &mut DbConnection, service_id: &str) -> anyhow::Result<Option<i64>> {
    let mut del = Sql::prepared("DELETE FROM service_text WHERE service_id = ");
    del.bind(service_id).push(" RETURNING id");
    Ok(del.load::<TextNumber>(conn)?.pop().map(|t| t.id))
}

/// Full-text entries of texts written to `service_text` but not yet to SQLite's FTS5 index
/// (PostgreSQL indexes the text column itself, so nothing waits there).
///
/// FTS5 writes what it holds to disk as a new segment whenever a statement that can be undone
/// on its own begins (one that fires a trigger or has RETURNING), and then merges segments.
/// Indexing each text as it was written (by trigger) made a segment per service: 10,000
/// services took 4.5 s to import rather than 3.7 s. Entries wait here instead and are written
/// together before the transaction ends: at once for a single write, at the end of its batch
/// for an import; what waits is each text itself, about 1 KB a service, so 5 MB a batch.
#[derive(Default)]
pub struct PendingTexts {
    entries: Vec<(i64, String)>,
    services: HashSet<String>,
}

impl PendingTexts {
    fn push(&mut self, service_id: &str, text_id: i64, body: String) {
        self.entries.push((text_id, body));
        self.services.insert(service_id.to_string());
    }

    /// Writes the waiting entries to the full-text index.
    pub fn write(&mut self, conn: &mut DbConnection) -> anyhow::Result<()> {
        for (text_id, body) in self.entries.drain(..) {
            let mut q = Sql::prepared("INSERT INTO service_text_fts (rowid, body) VALUES (");
            q.bind(text_id).push(", ").bind(body).push(")");
            q.execute(conn)?;
        }
        self.services.clear();
        Ok(())
    }
}

/// Rebuilds the search rows and text of one fully nested service; `zones`: the stored time
/// zone of each of its locations, by id; `stamp` is the time of the change, which
/// `modified_after` sees (the caller gives the service row the same); `fresh`: the service
/// was just created, so it has no search rows or text to remove.
fn reindex(
    conn: &mut DbConnection,
    service: &Service,
    zones: &HashMap<String, Option<String>>,
    stamp: &str,
    fresh: bool,
    texts: &mut PendingTexts,
) -> anyhow::Result<()> {
    let service_id = service.id.as_str();
    let entries = index::entries(service, |l| zones.get(&l.id).cloned().flatten());
    // The text first: the search rows refer to it by number.
    let mut gone_text = None;
    if !fresh {
        // Removing a text removes its full-text entry (by trigger), which must be there, and
        // its terms (by foreign key).
        if texts.services.contains(service_id) {
            texts.write(conn)?;
        }
        gone_text = delete_text(conn, service_id)?;
        let mut del = Sql::prepared("DELETE FROM search_entry WHERE service_id = ");
        del.bind(service_id);
        del.execute(conn)?;
    }
    let body = index::text(service);
    let mut ins = Sql::prepared("INSERT INTO service_text (service_id, body) VALUES (");
    ins.bind(service_id)
        .push(", ")
        .bind(&body)
        .push(") RETURNING id AS n");
    let text_id = ins.count(conn)?;
    if backend(conn) == Backend::Sqlite {
        texts.push(service_id, text_id, body);
    }
    write_terms(conn, text_id, &terms_of(service))?;
    for e in entries {
        let mut q = Sql::prepared(
            "INSERT INTO search_entry (service_id, text_id, service_at_location_id, location_id, \
             organization_id, name, status, latitude, longitude, time_zone, service_types, cost, \
             accessibility, delivery, low_barrier, population, languages, postcodes, min_fee, \
             minimum_age, maximum_age, hours, updated_at) VALUES (",
        );
        q.bind(e.service_id)
            .push(", ")
            .bind(text_id)
            .push(", ")
            .bind(e.service_at_location_id)
            .push(", ")
            .bind(e.location_id)
            .push(", ")
            .bind(e.organization_id)
            .push(", ")
            .bind(e.name)
            .push(", ")
            .bind(e.status)
            .push(", ")
            .bind(e.latitude)
            .push(", ")
            .bind(e.longitude)
            .push(", ")
            .bind(e.time_zone)
            .push(", ")
            .bind(e.service_types)
            .push(", ")
            .bind(e.cost)
            .push(", ")
            .bind(e.accessibility)
            .push(", ")
            .bind(e.delivery)
            .push(", ")
            .bind(e.low_barrier)
            .push(", ")
            .bind(e.population)
            .push(", ")
            .bind(e.languages)
            .push(", ")
            .bind(e.postcodes)
            .push(", ")
            .bind(e.min_fee)
            .push(", ")
            .bind(e.minimum_age)
            .push(", ")
            .bind(e.maximum_age)
            .push(", ")
            .bind(e.hours)
            .push(", ")
            .bind(stamp)
            .push(")");
        q.execute(conn)?;
    }
    changed_search(conn, service_id, stamp, gone_text)?;
    Ok(())
}

#[derive(QueryableByName)]
struct ZoneRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Nullable<Text>)]
    time_zone: Option<String>,
}

fn location_zones(
    conn: &mut DbConnection,
    service: &Service,
) -> anyhow::Result<HashMap<String, Option<String>>> {
    let ids: Vec<String> = service
        .service_at_locations
        .iter()
        .filter_map(|s| s.location.as_ref().map(|l| l.id.clone()))
        .collect();
    let mut zones = HashMap::new();
    for id in ids {
        let mut q = Sql::prepared("SELECT id, time_zone FROM location WHERE id = ");
        q.bind(&id);
        if let Some(r) = q.load::<ZoneRow>(conn)?.pop() {
            zones.insert(r.id, r.time_zone);
        }
    }
    Ok(zones)
}

/// The organisation a stored service or location belongs to: `None` when there is no such
/// record, `Some(None)` when it names none.
pub fn owner(
    conn: &mut DbConnection,
    table: &str,
    id: &str,
) -> anyhow::Result<Option<Option<String>>> {
    #[derive(QueryableByName)]
    struct Owner {
        #[diesel(sql_type = Nullable<Text>)]
        organization_id: Option<String>,
    }
    let mut q = Sql::new(&format!("SELECT organization_id FROM {table} WHERE id = "));
    q.bind(id);
    Ok(q.load::<Owner>(conn)?.pop().map(|o| o.organization_id))
}

/// The service a service_at_location belongs to, and that service's organisation, if the
/// service_at_location exists.
pub fn service_at_location_owner(
    conn: &mut DbConnection,
    id: &str,
) -> anyhow::Result<Option<(String, Option<String>)>> {
    #[derive(QueryableByName)]
    struct Owner {
        #[diesel(sql_type = Text)]
        service_id: String,
        #[diesel(sql_type = Nullable<Text>)]
        organization_id: Option<String>,
    }
    let mut q = Sql::new(
        "SELECT sal.service_id, s.organization_id FROM service_at_location sal \
         JOIN service s ON s.id = sal.service_id WHERE sal.id = ",
    );
    q.bind(id);
    Ok(q.load::<Owner>(conn)?
        .pop()
        .map(|o| (o.service_id, o.organization_id)))
}

/// The entity tag of a stored object: a digest of the form a read returns (for a service, the
/// fully nested form), so it changes when anything a read shows changes.
pub fn etag(object: &impl serde::Serialize) -> String {
    format!("\"{}\"", &hash_of(object)[..32])
}

/// Re-reads and reindexes services after something they nest changed, and stamps them
/// changed.
fn reindex_services(
    conn: &mut DbConnection,
    ids: &[String],
    texts: &mut PendingTexts,
) -> anyhow::Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    lookups_ahead(conn)?;
    let stamp = now();
    for stored in services(conn, ids)? {
        let zones = location_zones(conn, &stored)?;
        reindex(conn, &stored, &zones, &stamp, false, texts)?;
        let mut touch = Sql::prepared("UPDATE service SET updated_at = ");
        touch.bind(&stamp).push(" WHERE id = ").bind(&stored.id);
        touch.execute(conn)?;
    }
    Ok(())
}

/// `reindex_services` for a write that stores nothing else: the texts are indexed at once.
fn reindex_now(conn: &mut DbConnection, ids: &[String]) -> anyhow::Result<()> {
    let mut texts = PendingTexts::default();
    reindex_services(conn, ids, &mut texts)?;
    texts.write(conn)
}

/// Stores an organisation's own fields (not its services or locations) and reindexes its
/// services when it changed, since search shows its name.
pub fn write_organization(conn: &mut DbConnection, org: &Organization) -> anyhow::Result<Written> {
    crate::db::write(conn, |conn| {
        let mut own = org.clone();
        own.services.clear();
        own.locations.clear();
        let written = put_organization(conn, &PreparedOrganization::new(&own)?)?;
        if written == Written::Updated {
            let ids = organization_service_ids(conn, &org.id)?;
            reindex_now(conn, &ids)?;
        }
        Ok(written)
    })
}

/// Stores a location and reindexes the services offered there when it changed.
pub fn write_location(conn: &mut DbConnection, location: &Location) -> anyhow::Result<Written> {
    crate::db::write(conn, |conn| {
        let (written, _) = put_location(conn, &PreparedLocation::new(location)?, None)?;
        if written == Written::Updated {
            let ids = location_service_ids(conn, &location.id)?;
            reindex_now(conn, &ids)?;
        }
        Ok(written)
    })
}

/// Services offered at a location.
pub fn location_service_ids(
    conn: &mut DbConnection,
    location_id: &str,
) -> anyhow::Result<Vec<String>> {
    let mut ids = ids_where(
        conn,
        "SELECT service_id AS id FROM service_at_location WHERE location_id = ",
        location_id,
    )?;
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// Deletes a location no service is offered at any more.
pub fn delete_location(conn: &mut DbConnection, id: &str) -> anyhow::Result<bool> {
    crate::db::write(conn, |conn| {
        let mut q = Sql::new("DELETE FROM location WHERE id = ");
        q.bind(id);
        Ok(q.execute(conn)? > 0)
    })
}

/// Deletes an organisation's own record and its locations; its services must be gone first.
pub fn delete_organization(conn: &mut DbConnection, id: &str) -> anyhow::Result<bool> {
    crate::db::write(conn, |conn| {
        let locations = ids_where(conn, "SELECT id FROM location WHERE organization_id = ", id)?;
        for location in &locations {
            delete_location(conn, location)?;
        }
        let mut q = Sql::new("DELETE FROM organization WHERE id = ");
        q.bind(id);
        Ok(q.execute(conn)? > 0)
    })
}

/// The service a service_at_location belongs to.
pub fn service_at_location_service(
    conn: &mut DbConnection,
    id: &str,
) -> anyhow::Result<Option<String>> {
    Ok(ids_where(
        conn,
        "SELECT service_id AS id FROM service_at_location WHERE id = ",
        id,
    )?
    .pop())
}

/// Deletes a service and everything that only it owns.
pub fn delete_service(conn: &mut DbConnection, id: &str) -> anyhow::Result<bool> {
    crate::db::write(conn, |conn| {
        let gone_text = delete_text(conn, id)?;
        changed_search(conn, id, &now(), gone_text)?;
        for sql in [
            "DELETE FROM search_entry WHERE service_id = ",
            "DELETE FROM service_at_location WHERE service_id = ",
        ] {
            let mut q = Sql::prepared(sql);
            q.bind(id);
            q.execute(conn)?;
        }
        let mut q = Sql::prepared("DELETE FROM service WHERE id = ");
        q.bind(id);
        Ok(q.execute(conn)? > 0)
    })
}

fn docs(conn: &mut DbConnection, table: &str, ids: &[String]) -> anyhow::Result<Vec<DocRow>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut q = Sql::new(&format!("SELECT id, doc FROM {table} WHERE id IN "));
    q.bind_list(ids);
    Ok(q.load::<DocRow>(conn)?)
}

fn from_map<T: serde::de::DeserializeOwned>(map: Map<String, Value>) -> anyhow::Result<T> {
    serde_json::from_value(Value::Object(map)).context("stored object no longer reads as HSDS")
}

/// Entities of one table by id.
fn entities<T: serde::de::DeserializeOwned>(
    conn: &mut DbConnection,
    table: &str,
    ids: &[String],
) -> anyhow::Result<HashMap<String, T>> {
    docs(conn, table, ids)?
        .into_iter()
        .map(|r| Ok((r.id, from_map(parse_doc(&r.doc)?)?)))
        .collect()
}

/// Organisations by id (without their services or locations).
pub fn organizations(
    conn: &mut DbConnection,
    ids: &[String],
) -> anyhow::Result<HashMap<String, Organization>> {
    entities(conn, "organization", ids)
}

/// Locations by id.
pub fn locations(
    conn: &mut DbConnection,
    ids: &[String],
) -> anyhow::Result<HashMap<String, Location>> {
    entities(conn, "location", ids)
}

/// Locations of an organisation, in id order.
pub fn organization_locations(
    conn: &mut DbConnection,
    organization_id: &str,
) -> anyhow::Result<Vec<Location>> {
    // In a stable order: what order the rows happen to come in changes as they are rewritten.
    let mut q = Sql::prepared("SELECT id FROM location WHERE organization_id = ");
    q.bind(organization_id).push(" ORDER BY id");
    let ids: Vec<String> = q.load::<IdRow>(conn)?.into_iter().map(|r| r.id).collect();
    let mut found = locations(conn, &ids)?;
    Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
}

/// Service-at-locations by id (or by service), each with its location nested.
fn service_at_locations(
    conn: &mut DbConnection,
    rows: Vec<SalRow>,
) -> anyhow::Result<Vec<(String, ServiceAtLocation)>> {
    let location_ids: Vec<String> = rows
        .iter()
        .filter_map(|r| r.location_id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let locs = locations(conn, &location_ids)?;
    rows.into_iter()
        .map(|r| {
            let mut sal: ServiceAtLocation = from_map(parse_doc(&r.doc)?)?;
            sal.location = r.location_id.as_ref().and_then(|l| locs.get(l).cloned());
            Ok((r.service_id, sal))
        })
        .collect()
}

/// Fully nested services, in the order of `ids`; unknown ids are skipped.
pub fn services(conn: &mut DbConnection, ids: &[String]) -> anyhow::Result<Vec<Service>> {
    #[derive(QueryableByName)]
    struct ServiceRow {
        #[diesel(sql_type = Text)]
        id: String,
        #[diesel(sql_type = Nullable<Text>)]
        organization_id: Option<String>,
        #[diesel(sql_type = Text)]
        doc: String,
    }
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut q = Sql::new("SELECT id, organization_id, doc FROM service WHERE id IN ");
    q.bind_list(ids);
    let rows = q.load::<ServiceRow>(conn)?;
    // The organisation comes from the column: a service may name it only by nesting it.
    let mut maps: HashMap<String, (Option<String>, Map<String, Value>)> = HashMap::new();
    for r in rows {
        let map = parse_doc(&r.doc)?;
        maps.insert(r.id, (r.organization_id, map));
    }
    let org_ids: Vec<String> = maps
        .values()
        .filter_map(|(org, _)| org.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let orgs = organizations(conn, &org_ids)?;
    let mut q = Sql::new(
        "SELECT service_id, location_id, doc FROM service_at_location WHERE service_id IN ",
    );
    q.bind_list(ids).push(" ORDER BY service_id, position");
    let sal_rows = q.load::<SalRow>(conn)?;
    let mut sals: HashMap<String, Vec<ServiceAtLocation>> = HashMap::new();
    for (service_id, sal) in service_at_locations(conn, sal_rows)? {
        sals.entry(service_id).or_default().push(sal);
    }
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let Some((org_id, map)) = maps.remove(id) else {
            continue;
        };
        let mut service: Service = from_map(map)?;
        service.organization = org_id.and_then(|o| orgs.get(&o).cloned()).map(Box::new);
        service.service_at_locations = sals.remove(id).unwrap_or_default();
        out.push(service);
    }
    Ok(out)
}

/// Service-at-locations by id, in the order of `ids`, each with its location and its
/// (fully nested) service.
pub fn service_at_locations_by_id(
    conn: &mut DbConnection,
    ids: &[String],
) -> anyhow::Result<Vec<ServiceAtLocation>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut q =
        Sql::new("SELECT service_id, location_id, doc FROM service_at_location WHERE id IN ");
    q.bind_list(ids);
    let rows = q.load::<SalRow>(conn)?;
    let service_ids: Vec<String> = rows
        .iter()
        .map(|r| r.service_id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let full: HashMap<String, Service> = services(conn, &service_ids)?
        .into_iter()
        .map(|s| (s.id.clone(), s))
        .collect();
    let mut found: HashMap<String, ServiceAtLocation> = HashMap::new();
    for (service_id, mut sal) in service_at_locations(conn, rows)? {
        sal.service_id = Some(service_id.clone());
        sal.service = full.get(&service_id).cloned().map(Box::new);
        found.insert(sal.id.clone(), sal);
    }
    Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
}

/// When Haven last changed each service (`updated_at`), by id.
pub fn service_stamps(
    conn: &mut DbConnection,
    ids: &[String],
) -> anyhow::Result<HashMap<String, String>> {
    #[derive(QueryableByName)]
    struct Stamp {
        #[diesel(sql_type = Text)]
        id: String,
        #[diesel(sql_type = Text)]
        updated_at: String,
    }
    let mut q = Sql::new("SELECT id, updated_at FROM service WHERE id IN ");
    q.bind_list(ids);
    Ok(q.load::<Stamp>(conn)?
        .into_iter()
        .map(|r| (r.id, r.updated_at))
        .collect())
}

/// The tables a load fills, whose secondary indexes it builds after it when the catalogue was
/// empty (see `db::deferred`). `service_text` and `service_term` have none keyed at random.
const LOADED_TABLES: [&str; 5] = [
    "organization",
    "location",
    "service",
    "service_at_location",
    "search_entry",
];

/// Before a load: sets aside the secondary indexes of the tables it fills, if the catalogue
/// holds no service yet. Returns how many were set aside (none on PostgreSQL).
pub fn set_aside_indexes_if_empty(conn: &mut DbConnection) -> anyhow::Result<usize> {
    if backend(conn) != Backend::Sqlite {
        return Ok(0);
    }
    crate::db::write(conn, |conn| {
        if !is_empty(conn)? {
            return Ok(0);
        }
        Ok(deferred::set_aside(conn, &LOADED_TABLES)?)
    })
}

/// Before a write looks up rows by something other than their primary key (a service's rows
/// by its id, the services of an organisation or at a location): builds the indexes a load
/// set aside, if any, so that it does not scan the tables.
fn lookups_ahead(conn: &mut DbConnection) -> anyhow::Result<()> {
    deferred::restore(conn)?;
    Ok(())
}

/// Whether the database holds no services yet.
pub fn is_empty(conn: &mut DbConnection) -> anyhow::Result<bool> {
    Ok(Sql::new("SELECT id FROM service LIMIT 1")
        .load::<IdRow>(conn)?
        .is_empty())
}

/// Every service id, in id order, after `after`, at most `limit`: for export in batches.
pub fn service_ids_after(
    conn: &mut DbConnection,
    after: Option<&str>,
    limit: i64,
) -> anyhow::Result<Vec<String>> {
    let mut q = Sql::new("SELECT id FROM service");
    if let Some(after) = after {
        q.push(" WHERE id > ").bind(after);
    }
    q.push(" ORDER BY id LIMIT ").bind(limit);
    Ok(q.load::<IdRow>(conn)?.into_iter().map(|r| r.id).collect())
}

/// The backend, for the few queries that differ.
pub fn backend(conn: &DbConnection) -> Backend {
    Backend::of(conn)
}

/// A page of rows of a table with a `name` column and a `doc`, ordered by name: organisations,
/// taxonomies, taxonomy terms. `filter` appends conditions after `WHERE 1 = 1`.
pub fn named_page(
    conn: &mut DbConnection,
    table: &str,
    filter: impl Fn(&mut Sql),
    window: Option<(i64, i64)>,
) -> anyhow::Result<(Vec<(String, String)>, i64)> {
    let mut count = Sql::new(&format!("SELECT COUNT(*) AS n FROM {table} WHERE 1 = 1"));
    filter(&mut count);
    let total = count.count(conn)?;
    let mut q = Sql::new(&format!("SELECT id, doc FROM {table} WHERE 1 = 1"));
    filter(&mut q);
    q.push(" ORDER BY name, id");
    if let Some((page, per_page)) = window {
        q.push(" LIMIT ")
            .bind(per_page)
            .push(" OFFSET ")
            .bind((page - 1) * per_page);
    }
    let rows = q.load::<DocRow>(conn)?;
    Ok((rows.into_iter().map(|r| (r.id, r.doc)).collect(), total))
}

/// Appends a case-insensitive "every word appears in name or description" condition.
pub fn words_condition(q: &mut Sql, words: &[String]) {
    for w in words {
        let pattern = format!("%{w}%");
        q.push(" AND (LOWER(name) LIKE ")
            .bind(pattern.clone())
            .push(" OR LOWER(doc) LIKE ")
            .bind(pattern)
            .push(")");
    }
}

/// Ids of an organisation's services, by name.
pub fn organization_service_ids(
    conn: &mut DbConnection,
    organization_id: &str,
) -> anyhow::Result<Vec<String>> {
    let mut q = Sql::new("SELECT id FROM service WHERE organization_id = ");
    q.bind(organization_id).push(" ORDER BY name, id");
    Ok(q.load::<IdRow>(conn)?.into_iter().map(|r| r.id).collect())
}
