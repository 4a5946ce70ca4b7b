//! Request bodies: JSON read into a type, with an error that names the offending field.

use serde::de::DeserializeOwned;

use crate::error::{ApiError, ApiResult};

/// Parses a JSON body; a bad one is a 400 naming the field (`body` when it is not JSON at all).
pub fn body<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(bytes)).map_err(
        |e| {
            let path = e.path().to_string();
            let field = if path == "." {
                "body".to_string()
            } else {
                path
            };
            ApiError::invalid(field, e.inner().to_string())
        },
    )
}
