-- Partner accounts: people (users) and systems (API clients), and failed-login counts.
CREATE TABLE app_user (
    id TEXT PRIMARY KEY,
    -- NULL for a platform admin.
    organization_id TEXT REFERENCES organization (id),
    -- Lower-cased.
    email TEXT NOT NULL UNIQUE,
    -- argon2id, PHC string.
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX app_user_organization_id ON app_user (organization_id);

CREATE TABLE api_client (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organization (id),
    name TEXT NOT NULL,
    -- argon2id of the secret, which is shown once.
    secret_hash TEXT NOT NULL,
    -- Space-separated.
    scopes TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX api_client_organization_id ON api_client (organization_id);

CREATE TABLE login_failure (
    key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    first_at INTEGER NOT NULL
);
