-- The objects an entity owns (phones, schedules, attributes, ...) move into the entity's own
-- `doc`, where reading finds them without a query per kind. Each was a row of its own, in a
-- table per kind keyed by the owner's random id: a service took about twenty rows, and a bulk
-- load spent most of its time (at a million services, most of its disk) on those indexes.
--
-- The taxonomy filters read `service_term` instead: one row per term a service's attributes
-- name, keyed by term, so a term's services are one range. `service.terms` lists them as
-- written, so a rewrite removes exactly those rows without an index by service.
--
-- Each doc is a compact JSON object, so an array is added by splicing it in before the final
-- brace, in position order; no doc holds these keys yet, since writing took them out.

ALTER TABLE service ADD COLUMN terms TEXT NOT NULL DEFAULT '[]';

CREATE TABLE service_term (
    taxonomy_term_id TEXT NOT NULL,
    service_id TEXT NOT NULL,
    PRIMARY KEY (taxonomy_term_id, service_id)
);

INSERT INTO service_term (taxonomy_term_id, service_id)
SELECT DISTINCT taxonomy_term_id, owner_id FROM attribute
WHERE owner_kind = 'service' AND taxonomy_term_id IS NOT NULL;

-- Byte order, as Haven sorts them.
UPDATE service SET terms = (
    SELECT json_agg(t.taxonomy_term_id ORDER BY t.taxonomy_term_id COLLATE "C")::text
    FROM service_term t WHERE t.service_id = service.id
)
WHERE id IN (SELECT service_id FROM service_term);

UPDATE service SET doc = CASE WHEN doc = '{}' THEN '{' ELSE substr(doc, 1, length(doc) - 1) || ',' END
    || '"phones":[' || (SELECT string_agg(c.doc, ',' ORDER BY c.position) FROM phone c WHERE c.owner_kind = 'service' AND c.owner_id = service.id) || ']}'
WHERE EXISTS (SELECT 1 FROM phone c WHERE c.owner_kind = 'service' AND c.owner_id = service.id);
UPDATE service SET doc = CASE WHEN doc = '{}' THEN '{' ELSE substr(doc, 1, length(doc) - 1) || ',' END
    || '"schedules":[' || (SELECT string_agg(c.doc, ',' ORDER BY c.position) FROM schedule c WHERE c.owner_kind = 'service' AND c.owner_id = service.id) || ']}'
WHERE EXISTS (SELECT 1 FROM schedule c WHERE c.owner_kind = 'service' AND c.owner_id = service.id);
UPDATE service SET doc = CASE WHEN doc = '{}' THEN '{' ELSE substr(doc, 1, length(doc) - 1) || ',' END
    || '"service_areas":[' || (SELECT string_agg(c.doc, ',' ORDER BY c.position) FROM service_area c WHERE c.owner_kind = 'service' AND c.owner_id = service.id) || ']}'
WHERE EXISTS (SELECT 1 FROM service_area c WHERE c.owner_kind = 'service' AND c.owner_id = service.id);
UPDATE service SET doc = CASE WHEN doc = '{}' THEN '{' ELSE substr(doc, 1, length(doc) - 1) || ',' END
    || '"languages":[' || (SELECT string_agg(c.doc, ',' ORDER BY c.position) FROM language c WHERE c.owner_kind = 'service' AND c.owner_id = service.id) || ']}'
WHERE EXISTS (SELECT 1 FROM language c WHERE c.owner_kind = 'service' AND c.owner_id = service.id);
UPDATE service SET doc = CASE WHEN doc = '{}' THEN '{' ELSE substr(doc, 1, length(doc) - 1) || ',' END
    || '"funding":[' || (SELECT string_agg(c.doc, ',' ORDER BY c.position) FROM funding c WHERE c.owner_kind = 'service' AND c.owner_id = service.id) || ']}'
WHERE EXISTS (SELECT 1 FROM funding c WHERE c.owner_kind = 'service' AND c.owner_id = service.id);
UPDATE service SET doc = CASE WHEN doc = '{}' THEN '{' ELSE substr(doc, 1, length(doc) - 1) || ',' END
    || '"cost_options":[' || (SELECT string_agg(c.doc, ',' ORDER BY c.position) FROM cost_option c WHERE c.owner_kind = 'service' AND c.owner_id = service.id) || ']}'
