-- Referrals between organisations, their append-only history, and webhook subscriptions with
-- their delivery outbox.
CREATE TABLE referral (
    id TEXT PRIMARY KEY,
    service_id TEXT NOT NULL,
    service_at_location_id TEXT,
    sender_organization_id TEXT NOT NULL,
    receiver_organization_id TEXT NOT NULL,
    -- The user or API client that sent it (a token subject).
    created_by TEXT NOT NULL,
    reason_code TEXT NOT NULL,
    priority TEXT NOT NULL,
    status TEXT NOT NULL,
    version BIGINT NOT NULL,
    status_reason TEXT,
    client_goal_met TEXT,
    -- JSON {given, scope, expires_at}: what the client agreed to, never who they are.
    consent TEXT,
    consent_expires_at TEXT,
    -- AES-256-GCM of JSON {client, client_goal} under key sealed_key_id; NULL once purged.
    sealed_key_id TEXT,
    sealed_details TEXT,
    -- Anonymous referrals: HMAC of the claim code (to find it), the code sealed (to answer a
    -- retried request with it), and when it was redeemed.
    claim_digest TEXT UNIQUE,
    sealed_claim_code TEXT,
    claimed_at TEXT,
    idempotency_key TEXT,
    request_digest TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    ended_at TEXT,
    purged_at TEXT,
    UNIQUE (sender_organization_id, idempotency_key)
);
CREATE INDEX referral_sender ON referral (sender_organization_id, updated_at);
CREATE INDEX referral_receiver ON referral (receiver_organization_id, updated_at);
CREATE INDEX referral_service ON referral (service_id, status);
CREATE INDEX referral_purge ON referral (purged_at, ended_at);

CREATE TABLE referral_event (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    referral_id TEXT NOT NULL REFERENCES referral (id),
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    previous_status TEXT,
    reason TEXT,
    version BIGINT NOT NULL,
    actor_organization_id TEXT,
    at TEXT NOT NULL
);
CREATE INDEX referral_event_referral ON referral_event (referral_id, seq);

CREATE TABLE webhook (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    url TEXT NOT NULL,
    -- Space-separated event types.
    events TEXT NOT NULL,
    -- The signing secret, sealed like client details (it must be read back to sign).
    sealed_key_id TEXT NOT NULL,
    sealed_secret TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX webhook_organization ON webhook (organization_id);

-- The outbox: one row per (event, subscription), written in the transaction of the change.
CREATE TABLE delivery (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    event_id TEXT NOT NULL,
    webhook_id TEXT NOT NULL REFERENCES webhook (id) ON DELETE CASCADE,
    referral_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    -- pending, delivered or failed.
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    -- Unix milliseconds.
    next_attempt_at BIGINT NOT NULL,
    lease_until BIGINT,
    last_status_code BIGINT,
    last_error TEXT,
    delivered_at TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX delivery_due ON delivery (status, next_attempt_at);
CREATE INDEX delivery_order ON delivery (webhook_id, referral_id, seq);
CREATE INDEX delivery_webhook ON delivery (webhook_id, seq);
