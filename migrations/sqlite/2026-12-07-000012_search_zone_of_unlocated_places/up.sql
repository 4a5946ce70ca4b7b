-- A place without a time zone of its own (online, by phone: no coordinates) reads its hours in
-- the zone of its service's first located place, as new writes record it.
UPDATE search_entry SET time_zone = (
    SELECT e.time_zone FROM search_entry e
    WHERE e.service_id = search_entry.service_id AND e.time_zone IS NOT NULL
    ORDER BY e.id
    LIMIT 1
)
WHERE time_zone IS NULL AND service_at_location_id IS NOT NULL;