WHERE EXISTS (SELECT 1 FROM cost_option c WHERE c.owner_kind = 'service' AND c.owner_id = service.id);
UPDATE service SET doc = CASE WHEN doc = '{}' THEN '{' ELSE substr(doc, 1, length(doc) - 1) || ',' END
    || '"required_documents":[' || (SELECT string_agg(c.doc, ',' ORDER BY c.position) FROM required_document c WHERE c.owner_kind = 'service' AND c.owner_id = service.id) || ']}'
WHERE EXISTS (SELECT 1 FROM required_document c WHERE c.owner_kind = 'service' AND c.owner_id = service.id);
UPDATE service SET doc = CASE WHEN doc = '{}' THEN '{' ELSE substr(doc, 1, length(doc) - 1) || ',' END
    || '"contacts":[' || (SELECT string_agg(c.doc, ',' ORDER BY c.position) FROM contact c WHERE c.owner_kind = 'service' AND c.owner_id = service.id) || ']}'
WHERE EXISTS (SELECT 1 FROM contact c WHERE c.owner_kind = 'service' AND c.owner_id = service.id);
UPDATE service SET doc = CASE WHEN doc = '{}' THEN '{' ELSE substr(doc, 1, length(doc) - 1) || ',' END
    || '"attributes":[' || (SELECT string_agg(c.doc, ',' ORDER BY c.position) FROM attribute c WHERE c.owner_kind = 'service' AND c.owner_id = service.id) || ']}'
WHERE EXISTS (SELECT 1 FROM attribute c WHERE c.owner_kind = 'service' AND c.owner_id = service.id);
UPDATE service SET doc = CASE WHEN doc = '{}' THEN '{' ELSE substr(doc, 1, length(doc) - 1) || ',' END
    || '"metadata":[' || (SELECT string_agg(c.doc, ',' ORDER BY c.position) FROM metadata c WHERE c.owner_kind = 'service' AND c.owner_id = service.id) || ']}'
WHERE EXISTS (SELECT 1 FROM metadata c WHERE c.owner_kind = 'service' AND c.owner_id = service.id);
UPDATE organization SET doc = CASE WHEN doc = '{}' THEN '{' ELSE substr(doc, 1, length(doc) - 1) || ',' END
    || '"funding":[' || (SELECT string_agg(c.doc, ',' ORDER BY c.position) FROM funding c WHERE c.owner_kind = 'organization' AND c.owner_id = organization.id) || ']}'
WHERE EXISTS (SELECT 1 FROM funding c WHERE c.owner_kind = 'organization' AND c.owner_id = organization.id);
UPDATE organization SET doc = CASE WHEN doc = '{}' THEN '{' ELSE substr(doc, 1, length(doc) - 1) || ',' END
    || '"contacts":[' || (SELECT string_agg(c.doc, ',' ORDER BY c.position) FROM contact c WHERE c.owner_kind = 'organization' AND c.owner_id = organization.id) || ']}'
WHERE EXISTS (SELECT 1 FROM contact c WHERE c.owner_kind = 'organization' AND c.owner_id = organization.id);
UPDATE organization SET doc = CASE WHEN doc = '{}' THEN '{' ELSE substr(doc, 1, length(doc) - 1) || ',' END
    || '"phones":[' || (SELECT string_agg(c.doc, ',' ORDER BY c.position) FROM phone c WHERE c.owner_kind = 'organization' AND c.owner_id = organization.id) || ']}'
WHERE EXISTS (SELECT 1 FROM phone c WHERE c.owner_kind = 'organization' AND c.owner_id = organization.id);
UPDATE organization SET doc = CASE WHEN doc = '{}' THEN '{' ELSE substr(doc, 1, length(doc) - 1) || ',' END
    || '"programs":[' || (SELECT string_agg(c.doc, ',' ORDER BY c.position) FROM program c WHERE c.owner_kind = 'organization' AND c.owner_id = organization.id) || ']}'
