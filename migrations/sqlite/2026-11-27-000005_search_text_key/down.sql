DROP INDEX IF EXISTS search_entry_text;
ALTER TABLE search_entry DROP COLUMN text_id;
