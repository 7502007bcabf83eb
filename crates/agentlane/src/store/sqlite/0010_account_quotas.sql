-- An account's usage quota (issue 17): the open `quota_exhausted` incident
-- that parked every queued job of every route spending the same provider
-- account. The account is a hash of the credential (never the credential)
-- and a label for people (`claude account (key …a1f3)`). Rows of pruned
-- incidents are pruned with them.
CREATE TABLE account_quotas (
    incident_id TEXT PRIMARY KEY,
    account     TEXT NOT NULL,
    label       TEXT NOT NULL,
    parked_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
