-- Failure storms: a hot incident row must not serialise every worker. A
-- settlement appends its count to incident_counts (no row is shared); the
-- maintenance leader folds the deltas into the incident in one statement.
-- incident_totals shows every incident with the deltas not yet folded, so a
-- reader always sees the exact count.
CREATE TABLE incident_counts (
    seq         bigserial PRIMARY KEY,
    incident_id text NOT NULL REFERENCES incidents (id),
    occurrences bigint NOT NULL,
    affected    bigint NOT NULL,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX incident_counts_incident ON incident_counts (incident_id);

CREATE VIEW incident_totals AS
SELECT i.id, i.failure_fingerprint, i.classifier, i.state, i.repair_address, i.priority,
       i.route, i.lane, i.host, i.repair_hint, i.evidence,
       i.affected_jobs + COALESCE(c.affected, 0) AS affected_jobs,
       i.occurrences + COALESCE(c.occurrences, 0) AS occurrences,
       i.first_seen, GREATEST(i.last_seen, c.last_seen) AS last_seen,
       i.resolved_at, i.resolution
FROM incidents i
LEFT JOIN (SELECT incident_id, sum(occurrences)::bigint AS occurrences,
                  sum(affected)::bigint AS affected, max(at) AS last_seen
           FROM incident_counts GROUP BY incident_id) c ON c.incident_id = i.id;

-- Pruning finds finished jobs by age.
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX dispatches_finished ON dispatches (finished_at) WHERE job_id IS NULL;
CREATE INDEX events_loose ON events (at) WHERE job_id IS NULL AND dispatch_id IS NULL;
