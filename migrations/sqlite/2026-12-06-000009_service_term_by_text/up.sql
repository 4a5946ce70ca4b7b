-- `service_term` lists a service's terms under its search text (`service_text.id`) rather
-- than under its id. Texts are numbered in the order they are written, so a load appends to
-- each term's range; keyed by service id, every entry landed at a random place in its term's
-- range, and at a million services (8.7 million entries) about half of a load's page writes
-- went there. The rows go with their text by foreign key, so `service.terms` is no longer
-- needed to find them.

ALTER TABLE service_term RENAME TO service_term_by_service;

CREATE TABLE service_term (
    taxonomy_term_id TEXT NOT NULL,
    text_id INTEGER NOT NULL REFERENCES service_text (id) ON DELETE CASCADE,
    PRIMARY KEY (taxonomy_term_id, text_id)
) WITHOUT ROWID;

INSERT INTO service_term (taxonomy_term_id, text_id)
SELECT a.taxonomy_term_id, t.id
FROM service_term_by_service a JOIN service_text t ON t.service_id = a.service_id
-- In key order, so the new table is written front to back.
ORDER BY 1, 2;

-- For the foreign key's deletes; appended to as well.
CREATE INDEX service_term_text ON service_term (text_id);

DROP TABLE service_term_by_service;
ALTER TABLE service DROP COLUMN terms;
