-- Datasets are immutable, content-addressed snapshots; a registration ties one to a use
-- case with the schema and report computed for that use case's roles.
CREATE TABLE datasets (
    id          TEXT PRIMARY KEY,
    sha256      TEXT NOT NULL UNIQUE,
    source_name TEXT NOT NULL,
    snapshot    TEXT NOT NULL,   -- JSON: dialect and extension, to re-read the bytes
    blob_path   TEXT NOT NULL,   -- relative to the store folder
    rows        INTEGER NOT NULL,
    columns     INTEGER NOT NULL,
    bytes       INTEGER NOT NULL,
    created_ms  INTEGER NOT NULL,
    created_by  TEXT NOT NULL
);

CREATE TABLE dataset_registrations (
    dataset_id  TEXT NOT NULL REFERENCES datasets(id),
    usecase_id  TEXT NOT NULL,
    schema      TEXT NOT NULL,   -- JSON
    report      TEXT NOT NULL,   -- JSON
    created_ms  INTEGER NOT NULL,
    created_by  TEXT NOT NULL,
    PRIMARY KEY (dataset_id, usecase_id)
);
CREATE INDEX dataset_registrations_usecase ON dataset_registrations(usecase_id, created_ms);

-- Append-only, hash-chained record of every state change.
CREATE TABLE audit_events (
    seq        INTEGER PRIMARY KEY,
    at_ms      INTEGER NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    details    TEXT NOT NULL,    -- canonical JSON
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
