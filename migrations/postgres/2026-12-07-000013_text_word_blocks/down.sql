ALTER TABLE search_change DROP COLUMN gone_text;
DROP TABLE text_word_sealed;
DROP TABLE text_word_block;
DROP TABLE text_word;
