ALTER TABLE search_change DROP COLUMN gone_text;
