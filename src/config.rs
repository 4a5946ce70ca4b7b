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
    /// Token signing keys, `(kid, secret)`; the first signs, all verify.
    pub jwt_keys: Vec<(String, Vec<u8>)>,
    /// Whether the keys came from configuration (otherwise one was made up at start).
    pub jwt_keys_configured: bool,
    /// How long an access token lives, in seconds.
    pub token_ttl: i64,
    /// Failed logins for one account or address before further attempts are refused.
    pub login_max_failures: i64,
    /// How long, in seconds, failures are remembered and a locked login stays locked.
    pub login_lockout_seconds: i64,
    /// Keys that encrypt client details, `(kid, key)`; the first encrypts, all decrypt. `None`:
    /// a demo key file (see [`crate::crypto`]).
    pub encryption_keys: Option<Vec<(String, [u8; 32])>>,
    /// Where the demo key lives when no keys are configured.
    pub demo_key_file: String,
    /// Seconds after a referral ends (or its consent expires) before client details are purged.
    pub client_retention: i64,
    /// Seconds between runs of the purge job.
    pub purge_interval: i64,
    /// Accept webhook URLs that resolve to loopback or private addresses.
    pub webhook_allow_private: bool,
    /// Answer near-here searches from an in-memory index (`search::nearby`).
    pub search_memory: bool,
    /// Search items kept rendered (with `search_memory`).
    pub render_cache: usize,
    /// How long a search may go without asking the database whether another instance (or an
    /// import) changed the directory (with `search_memory`).
    pub search_follow: std::time::Duration,
    /// Delivery attempts per webhook event before it is marked failed.
    pub webhook_max_attempts: i64,
    /// The first retry delay in milliseconds; each retry doubles it (with jitter), up to the cap.
    pub webhook_backoff_ms: i64,
    /// The longest retry delay in milliseconds.
    pub webhook_backoff_max_ms: i64,
    /// Seconds a receiver has to answer one delivery.
    pub webhook_timeout: i64,
    /// Seconds a request waits for a database connection before it is answered 503.
    pub db_timeout: u64,
    /// The largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Seconds a request may take before it is answered 503.
    pub request_timeout: u64,
    /// Seconds that requests in flight (and webhook deliveries) get to finish at shutdown.
    pub shutdown_timeout: u64,
    /// Public searches per minute from one client address; 0 turns the limit off.
    pub search_rate: u32,
    /// Public searches one address may make at once, before the per-minute rate applies.
    pub search_burst: u32,
    /// Token requests per minute from one client address; 0 turns the limit off.
    pub token_rate: u32,
    /// Token requests one address may make at once.
    pub token_burst: u32,
    /// Take the client address from the right-most `X-Forwarded-For` entry (behind a proxy
    /// that sets it) rather than from the connection.
    pub trust_forwarded_for: bool,
    /// When set, `/metrics` needs `Authorization: Bearer <this>`.
    pub metrics_token: Option<String>,
    /// Apply the rate limits to loopback callers too (by default they are exempt).
    pub rate_limit_loopback: bool,
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
        let (jwt_keys, jwt_keys_configured) = match get("HAVEN_JWT_KEYS") {
            Some(v) => (parse_keys(&v)?, true),
            None => {
                // No keys configured: sign with a random key that lives as long as the process.
                // Tokens then end with a restart, which is fine for a demo and nothing else.
                let secret: [u8; 32] = rand::random();
                (vec![("ephemeral".to_string(), secret.to_vec())], false)
            }
        };
        let token_ttl = whole("HAVEN_TOKEN_TTL", get("HAVEN_TOKEN_TTL"), 900, 60, 86_400)?;
        let login_max_failures = whole(
            "HAVEN_LOGIN_MAX_FAILURES",
            get("HAVEN_LOGIN_MAX_FAILURES"),
            5,
            1,
            1_000,
        )?;
        let login_lockout_seconds = whole(
            "HAVEN_LOGIN_LOCKOUT_SECONDS",
            get("HAVEN_LOGIN_LOCKOUT_SECONDS"),
            300,
            1,
            86_400,
        )?;
        let encryption_keys = get("HAVEN_ENCRYPTION_KEYS")
            .map(|v| parse_encryption_keys(&v))
            .transpose()?;
        let demo_key_file = get("HAVEN_DEMO_KEY_FILE").unwrap_or_else(|| {
            match crate::db::Backend::of_url(&database_url) {
                Ok(crate::db::Backend::Sqlite) => {
                    format!("{}.key", crate::db::sqlite_path(&database_url))
                }
                _ => "haven-demo.key".to_string(),
            }
        });
        let client_retention = whole(
            "HAVEN_CLIENT_RETENTION",
            get("HAVEN_CLIENT_RETENTION"),
            30 * 86_400,
            0,
            3_650 * 86_400,
        )?;
        let purge_interval = whole(
            "HAVEN_PURGE_INTERVAL",
            get("HAVEN_PURGE_INTERVAL"),
            300,
            1,
            86_400,
        )?;
        let search_memory = parse_bool("HAVEN_SEARCH_MEMORY", get("HAVEN_SEARCH_MEMORY"), true)?;
        let render_cache = whole(
            "HAVEN_RENDER_CACHE",
            get("HAVEN_RENDER_CACHE"),
            10_000,
            0,
            10_000_000,
        )? as usize;
        let search_follow = std::time::Duration::from_millis(whole(
            "HAVEN_SEARCH_FOLLOW_MS",
            get("HAVEN_SEARCH_FOLLOW_MS"),
            100,
            0,
            1_000,
        )? as u64);
        let webhook_allow_private = parse_bool(
            "HAVEN_WEBHOOK_ALLOW_PRIVATE",
            get("HAVEN_WEBHOOK_ALLOW_PRIVATE"),
            false,
        )?;
        let webhook_max_attempts = whole(
            "HAVEN_WEBHOOK_MAX_ATTEMPTS",
            get("HAVEN_WEBHOOK_MAX_ATTEMPTS"),
            24,
            1,
            100,
        )?;
        let webhook_backoff_ms = whole(
            "HAVEN_WEBHOOK_BACKOFF_MS",
            get("HAVEN_WEBHOOK_BACKOFF_MS"),
            2_000,
            1,
            3_600_000,
        )?;
        let webhook_backoff_max_ms = whole(
            "HAVEN_WEBHOOK_BACKOFF_MAX_MS",
            get("HAVEN_WEBHOOK_BACKOFF_MAX_MS"),
            3_600_000,
            1,
            86_400_000,
        )?;
        let webhook_timeout = whole(
            "HAVEN_WEBHOOK_TIMEOUT",
            get("HAVEN_WEBHOOK_TIMEOUT"),
            10,
            1,
            300,
        )?;
        let db_timeout = whole("HAVEN_DB_TIMEOUT", get("HAVEN_DB_TIMEOUT"), 3, 1, 600)? as u64;
        let max_body_bytes = whole(
            "HAVEN_MAX_BODY_BYTES",
            get("HAVEN_MAX_BODY_BYTES"),
            1 << 20,
            1_024,
            64 << 20,
        )? as usize;
        let request_timeout = whole(
            "HAVEN_REQUEST_TIMEOUT",
            get("HAVEN_REQUEST_TIMEOUT"),
            30,
            1,
            3_600,
        )? as u64;
        let shutdown_timeout = whole(
            "HAVEN_SHUTDOWN_TIMEOUT",
            get("HAVEN_SHUTDOWN_TIMEOUT"),
            30,
            1,
            3_600,
        )? as u64;
        let rate = |name: &str, default: i64| -> anyhow::Result<u32> {
            Ok(whole(name, get(name), default, 0, 1_000_000)? as u32)
        };
        let search_rate = rate("HAVEN_SEARCH_RATE", 600)?;
        let search_burst = rate("HAVEN_SEARCH_BURST", 60)?.max(1);
        let token_rate = rate("HAVEN_TOKEN_RATE", 30)?;
        let token_burst = rate("HAVEN_TOKEN_BURST", 10)?.max(1);
        let trust_forwarded_for = parse_bool(
            "HAVEN_TRUST_FORWARDED_FOR",
            get("HAVEN_TRUST_FORWARDED_FOR"),
            false,
        )?;
        let rate_limit_loopback = parse_bool(
            "HAVEN_RATE_LIMIT_LOOPBACK",
            get("HAVEN_RATE_LIMIT_LOOPBACK"),
            false,
        )?;
        let metrics_token = get("HAVEN_METRICS_TOKEN").filter(|t| !t.is_empty());
        if metrics_token.as_ref().is_some_and(|t| t.len() < 16) {
            return Err(anyhow!(
                "HAVEN_METRICS_TOKEN must be at least 16 characters"
            ));
        }
        Ok(Config {
            db_timeout,
            max_body_bytes,
            request_timeout,
            shutdown_timeout,
            search_rate,
            search_burst,
            token_rate,
            token_burst,
            trust_forwarded_for,
            metrics_token,
            rate_limit_loopback,
            encryption_keys,
            demo_key_file,
            client_retention,
            purge_interval,
            webhook_allow_private,
            search_memory,
            render_cache,
            search_follow,
            webhook_max_attempts,
            webhook_backoff_ms,
            webhook_backoff_max_ms,
            webhook_timeout,
            database_url,
            addr,
            demo,
            db_pool_size,
            public_url,
            jwt_keys,
            jwt_keys_configured,
            token_ttl,
            login_max_failures,
            login_lockout_seconds,
        })
    }
}

