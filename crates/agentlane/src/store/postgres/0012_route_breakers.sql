-- Circuit breakers per route (issue 17): one row per route whose breaker
-- ever opened, shared by every worker. Times are the writing worker's clock
-- (timestamptz). Every write names the version it read (a conditional update),
-- so two workers never both probe or both take the half-open trial. The
-- claim refuses a route whose breaker is not closed (store::rules::NOT_BROKEN).
CREATE TABLE route_breakers (
    route         text PRIMARY KEY,
    state         text NOT NULL CHECK (state IN ('closed', 'open', 'half_open')),
    opened_at     timestamptz,
    next_probe_at timestamptz,
    probes_failed bigint NOT NULL DEFAULT 0,
    reason        text NOT NULL DEFAULT '',
    trial_job     text,
    changed_at    timestamptz NOT NULL,
    incident_id   text,
    version       bigint NOT NULL DEFAULT 1
);
-- A route's latest attempts, for the breaker's window.
CREATE INDEX dispatches_route_finished ON dispatches (route, finished_at)
    WHERE job_id IS NOT NULL AND finished_at IS NOT NULL;
