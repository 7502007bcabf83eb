-- An optional label per job (`enqueue --label`, a JSONL line's `label`),
-- for people: `jobs` lists it, so fifty jobs of one kind do not look alike.
ALTER TABLE jobs ADD COLUMN label TEXT;
