-- The number of the text a change removed (`service_text.id`), so that the near-here index
-- forgets that number's status (see the PostgreSQL migration of the same number, whose lists of
-- texts by word keep the numbers of texts gone).
ALTER TABLE search_change ADD COLUMN gone_text BIGINT;
