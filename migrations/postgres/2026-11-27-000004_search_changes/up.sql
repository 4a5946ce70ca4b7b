-- The in-memory near-here index (src/search/nearby.rs) refers to search rows by a stable key,
-- and follows changes to them through `search_change`.
ALTER TABLE search_entry ADD COLUMN id BIGSERIAL PRIMARY KEY;

-- One row per change to a service's search rows, written in the change's own transaction.
-- Sequence numbers can commit out of order here; the reader waits for the gaps it sees.
CREATE TABLE search_change (
    seq BIGSERIAL PRIMARY KEY,
    service_id TEXT NOT NULL,
    changed_at TEXT NOT NULL
);
CREATE INDEX search_change_changed_at ON search_change (changed_at);
