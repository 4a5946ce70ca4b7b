-- `service_term` lists a service's terms under its search text (`service_text.id`) rather
-- than under its id. Texts are numbered in the order they are written, so a load appends to
-- each term's range; keyed by service id, every entry landed at a random place in its term's
-- range. The rows go with their text by foreign key, so `service.terms` is no longer needed
-- to find them.

ALTER TABLE service_term RENAME TO service_term_by_service;

CREATE TABLE service_term_by_text (
    taxonomy_term_id TEXT NOT NULL,
    text_id BIGINT NOT NULL REFERENCES service_text (id) ON DELETE CASCADE,
    CONSTRAINT service_term_by_text_pkey PRIMARY KEY (taxonomy_term_id, text_id)
);

INSERT INTO service_term_by_text (taxonomy_term_id, text_id)
SELECT a.taxonomy_term_id, t.id
FROM service_term_by_service a JOIN service_text t ON t.service_id = a.service_id
-- In key order, so the new table is written front to back.
ORDER BY 1, 2;

DROP TABLE service_term_by_service;
ALTER TABLE service_term_by_text RENAME TO service_term;
ALTER TABLE service_term RENAME CONSTRAINT service_term_by_text_pkey TO service_term_pkey;

-- For the foreign key's deletes; appended to as well.
CREATE INDEX service_term_text ON service_term (text_id);

ALTER TABLE service DROP COLUMN terms;
