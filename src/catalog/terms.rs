//! Terms as attributes name them: Haven's by taxonomy and code, any by a known id.
//!
//! The contract lets an attribute name one of Haven's terms by `taxonomy_term.taxonomy` and
//! `taxonomy_term.code` alone (`{"taxonomy": "haven-services", "code": "HR01"}`). HSDS requires
//! a term's `id`, `name` and `description`, so before a record is read such a term is completed
//! from Haven's definition, wherever its attribute is nested, and the attribute gets the term's
//! id as `taxonomy_term_id` if it has none. A term with an id of its own, or of another
//! taxonomy, is kept as it comes; a code Haven's taxonomy does not have is refused by name.
//!
//! An attribute may also name a term by `taxonomy_term_id` alone, if the term is known: one
//! of Haven's, one stored (`GET /taxonomy_terms`), or one the same record nests. A write that
//! names any other is refused by name rather than stored pointing at nothing.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::catalog::store;
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::hsds::model::{Attribute, Location, Organization, Service};
use crate::vocab::VOCABULARIES;

/// A record's attributes, each with its field path.
pub type Attributes<'a> = Vec<(String, &'a Attribute)>;

fn listed<'a>(into: &mut Attributes<'a>, at: &str, attributes: &'a [Attribute]) {
    for (i, a) in attributes.iter().enumerate() {
        into.push((format!("{at}attributes[{i}]"), a));
    }
}

/// A location's attributes; `at` is its path, with a trailing dot, or empty.
pub fn of_location<'a>(location: &'a Location, at: &str) -> Attributes<'a> {
    let mut all = vec![];
    listed(&mut all, at, &location.attributes);
    all
}

pub fn of_organization(org: &Organization) -> Attributes<'_> {
    let mut all = vec![];
    listed(&mut all, "", &org.attributes);
    all
}

/// A fully nested service's attributes, its organisation's and those of its
/// service_at_locations and their locations included.
pub fn of_service(service: &Service) -> Attributes<'_> {
    let mut all = vec![];
    listed(&mut all, "", &service.attributes);
    if let Some(org) = &service.organization {
        listed(&mut all, "organization.", &org.attributes);
    }
    for (i, sal) in service.service_at_locations.iter().enumerate() {
        let at = format!("service_at_locations[{i}].");
        listed(&mut all, &at, &sal.attributes);
        if let Some(location) = &sal.location {
            all.extend(of_location(location, &format!("{at}location.")));
        }
    }
    all
}

/// The term ids a stored record's attributes name, in lower case: a write may keep them as
/// they are (`haven import` does not check them), whatever else it changes.
pub fn named(attributes: &Attributes) -> HashSet<String> {
    attributes
        .iter()
        .filter_map(|(_, a)| a.taxonomy_term_id.as_deref())
        .map(str::to_ascii_lowercase)
        .collect()
}

/// Refuses, naming each, the attributes that name by `taxonomy_term_id` alone a term that is
/// not known (see the module's note) and that the stored record did not name already
/// (`stored`, from `named`).
pub fn check_known(
    conn: &mut DbConnection,
    attributes: &Attributes,
    stored: &HashSet<String>,
) -> ApiResult<()> {
    let mut nested: HashSet<String> = attributes
        .iter()
        .filter_map(|(_, a)| a.taxonomy_term.as_ref())
        .map(|t| t.id.to_ascii_lowercase())
        .collect();
    nested.extend(stored.iter().cloned());
    let mut errors = vec![];
    for (at, a) in attributes {
        let Some(id) = a.taxonomy_term_id.as_deref() else {
            continue;
        };
        let known = VOCABULARIES.term_by_id(id).is_some()
            || nested.contains(&id.to_ascii_lowercase())
            || store::term_exists(conn, id)?;
        if !known {
            errors.push(FieldError::new(
                format!("{at}.taxonomy_term_id"),
                "is not a known taxonomy term: name one of GET /taxonomy_terms, or nest the \
                 term in taxonomy_term",
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Invalid(errors))
    }
}

/// Completes every Haven term named by taxonomy and code in `record` (a service, location or
/// organisation as JSON). Returns a problem for each code Haven does not know.
pub fn complete(record: &mut Map<String, Value>) -> Vec<FieldError> {
    let mut errors = vec![];
    walk_object(record, "", &mut errors);
    errors
}

fn walk_object(map: &mut Map<String, Value>, at: &str, errors: &mut Vec<FieldError>) {
    for (key, child) in map.iter_mut() {
        let here = if at.is_empty() {
            key.clone()
        } else {
            format!("{at}.{key}")
        };
        if key == "attributes" {
            if let Value::Array(attributes) = child {
                for (i, attribute) in attributes.iter_mut().enumerate() {
                    if let Value::Object(attribute) = attribute {
                        complete_attribute(attribute, &format!("{here}[{i}]"), errors);
                    }
                }
            }
        }
        walk(child, &here, errors);
    }
}

fn walk(value: &mut Value, at: &str, errors: &mut Vec<FieldError>) {
    match value {
        Value::Object(map) => walk_object(map, at, errors),
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                walk(item, &format!("{at}[{i}]"), errors);
            }
        }
        _ => {}
    }
}

