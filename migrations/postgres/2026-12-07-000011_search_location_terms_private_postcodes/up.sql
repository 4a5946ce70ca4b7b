-- Two corrections to the search rows of services already stored; new writes make them so.

-- A confidential location's postcode would place it: the postcode filter no longer finds it.
UPDATE search_entry SET postcodes = ''
WHERE location_id IN (SELECT id FROM location WHERE (doc::jsonb ->> 'confidential') = 'true');

-- `service_term` also lists the terms linked through a service's service_at_locations and
-- their locations (accessibility, for one), so the taxonomy filters find the service by
-- them. An attribute names its term by `taxonomy_term_id`, else by its nested term, which a
-- doc keeps as the id alone when it is one of Haven's (see `catalog::compact`).
INSERT INTO service_term (taxonomy_term_id, text_id)
SELECT DISTINCT term, text_id FROM (
    SELECT lower(coalesce(
        a ->> 'taxonomy_term_id',
        CASE jsonb_typeof(a -> 'taxonomy_term')
            WHEN 'string' THEN a ->> 'taxonomy_term'
            WHEN 'object' THEN a -> 'taxonomy_term' ->> 'id'
        END)) AS term, t.id AS text_id
    FROM service_text t
    JOIN service_at_location sal ON sal.service_id = t.service_id
    LEFT JOIN location l ON l.id = sal.location_id
    CROSS JOIN LATERAL jsonb_array_elements(
        coalesce(l.doc::jsonb -> 'attributes', '[]'::jsonb)
        || coalesce(sal.doc::jsonb -> 'attributes', '[]'::jsonb)) a
) found
WHERE term IS NOT NULL
ORDER BY 1, 2
ON CONFLICT DO NOTHING;
