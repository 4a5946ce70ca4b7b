DROP TABLE text_word_sealed;
DROP TABLE text_word;
