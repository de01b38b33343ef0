-- Governance: aliases per use case (champion answers; challenger runs in shadow or
-- canary) with their full history, kill switches, and signed audit checkpoints.

CREATE TABLE aliases (
    usecase_id   TEXT NOT NULL,
    alias        TEXT NOT NULL,     -- champion | challenger
    version      TEXT NOT NULL,
    mode         TEXT,              -- challenger only: shadow | canary
    canary_share REAL,              -- canary only: share of subjects, 0..1
    set_ms       INTEGER NOT NULL,
    set_by       TEXT NOT NULL,
    PRIMARY KEY (usecase_id, alias),
    FOREIGN KEY (usecase_id, version) REFERENCES models(usecase_id, version)
);

-- Every alias change in order; replaying it gives the champion stack that rollback pops.
CREATE TABLE alias_history (
    seq          INTEGER PRIMARY KEY,
    usecase_id   TEXT NOT NULL,
    alias        TEXT NOT NULL,
    action       TEXT NOT NULL,     -- promote | rollback | clear
    version      TEXT,              -- the version the alias points to afterwards (NULL: cleared)
    mode         TEXT,
    canary_share REAL,
    at_ms        INTEGER NOT NULL,
    actor        TEXT NOT NULL,
    reason       TEXT,
    override     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX alias_history_usecase ON alias_history(usecase_id, alias, seq);

-- The kill switch: a row per use case ever switched; state off answers the fallback.
CREATE TABLE usecase_switches (
    usecase_id TEXT PRIMARY KEY,
    state      TEXT NOT NULL,       -- on | off
    reason     TEXT NOT NULL,
    at_ms      INTEGER NOT NULL,
    actor      TEXT NOT NULL
);

-- Bumped by every alias or switch change, so that servers sharing the store notice a
-- change by polling one row.
CREATE TABLE governance_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO governance_version (id, version) VALUES (1, 0);

-- Signed statements "the trail had event `seq` with hash `hash` at `at_ms`", so that
-- deleting the newest events (truncating the tail) is detectable.
CREATE TABLE audit_checkpoints (
    seq        INTEGER PRIMARY KEY,  -- the last audit event covered
    hash       TEXT NOT NULL,
    at_ms      INTEGER NOT NULL,
    public_key TEXT NOT NULL,        -- hex Ed25519 public key of the installation
    signature  TEXT NOT NULL         -- hex Ed25519 signature over the canonical statement
);
