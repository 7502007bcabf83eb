-- agentlane on PostgreSQL: the same rows as the SQLite store. Every time is
-- the database clock's (now()); al_ts renders it as the store's RFC 3339 text.
CREATE OR REPLACE FUNCTION al_ts(t timestamptz) RETURNS text
    LANGUAGE sql IMMUTABLE AS $$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $$;

CREATE TABLE dispatches (
    id                  text PRIMARY KEY,
    created_at          timestamptz NOT NULL DEFAULT now(),
    finished_at         timestamptz,
    program             text NOT NULL,
    cli_path            text,
    cwd                 text NOT NULL,
    route               text,
    model               text,
    job_id              text,
    attempt             integer,
    classifier          text,
    exit_code           integer,
    signal              integer,
    timed_out           boolean NOT NULL DEFAULT false,
    duration_ms         bigint,
    failure_fingerprint text,
    report              jsonb
);
CREATE INDEX dispatches_job ON dispatches (job_id, attempt) WHERE job_id IS NOT NULL;
CREATE INDEX dispatches_fingerprint ON dispatches (failure_fingerprint) WHERE failure_fingerprint IS NOT NULL;

CREATE TABLE events (
    seq         bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    dispatch_id text REFERENCES dispatches (id),
    job_id      text,
    kind        text NOT NULL,
    body        jsonb NOT NULL
);
CREATE INDEX events_dispatch ON events (dispatch_id, seq);
CREATE INDEX events_job ON events (job_id, seq) WHERE job_id IS NOT NULL;
CREATE INDEX events_kind ON events (kind, seq);

CREATE TYPE job_state AS ENUM ('queued', 'scheduled', 'running', 'succeeded', 'failed', 'parked', 'cancelled');

CREATE TABLE jobs (
    id               text PRIMARY KEY,
    kind             text NOT NULL,
    lane             text NOT NULL,
    route            text NOT NULL,
    prompt           text NOT NULL,
    fields           jsonb NOT NULL DEFAULT '{}',
    priority         bigint NOT NULL DEFAULT 0,
    state            job_state NOT NULL DEFAULT 'queued',
    attempts         integer NOT NULL DEFAULT 0,
    run_at           timestamptz NOT NULL DEFAULT now(),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    lease_owner      text,
    lease_expires_at timestamptz,
    timeout_ms       bigint,
    diagnostics      boolean NOT NULL DEFAULT false,
    classifier       text,
    next_action      text,
    reason           text,
    incident_id      text,
    last_dispatch_id text
);
CREATE INDEX jobs_claim ON jobs (lane, priority DESC, run_at, id) WHERE state IN ('queued', 'scheduled');
CREATE INDEX jobs_leases ON jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX jobs_lane_state ON jobs (lane, state);

CREATE TABLE incidents (
    id                  text PRIMARY KEY,
    failure_fingerprint text NOT NULL,
    classifier          text NOT NULL,
    state               text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'resolved')),
    repair_address      text NOT NULL CHECK (repair_address IN ('runtime', 'router', 'producer')),
    priority            bigint NOT NULL,
    route               text,
    lane                text,
    host                text NOT NULL,
    repair_hint         text NOT NULL,
    evidence            text,
    affected_jobs       bigint NOT NULL DEFAULT 0,
    occurrences         bigint NOT NULL DEFAULT 0,
    first_seen          timestamptz NOT NULL DEFAULT now(),
    last_seen           timestamptz NOT NULL DEFAULT now(),
    resolved_at         timestamptz,
    resolution          text
);
CREATE UNIQUE INDEX incidents_open_fingerprint ON incidents (failure_fingerprint) WHERE state = 'open';

CREATE TABLE incident_jobs (
    incident_id text NOT NULL REFERENCES incidents (id),
    job_id      text NOT NULL REFERENCES jobs (id),
    attached_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (incident_id, job_id)
);
