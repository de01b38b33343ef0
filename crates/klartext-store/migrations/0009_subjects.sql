-- Data-subject rights: objections (GDPR Art. 21), the human review queue (Art. 22),
-- retention purges of datasets, and snapshot files to remove once a commit has made
-- them unreferenced (so that a crash between commit and removal is finished at the
-- next open instead of leaving personal data behind).
CREATE TABLE objections (
    subject_id  TEXT PRIMARY KEY,
    at_ms       INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    reason      TEXT                    -- as the subject gave it; removed with the subject
);

CREATE TABLE reviews (
    prediction_id  TEXT PRIMARY KEY REFERENCES predictions(prediction_id),
    usecase_id     TEXT NOT NULL,
    origin         TEXT NOT NULL,       -- significant_effect | contested
    queued_ms      INTEGER NOT NULL,
    contest_reason TEXT,                -- the subject's words; cleared on erasure
    status         TEXT NOT NULL,       -- pending | approved | rejected
    decided_ms     INTEGER,
    decided_by     TEXT,
    note           TEXT                 -- the reviewer's words
);
CREATE INDEX reviews_status ON reviews(status, queued_ms);

-- A dataset whose registrations all expired: its snapshot file is gone, its id and
-- hashes stay for the lineage of models trained on it.
ALTER TABLE datasets ADD COLUMN purged_ms INTEGER;

CREATE TABLE blob_removals (
    path      TEXT PRIMARY KEY,         -- relative to the store folder
    queued_ms INTEGER NOT NULL
);
