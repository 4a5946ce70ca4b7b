DROP TABLE IF EXISTS search_change;
-- The key column stays: dropping it would need the table rebuilt again, and nothing older
-- minds it.
