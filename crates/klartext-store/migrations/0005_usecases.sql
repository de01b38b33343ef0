-- Every distinct content of a use-case file that klartext has acted on, so that creating
-- or changing a use case is an audit event even though the file lives outside the store.
CREATE TABLE usecase_versions (
    usecase_id TEXT NOT NULL,
    sha256     TEXT NOT NULL,   -- of the file's bytes
    seen_ms    INTEGER NOT NULL,
    seen_by    TEXT NOT NULL,
    PRIMARY KEY (usecase_id, sha256)
);
