-- Shadow scoring: a challenger in shadow mode scores the same requests as the champion;
-- its predictions are logged beside the served ones but never answered.
ALTER TABLE predictions ADD COLUMN role TEXT NOT NULL DEFAULT 'served';  -- served | shadow
