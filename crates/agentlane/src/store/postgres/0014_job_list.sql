-- The job list (`GET /api/v1/jobs`, `agentlane jobs`): a lane's jobs in one
-- state, newest first, in cursor pages, are one range of this index (`id` is
-- the page order and the cursor). It replaces (lane, state), a prefix of it.
DROP INDEX jobs_lane_state;
CREATE INDEX jobs_lane_state ON jobs (lane, state, id);