fn complete_attribute(attribute: &mut Map<String, Value>, at: &str, errors: &mut Vec<FieldError>) {
    let Some(Value::Object(term)) = attribute.get_mut("taxonomy_term") else {
        return;
    };
    if term.get("id").is_some_and(|id| id != "") {
        return;
    }
    let (Some(taxonomy), Some(code)) = (
        term.get("taxonomy").and_then(Value::as_str),
        term.get("code").and_then(Value::as_str),
    ) else {
        return;
    };
    let Some(vocabulary) = VOCABULARIES.by_taxonomy(taxonomy) else {
        return;
    };
    if !vocabulary.terms.iter().any(|t| t.code == code) {
        errors.push(FieldError::new(
            format!("{at}.taxonomy_term.code"),
            format!("is not a code of {taxonomy}"),
        ));
        return;
    }
    let id = vocabulary.term_id(code).to_string();
    if let Some(Value::Object(haven)) = VOCABULARIES.term_json(&id) {
        for (key, value) in haven {
            match term.get(key) {
                // `id` may be there, empty.
                Some(given) if given != "" => {}
                _ => {
                    term.insert(key.clone(), value.clone());
                }
            }
        }
    }
    attribute
        .entry("taxonomy_term_id")
        .or_insert(Value::String(id));
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn record(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    #[test]
    fn a_term_named_by_taxonomy_and_code_is_completed_wherever_it_is() {
        let hr01 = VOCABULARIES
            .by_taxonomy("haven-services")
            .unwrap()
            .term_id("HR01")
            .to_string();
        let mut service = record(json!({
            "attributes": [{"id": "a", "taxonomy_term": {"taxonomy": "haven-services", "code": "HR01"}}],
            "service_at_locations": [{"location": {"attributes": [
                {"id": "b", "taxonomy_term": {"taxonomy": "haven-accessibility", "code": "wheelchair", "name": "Step-free"}}
            ]}}]
        }));
        assert_eq!(complete(&mut service), vec![]);
        let first = &service["attributes"][0];
        assert_eq!(first["taxonomy_term_id"], hr01.as_str());
        assert_eq!(
            &first["taxonomy_term"],
            VOCABULARIES.term_json(&hr01).unwrap()
        );
        let nested = &service["service_at_locations"][0]["location"]["attributes"][0];
        // What was given is kept; what was not is Haven's.
        assert_eq!(nested["taxonomy_term"]["name"], "Step-free");
        assert!(
            nested["taxonomy_term"]["description"]
                .as_str()
                .unwrap()
                .len()
                > 5
        );
        assert_eq!(nested["taxonomy_term"]["id"], nested["taxonomy_term_id"]);
    }

    #[test]
    fn terms_with_ids_or_of_other_taxonomies_are_kept_and_unknown_codes_named() {
        let given = json!({
            "attributes": [
                {"id": "a", "taxonomy_term": {"id": "7f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b",
                    "taxonomy": "haven-services", "code": "HR01", "name": "Mine", "description": "x"}},
                {"id": "b", "taxonomy_term": {"taxonomy": "samhsa", "code": "OTP"}}
            ]
        });
        let mut kept = record(given.clone());
        assert_eq!(complete(&mut kept), vec![]);
        assert_eq!(Value::Object(kept), given);

        let mut unknown = record(json!({"phones": [{"attributes": [
            {"id": "c", "taxonomy_term": {"taxonomy": "haven-cost", "code": "cheap"}}
        ]}]}));
        let errors = complete(&mut unknown);
        assert_eq!(errors.len(), 1);
        assert_eq!(
            errors[0].field,
            "phones[0].attributes[0].taxonomy_term.code"
        );
        assert!(
            errors[0].message.contains("haven-cost"),
            "{}",
            errors[0].message
        );
    }
}
