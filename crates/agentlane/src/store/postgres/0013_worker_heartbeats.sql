-- Workers' heartbeats for /metrics (issue 18): one row per host, worker kind
-- and lane (bounded labels: never the pid-unique lease owner), its last
-- heartbeat on the database clock. Each heartbeat deletes the rows not seen
-- for a day, so the table holds the live fleet and nothing else.
CREATE TABLE worker_heartbeats (
    host      text NOT NULL,
    kind      text NOT NULL,
    lane      text NOT NULL,
    last_seen timestamptz NOT NULL,
    PRIMARY KEY (host, kind, lane)
);
-- /metrics counts parked jobs per lane and class without reading the others.
CREATE INDEX jobs_parked ON jobs (lane, classifier) WHERE state = 'parked';
