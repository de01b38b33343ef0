-- Every kind's decisions in one log: the kind of the use case, how the decision was
-- answered (answered | fallback | objected | held_for_review), the served prediction a
-- shadow row belongs to, and the batch a row was scored in offline; feedback keeps the
-- outcome as its kind read it beside what the caller sent.
ALTER TABLE predictions ADD COLUMN kind TEXT;
ALTER TABLE predictions ADD COLUMN status TEXT NOT NULL DEFAULT 'answered';
ALTER TABLE predictions ADD COLUMN shadow_of TEXT;
ALTER TABLE predictions ADD COLUMN batch_id TEXT;
ALTER TABLE feedback ADD COLUMN typed TEXT;

-- Rows logged before: the kind from a model of the use case (all of a use case's
-- models share its kind), the status and the shadow link from the output they kept.
UPDATE predictions SET kind = (
    SELECT CASE json_extract(m.report, '$.task')
        WHEN 'binary_classification' THEN 'classification'
        WHEN 'regression' THEN 'regression' END
    FROM models m WHERE m.usecase_id = predictions.usecase_id LIMIT 1);
UPDATE predictions SET status = 'fallback' WHERE fallback = 1;
UPDATE predictions SET status = 'held_for_review' WHERE json_extract(output, '$.review') = 'pending';
UPDATE predictions SET status = 'objected' WHERE json_extract(output, '$.objected') = 1;
UPDATE predictions SET shadow_of = json_extract(output, '$.shadow_of') WHERE role = 'shadow';
CREATE INDEX predictions_batch ON predictions(batch_id) WHERE batch_id IS NOT NULL;