fn whole(
    name: &str,
    value: Option<String>,
    default: i64,
    min: i64,
    max: i64,
) -> anyhow::Result<i64> {
    match value {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| anyhow!("{name} must be a whole number from {min} to {max}, got {v:?}")),
    }
}

/// `kid:secret,kid:secret`: the first key signs new tokens, every listed key verifies, so a key
/// is rotated by putting the new one first and removing the old one once its tokens expired.
fn parse_keys(v: &str) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut keys = Vec::new();
    for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (kid, secret) = part.split_once(':').ok_or_else(|| {
            anyhow!("HAVEN_JWT_KEYS must be a comma list of KID:SECRET, got an entry without ':'")
        })?;
        if kid.is_empty()
            || !kid
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(anyhow!(
                "HAVEN_JWT_KEYS: a key id must be letters, digits, - or _"
            ));
        }
        if secret.len() < 32 {
            return Err(anyhow!(
                "HAVEN_JWT_KEYS: the secret of key {kid:?} must be at least 32 characters"
            ));
        }
        if keys.iter().any(|(k, _): &(String, Vec<u8>)| k == kid) {
            return Err(anyhow!("HAVEN_JWT_KEYS: key id {kid:?} appears twice"));
        }
        keys.push((kid.to_string(), secret.as_bytes().to_vec()));
    }
    if keys.is_empty() {
        return Err(anyhow!("HAVEN_JWT_KEYS is set but holds no key"));
    }
    Ok(keys)
}

