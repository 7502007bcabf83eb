-- Operator controls. A running job's cancel is asked of its worker: the
-- reason is set here, its heartbeat reads it, and the worker stops the
-- attempt and settles the job cancelled. A paused lane claims nothing.
ALTER TABLE jobs ADD COLUMN cancel_reason text;
CREATE TABLE lane_pauses (
    lane       text PRIMARY KEY,
    paused_by  text NOT NULL,
    reason     text NOT NULL,
    paused_at  timestamptz NOT NULL DEFAULT now()
);
