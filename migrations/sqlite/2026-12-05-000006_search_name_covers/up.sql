-- A keyword search with a common word finds its page by walking the rows in name order and
-- keeping those whose text matched (`search::keyword`). With the status and the text's number
-- in this index the walk reads the index alone, not a table row per step: at a million
-- services those steps were random reads in a file of many gigabytes.
DROP INDEX IF EXISTS search_entry_name;
CREATE INDEX search_entry_name ON search_entry (name, service_id, status, text_id);
