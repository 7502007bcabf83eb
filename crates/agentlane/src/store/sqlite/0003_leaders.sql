-- Leadership leases: one worker among many runs maintenance (rescue, pruning).
CREATE TABLE leaders (
    name       TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
