ALTER TABLE service ADD COLUMN terms TEXT NOT NULL DEFAULT '[]';

CREATE TABLE service_term_by_service (
    taxonomy_term_id TEXT NOT NULL,
    service_id TEXT NOT NULL,
    PRIMARY KEY (taxonomy_term_id, service_id)
) WITHOUT ROWID;

INSERT INTO service_term_by_service (taxonomy_term_id, service_id)
SELECT a.taxonomy_term_id, t.service_id
FROM service_term a JOIN service_text t ON t.id = a.text_id;

UPDATE service SET terms = (
    SELECT json_group_array(t.taxonomy_term_id ORDER BY t.taxonomy_term_id)
    FROM service_term_by_service t WHERE t.service_id = service.id
)
WHERE id IN (SELECT service_id FROM service_term_by_service);

DROP TABLE service_term;
ALTER TABLE service_term_by_service RENAME TO service_term;
