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

fn named(e: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = e.path().to_string();
    let field = if path == "." {
        "body".to_string()
    } else {
        path
    };
    ApiError::invalid(field, e.inner().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Client {
        safe_to_leave_message: bool,
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