WHERE EXISTS (SELECT 1 FROM program c WHERE c.owner_kind = 'organization' AND c.owner_id = organization.id);
UPDATE organization SET doc = CASE WHEN doc = '{}' THEN '{' ELSE substr(doc, 1, length(doc) - 1) || ',' END
    || '"organization_identifiers":[' || (SELECT string_agg(c.doc, ',' ORDER BY c.position) FROM organization_identifier c WHERE c.owner_kind = 'organization' AND c.owner_id = organization.id) || ']}'
WHERE EXISTS (SELECT 1 FROM organization_identifier c WHERE c.owner_kind = 'organization' AND c.owner_id = organization.id);
UPDATE organization SET doc = CASE WHEN doc = '{}' THEN '{' ELSE substr(doc, 1, length(doc) - 1) || ',' END
    || '"attributes":[' || (SELECT string_agg(c.doc, ',' ORDER BY c.position) FROM attribute c WHERE c.owner_kind = 'organization' AND c.owner_id = organization.id) || ']}'
WHERE EXISTS (SELECT 1 FROM attribute c WHERE c.owner_kind = 'organization' AND c.owner_id = organization.id);
UPDATE organization SET doc = CASE WHEN doc = '{}' THEN '{' ELSE substr(doc, 1, length(doc) - 1) || ',' END
    || '"metadata":[' || (SELECT string_agg(c.doc, ',' ORDER BY c.position) FROM metadata c WHERE c.owner_kind = 'organization' AND c.owner_id = organization.id) || ']}'
WHERE EXISTS (SELECT 1 FROM metadata c WHERE c.owner_kind = 'organization' AND c.owner_id = organization.id);
UPDATE location SET doc = CASE WHEN doc = '{}' THEN '{' ELSE substr(doc, 1, length(doc) - 1) || ',' END
    || '"languages":[' || (SELECT string_agg(c.doc, ',' ORDER BY c.position) FROM language c WHERE c.owner_kind = 'location' AND c.owner_id = location.id) || ']}'
WHERE EXISTS (SELECT 1 FROM language c WHERE c.owner_kind = 'location' AND c.owner_id = location.id);
UPDATE location SET doc = CASE WHEN doc = '{}' THEN '{' ELSE substr(doc, 1, length(doc) - 1) || ',' END
    || '"addresses":[' || (SELECT string_agg(c.doc, ',' ORDER BY c.position) FROM address c WHERE c.owner_kind = 'location' AND c.owner_id = location.id) || ']}'
WHERE EXISTS (SELECT 1 FROM address c WHERE c.owner_kind = 'location' AND c.owner_id = location.id);
UPDATE location SET doc = CASE WHEN doc = '{}' THEN '{' ELSE substr(doc, 1, length(doc) - 1) || ',' END
    || '"contacts":[' || (SELECT string_agg(c.doc, ',' ORDER BY c.position) FROM contact c WHERE c.owner_kind = 'location' AND c.owner_id = location.id) || ']}'
WHERE EXISTS (SELECT 1 FROM contact c WHERE c.owner_kind = 'location' AND c.owner_id = location.id);
UPDATE location SET doc = CASE WHEN doc = '{}' THEN '{' ELSE substr(doc, 1, length(doc) - 1) || ',' END
    || '"accessibility":[' || (SELECT string_agg(c.doc, ',' ORDER BY c.position) FROM accessibility c WHERE c.owner_kind = 'location' AND c.owner_id = location.id) || ']}'
WHERE EXISTS (SELECT 1 FROM accessibility c WHERE c.owner_kind = 'location' AND c.owner_id = location.id);
UPDATE location SET doc = CASE WHEN doc = '{}' THEN '{' ELSE substr(doc, 1, length(doc) - 1) || ',' END
    || '"phones":[' || (SELECT string_agg(c.doc, ',' ORDER BY c.position) FROM phone c WHERE c.owner_kind = 'location' AND c.owner_id = location.id) || ']}'
WHERE EXISTS (SELECT 1 FROM phone c WHERE c.owner_kind = 'location' AND c.owner_id = location.id);
UPDATE location SET doc = CASE WHEN doc = '{}' THEN '{' ELSE substr(doc, 1, length(doc) - 1) || ',' END
    || '"schedules":[' || (SELECT string_agg(c.doc, ',' ORDER BY c.position) FROM schedule c WHERE c.owner_kind = 'location' AND c.owner_id = location.id) || ']}'
