-- Secondary indexes a bulk load into an empty catalogue has set aside, to build once it ends
-- (`db::deferred`): by name, with the statement that builds each again.
CREATE TABLE deferred_index (
    name TEXT PRIMARY KEY,
    sql TEXT NOT NULL
);
