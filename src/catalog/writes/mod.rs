//! Catalogue writes for partners: organisations, services, locations and
//! service_at_locations, in the HSDS shapes the reads return.
//!
//! The rules are the same for each kind, and live here:
//! - a caller writes for its own organisation, with the `catalog:write` scope;
//! - another organisation's record is a 404, and no body can name another organisation;
//! - updates honour `If-Match` with the `ETag` reads return (412 when stale);
//! - `PATCH` is a JSON merge patch (RFC 7396) of the stored object.

pub mod locations;
pub mod organizations;
pub mod service_at_locations;
pub mod services;

use actix_web::http::header::{ETAG, IF_MATCH};
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::auth::Caller;
use crate::body::body;
use crate::error::{ApiError, ApiResult, FieldError};

/// The organisation a caller writes for: its own, with the `catalog:write` scope.
pub fn writer(caller: &Caller) -> ApiResult<String> {
    caller.acting_for("catalog:write")
}

/// Passes when `owner` (the stored record's organisation, `None` when there is no record) is
/// `org`; anything else is not there, as far as `org` can tell.
pub fn check_owner(owner: Option<Option<String>>, org: &str) -> ApiResult<()> {
    match owner {
        Some(Some(owner)) if owner == org => Ok(()),
        _ => Err(ApiError::NotFound),
    }
}

/// The `If-Match` header, if any.
pub fn if_match(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// A stale `If-Match` is a 412; none at all is allowed.
pub fn check_if_match(expected: &Option<String>, current_tag: &str) -> ApiResult<()> {
    let Some(expected) = expected else {
        return Ok(());
    };
    let matches = expected.trim() == "*"
        || expected
            .split(',')
            .any(|e| e.trim().trim_start_matches("W/") == current_tag);
    if matches {
        Ok(())
    } else {
        Err(ApiError::PreconditionFailed)
    }
}

/// The answer to a write: the object as stored, with its new `ETag`.
pub fn written(object: &impl Serialize, tag: String, created: bool) -> HttpResponse {
    let mut res = if created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((ETAG, tag)).json(object)
}

/// A body that must be a JSON object (a create, replace or merge patch).
pub fn object_body(bytes: &[u8]) -> ApiResult<Map<String, Value>> {
    match body::<Value>(bytes)? {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::invalid("body", "must be a JSON object")),
    }
}

/// Settles a body's `id`: on an update it is the path's (a different one is an error); on a
/// create it is the one given, or a new one.
pub fn settle_id(map: &mut Map<String, Value>, path: Option<&str>, errors: &mut Vec<FieldError>) {
    match (path, map.get("id").and_then(Value::as_str)) {
        (Some(path), Some(given)) if given != path => {
            errors.push(FieldError::new("id", "must match the id in the path"))
        }
        (Some(path), _) => {
            map.insert("id".into(), Value::String(path.to_string()));
        }
        (None, None) => {
            map.insert("id".into(), Value::String(uuid::Uuid::new_v4().to_string()));
        }
        (None, Some(_)) => {}
    }
}

/// Settles a body's `organization_id` to `org`; naming another organisation is an error, so a
/// record can never be moved away or planted in someone else's catalogue.
pub fn settle_organization(map: &mut Map<String, Value>, org: &str, errors: &mut Vec<FieldError>) {
    match map.get("organization_id") {
        Some(Value::String(o)) if o != org => errors.push(FieldError::new(
            "organization_id",
            "must be your own organisation's id (or left out)",
        )),
        _ => {
            map.insert("organization_id".into(), Value::String(org.to_string()));
        }
    }
}

/// Gives every nested HSDS object that has no `id` a new one (HSDS requires them; a partner
/// adding a phone should not have to make one up). Nested objects are the items of arrays and a
/// service_at_location's `location`; a term inside an attribute is named by its own id and
/// left alone.
pub fn fill_ids(map: &mut Map<String, Value>) {
    for (key, value) in map.iter_mut() {
        match value {
            Value::Array(items) => {
                for item in items {
                    if let Value::Object(child) = item {
                        child
                            .entry("id")
                            .or_insert_with(|| Value::String(uuid::Uuid::new_v4().to_string()));
                        fill_ids(child);
                    }
                }
            }
            Value::Object(child) if key == "location" => {
                child
                    .entry("id")
                    .or_insert_with(|| Value::String(uuid::Uuid::new_v4().to_string()));
                fill_ids(child);
            }
            _ => {}
        }
    }
}

/// Keeps a stored location confidential when a write leaves `confidential` out: an HSDS tool
/// that drops extension fields, or a service body copied from a public read, must not make a
/// shelter's address public. Only `"confidential": false` does.
pub fn keep_confidential(
    conn: &mut crate::db::DbConnection,
    location: &mut crate::hsds::model::Location,
) -> ApiResult<()> {
    if location.confidential.is_none()
        && crate::catalog::store::is_confidential(conn, &location.id)?
    {
        location.confidential = Some(true);
    }
    Ok(())
}

/// The stored object with a merge patch applied, as a body to validate like any other.
pub fn merged(current: &impl Serialize, patch: &Value) -> ApiResult<Map<String, Value>> {
    let mut value = serde_json::to_value(current).map_err(|e| ApiError::Internal(e.into()))?;
    merge_patch(&mut value, patch);
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::invalid("body", "must be a JSON object")),
    }
}

/// RFC 7396 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn merge_patch_follows_rfc_7396() {
        let mut doc = json!({"a": "b", "c": {"d": "e", "f": "g"}, "list": [1, 2]});
        merge_patch(
            &mut doc,
            &json!({"a": "z", "c": {"f": null}, "list": [3], "new": 1}),
        );
        assert_eq!(
            doc,
            json!({"a": "z", "c": {"d": "e"}, "list": [3], "new": 1})
        );
    }

    #[test]
    fn if_match_accepts_the_current_tag_a_list_or_a_star() {
        let tag = "\"abc\"";
        assert!(check_if_match(&None, tag).is_ok());
        assert!(check_if_match(&Some("\"abc\"".into()), tag).is_ok());
        assert!(check_if_match(&Some("\"x\", W/\"abc\"".into()), tag).is_ok());
        assert!(check_if_match(&Some("*".into()), tag).is_ok());
        assert!(matches!(
            check_if_match(&Some("\"old\"".into()), tag),
            Err(ApiError::PreconditionFailed)
        ));
    }

    #[test]
    fn nested_objects_get_ids_and_given_ones_stay() {
        let mut map = json!({
            "phones": [{"number": "1"}, {"id": "kept", "number": "2"}],
            "service_at_locations": [{"location": {"name": "x"}}],
            "attributes": [{"taxonomy_term": {"code": "HR01"}}],
        })
        .as_object()
        .unwrap()
        .clone();
        fill_ids(&mut map);
        assert!(map["phones"][0]["id"].is_string());
        assert_eq!(map["phones"][1]["id"], "kept");
        assert!(map["service_at_locations"][0]["id"].is_string());
        assert!(map["service_at_locations"][0]["location"]["id"].is_string());
        assert!(map["attributes"][0]["taxonomy_term"].get("id").is_none());
    }

    #[test]
    fn a_body_cannot_name_another_organisation() {
        let mut errors = vec![];
        let mut map = json!({"organization_id": "b"}).as_object().unwrap().clone();
        settle_organization(&mut map, "a", &mut errors);
        assert_eq!(errors[0].field, "organization_id");
        let mut errors = vec![];
        let mut map = Map::new();
        settle_organization(&mut map, "a", &mut errors);
        assert!(errors.is_empty());
        assert_eq!(map["organization_id"], "a");
    }
}
