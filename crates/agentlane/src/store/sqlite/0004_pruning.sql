-- Pruning finds finished work by age (the leader prunes on [queue] retention).
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX dispatches_finished ON dispatches (finished_at) WHERE job_id IS NULL;
CREATE INDEX events_loose ON events (at) WHERE job_id IS NULL AND dispatch_id IS NULL;
-- A job's events (`agentlane job`, pruning) and events by kind, as on PostgreSQL.
CREATE INDEX events_job ON events (job_id, seq) WHERE job_id IS NOT NULL;
CREATE INDEX events_kind ON events (kind, seq);