WHERE EXISTS (SELECT 1 FROM schedule c WHERE c.owner_kind = 'location' AND c.owner_id = location.id);
UPDATE location SET doc = CASE WHEN doc = '{}' THEN '{' ELSE substr(doc, 1, length(doc) - 1) || ',' END
    || '"attributes":[' || (SELECT string_agg(c.doc, ',' ORDER BY c.position) FROM attribute c WHERE c.owner_kind = 'location' AND c.owner_id = location.id) || ']}'
WHERE EXISTS (SELECT 1 FROM attribute c WHERE c.owner_kind = 'location' AND c.owner_id = location.id);
UPDATE location SET doc = CASE WHEN doc = '{}' THEN '{' ELSE substr(doc, 1, length(doc) - 1) || ',' END
    || '"metadata":[' || (SELECT string_agg(c.doc, ',' ORDER BY c.position) FROM metadata c WHERE c.owner_kind = 'location' AND c.owner_id = location.id) || ']}'
WHERE EXISTS (SELECT 1 FROM metadata c WHERE c.owner_kind = 'location' AND c.owner_id = location.id);
UPDATE service_at_location SET doc = CASE WHEN doc = '{}' THEN '{' ELSE substr(doc, 1, length(doc) - 1) || ',' END
    || '"contacts":[' || (SELECT string_agg(c.doc, ',' ORDER BY c.position) FROM contact c WHERE c.owner_kind = 'service_at_location' AND c.owner_id = service_at_location.id) || ']}'
WHERE EXISTS (SELECT 1 FROM contact c WHERE c.owner_kind = 'service_at_location' AND c.owner_id = service_at_location.id);
UPDATE service_at_location SET doc = CASE WHEN doc = '{}' THEN '{' ELSE substr(doc, 1, length(doc) - 1) || ',' END
    || '"phones":[' || (SELECT string_agg(c.doc, ',' ORDER BY c.position) FROM phone c WHERE c.owner_kind = 'service_at_location' AND c.owner_id = service_at_location.id) || ']}'
WHERE EXISTS (SELECT 1 FROM phone c WHERE c.owner_kind = 'service_at_location' AND c.owner_id = service_at_location.id);
UPDATE service_at_location SET doc = CASE WHEN doc = '{}' THEN '{' ELSE substr(doc, 1, length(doc) - 1) || ',' END
    || '"schedules":[' || (SELECT string_agg(c.doc, ',' ORDER BY c.position) FROM schedule c WHERE c.owner_kind = 'service_at_location' AND c.owner_id = service_at_location.id) || ']}'
WHERE EXISTS (SELECT 1 FROM schedule c WHERE c.owner_kind = 'service_at_location' AND c.owner_id = service_at_location.id);
UPDATE service_at_location SET doc = CASE WHEN doc = '{}' THEN '{' ELSE substr(doc, 1, length(doc) - 1) || ',' END
    || '"attributes":[' || (SELECT string_agg(c.doc, ',' ORDER BY c.position) FROM attribute c WHERE c.owner_kind = 'service_at_location' AND c.owner_id = service_at_location.id) || ']}'
WHERE EXISTS (SELECT 1 FROM attribute c WHERE c.owner_kind = 'service_at_location' AND c.owner_id = service_at_location.id);
UPDATE service_at_location SET doc = CASE WHEN doc = '{}' THEN '{' ELSE substr(doc, 1, length(doc) - 1) || ',' END
    || '"metadata":[' || (SELECT string_agg(c.doc, ',' ORDER BY c.position) FROM metadata c WHERE c.owner_kind = 'service_at_location' AND c.owner_id = service_at_location.id) || ']}'
WHERE EXISTS (SELECT 1 FROM metadata c WHERE c.owner_kind = 'service_at_location' AND c.owner_id = service_at_location.id);

DROP TABLE attribute;
DROP TABLE address;
DROP TABLE phone;
DROP TABLE schedule;
DROP TABLE cost_option;
DROP TABLE language;
DROP TABLE accessibility;
DROP TABLE service_area;
DROP TABLE required_document;
DROP TABLE contact;
DROP TABLE funding;
DROP TABLE program;
DROP TABLE organization_identifier;
DROP TABLE metadata;
