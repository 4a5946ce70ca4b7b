//! What search knows about a service, derived from its full HSDS form. Pure.
//!
//! One entry per service_at_location (or one for a service with no location): the filters of
//! api.md are per place, so "wheelchair accessible, open now, within 10 km" must hold at one
//! location, not across several.

use std::collections::BTreeSet;

use crate::catalog::views::coarse;
use crate::hsds::model::{Attribute, Location, Schedule, Service, ServiceAtLocation};
use crate::search::filters::normalise_postcode;
use crate::search::hours::has_hours;
use crate::vocab::{Facet, VOCABULARIES};

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Entry {
    pub service_id: String,
    pub service_at_location_id: Option<String>,
    pub location_id: Option<String>,
    pub organization_id: Option<String>,
    pub name: String,
    pub status: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub time_zone: Option<String>,
    pub service_types: i64,
    pub cost: i64,
    pub accessibility: i64,
    pub delivery: i64,
    pub low_barrier: i64,
    pub population: i64,
    /// `,en,es,`: codes lower-cased, a regional code also under its language (`pt-br` → `pt`).
    pub languages: String,
    /// `,22902,`.
    pub postcodes: String,
    pub min_fee: Option<f64>,
    pub minimum_age: Option<f64>,
    pub maximum_age: Option<f64>,
    /// The schedules that decide opening hours here, as JSON; `None` when no hours are known.
    pub hours: Option<String>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Masks {
    service_types: i64,
    cost: i64,
    accessibility: i64,
    delivery: i64,
    low_barrier: i64,
    population: i64,
}

impl Masks {
    fn add(&mut self, attributes: &[Attribute]) {
        for a in attributes {
            let Some((facet, code)) = haven_term(a) else {
                continue;
            };
            let vocab = VOCABULARIES.get(facet);
            let bits = vocab.bits_with_parent(code);
            match facet {
                Facet::ServiceTypes => self.service_types |= bits,
                Facet::Cost => self.cost |= bits,
                Facet::Accessibility => self.accessibility |= bits,
                Facet::Delivery => self.delivery |= bits,
                Facet::LowBarrier => self.low_barrier |= bits,
                Facet::Population => self.population |= bits,
            }
        }
    }
}

/// The Haven facet and code an attribute names, by term id or by taxonomy name and code.
pub fn haven_term(a: &Attribute) -> Option<(Facet, &str)> {
    if let Some(found) = a
        .taxonomy_term_id
        .as_deref()
        .and_then(|id| VOCABULARIES.term_by_id(id))
    {
        return Some(found);
    }
    let term = a.taxonomy_term.as_ref()?;
    let vocab = VOCABULARIES.by_taxonomy(term.taxonomy.as_deref()?)?;
    let code = term.code.as_deref()?;
    vocab
        .terms
        .iter()
        .find(|t| t.code == code)
        .map(|t| (vocab.facet, t.code.as_str()))
}

fn delimited(items: BTreeSet<String>) -> String {
    if items.is_empty() {
        String::new()
    } else {
        format!(",{},", items.into_iter().collect::<Vec<_>>().join(","))
    }
}

fn language_codes<'a>(codes: impl Iterator<Item = &'a str>, into: &mut BTreeSet<String>) {
    for code in codes {
        let code = code.trim().to_ascii_lowercase();
        if code.is_empty() {
            continue;
        }
        if let Some((primary, _)) = code.split_once('-') {
            into.insert(primary.to_string());
        }
        into.insert(code);
    }
}

/// The schedules that decide a place's hours: the service-at-location's own, else the
/// location's, else the service's.
fn effective_hours<'a>(
    service: &'a Service,
    sal: Option<&'a ServiceAtLocation>,
    location: Option<&'a Location>,
) -> Vec<&'a Schedule> {
    let candidates: [&[Schedule]; 3] = [
        sal.map_or(&[], |s| s.schedules.as_slice()),
        location.map_or(&[], |l| l.schedules.as_slice()),
        service.schedules.as_slice(),
    ];
    candidates
        .into_iter()
        .map(|list| list.iter().filter(|s| has_hours(s)).collect::<Vec<_>>())
        .find(|list| !list.is_empty())
        .unwrap_or_default()
}

