-- Operator controls. A running job's cancel is asked of its worker: the
-- reason is set here, its heartbeat reads it, and the worker stops the
-- attempt and settles the job cancelled. A paused lane claims nothing.
ALTER TABLE jobs ADD COLUMN cancel_reason TEXT;
CREATE TABLE lane_pauses (
    lane       TEXT PRIMARY KEY,
    paused_by  TEXT NOT NULL,
    reason     TEXT NOT NULL,
    paused_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
