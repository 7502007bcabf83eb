-- Leadership leases: one worker among many runs maintenance (rescue, pruning).
CREATE TABLE leaders (
    name       text PRIMARY KEY,
    owner      text NOT NULL,
    expires_at timestamptz NOT NULL
);
