//! How a stored doc holds Haven's own taxonomy terms: by id.
//!
//! An attribute that applies a term may nest the whole term (HSDS `taxonomy_term`), about 400
//! bytes, and a service has a dozen attributes: in generated data, whose attributes nest
//! Haven's terms as `GET /taxonomy_terms` shows them, they were four fifths of a service's doc
//! (5.4 KB, 3.3 KB without them) and a fifth of the database (10.4 GB at a million services,
//! 8.5 GB without them). Haven's terms are fixed by the code (`crate::vocab`), so a doc keeps
//! only the id of one nested exactly as Haven defines it, and reading puts the definition back.
//! A term that differs in any way (another taxonomy, added metadata or `taxonomy_detail`, other
//! wording, as in the SAMHSA records) is kept whole, so what is read is what was written.
//!
//! HSDS forbids `null` and a `taxonomy_term` is an object, so a string there can only be such
//! an id.

use serde_json::Value;

use crate::vocab::VOCABULARIES;

const KEY: &str = "taxonomy_term";

/// Replaces each nested `taxonomy_term` that is one of Haven's, exactly, by its id.
pub fn shorten(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if key == KEY {
                    if let Some(id) = haven_term_id(child) {
                        *child = Value::String(id);
                        continue;
                    }
                }
                shorten(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(shorten),
        _ => {}
    }
}

/// Puts back each term `shorten` took out. An id Haven no longer defines is dropped: the
/// attribute still names it in `taxonomy_term_id`.
pub fn expand(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let mut gone = false;
            for (key, child) in map.iter_mut() {
                match child {
                    Value::String(id) if key == KEY => match VOCABULARIES.term_json(id) {
                        Some(term) => *child = term.clone(),
                        None => gone = true,
                    },
                    _ => expand(child),
                }
            }
            if gone {
                map.remove(KEY);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(expand),
        _ => {}
    }
}

/// The id of a term that is one of Haven's exactly as Haven defines it.
fn haven_term_id(term: &Value) -> Option<String> {
    let id = term.get("id")?.as_str()?;
    (VOCABULARIES.term_json(id)? == term).then(|| id.to_string())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::vocab::{term_id, Facet};

    fn walk_in() -> (String, Value) {
        let v = VOCABULARIES.get(Facet::LowBarrier);
        let term = v.terms.iter().find(|t| t.code == "walk_in").unwrap();
        let id = term_id("haven-low-barrier", "walk_in").to_string();
        (id, serde_json::to_value(v.term_object(term)).unwrap())
    }

    #[test]
    fn a_haven_term_is_kept_by_id_and_put_back() {
        let (id, term) = walk_in();
        let original = json!({
            "id": "s1",
            "attributes": [{"id": "a1", "taxonomy_term_id": id, "taxonomy_term": term}],
            "phones": [{"id": "p1", "attributes": [{"id": "a2", "taxonomy_term": term}]}],
        });
        let mut doc = original.clone();
        shorten(&mut doc);
        assert_eq!(doc["attributes"][0]["taxonomy_term"], json!(id));
        assert_eq!(
            doc["phones"][0]["attributes"][0]["taxonomy_term"],
            json!(id)
        );
        assert!(doc.to_string().len() < original.to_string().len() / 2);
        expand(&mut doc);
        assert_eq!(doc, original);
    }

    #[test]
    fn a_term_that_differs_is_kept_whole() {
        let (_, term) = walk_in();
        let mut reworded = term.clone();
        reworded["description"] = json!("Come any time.");
        let mut with_metadata = term.clone();
        with_metadata["metadata"] = json!([{"id": "m1"}]);
        let other = json!({"id": "3f0c6a56-5fc8-4b8e-9d43-7d1f0a8b1c2d", "name": "Other"});
        for kept in [reworded, with_metadata, other] {
            let original = json!({"attributes": [{"id": "a1", "taxonomy_term": kept}]});
            let mut doc = original.clone();
            shorten(&mut doc);
            assert_eq!(doc, original);
        }
    }

    #[test]
    fn an_id_haven_no_longer_defines_is_dropped() {
        let mut doc =
            json!({"attributes": [{"id": "a1", "taxonomy_term_id": "t9", "taxonomy_term": "t9"}]});
        expand(&mut doc);
        assert_eq!(
            doc,
            json!({"attributes": [{"id": "a1", "taxonomy_term_id": "t9"}]})
        );
    }
}
