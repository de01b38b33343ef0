-- Model versions: immutable, content-addressed artifacts with their training report
-- and model card.
CREATE TABLE models (
    usecase_id   TEXT NOT NULL,
    version      TEXT NOT NULL,   -- first 12 hex digits of the artifact's SHA-256
    sha256       TEXT NOT NULL,
    dataset_id   TEXT NOT NULL REFERENCES datasets(id),
    learner      TEXT NOT NULL,
    gates_passed INTEGER NOT NULL,
    report       TEXT NOT NULL,   -- JSON training report
    card         TEXT NOT NULL,   -- Markdown model card
    blob_path    TEXT NOT NULL,
    created_ms   INTEGER NOT NULL,
    created_by   TEXT NOT NULL,
    PRIMARY KEY (usecase_id, version)
);
CREATE INDEX models_created ON models(usecase_id, created_ms);
