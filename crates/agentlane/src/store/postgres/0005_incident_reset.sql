-- An incident of usage or rate limits records when the limit resets: the
-- latest reset_at of its failures. As with the counts, a settlement never
-- updates the shared incident row: the reset rides on its incident_counts
-- row, incident_totals shows the latest of both, and the maintenance leader
-- folds it in with the counts.
ALTER TABLE incidents ADD COLUMN reset_at timestamptz;
ALTER TABLE incident_counts ADD COLUMN reset_at timestamptz;

CREATE OR REPLACE VIEW incident_totals AS
SELECT i.id, i.failure_fingerprint, i.classifier, i.state, i.repair_address, i.priority,
       i.route, i.lane, i.host, i.repair_hint, i.evidence,
       i.affected_jobs + COALESCE(c.affected, 0) AS affected_jobs,
       i.occurrences + COALESCE(c.occurrences, 0) AS occurrences,
       i.first_seen, GREATEST(i.last_seen, c.last_seen) AS last_seen,
       i.resolved_at, i.resolution,
       GREATEST(i.reset_at, c.reset_at) AS reset_at
FROM incidents i
LEFT JOIN (SELECT incident_id, sum(occurrences)::bigint AS occurrences,
                  sum(affected)::bigint AS affected, max(at) AS last_seen,
                  max(reset_at) AS reset_at
           FROM incident_counts GROUP BY incident_id) c ON c.incident_id = i.id;