/// `kid:BASE64,kid:BASE64`, each key 32 bytes (AES-256): the first encrypts, every listed key
/// decrypts, so a key is rotated by putting the new one first.
fn parse_encryption_keys(v: &str) -> anyhow::Result<Vec<(String, [u8; 32])>> {
    use base64::Engine;
    let mut keys: Vec<(String, [u8; 32])> = Vec::new();
    for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (kid, key) = part.split_once(':').ok_or_else(|| {
            anyhow!("HAVEN_ENCRYPTION_KEYS must be a comma list of KID:BASE64KEY, got an entry without ':'")
        })?;
        if kid.is_empty()
            || !kid
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(anyhow!(
                "HAVEN_ENCRYPTION_KEYS: a key id must be letters, digits, - or _"
            ));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(key.trim())
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| {
                anyhow!("HAVEN_ENCRYPTION_KEYS: key {kid:?} must be 32 bytes in base64 (openssl rand -base64 32)")
            })?;
        if keys.iter().any(|(k, _)| k == kid) {
            return Err(anyhow!(
                "HAVEN_ENCRYPTION_KEYS: key id {kid:?} appears twice"
            ));
        }
        keys.push((kid.to_string(), bytes));
    }
    if keys.is_empty() {
        return Err(anyhow!("HAVEN_ENCRYPTION_KEYS is set but holds no key"));
    }
    Ok(keys)
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
        assert!(!c.jwt_keys_configured);
        assert_eq!(c.token_ttl, 900);
    }

    #[test]
    fn keys_rotate_newest_first() {
        let c = with(&[(
            "HAVEN_JWT_KEYS",
            "2026b:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb,2026a:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        )])
        .unwrap();
        assert!(c.jwt_keys_configured);
        assert_eq!(c.jwt_keys[0].0, "2026b");
        assert_eq!(c.jwt_keys.len(), 2);
    }

    #[test]
    fn malformed_settings_name_the_variable() {
        for (k, v) in [
            ("HAVEN_ADDR", "nowhere"),
            ("HAVEN_DEMO", "maybe"),
            ("DATABASE_URL", "mysql://x"),
            ("HAVEN_DB_POOL_SIZE", "0"),
            ("HAVEN_PUBLIC_URL", "ftp://x"),
            ("HAVEN_JWT_KEYS", "k1:short"),
            ("HAVEN_JWT_KEYS", "no-colon"),
            ("HAVEN_TOKEN_TTL", "0"),
            ("HAVEN_LOGIN_MAX_FAILURES", "many"),
            ("HAVEN_ENCRYPTION_KEYS", "k1:dG9vIHNob3J0"),
            ("HAVEN_ENCRYPTION_KEYS", "k1"),
            ("HAVEN_WEBHOOK_ALLOW_PRIVATE", "perhaps"),
            ("HAVEN_CLIENT_RETENTION", "-1"),
            ("HAVEN_MAX_BODY_BYTES", "12"),
            ("HAVEN_SEARCH_RATE", "-5"),
            ("HAVEN_REQUEST_TIMEOUT", "soon"),
            ("HAVEN_TRUST_FORWARDED_FOR", "sometimes"),
            ("HAVEN_METRICS_TOKEN", "short"),
        ] {
            let err = format!("{:#}", with(&[(k, v)]).unwrap_err());
            assert!(err.contains(k), "{err}");
        }
    }
}
