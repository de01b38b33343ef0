-- Serving: API keys (only the SHA-256 of each secret is kept), the prediction log and
-- the feedback attached to logged predictions.
CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    role        TEXT NOT NULL,          -- scorer | operator | admin
    key_sha256  TEXT NOT NULL UNIQUE,   -- hex SHA-256 of the secret; the secret itself is never stored
    created_ms  INTEGER NOT NULL,
    created_by  TEXT NOT NULL,
    revoked_ms  INTEGER                 -- NULL while the key is valid
);

CREATE TABLE predictions (
    prediction_id TEXT PRIMARY KEY,
    at_ms         INTEGER NOT NULL,
    usecase_id    TEXT NOT NULL,
    model_version TEXT NOT NULL,
    subject_id    TEXT,
    input_digest  TEXT NOT NULL,        -- hex SHA-256 of the canonical input JSON
    output        TEXT NOT NULL,        -- JSON: score, label, top reasons
    latency_us    INTEGER NOT NULL,
    caller        TEXT NOT NULL,        -- API key id
    fallback      INTEGER NOT NULL
);
-- Retention deletes by use case and age; subject rights look up by subject.
CREATE INDEX predictions_usecase_time ON predictions(usecase_id, at_ms);
CREATE INDEX predictions_subject ON predictions(subject_id);

CREATE TABLE feedback (
    seq           INTEGER PRIMARY KEY,
    prediction_id TEXT NOT NULL REFERENCES predictions(prediction_id),
    outcome       TEXT NOT NULL,        -- JSON as the caller sent it
    at_ms         INTEGER NOT NULL,
    caller        TEXT NOT NULL
);
CREATE INDEX feedback_prediction ON feedback(prediction_id);