/// The search entries of a fully nested service. `time_zone` finds a location's zone. A place
/// with none (online, by phone: no coordinates) reads its hours in the zone of the service's
/// first place that has one, as the organiser's wall-clock times; with none at all, only a
/// schedule's own `timezone` offset can say when it is open.
pub fn entries(service: &Service, time_zone: impl Fn(&Location) -> Option<String>) -> Vec<Entry> {
    let service_zone = service
        .service_at_locations
        .iter()
        .filter_map(|sal| sal.location.as_ref())
        .find_map(&time_zone);
    let mut base = Masks::default();
    base.add(&service.attributes);
    let mut fees: Vec<f64> = service
        .cost_options
        .iter()
        .filter_map(|c| c.amount)
        .filter(|a| a.is_finite())
        .collect();
    let free_bit = VOCABULARIES.get(Facet::Cost).bit("free").unwrap_or(0);
    if fees.contains(&0.0) {
        base.cost |= free_bit;
    }
    if base.cost & free_bit != 0 {
        fees.push(0.0);
    }
    let min_fee = fees.into_iter().reduce(f64::min);
    let mut service_languages = BTreeSet::new();
    language_codes(
        service.languages.iter().filter_map(|l| l.code.as_deref()),
        &mut service_languages,
    );

    let entry = |sal: Option<&ServiceAtLocation>, location: Option<&Location>| {
        let mut masks = base;
        let mut languages = service_languages.clone();
        let mut postcodes = BTreeSet::new();
        if let Some(sal) = sal {
            masks.add(&sal.attributes);
        }
        if let Some(l) = location {
            masks.add(&l.attributes);
            if l.location_type == "virtual" {
                masks.delivery |= VOCABULARIES
                    .get(Facet::Delivery)
                    .bit("virtual")
                    .unwrap_or(0);
            }
            language_codes(
                l.languages.iter().filter_map(|x| x.code.as_deref()),
                &mut languages,
            );
            // A confidential location's addresses are not public, and its postcode would
            // place it: the postcode filter does not find it.
            let public = l.confidential != Some(true);
            for a in l.addresses.iter().filter(|_| public) {
                if !a.postal_code.trim().is_empty() {
                    postcodes.insert(normalise_postcode(&a.postal_code));
                }
            }
        }
        let hours = effective_hours(service, sal, location);
        // A confidential location is searched by its public, coarse point, so that distances
        // cannot be used to find it.
        let point = location.and_then(|l| {
            let p = l.latitude.zip(l.longitude)?;
            Some(if l.confidential == Some(true) {
                (coarse(p.0), coarse(p.1))
            } else {
                p
            })
        });
        Entry {
            service_id: service.id.clone(),
            service_at_location_id: sal.map(|s| s.id.clone()),
            location_id: location.map(|l| l.id.clone()),
            organization_id: service
                .organization_id
                .clone()
                .or_else(|| service.organization.as_ref().map(|o| o.id.clone())),
            name: service.name.clone(),
            status: service.status.clone(),
            latitude: point.map(|p| p.0),
            longitude: point.map(|p| p.1),
            time_zone: location
                .and_then(&time_zone)
                .or_else(|| service_zone.clone()),
            service_types: masks.service_types,
            cost: masks.cost,
            accessibility: masks.accessibility,
            delivery: masks.delivery,
            low_barrier: masks.low_barrier,
            population: masks.population,
            languages: delimited(languages),
            postcodes: delimited(postcodes),
            min_fee,
            minimum_age: service.minimum_age,
            maximum_age: service.maximum_age,
            hours: (!hours.is_empty())
                .then(|| serde_json::to_string(&hours).expect("schedules serialise")),
        }
    };

    if service.service_at_locations.is_empty() {
        return vec![entry(None, None)];
    }
    service
        .service_at_locations
        .iter()
        .map(|sal| entry(Some(sal), sal.location.as_ref()))
        .collect()
}

/// The text keyword search runs over: names and descriptions of the service, its organisation
/// and its service-type terms.
pub fn text(service: &Service) -> String {
    let mut parts: Vec<&str> = vec![service.name.as_str()];
    parts.extend(service.alternate_name.as_deref());
    parts.extend(service.description.as_deref());
    if let Some(o) = &service.organization {
        parts.push(&o.name);
        parts.extend(o.alternate_name.as_deref());
        parts.push(&o.description);
    }
    let mut terms = BTreeSet::new();
    for a in &service.attributes {
        // Haven's own terms read as Haven defines them, whatever a record calls them.
        let haven = haven_term(a).and_then(|(facet, code)| {
            VOCABULARIES
                .get(facet)
                .terms
                .iter()
                .find(|t| t.code == code)
        });
        if let Some(t) = haven {
            terms.insert(t.name.as_str());
            terms.insert(t.description.as_str());
        } else if let Some(t) = &a.taxonomy_term {
            terms.insert(t.name.as_str());
            terms.insert(t.description.as_str());
        }
    }
    parts.extend(terms);
    parts.join("\n")
}
