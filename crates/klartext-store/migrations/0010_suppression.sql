-- Objections outlive erasure: when a subject who objected is erased, the objection is
-- kept as a keyed hash of the id (HMAC-SHA256 with a key only this store holds), so that
-- the subject is still not scored if their data comes back, while the store keeps no id.
CREATE TABLE store_keys (
    name TEXT PRIMARY KEY,
    key  BLOB NOT NULL
);
INSERT INTO store_keys (name, key) VALUES ('suppression', randomblob(32));

CREATE TABLE suppressed_subjects (
    subject_hmac TEXT PRIMARY KEY,      -- hex HMAC-SHA256 of the subject id
    since_ms     INTEGER NOT NULL
);
