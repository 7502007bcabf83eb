-- An optional idempotency key per job (`enqueue --key`, a JSONL line's
-- `key`): a producer that submits the same work twice gets the first job's
-- id back instead of a second job. Unique across the whole store, not per
-- lane: a key names one piece of work wherever it was sent. Jobs without a
-- key are not indexed.
ALTER TABLE jobs ADD COLUMN key text;
CREATE UNIQUE INDEX jobs_key ON jobs (key) WHERE key IS NOT NULL;
