//! Request bodies: JSON read into a type, with an error that names the offending field.

use serde::de::DeserializeOwned;

use crate::error::{ApiError, ApiResult};

/// Parses a JSON body; a bad one is a 400 naming the field (`body` when it is not JSON at all).
pub fn body<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(bytes))
        .map_err(named)
}

/// Reads a JSON value (a body already merged or amended) into a type; a bad one is a 400
/// naming the field.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> ApiResult<T> {
    serde_path_to_error::deserialize(value).map_err(named)
}

/// Like [`body`], but the message never repeats a value the caller sent, for bodies that carry
/// client details (serde quotes the offending value: `invalid type: string "…"`).
pub fn private_body<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    body(bytes).map_err(|e| match e {
        ApiError::Invalid(errors) => ApiError::Invalid(
            errors
                .into_iter()
                .map(|mut f| {
                    f.message = redacted(&f.message);
                    f
                })
                .collect(),
        ),
        other => other,
    })
}

fn redacted(message: &str) -> String {
    if message.starts_with("invalid type") || message.starts_with("invalid value") {
        match message.split_once(", expected ") {
            Some((_, expected)) => format!("has the wrong type or value; expected {expected}"),
            None => "has the wrong type or value".to_string(),
        }
    } else if message.contains('"') {
        "is not valid".to_string()
    } else {
        message.to_string()
    }
}

/// The field a deserialisation error is about. serde reports a missing field on the object
/// that lacks it, so its name is taken from the message and joined to that object's path; a
/// body that is not JSON at all is about `body`, wherever the parser stopped.
fn named(e: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let inner = e.inner();
    if inner.is_syntax() || inner.is_eof() {
        return ApiError::invalid("body", format!("is not valid JSON: {inner}"));
    }
    let path = e.path().to_string();
    let parent = (path != "." && path != "?").then_some(path);
    let message = inner.to_string();
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    if let Some(name) = missing {
        let field = parent.map_or_else(|| name.to_string(), |p| format!("{p}.{name}"));
        return ApiError::invalid(field, "is required");
    }
    ApiError::invalid(parent.as_deref().unwrap_or("body"), message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Client {
        safe_to_leave_message: bool,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Referral {
        reason_code: String,
        consent: Option<Consent>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Consent {
        expires_at: String,
    }

    fn field(bytes: &[u8]) -> (String, String) {
        let ApiError::Invalid(errors) = body::<Referral>(bytes).unwrap_err() else {
            panic!()
        };
        (errors[0].field.clone(), errors[0].message.clone())
    }

    #[test]
    fn errors_name_the_missing_field_and_a_body_that_is_not_json() {
        assert_eq!(field(b"{}"), ("reason_code".into(), "is required".into()));
        let nested = br#"{"reason_code": "HR01", "consent": {}}"#;
        assert_eq!(field(nested).0, "consent.expires_at");
        let wrong = br#"{"reason_code": 7}"#;
        assert_eq!(field(wrong).0, "reason_code");
        for broken in [&b"{\"reason_code\":"[..], b"{,}", b"not json"] {
            let (field, message) = field(broken);
            assert_eq!(field, "body");
            assert!(message.starts_with("is not valid JSON"), "{message}");
        }
    }

    #[test]
    fn private_bodies_do_not_echo_values() {
        let bytes = br#"{"safe_to_leave_message": "call Jo on 555 0100"}"#;
        let ApiError::Invalid(errors) = private_body::<Client>(bytes).unwrap_err() else {
            panic!()
        };
        assert_eq!(errors[0].field, "safe_to_leave_message");
        assert!(!errors[0].message.contains("555"), "{}", errors[0].message);
        assert!(errors[0].message.contains("a boolean"));
    }
}
