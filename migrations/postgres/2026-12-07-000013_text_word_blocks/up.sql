-- Which texts each word is in, by number, 1,024 numbers a row (see `search::postings`): a
-- common word's first keyword search reads these rows instead of visiting every matching row
-- of `service_text`, which PostgreSQL's GIN index cannot avoid. They keep the numbers of texts
-- since gone, which the near-here index knows from `search_change.gone_text` to pass over.
-- Filled by the sealer of a running server and at the end of `haven import`, a block of
-- numbers at a time; texts after `text_word_sealed.upto` are not listed yet, and searches
-- match them through `tsv`.
-- `COLLATE "C"` orders words byte by byte, as a prefix search reads them. This relies on a
-- text never changing under its number (writes delete and insert): a migration that changes
-- texts in place must empty these tables and set `upto` back to -1.
CREATE TABLE text_word (
    word TEXT COLLATE "C" NOT NULL,
    block BIGINT NOT NULL,
    -- The numbers' offsets in the block, in order, two bytes each (big-endian).
    ids BYTEA NOT NULL,
    PRIMARY KEY (word, block)
);

-- For listing a block again without the texts gone from it.
CREATE INDEX text_word_of_block ON text_word (block);

-- How many texts each block listed when it was (last) listed: a block most of whose texts
-- are gone (rewritten under new numbers, or deleted) is listed again.
CREATE TABLE text_word_block (
    block BIGINT PRIMARY KEY,
    texts INTEGER NOT NULL
);

-- One row: every text numbered up to `upto` is listed in `text_word`.
CREATE TABLE text_word_sealed (
    upto BIGINT NOT NULL
);
INSERT INTO text_word_sealed (upto) VALUES (-1);

-- The number of the text a change removed, for the near-here index to forget its status.
ALTER TABLE search_change ADD COLUMN gone_text BIGINT;
