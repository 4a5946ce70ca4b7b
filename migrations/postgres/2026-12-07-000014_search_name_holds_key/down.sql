DROP INDEX IF EXISTS search_entry_name;
CREATE INDEX search_entry_name ON search_entry (name, service_id, status, text_id);
