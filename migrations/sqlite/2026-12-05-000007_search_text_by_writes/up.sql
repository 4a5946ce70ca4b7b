-- A new text's full-text entry is written by Haven (`catalog::store::PendingTexts`), not by a
-- trigger: FTS5 writes what it holds as a new segment whenever a statement that can be undone
-- on its own begins, and the trigger made every text written such a statement, so a bulk load
-- made a segment per service. Removing and changing a text keep their triggers.
DROP TRIGGER IF EXISTS service_text_insert;
