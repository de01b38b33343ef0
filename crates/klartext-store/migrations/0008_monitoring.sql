-- Monitoring: each served prediction keeps its score and its feature values (compact
-- bytes written by the server, opaque here) so that drift can be measured on traffic;
-- each model version keeps the reference profile of its training data; each alert is
-- raised at most once per use case, kind and window.
ALTER TABLE predictions ADD COLUMN score REAL;
ALTER TABLE predictions ADD COLUMN features BLOB;
ALTER TABLE models ADD COLUMN reference TEXT;

CREATE TABLE monitoring_alerts (
    usecase_id      TEXT NOT NULL,
    kind            TEXT NOT NULL,      -- drift.detected | performance.degraded
    window_start_ms INTEGER NOT NULL,
    raised_ms       INTEGER NOT NULL,
    audit_seq       INTEGER NOT NULL,   -- the audit event that carries the finding
    PRIMARY KEY (usecase_id, kind, window_start_ms)
);
