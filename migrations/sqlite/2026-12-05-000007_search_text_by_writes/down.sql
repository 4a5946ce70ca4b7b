CREATE TRIGGER service_text_insert AFTER INSERT ON service_text BEGIN
    INSERT INTO service_text_fts (rowid, body) VALUES (new.id, new.body);
END;
