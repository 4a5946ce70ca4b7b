-- Keyword search joins full-text matches to search rows by number: `text_id` is the `id` of
-- the service's row in `service_text`. A match then costs one step in a small index instead
-- of a lookup by a 36-character service id.
ALTER TABLE service_text ADD COLUMN id BIGSERIAL UNIQUE;
ALTER TABLE search_entry ADD COLUMN text_id BIGINT;
UPDATE search_entry e SET text_id = t.id FROM service_text t WHERE t.service_id = e.service_id;
CREATE INDEX search_entry_text ON search_entry (text_id, status);
