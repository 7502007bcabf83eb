-- Dispatches and their append-only events.
CREATE TABLE dispatches (
    id                  TEXT PRIMARY KEY,             -- UUIDv7: time-ordered
    created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    finished_at         TEXT,
    program             TEXT NOT NULL,
    cli_path            TEXT,
    cwd                 TEXT NOT NULL,
    route               TEXT,
    model               TEXT,
    job_id              TEXT,
    attempt             INTEGER,
    classifier          TEXT,
    exit_code           INTEGER,
    signal              INTEGER,
    timed_out           INTEGER NOT NULL DEFAULT 0 CHECK (timed_out IN (0, 1)),
    duration_ms         INTEGER,
    failure_fingerprint TEXT,
    report              TEXT                          -- the final report, JSON
);
CREATE INDEX dispatches_job ON dispatches (job_id, attempt) WHERE job_id IS NOT NULL;
CREATE INDEX dispatches_fingerprint ON dispatches (failure_fingerprint) WHERE failure_fingerprint IS NOT NULL;

CREATE TABLE events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    dispatch_id TEXT REFERENCES dispatches (id),
    job_id      TEXT,
    kind        TEXT NOT NULL,
    body        TEXT NOT NULL                          -- JSON
);
CREATE INDEX events_dispatch ON events (dispatch_id, seq);
