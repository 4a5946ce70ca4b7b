-- The HSDS 3.0 catalogue.
--
-- Entities with their own identity (taxonomy, taxonomy_term, organization, service, location,
-- service_at_location) have a table each, with the columns Haven queries by and `doc`: the
-- object's remaining HSDS fields as JSON, so every field round-trips exactly. The objects they
-- own (phones, schedules, addresses, ...) have a table each, keyed by owner and position.
-- `search_entry` and `service_text` are derived from these for search, rebuilt on every write.

CREATE TABLE taxonomy (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    doc TEXT NOT NULL
);

CREATE TABLE taxonomy_term (
    id TEXT PRIMARY KEY,
    code TEXT,
    name TEXT NOT NULL,
    parent_id TEXT,
    taxonomy TEXT,
    taxonomy_id TEXT,
    doc TEXT NOT NULL
);
CREATE INDEX taxonomy_term_taxonomy_id ON taxonomy_term (taxonomy_id);
CREATE INDEX taxonomy_term_parent_id ON taxonomy_term (parent_id);

CREATE TABLE organization (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    doc TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX organization_name ON organization (name, id);

CREATE TABLE service (
    id TEXT PRIMARY KEY,
    organization_id TEXT,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    doc TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX service_organization_id ON service (organization_id);

CREATE TABLE location (
    id TEXT PRIMARY KEY,
    organization_id TEXT,
    latitude REAL,
    longitude REAL,
    time_zone TEXT,
    doc TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX location_organization_id ON location (organization_id);

CREATE TABLE service_at_location (
    id TEXT PRIMARY KEY,
    service_id TEXT NOT NULL REFERENCES service (id) ON DELETE CASCADE,
    location_id TEXT REFERENCES location (id),
    position INTEGER NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX service_at_location_service_id ON service_at_location (service_id);
CREATE INDEX service_at_location_location_id ON service_at_location (location_id);

CREATE TABLE attribute (
    owner_kind TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    id TEXT NOT NULL,
    taxonomy_term_id TEXT,
    doc TEXT NOT NULL,
    PRIMARY KEY (owner_kind, owner_id, position)
);
CREATE INDEX attribute_taxonomy_term_id ON attribute (taxonomy_term_id, owner_kind, owner_id);

CREATE TABLE address (
    owner_kind TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    id TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (owner_kind, owner_id, position)
);
CREATE TABLE phone (
    owner_kind TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    id TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (owner_kind, owner_id, position)
);
CREATE TABLE schedule (
    owner_kind TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    id TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (owner_kind, owner_id, position)
);
CREATE TABLE cost_option (
    owner_kind TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    id TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (owner_kind, owner_id, position)
);
CREATE TABLE language (
    owner_kind TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    id TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (owner_kind, owner_id, position)
);
CREATE TABLE accessibility (
    owner_kind TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    id TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (owner_kind, owner_id, position)
);
CREATE TABLE service_area (
    owner_kind TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    id TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (owner_kind, owner_id, position)
);
CREATE TABLE required_document (
    owner_kind TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    id TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (owner_kind, owner_id, position)
);
CREATE TABLE contact (
    owner_kind TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    id TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (owner_kind, owner_id, position)
);
CREATE TABLE funding (
    owner_kind TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    id TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (owner_kind, owner_id, position)
);
CREATE TABLE program (
    owner_kind TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    id TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (owner_kind, owner_id, position)
);
CREATE TABLE organization_identifier (
    owner_kind TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    id TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (owner_kind, owner_id, position)
);
CREATE TABLE metadata (
    owner_kind TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    id TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (owner_kind, owner_id, position)
);

-- One row per service_at_location (or per service with no location), with everything the
-- Haven filters test. Vocabulary sets are bit masks (bit i = the i-th code of the vocabulary,
-- see src/vocab.rs); `languages` and `postcodes` are comma-delimited with leading and
-- trailing commas so `LIKE '%,es,%'` matches one code.
CREATE TABLE search_entry (
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
CREATE INDEX search_entry_service_id ON search_entry (service_id);
CREATE INDEX search_entry_point ON search_entry (latitude, longitude);
CREATE INDEX search_entry_name ON search_entry (name, service_id);

-- Full-text search over service, organisation and taxonomy-term names and descriptions:
-- `service_text` holds the text by service (indexed, so a rewrite finds its row at once) and
-- the FTS5 index `service_text_fts` reads it as external content, kept in step by triggers.
CREATE TABLE service_text (
    id INTEGER PRIMARY KEY,
    service_id TEXT NOT NULL UNIQUE REFERENCES service (id) ON DELETE CASCADE,
    body TEXT NOT NULL
);
CREATE VIRTUAL TABLE service_text_fts USING fts5(
    body,
    content = 'service_text',
    content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER service_text_insert AFTER INSERT ON service_text BEGIN
    INSERT INTO service_text_fts (rowid, body) VALUES (new.id, new.body);
END;
CREATE TRIGGER service_text_delete AFTER DELETE ON service_text BEGIN
    INSERT INTO service_text_fts (service_text_fts, rowid, body) VALUES ('delete', old.id, old.body);
END;
CREATE TRIGGER service_text_update AFTER UPDATE ON service_text BEGIN
    INSERT INTO service_text_fts (service_text_fts, rowid, body) VALUES ('delete', old.id, old.body);
    INSERT INTO service_text_fts (rowid, body) VALUES (new.id, new.body);
END;
