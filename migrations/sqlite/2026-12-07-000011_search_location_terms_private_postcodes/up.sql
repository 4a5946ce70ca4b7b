-- Two corrections to the search rows of services already stored; new writes make them so.

-- A confidential location's postcode would place it: the postcode filter no longer finds it.
UPDATE search_entry SET postcodes = ''
WHERE location_id IN (SELECT id FROM location WHERE json_extract(doc, '$.confidential') = 1);

-- `service_term` also lists the terms linked through a service's service_at_locations and
-- their locations (accessibility, for one), so the taxonomy filters find the service by
-- them. An attribute names its term by `taxonomy_term_id`, else by its nested term, which a
-- doc keeps as the id alone when it is one of Haven's (see `catalog::compact`).
INSERT OR IGNORE INTO service_term (taxonomy_term_id, text_id)
SELECT DISTINCT term, text_id FROM (
    SELECT lower(coalesce(
        json_extract(a.value, '$.taxonomy_term_id'),
        CASE json_type(a.value, '$.taxonomy_term')
            WHEN 'text' THEN json_extract(a.value, '$.taxonomy_term')
            WHEN 'object' THEN json_extract(a.value, '$.taxonomy_term.id')
        END)) AS term, t.id AS text_id
    FROM service_text t
    JOIN service_at_location sal ON sal.service_id = t.service_id
    JOIN location l ON l.id = sal.location_id, json_each(l.doc, '$.attributes') a
    UNION ALL
    SELECT lower(coalesce(
        json_extract(a.value, '$.taxonomy_term_id'),
        CASE json_type(a.value, '$.taxonomy_term')
            WHEN 'text' THEN json_extract(a.value, '$.taxonomy_term')
            WHEN 'object' THEN json_extract(a.value, '$.taxonomy_term.id')
        END)), t.id
    FROM service_text t
    JOIN service_at_location sal ON sal.service_id = t.service_id,
        json_each(sal.doc, '$.attributes') a
)
WHERE term IS NOT NULL
ORDER BY 1, 2;
