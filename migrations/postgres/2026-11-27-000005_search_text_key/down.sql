DROP INDEX IF EXISTS search_entry_text;
ALTER TABLE search_entry DROP COLUMN IF EXISTS text_id;
ALTER TABLE service_text DROP COLUMN IF EXISTS id;
