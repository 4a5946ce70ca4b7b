-- Which texts each word is in, by number, 1,024 numbers a row (see `search::postings`): a
-- common word's first keyword search reads these rows instead of visiting every matching row
-- of `service_text`, which PostgreSQL's GIN index cannot avoid. Filled by the sealer of a
-- running server and at the end of `haven import`, a block of numbers at a time; texts after
-- `text_word_sealed.upto` are not listed yet, and searches match them through `tsv`.
-- `COLLATE "C"` orders words byte by byte, as a prefix search reads them.
CREATE TABLE text_word (
    word TEXT COLLATE "C" NOT NULL,
    block BIGINT NOT NULL,
    -- The numbers' offsets in the block, in order, two bytes each (big-endian).
    ids BYTEA NOT NULL,
    PRIMARY KEY (word, block)
);

-- One row: every text numbered up to `upto` is listed in `text_word`.
CREATE TABLE text_word_sealed (
    upto BIGINT NOT NULL
);
INSERT INTO text_word_sealed (upto) VALUES (-1);
