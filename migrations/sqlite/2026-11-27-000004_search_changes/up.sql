-- The in-memory near-here index (src/search/nearby.rs) refers to search rows by a stable key,
-- and follows changes to them through `search_change`.

-- SQLite cannot add a primary key to a table, so the table is rebuilt with one.
CREATE TABLE search_entry_keyed (
    id INTEGER PRIMARY KEY,
    service_id TEXT NOT NULL REFERENCES service (id) ON DELETE CASCADE,
    service_at_location_id TEXT,
    location_id TEXT,
    organization_id TEXT,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    latitude REAL,
    longitude REAL,
    time_zone TEXT,
    service_types INTEGER NOT NULL,
    cost INTEGER NOT NULL,
    accessibility INTEGER NOT NULL,
    delivery INTEGER NOT NULL,
    low_barrier INTEGER NOT NULL,
    population INTEGER NOT NULL,
    languages TEXT NOT NULL,
    postcodes TEXT NOT NULL,
    min_fee REAL,
    minimum_age REAL,
    maximum_age REAL,
    hours TEXT,
    updated_at TEXT NOT NULL
);
INSERT INTO search_entry_keyed (service_id, service_at_location_id, location_id,
    organization_id, name, status, latitude, longitude, time_zone, service_types, cost,
    accessibility, delivery, low_barrier, population, languages, postcodes, min_fee,
    minimum_age, maximum_age, hours, updated_at)
SELECT service_id, service_at_location_id, location_id, organization_id, name, status,
    latitude, longitude, time_zone, service_types, cost, accessibility, delivery, low_barrier,
    population, languages, postcodes, min_fee, minimum_age, maximum_age, hours, updated_at
FROM search_entry;
DROP TABLE search_entry;
ALTER TABLE search_entry_keyed RENAME TO search_entry;
CREATE INDEX search_entry_service_id ON search_entry (service_id);
CREATE INDEX search_entry_point ON search_entry (latitude, longitude);
CREATE INDEX search_entry_name ON search_entry (name, service_id);

-- One row per change to a service's search rows, written in the change's own transaction.
-- AUTOINCREMENT: a number is never reused, so a reader that has seen `seq` has seen all before.
CREATE TABLE search_change (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    service_id TEXT NOT NULL,
    changed_at TEXT NOT NULL
);
CREATE INDEX search_change_changed_at ON search_change (changed_at);
