//! Access tokens: short-lived HS256 JWTs with a `kid` header, so keys can rotate.

use std::collections::HashSet;

use jsonwebtoken::{
    decode, decode_header, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation,
};
use serde::{Deserialize, Serialize};

/// The claims of api.md: `sub, org, role, scope, exp, iat, jti`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// A user id or an API client id.
    pub sub: String,
    /// The caller's organisation; absent for a platform admin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// `admin`, `org_admin`, `staff` or `api_client`.
    pub role: String,
    /// Space-separated scopes.
    pub scope: String,
    pub exp: i64,
    pub iat: i64,
    /// Not before; tokens are valid from issue.
    pub nbf: i64,
    pub jti: String,
}

/// Why a token was refused. All are a 401 to the caller; the reason goes to the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token names no key id or an unknown one")]
    UnknownKey,
    #[error("the token is signed with another algorithm than HS256")]
    WrongAlgorithm,
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
}

/// Signing and verifying keys: the first signs, all verify.
#[derive(Clone)]
pub struct Keys {
    keys: Vec<(String, Vec<u8>)>,
}

/// Clock skew tolerated between servers, in seconds.
const LEEWAY: u64 = 5;

impl Keys {
    pub fn new(keys: Vec<(String, Vec<u8>)>) -> Keys {
        assert!(!keys.is_empty(), "at least one signing key");
        Keys { keys }
    }

    pub fn issue(&self, claims: &Claims) -> String {
        let (kid, secret) = &self.keys[0];
        let header = Header {
            kid: Some(kid.clone()),
            ..Header::new(Algorithm::HS256)
        };
        encode(&header, claims, &EncodingKey::from_secret(secret))
            .expect("HS256 signing cannot fail")
    }

    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let header = decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != Algorithm::HS256 {
            return Err(TokenError::WrongAlgorithm);
        }
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        let (_, secret) = self
            .keys
            .iter()
            .find(|(k, _)| *k == kid)
            .ok_or(TokenError::UnknownKey)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY;
        validation.validate_nbf = true;
        validation.required_spec_claims =
            HashSet::from(["exp", "iat", "nbf", "sub", "jti"].map(String::from));
        decode::<Claims>(token, &DecodingKey::from_secret(secret), &validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                jsonwebtoken::errors::ErrorKind::ImmatureSignature => TokenError::NotYetValid,
                jsonwebtoken::errors::ErrorKind::InvalidSignature => TokenError::BadSignature,
                jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => TokenError::WrongAlgorithm,
                _ => TokenError::Malformed,
            })
    }
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    use super::*;

    fn keys() -> Keys {
        Keys::new(vec![
            ("new".into(), b"n".repeat(32)),
            ("old".into(), b"o".repeat(32)),
        ])
    }

    fn claims(iat: i64, exp: i64) -> Claims {
        Claims {
            sub: "u1".into(),
            org: Some("o1".into()),
            role: "staff".into(),
            scope: "catalog:write".into(),
            exp,
            iat,
            nbf: iat,
            jti: "j1".into(),
        }
    }

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    #[test]
    fn issued_tokens_verify_and_carry_the_kid() {
        let k = keys();
        let c = claims(now(), now() + 900);
        let token = k.issue(&c);
        assert_eq!(decode_header(&token).unwrap().kid.as_deref(), Some("new"));
        assert_eq!(k.verify(&token).unwrap(), c);
    }

    #[test]
    fn older_keys_still_verify_until_removed() {
        let old_only = Keys::new(vec![("old".into(), b"o".repeat(32))]);
        let token = old_only.issue(&claims(now(), now() + 900));
        assert!(keys().verify(&token).is_ok());
        let rotated = Keys::new(vec![("new".into(), b"n".repeat(32))]);
        assert_eq!(rotated.verify(&token), Err(TokenError::UnknownKey));
    }

    #[test]
    fn forged_tokens_are_refused() {
        let k = keys();
        let good = k.issue(&claims(now(), now() + 900));
        let parts: Vec<&str> = good.split('.').collect();
        // Expired, not yet valid.
        assert_eq!(
            k.verify(&k.issue(&claims(now() - 1000, now() - 100))),
            Err(TokenError::Expired)
        );
        let mut future = claims(now(), now() + 900);
        future.nbf = now() + 600;
        assert_eq!(k.verify(&k.issue(&future)), Err(TokenError::NotYetValid));
        // Wrong signature: signed with another secret under a known kid.
        let forger = Keys::new(vec![("new".into(), b"x".repeat(32))]);
        assert_eq!(
            k.verify(&forger.issue(&claims(now(), now() + 900))),
            Err(TokenError::BadSignature)
        );
        // Tampered payload.
        let other = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&Claims {
                role: "admin".into(),
                ..claims(now(), now() + 900)
            })
            .unwrap(),
        );
        assert_eq!(
            k.verify(&format!("{}.{}.{}", parts[0], other, parts[2])),
            Err(TokenError::BadSignature)
        );
        // alg none, with and without a signature.
        let none = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT","kid":"new"}"#);
        assert!(k.verify(&format!("{none}.{}.", parts[1])).is_err());
        assert!(k
            .verify(&format!("{none}.{}.{}", parts[1], parts[2]))
            .is_err());
        // Another algorithm than configured.
        let hs512 = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS512","typ":"JWT","kid":"new"}"#);
        assert_eq!(
            k.verify(&format!("{hs512}.{}.{}", parts[1], parts[2])),
            Err(TokenError::WrongAlgorithm)
        );
        // Unknown or missing kid.
        let unknown = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT","kid":"nope"}"#);
        assert_eq!(
            k.verify(&format!("{unknown}.{}.{}", parts[1], parts[2])),
            Err(TokenError::UnknownKey)
        );
        let no_kid = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        assert_eq!(
            k.verify(&format!("{no_kid}.{}.{}", parts[1], parts[2])),
            Err(TokenError::UnknownKey)
        );
        // Malformed.
        for junk in ["", "abc", "a.b", "a.b.c", &good[..good.len() / 2]] {
            assert!(k.verify(junk).is_err(), "{junk}");
        }
    }
}
