-- Circuit breakers per route (issue 17): one row per route whose breaker
-- ever opened, shared by every worker. Times are the writing worker's clock
-- (RFC 3339). Every write names the version it read (a conditional update),
-- so two workers never both probe or both take the half-open trial. The
-- claim refuses a route whose breaker is not closed (store::rules::NOT_BROKEN).
CREATE TABLE route_breakers (
    route         TEXT PRIMARY KEY,
    state         TEXT NOT NULL CHECK (state IN ('closed', 'open', 'half_open')),
    opened_at     TEXT,
    next_probe_at TEXT,
    probes_failed INTEGER NOT NULL DEFAULT 0,
    reason        TEXT NOT NULL DEFAULT '',
    trial_job     TEXT,
    changed_at    TEXT NOT NULL,
    incident_id   TEXT,
    version       INTEGER NOT NULL DEFAULT 1
);
-- A route's latest attempts, for the breaker's window.
CREATE INDEX dispatches_route_finished ON dispatches (route, finished_at)
    WHERE job_id IS NOT NULL AND finished_at IS NOT NULL;
