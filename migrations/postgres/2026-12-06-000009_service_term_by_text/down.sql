ALTER TABLE service ADD COLUMN terms TEXT NOT NULL DEFAULT '[]';

CREATE TABLE service_term_by_service (
    taxonomy_term_id TEXT NOT NULL,
    service_id TEXT NOT NULL,
    CONSTRAINT service_term_by_service_pkey PRIMARY KEY (taxonomy_term_id, service_id)
);

INSERT INTO service_term_by_service (taxonomy_term_id, service_id)
SELECT a.taxonomy_term_id, t.service_id
FROM service_term a JOIN service_text t ON t.id = a.text_id;

-- Byte order, as Haven sorts them.
UPDATE service SET terms = (
    SELECT json_agg(t.taxonomy_term_id ORDER BY t.taxonomy_term_id COLLATE "C")::text
    FROM service_term_by_service t WHERE t.service_id = service.id
)
WHERE id IN (SELECT service_id FROM service_term_by_service);

DROP TABLE service_term;
ALTER TABLE service_term_by_service RENAME TO service_term;
ALTER TABLE service_term RENAME CONSTRAINT service_term_by_service_pkey TO service_term_pkey;
