-- The durable queue: jobs (one row each, readable with SQL), incidents with a
-- unique open fingerprint, and the jobs attached to them. Attempts are the
-- dispatches rows (job_id, attempt) with their evidence.
CREATE TABLE jobs (
    id               TEXT PRIMARY KEY,                -- UUIDv7
    kind             TEXT NOT NULL,
    lane             TEXT NOT NULL,
    route            TEXT NOT NULL,
    prompt           TEXT NOT NULL,
    fields           TEXT NOT NULL DEFAULT '{}',      -- JSON object
    priority         INTEGER NOT NULL DEFAULT 0,
    state            TEXT NOT NULL DEFAULT 'queued'
                     CHECK (state IN ('queued', 'scheduled', 'running', 'succeeded', 'failed', 'parked', 'cancelled')),
    attempts         INTEGER NOT NULL DEFAULT 0,      -- the fencing token of the running attempt
    run_at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    finished_at      TEXT,
    lease_owner      TEXT,
    lease_expires_at TEXT,
    timeout_ms       INTEGER,
    diagnostics      INTEGER NOT NULL DEFAULT 0 CHECK (diagnostics IN (0, 1)),
    classifier       TEXT,
    next_action      TEXT,
    reason           TEXT,
    incident_id      TEXT,
    last_dispatch_id TEXT
);
-- The claim path: only claimable rows are indexed.
CREATE INDEX jobs_claim ON jobs (lane, priority DESC, run_at, id) WHERE state IN ('queued', 'scheduled');
CREATE INDEX jobs_leases ON jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX jobs_lane_state ON jobs (lane, state);

CREATE TABLE incidents (
    id                  TEXT PRIMARY KEY,
    failure_fingerprint TEXT NOT NULL,
    classifier          TEXT NOT NULL,
    state               TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'resolved')),
    repair_address      TEXT NOT NULL CHECK (repair_address IN ('runtime', 'router', 'producer')),
    priority            INTEGER NOT NULL,
    route               TEXT,
    lane                TEXT,
    host                TEXT NOT NULL,
    repair_hint         TEXT NOT NULL,
    evidence            TEXT,
    affected_jobs       INTEGER NOT NULL DEFAULT 0,
    occurrences         INTEGER NOT NULL DEFAULT 0,
    first_seen          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    last_seen           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    resolved_at         TEXT,
    resolution          TEXT
);
-- One open incident per fingerprint: five jobs failing alike make one incident.
CREATE UNIQUE INDEX incidents_open_fingerprint ON incidents (failure_fingerprint) WHERE state = 'open';

CREATE TABLE incident_jobs (
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    job_id      TEXT NOT NULL REFERENCES jobs (id),
    attached_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (incident_id, job_id)
);
