//! Environment → typed configuration, validated once at start.
//!
//! A missing setting takes its documented default; a malformed one stops the program with a
//! message naming the variable.

use std::net::SocketAddr;

use anyhow::{anyhow, Context};

#[derive(Debug, Clone)]
pub struct Config {
    /// `sqlite://PATH` or `postgres://…`.
    pub database_url: String,
    /// Where `serve` listens.
    pub addr: SocketAddr,
    /// Load the built-in demo directory into a database that has no services yet.
    pub demo: bool,
    /// Connections in the database pool.
    pub db_pool_size: u32,
    /// The public base URL, used in `GET /` for `openapi_url`; derived from the request when unset.
    pub public_url: Option<String>,
}

impl Config {
    /// Reads the process environment (after an optional `.env`).
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads settings through `get`, so tests can configure without touching the environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let database_url = get("DATABASE_URL").unwrap_or_else(|| "sqlite://haven.db".to_string());
        crate::db::Backend::of_url(&database_url).context("DATABASE_URL")?;
        let addr = match get("HAVEN_ADDR") {
            Some(v) => v.parse().map_err(|_| {
                anyhow!("HAVEN_ADDR must be HOST:PORT such as 127.0.0.1:8080, got {v:?}")
            })?,
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
        };
        let demo = parse_bool("HAVEN_DEMO", get("HAVEN_DEMO"), true)?;
        let db_pool_size = match get("HAVEN_DB_POOL_SIZE") {
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=256).contains(n))
                .ok_or_else(|| {
                    anyhow!("HAVEN_DB_POOL_SIZE must be a whole number from 1 to 256, got {v:?}")
                })?,
            None => 8,
        };
        let public_url = get("HAVEN_PUBLIC_URL").map(|v| v.trim_end_matches('/').to_string());
        if let Some(u) = &public_url {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err(anyhow!(
                    "HAVEN_PUBLIC_URL must start with http:// or https://, got {u:?}"
                ));
            }
        }
        Ok(Config {
            database_url,
            addr,
            demo,
            db_pool_size,
            public_url,
        })
    }
}

fn parse_bool(name: &str, value: Option<String>, default: bool) -> anyhow::Result<bool> {
    match value.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None => Ok(default),
        Some("true" | "1" | "yes" | "on") => Ok(true),
        Some("false" | "0" | "no" | "off") => Ok(false),
        Some(other) => Err(anyhow!("{name} must be true or false, got {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> anyhow::Result<Config> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    #[test]
    fn defaults_follow_the_contract() {
        let c = with(&[]).unwrap();
        assert_eq!(c.database_url, "sqlite://haven.db");
        assert_eq!(c.addr.to_string(), "127.0.0.1:8080");
        assert!(c.demo);
    }

    #[test]
    fn malformed_settings_name_the_variable() {
        for (k, v) in [
            ("HAVEN_ADDR", "nowhere"),
            ("HAVEN_DEMO", "maybe"),
            ("DATABASE_URL", "mysql://x"),
            ("HAVEN_DB_POOL_SIZE", "0"),
            ("HAVEN_PUBLIC_URL", "ftp://x"),
        ] {
            let err = format!("{:#}", with(&[(k, v)]).unwrap_err());
            assert!(err.contains(k), "{err}");
        }
    }
}
