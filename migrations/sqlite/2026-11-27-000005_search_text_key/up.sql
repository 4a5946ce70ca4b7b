-- Keyword search joins full-text matches to search rows by number: `text_id` is the row of the
-- service's text in `service_text`, which is also the rowid of its full-text entry. A match
-- then costs one step in a small index, instead of reading the text row (about 1 KB) and then
-- the search rows by a 36-character service id.
ALTER TABLE search_entry ADD COLUMN text_id INTEGER;
UPDATE search_entry SET text_id =
    (SELECT t.id FROM service_text t WHERE t.service_id = search_entry.service_id);
CREATE INDEX search_entry_text ON search_entry (text_id, status);
