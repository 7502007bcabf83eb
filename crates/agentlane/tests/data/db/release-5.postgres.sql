--
-- PostgreSQL database dump
--



SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: agentlane_release_fixture; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA agentlane_release_fixture;


--
-- Name: job_state; Type: TYPE; Schema: agentlane_release_fixture; Owner: -
--

CREATE TYPE agentlane_release_fixture.job_state AS ENUM (
    'queued',
    'scheduled',
    'running',
    'succeeded',
    'failed',
    'parked',
    'cancelled'
);


--
-- Name: al_ts(timestamp with time zone); Type: FUNCTION; Schema: agentlane_release_fixture; Owner: -
--

CREATE FUNCTION agentlane_release_fixture.al_ts(t timestamp with time zone) RETURNS text
    LANGUAGE sql STABLE
    AS $$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $$;


SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: agentlane_migrations; Type: TABLE; Schema: agentlane_release_fixture; Owner: -
--

CREATE TABLE agentlane_release_fixture.agentlane_migrations (
    version integer NOT NULL,
    applied_at timestamp with time zone DEFAULT now() NOT NULL
);


--
-- Name: dispatches; Type: TABLE; Schema: agentlane_release_fixture; Owner: -
--

CREATE TABLE agentlane_release_fixture.dispatches (
    id text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    finished_at timestamp with time zone,
    program text NOT NULL,
    cli_path text,
    cwd text NOT NULL,
    route text,
    model text,
    job_id text,
    attempt integer,
    classifier text,
    exit_code integer,
    signal integer,
    timed_out boolean DEFAULT false NOT NULL,
    duration_ms bigint,
    failure_fingerprint text,
    report jsonb
);


--
-- Name: events; Type: TABLE; Schema: agentlane_release_fixture; Owner: -
--

CREATE TABLE agentlane_release_fixture.events (
    seq bigint NOT NULL,
    at timestamp with time zone DEFAULT now() NOT NULL,
    dispatch_id text,
    job_id text,
    kind text NOT NULL,
    body jsonb NOT NULL
);


--
-- Name: events_seq_seq; Type: SEQUENCE; Schema: agentlane_release_fixture; Owner: -
--

CREATE SEQUENCE agentlane_release_fixture.events_seq_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: events_seq_seq; Type: SEQUENCE OWNED BY; Schema: agentlane_release_fixture; Owner: -
--

ALTER SEQUENCE agentlane_release_fixture.events_seq_seq OWNED BY agentlane_release_fixture.events.seq;


--
-- Name: incident_counts; Type: TABLE; Schema: agentlane_release_fixture; Owner: -
--

CREATE TABLE agentlane_release_fixture.incident_counts (
    seq bigint NOT NULL,
    incident_id text NOT NULL,
    occurrences bigint NOT NULL,
    affected bigint NOT NULL,
    at timestamp with time zone DEFAULT now() NOT NULL,
    reset_at timestamp with time zone
);


--
-- Name: incident_counts_seq_seq; Type: SEQUENCE; Schema: agentlane_release_fixture; Owner: -
--

CREATE SEQUENCE agentlane_release_fixture.incident_counts_seq_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: incident_counts_seq_seq; Type: SEQUENCE OWNED BY; Schema: agentlane_release_fixture; Owner: -
--

ALTER SEQUENCE agentlane_release_fixture.incident_counts_seq_seq OWNED BY agentlane_release_fixture.incident_counts.seq;


--
-- Name: incident_jobs; Type: TABLE; Schema: agentlane_release_fixture; Owner: -
--

CREATE TABLE agentlane_release_fixture.incident_jobs (
    incident_id text NOT NULL,
    job_id text NOT NULL,
    attached_at timestamp with time zone DEFAULT now() NOT NULL
);


--
-- Name: incidents; Type: TABLE; Schema: agentlane_release_fixture; Owner: -
--

CREATE TABLE agentlane_release_fixture.incidents (
    id text NOT NULL,
    failure_fingerprint text NOT NULL,
    classifier text NOT NULL,
    state text DEFAULT 'open'::text NOT NULL,
    repair_address text NOT NULL,
    priority bigint NOT NULL,
    route text,
    lane text,
    host text NOT NULL,
    repair_hint text NOT NULL,
    evidence text,
    affected_jobs bigint DEFAULT 0 NOT NULL,
    occurrences bigint DEFAULT 0 NOT NULL,
    first_seen timestamp with time zone DEFAULT now() NOT NULL,
    last_seen timestamp with time zone DEFAULT now() NOT NULL,
    resolved_at timestamp with time zone,
    resolution text,
    reset_at timestamp with time zone,
    CONSTRAINT incidents_repair_address_check CHECK ((repair_address = ANY (ARRAY['runtime'::text, 'router'::text, 'producer'::text]))),
    CONSTRAINT incidents_state_check CHECK ((state = ANY (ARRAY['open'::text, 'resolved'::text])))
);


--
-- Name: incident_totals; Type: VIEW; Schema: agentlane_release_fixture; Owner: -
--

CREATE VIEW agentlane_release_fixture.incident_totals AS
 SELECT i.id,
    i.failure_fingerprint,
    i.classifier,
    i.state,
    i.repair_address,
    i.priority,
    i.route,
    i.lane,
    i.host,
    i.repair_hint,
    i.evidence,
    (i.affected_jobs + COALESCE(c.affected, (0)::bigint)) AS affected_jobs,
    (i.occurrences + COALESCE(c.occurrences, (0)::bigint)) AS occurrences,
    i.first_seen,
    GREATEST(i.last_seen, c.last_seen) AS last_seen,
    i.resolved_at,
    i.resolution,
    GREATEST(i.reset_at, c.reset_at) AS reset_at
   FROM (agentlane_release_fixture.incidents i
     LEFT JOIN ( SELECT incident_counts.incident_id,
            (sum(incident_counts.occurrences))::bigint AS occurrences,
            (sum(incident_counts.affected))::bigint AS affected,
            max(incident_counts.at) AS last_seen,
            max(incident_counts.reset_at) AS reset_at
           FROM agentlane_release_fixture.incident_counts
          GROUP BY incident_counts.incident_id) c ON ((c.incident_id = i.id)));


--
-- Name: jobs; Type: TABLE; Schema: agentlane_release_fixture; Owner: -
--

CREATE TABLE agentlane_release_fixture.jobs (
    id text NOT NULL,
    kind text NOT NULL,
    lane text NOT NULL,
    route text NOT NULL,
    prompt text NOT NULL,
    fields jsonb DEFAULT '{}'::jsonb NOT NULL,
    priority bigint DEFAULT 0 NOT NULL,
    state agentlane_release_fixture.job_state DEFAULT 'queued'::agentlane_release_fixture.job_state NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    run_at timestamp with time zone DEFAULT now() NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    finished_at timestamp with time zone,
    lease_owner text,
    lease_expires_at timestamp with time zone,
    timeout_ms bigint,
    diagnostics boolean DEFAULT false NOT NULL,
    classifier text,
    next_action text,
    reason text,
    incident_id text,
    last_dispatch_id text
);


--
-- Name: leaders; Type: TABLE; Schema: agentlane_release_fixture; Owner: -
--

CREATE TABLE agentlane_release_fixture.leaders (
    name text NOT NULL,
    owner text NOT NULL,
    expires_at timestamp with time zone NOT NULL
);


--
-- Name: events seq; Type: DEFAULT; Schema: agentlane_release_fixture; Owner: -
--

ALTER TABLE ONLY agentlane_release_fixture.events ALTER COLUMN seq SET DEFAULT nextval('agentlane_release_fixture.events_seq_seq'::regclass);


--
-- Name: incident_counts seq; Type: DEFAULT; Schema: agentlane_release_fixture; Owner: -
--

ALTER TABLE ONLY agentlane_release_fixture.incident_counts ALTER COLUMN seq SET DEFAULT nextval('agentlane_release_fixture.incident_counts_seq_seq'::regclass);


--
-- Data for Name: agentlane_migrations; Type: TABLE DATA; Schema: agentlane_release_fixture; Owner: -
--

INSERT INTO agentlane_release_fixture.agentlane_migrations (version, applied_at) VALUES (1, '2026-12-04 23:28:18.658944+00');
INSERT INTO agentlane_release_fixture.agentlane_migrations (version, applied_at) VALUES (2, '2026-12-04 23:28:18.658944+00');
INSERT INTO agentlane_release_fixture.agentlane_migrations (version, applied_at) VALUES (3, '2026-12-04 23:28:18.658944+00');
INSERT INTO agentlane_release_fixture.agentlane_migrations (version, applied_at) VALUES (4, '2026-12-04 23:28:18.658944+00');
INSERT INTO agentlane_release_fixture.agentlane_migrations (version, applied_at) VALUES (5, '2026-12-04 23:28:18.658944+00');


--
-- Data for Name: dispatches; Type: TABLE DATA; Schema: agentlane_release_fixture; Owner: -
--

INSERT INTO agentlane_release_fixture.dispatches (id, created_at, finished_at, program, cli_path, cwd, route, model, job_id, attempt, classifier, exit_code, signal, timed_out, duration_ms, failure_fingerprint, report) VALUES ('0193a000-0000-7000-8000-000000000001', '2026-12-04 23:28:18.684079+00', '2026-12-04 23:28:18.685515+00', 'claude', '/usr/local/bin/claude', '/srv/repo/sub', 'claude-sonnet', 'sonnet', '01a24363-1cf9-77cb-8169-266479121e72', 1, 'ok', 0, NULL, false, 81234, NULL, '{"cwd": "/srv/repo/sub", "argv": ["claude", "-p", "--output-format", "json"], "rule": "fact.exit_zero", "layer": "fact", "model": "sonnet", "route": "claude-sonnet", "job_id": "01a24363-1cf9-77cb-8169-266479121e72", "leaked": false, "signal": null, "attempt": 1, "program": "claude", "cli_path": "/usr/local/bin/claude", "evidence": null, "reset_at": null, "artifacts": {"stderr": null, "stdout": "/home/al/.local/state/agentlane/artifacts/0193a000-0000-7000-8000-000000000001/stdout"}, "exit_code": 0, "repo_root": "/srv/repo", "timed_out": false, "classifier": "ok", "cwd_exists": true, "prompt_via": "stdin", "timeout_ms": 1200000, "dispatch_id": "0193a000-0000-7000-8000-000000000001", "duration_ms": 81234, "exit_status": 0, "interpreter": "/usr/bin/node", "repair_hint": "nothing to do", "stderr_tail": "", "stdout_tail": "{\"result\":\"done\"}\n", "prompt_bytes": 42, "stderr_bytes": 0, "stdout_bytes": 1024, "artifact_error": null, "interrupted_by": null, "artifact_errors": [], "leaked_processes": [], "retry_after_secs": null, "failure_fingerprint": null, "stderr_dropped_bytes": 0, "stdout_dropped_bytes": 0, "stderr_artifact_truncated": false, "stdout_artifact_truncated": false}');
INSERT INTO agentlane_release_fixture.dispatches (id, created_at, finished_at, program, cli_path, cwd, route, model, job_id, attempt, classifier, exit_code, signal, timed_out, duration_ms, failure_fingerprint, report) VALUES ('0193a000-0000-7000-8000-000000000002', '2026-12-04 23:28:18.687734+00', '2026-12-04 23:28:18.688284+00', 'claude', '/usr/local/bin/claude', '/srv/repo/sub', 'claude-sonnet', 'sonnet', '01a24363-1cf9-77cb-8169-26654b5595a9', 1, 'timeout', NULL, 9, true, 1205002, 'fp-timeout-41aa03bc', '{"cwd": "/srv/repo/sub", "argv": ["claude", "-p", "--output-format", "json"], "rule": "fact.timeout", "layer": "fact", "model": "sonnet", "route": "claude-sonnet", "job_id": "01a24363-1cf9-77cb-8169-26654b5595a9", "leaked": false, "signal": 9, "attempt": 1, "program": "claude", "cli_path": "/usr/local/bin/claude", "evidence": "no exit after 20m; SIGTERM, then SIGKILL after 5s", "reset_at": null, "artifacts": {"stderr": null, "stdout": "/home/al/.local/state/agentlane/artifacts/0193a000-0000-7000-8000-000000000002/stdout"}, "exit_code": null, "repo_root": "/srv/repo", "timed_out": true, "classifier": "timeout", "cwd_exists": true, "prompt_via": "stdin", "timeout_ms": 1200000, "dispatch_id": "0193a000-0000-7000-8000-000000000002", "duration_ms": 1205002, "exit_status": 124, "interpreter": "/usr/bin/node", "repair_hint": "raise --timeout or split the task", "stderr_tail": "", "stdout_tail": "working", "prompt_bytes": 42, "stderr_bytes": 0, "stdout_bytes": 7, "artifact_error": null, "interrupted_by": null, "artifact_errors": [], "leaked_processes": [], "retry_after_secs": null, "failure_fingerprint": "fp-timeout-41aa03bc", "stderr_dropped_bytes": 0, "stdout_dropped_bytes": 0, "stderr_artifact_truncated": false, "stdout_artifact_truncated": false}');
INSERT INTO agentlane_release_fixture.dispatches (id, created_at, finished_at, program, cli_path, cwd, route, model, job_id, attempt, classifier, exit_code, signal, timed_out, duration_ms, failure_fingerprint, report) VALUES ('0193a000-0000-7000-8000-000000000003', '2026-12-04 23:28:18.690173+00', '2026-12-04 23:28:18.690672+00', 'claude', '/usr/local/bin/claude', '/srv/repo/sub', 'claude-sonnet', 'sonnet', '01a24363-1cf9-77cb-8169-26654b5595a9', 2, 'ok', 0, NULL, false, 81234, NULL, '{"cwd": "/srv/repo/sub", "argv": ["claude", "-p", "--output-format", "json"], "rule": "fact.exit_zero", "layer": "fact", "model": "sonnet", "route": "claude-sonnet", "job_id": "01a24363-1cf9-77cb-8169-26654b5595a9", "leaked": false, "signal": null, "attempt": 2, "program": "claude", "cli_path": "/usr/local/bin/claude", "evidence": null, "reset_at": null, "artifacts": {"stderr": null, "stdout": "/home/al/.local/state/agentlane/artifacts/0193a000-0000-7000-8000-000000000003/stdout"}, "exit_code": 0, "repo_root": "/srv/repo", "timed_out": false, "classifier": "ok", "cwd_exists": true, "prompt_via": "stdin", "timeout_ms": 1200000, "dispatch_id": "0193a000-0000-7000-8000-000000000003", "duration_ms": 81234, "exit_status": 0, "interpreter": "/usr/bin/node", "repair_hint": "nothing to do", "stderr_tail": "", "stdout_tail": "{\"result\":\"done\"}\n", "prompt_bytes": 42, "stderr_bytes": 0, "stdout_bytes": 1024, "artifact_error": null, "interrupted_by": null, "artifact_errors": [], "leaked_processes": [], "retry_after_secs": null, "failure_fingerprint": null, "stderr_dropped_bytes": 0, "stdout_dropped_bytes": 0, "stderr_artifact_truncated": false, "stdout_artifact_truncated": false}');
INSERT INTO agentlane_release_fixture.dispatches (id, created_at, finished_at, program, cli_path, cwd, route, model, job_id, attempt, classifier, exit_code, signal, timed_out, duration_ms, failure_fingerprint, report) VALUES ('0193a000-0000-7000-8000-000000000004', '2026-12-04 23:28:18.692194+00', '2026-12-04 23:28:18.692636+00', 'claude', '/usr/local/bin/claude', '/srv/repo/sub', 'claude-sonnet', 'sonnet', '01a24363-1cf9-77cb-8169-266690b58d35', 1, 'killed_by_signal', NULL, 9, false, 15000, 'fp-signal-77e0f1a2', '{"cwd": "/srv/repo/sub", "argv": ["claude", "-p", "--output-format", "json"], "rule": "fact.signal", "layer": "fact", "model": "sonnet", "route": "claude-sonnet", "job_id": "01a24363-1cf9-77cb-8169-266690b58d35", "leaked": false, "signal": 9, "attempt": 1, "program": "claude", "cli_path": "/usr/local/bin/claude", "evidence": "killed by SIGKILL (9)", "reset_at": null, "artifacts": {"stderr": null, "stdout": "/home/al/.local/state/agentlane/artifacts/0193a000-0000-7000-8000-000000000004/stdout"}, "exit_code": null, "repo_root": "/srv/repo", "timed_out": false, "classifier": "killed_by_signal", "cwd_exists": true, "prompt_via": "stdin", "timeout_ms": 1200000, "dispatch_id": "0193a000-0000-7000-8000-000000000004", "duration_ms": 15000, "exit_status": 137, "interpreter": "/usr/bin/node", "repair_hint": "something killed the agent (the OOM killer?)", "stderr_tail": "", "stdout_tail": "{\"result\":\"done\"}\n", "prompt_bytes": 42, "stderr_bytes": 0, "stdout_bytes": 1024, "artifact_error": null, "interrupted_by": null, "artifact_errors": [], "leaked_processes": [], "retry_after_secs": null, "failure_fingerprint": "fp-signal-77e0f1a2", "stderr_dropped_bytes": 0, "stdout_dropped_bytes": 0, "stderr_artifact_truncated": false, "stdout_artifact_truncated": false}');
INSERT INTO agentlane_release_fixture.dispatches (id, created_at, finished_at, program, cli_path, cwd, route, model, job_id, attempt, classifier, exit_code, signal, timed_out, duration_ms, failure_fingerprint, report) VALUES ('0193a000-0000-7000-8000-000000000005', '2026-12-04 23:28:18.694223+00', '2026-12-04 23:28:18.694671+00', 'claude', '/usr/local/bin/claude', '/srv/repo/sub', 'claude-sonnet', 'sonnet', '01a24363-1cf9-77cb-8169-266690b58d35', 2, 'unknown_exit_3', 3, NULL, false, 81234, 'fp-unknown-3-aa11bb22', '{"cwd": "/srv/repo/sub", "argv": ["claude", "-p", "--output-format", "json"], "rule": "unknown", "layer": "unknown", "model": "sonnet", "route": "claude-sonnet", "job_id": "01a24363-1cf9-77cb-8169-266690b58d35", "leaked": true, "signal": null, "attempt": 2, "program": "claude", "cli_path": "/usr/local/bin/claude", "evidence": "fatal: \"quoted\" \\ back\\slash été 😀\ttab", "reset_at": null, "artifacts": {"stderr": "/home/al/.local/state/agentlane/artifacts/0193a000-0000-7000-8000-000000000005/stderr", "stdout": "/home/al/.local/state/agentlane/artifacts/0193a000-0000-7000-8000-000000000005/stdout"}, "env_names": ["ANTHROPIC_API_KEY", "HOME", "PATH"], "exit_code": 3, "repo_root": "/srv/repo", "timed_out": false, "classifier": "unknown_exit_3", "cwd_exists": true, "prompt_via": "stdin", "timeout_ms": 1200000, "dispatch_id": "0193a000-0000-7000-8000-000000000005", "duration_ms": 81234, "exit_status": 3, "interpreter": "/usr/bin/node", "repair_hint": "read the stderr tail", "stderr_tail": "fatal: [REDACTED:anthropic_key] rejected\n", "stdout_tail": "{\"result\":\"done\"}\n", "prompt_bytes": 42, "stderr_bytes": 2048, "stdout_bytes": 70000000, "artifact_error": "stdout: cannot write /home/al/.local/state/agentlane/artifacts/x/stdout: No space left on device (os error 28)", "interrupted_by": null, "artifact_errors": ["stdout: cannot write /home/al/.local/state/agentlane/artifacts/x/stdout: No space left on device (os error 28)", "stderr: cannot create /home/al/.local/state/agentlane/artifacts/x/stderr: Permission denied (os error 13)"], "leaked_processes": [{"pid": 4242, "cmdline": "node /usr/local/lib/mcp-server.js --port 7777", "held_pipes": true}, {"pid": 4243, "cmdline": "sleep 3600", "held_pipes": false}], "retry_after_secs": null, "failure_fingerprint": "fp-unknown-3-aa11bb22", "stderr_dropped_bytes": 2048, "stdout_dropped_bytes": 2891136, "stderr_artifact_truncated": true, "stdout_artifact_truncated": true}');
INSERT INTO agentlane_release_fixture.dispatches (id, created_at, finished_at, program, cli_path, cwd, route, model, job_id, attempt, classifier, exit_code, signal, timed_out, duration_ms, failure_fingerprint, report) VALUES ('0193a000-0000-7000-8000-000000000006', '2026-12-04 23:28:18.697566+00', '2026-12-04 23:28:18.697992+00', 'claude', '/usr/local/bin/claude', '/srv/repo/sub', 'claude-sonnet', 'sonnet', '01a24363-1cf9-77cb-8169-266750096026', 1, 'quota_exhausted', 1, NULL, false, 2310, 'fp-quota-9c1d7e20', '{"cwd": "/srv/repo/sub", "argv": ["claude", "-p", "--output-format", "json"], "rule": "claude.usage_limit", "layer": "cli", "model": "sonnet", "route": "claude-sonnet", "job_id": "01a24363-1cf9-77cb-8169-266750096026", "leaked": false, "signal": null, "attempt": 1, "program": "claude", "cli_path": "/usr/local/bin/claude", "evidence": "Claude AI usage limit reached|1772377200", "reset_at": "2026-03-01T15:00:00Z", "artifacts": {"stderr": "/home/al/.local/state/agentlane/artifacts/0193a000-0000-7000-8000-000000000006/stderr", "stdout": null}, "exit_code": 1, "repo_root": "/srv/repo", "timed_out": false, "classifier": "quota_exhausted", "cwd_exists": true, "prompt_via": "stdin", "timeout_ms": 1200000, "dispatch_id": "0193a000-0000-7000-8000-000000000006", "duration_ms": 2310, "exit_status": 69, "interpreter": "/usr/bin/node", "repair_hint": "the usage limit resets at 2026-03-01T15:00:00Z; the job waits until then", "stderr_tail": "Claude AI usage limit reached|1772377200\n", "stdout_tail": "", "prompt_bytes": 42, "stderr_bytes": 44, "stdout_bytes": 0, "artifact_error": null, "interrupted_by": null, "artifact_errors": [], "leaked_processes": [], "retry_after_secs": 3600, "failure_fingerprint": "fp-quota-9c1d7e20", "stderr_dropped_bytes": 0, "stdout_dropped_bytes": 0, "stderr_artifact_truncated": false, "stdout_artifact_truncated": false}');
INSERT INTO agentlane_release_fixture.dispatches (id, created_at, finished_at, program, cli_path, cwd, route, model, job_id, attempt, classifier, exit_code, signal, timed_out, duration_ms, failure_fingerprint, report) VALUES ('0193a000-0000-7000-8000-000000000007', '2026-12-04 23:28:18.70093+00', '2026-12-04 23:28:18.701353+00', 'claude', '/usr/local/bin/claude', '/srv/repo/sub', 'claude-sonnet', 'sonnet', '01a24363-1cf9-77cb-8169-26685cd2f77e', 1, 'quota_exhausted', 1, NULL, false, 2310, 'fp-quota-9c1d7e20', '{"cwd": "/srv/repo/sub", "argv": ["claude", "-p", "--output-format", "json"], "rule": "claude.usage_limit", "layer": "cli", "model": "sonnet", "route": "claude-sonnet", "job_id": "01a24363-1cf9-77cb-8169-26685cd2f77e", "leaked": false, "signal": null, "attempt": 1, "program": "claude", "cli_path": "/usr/local/bin/claude", "evidence": "Claude AI usage limit reached|1772377200", "reset_at": "2026-03-01T18:30:00.25Z", "artifacts": {"stderr": "/home/al/.local/state/agentlane/artifacts/0193a000-0000-7000-8000-000000000007/stderr", "stdout": null}, "exit_code": 1, "repo_root": "/srv/repo", "timed_out": false, "classifier": "quota_exhausted", "cwd_exists": true, "prompt_via": "stdin", "timeout_ms": 1200000, "dispatch_id": "0193a000-0000-7000-8000-000000000007", "duration_ms": 2310, "exit_status": 69, "interpreter": "/usr/bin/node", "repair_hint": "the usage limit resets at 2026-03-01T15:00:00Z; the job waits until then", "stderr_tail": "Claude AI usage limit reached|1772377200\n", "stdout_tail": "", "prompt_bytes": 42, "stderr_bytes": 44, "stdout_bytes": 0, "artifact_error": null, "interrupted_by": null, "artifact_errors": [], "leaked_processes": [], "retry_after_secs": 3600, "failure_fingerprint": "fp-quota-9c1d7e20", "stderr_dropped_bytes": 0, "stdout_dropped_bytes": 0, "stderr_artifact_truncated": false, "stdout_artifact_truncated": false}');
INSERT INTO agentlane_release_fixture.dispatches (id, created_at, finished_at, program, cli_path, cwd, route, model, job_id, attempt, classifier, exit_code, signal, timed_out, duration_ms, failure_fingerprint, report) VALUES ('0193a000-0000-7000-8000-000000000008', '2026-12-04 23:28:18.703082+00', '2026-12-04 23:28:18.703476+00', 'claude', '/usr/local/bin/claude', '/srv/repo/sub', 'claude-sonnet', 'sonnet', '01a24363-1cf9-77cb-8169-26699c67f6ed', 1, 'cli_missing', NULL, NULL, false, 0, 'fp-cli-missing-0d9e8f7a', '{"cwd": "/srv/repo/sub", "argv": ["claude", "-p", "--output-format", "json"], "rule": "fact.cli_missing", "layer": "fact", "model": "sonnet", "route": "claude-sonnet", "job_id": "01a24363-1cf9-77cb-8169-26699c67f6ed", "leaked": false, "signal": null, "attempt": 1, "program": "claude", "cli_path": null, "evidence": "''claude'' is not on PATH=/usr/bin:/bin", "reset_at": null, "artifacts": {"stderr": null, "stdout": null}, "exit_code": null, "repo_root": "/srv/repo", "timed_out": false, "classifier": "cli_missing", "cwd_exists": true, "prompt_via": "stdin", "timeout_ms": 1200000, "dispatch_id": "0193a000-0000-7000-8000-000000000008", "duration_ms": 0, "exit_status": 127, "interpreter": null, "repair_hint": "install claude or put it on the service''s PATH", "stderr_tail": "", "stdout_tail": "", "prompt_bytes": 42, "stderr_bytes": 0, "stdout_bytes": 0, "artifact_error": null, "interrupted_by": null, "artifact_errors": [], "leaked_processes": [], "retry_after_secs": null, "failure_fingerprint": "fp-cli-missing-0d9e8f7a", "stderr_dropped_bytes": 0, "stdout_dropped_bytes": 0, "stderr_artifact_truncated": false, "stdout_artifact_truncated": false}');
INSERT INTO agentlane_release_fixture.dispatches (id, created_at, finished_at, program, cli_path, cwd, route, model, job_id, attempt, classifier, exit_code, signal, timed_out, duration_ms, failure_fingerprint, report) VALUES ('0193a000-0000-7000-8000-000000000009', '2026-12-04 23:28:18.705003+00', '2026-12-04 23:28:18.756574+00', 'claude', '/usr/local/bin/claude', '/srv/repo/sub', 'claude-sonnet', 'sonnet', '01a24363-1cf9-77cb-8169-266af037a222', 1, 'worker_lost', NULL, NULL, false, NULL, NULL, NULL);
INSERT INTO agentlane_release_fixture.dispatches (id, created_at, finished_at, program, cli_path, cwd, route, model, job_id, attempt, classifier, exit_code, signal, timed_out, duration_ms, failure_fingerprint, report) VALUES ('0193a000-0000-7000-8000-000000000010', '2026-12-04 23:28:18.760138+00', NULL, 'claude', '/usr/local/bin/claude', '/srv/repo/sub', 'claude-sonnet', 'sonnet', '01a24363-1cf9-77cb-8169-266b07677767', 1, NULL, NULL, NULL, false, NULL, NULL, NULL);
INSERT INTO agentlane_release_fixture.dispatches (id, created_at, finished_at, program, cli_path, cwd, route, model, job_id, attempt, classifier, exit_code, signal, timed_out, duration_ms, failure_fingerprint, report) VALUES ('0193a000-0000-7000-8000-000000000011', '2026-12-04 23:28:18.761864+00', '2026-12-04 23:28:18.762461+00', 'claude', '/usr/local/bin/claude', '/srv/repo/sub', 'claude-sonnet', 'sonnet', NULL, NULL, 'killed_by_signal', NULL, 2, false, 3456, 'fp-interrupted-5b6c7d8e', '{"cwd": "/srv/repo/sub", "argv": ["claude", "-p", "--output-format", "json"], "rule": "fact.interrupted", "layer": "fact", "model": "sonnet", "route": "claude-sonnet", "job_id": null, "leaked": false, "signal": 2, "attempt": null, "program": "claude", "cli_path": "/usr/local/bin/claude", "evidence": "agentlane received SIGINT and stopped the agent''s process group", "reset_at": null, "artifacts": {"stderr": null, "stdout": "/home/al/.local/state/agentlane/artifacts/0193a000-0000-7000-8000-000000000011/stdout"}, "exit_code": null, "repo_root": "/srv/repo", "timed_out": false, "classifier": "killed_by_signal", "cwd_exists": true, "prompt_via": "stdin", "timeout_ms": 1200000, "dispatch_id": "0193a000-0000-7000-8000-000000000011", "duration_ms": 3456, "exit_status": 130, "interpreter": "/usr/bin/node", "repair_hint": "the dispatch of ''claude'' was interrupted by SIGINT sent to agentlane (an operator, a service manager stopping the unit, or a CI cancel); nothing is wrong with the agent itself", "stderr_tail": "", "stdout_tail": "{\"result\":\"done\"}\n", "prompt_bytes": 42, "stderr_bytes": 0, "stdout_bytes": 1024, "artifact_error": null, "interrupted_by": 2, "artifact_errors": [], "leaked_processes": [], "retry_after_secs": null, "failure_fingerprint": "fp-interrupted-5b6c7d8e", "stderr_dropped_bytes": 0, "stdout_dropped_bytes": 0, "stderr_artifact_truncated": false, "stdout_artifact_truncated": false}');


--
-- Data for Name: events; Type: TABLE DATA; Schema: agentlane_release_fixture; Owner: -
--

INSERT INTO agentlane_release_fixture.events (seq, at, dispatch_id, job_id, kind, body) VALUES (1, '2026-12-04 23:28:18.684079+00', '0193a000-0000-7000-8000-000000000001', '01a24363-1cf9-77cb-8169-266479121e72', 'runner_prepare', '{"cwd": "/srv/repo/sub", "argv": ["claude", "-p", "--output-format", "json"], "kind": "runner_prepare", "model": "sonnet", "route": "claude-sonnet", "job_id": "01a24363-1cf9-77cb-8169-266479121e72", "attempt": 1, "program": "claude", "cli_path": "/usr/local/bin/claude", "repo_root": "/srv/repo", "cwd_exists": true, "prompt_via": "stdin", "timeout_ms": 1200000, "dispatch_id": "0193a000-0000-7000-8000-000000000001", "interpreter": "/usr/bin/node", "prompt_bytes": 42, "env_fingerprint": {"id": "e3b0c44298fc1c14", "vars": {"HOME": {"hash": "0a1b2c3d4e5f6071", "present": true}, "OPENAI_API_KEY": {"present": false}, "ANTHROPIC_API_KEY": {"hash": "5f0c2a9d81e34b7a", "present": true}}, "files": {".codex/auth.json": false, ".claude/.credentials.json": true}, "var_count": 14, "path_entries": ["/usr/local/bin", "/usr/bin", "/bin"]}}');
INSERT INTO agentlane_release_fixture.events (seq, at, dispatch_id, job_id, kind, body) VALUES (2, '2026-12-04 23:28:18.685515+00', '0193a000-0000-7000-8000-000000000001', '01a24363-1cf9-77cb-8169-266479121e72', 'runner_exit', '{"kind": "runner_exit", "leaked": false, "signal": null, "artifacts": {"stderr": null, "stdout": "/home/al/.local/state/agentlane/artifacts/0193a000-0000-7000-8000-000000000001/stdout"}, "exit_code": 0, "timed_out": false, "classifier": "ok", "dispatch_id": "0193a000-0000-7000-8000-000000000001", "duration_ms": 81234, "stderr_tail": "", "stdout_tail": "{\"result\":\"done\"}\n", "stderr_bytes": 0, "stdout_bytes": 1024, "leaked_processes": []}');
INSERT INTO agentlane_release_fixture.events (seq, at, dispatch_id, job_id, kind, body) VALUES (3, '2026-12-04 23:28:18.685515+00', NULL, '01a24363-1cf9-77cb-8169-266479121e72', 'job_decided', '{"kind": "job_decided", "owner": "build-01:4242", "action": "done", "job_id": "01a24363-1cf9-77cb-8169-266479121e72", "reason": "ok: done", "attempt": 1, "classifier": "ok", "delay_secs": null, "dispatch_id": "0193a000-0000-7000-8000-000000000001"}');
INSERT INTO agentlane_release_fixture.events (seq, at, dispatch_id, job_id, kind, body) VALUES (4, '2026-12-04 23:28:18.687734+00', '0193a000-0000-7000-8000-000000000002', '01a24363-1cf9-77cb-8169-26654b5595a9', 'runner_prepare', '{"cwd": "/srv/repo/sub", "argv": ["claude", "-p", "--output-format", "json"], "kind": "runner_prepare", "model": "sonnet", "route": "claude-sonnet", "job_id": "01a24363-1cf9-77cb-8169-26654b5595a9", "attempt": 1, "program": "claude", "cli_path": "/usr/local/bin/claude", "repo_root": "/srv/repo", "cwd_exists": true, "prompt_via": "stdin", "timeout_ms": 1200000, "dispatch_id": "0193a000-0000-7000-8000-000000000002", "interpreter": "/usr/bin/node", "prompt_bytes": 42, "env_fingerprint": {"id": "e3b0c44298fc1c14", "vars": {"HOME": {"hash": "0a1b2c3d4e5f6071", "present": true}, "OPENAI_API_KEY": {"present": false}, "ANTHROPIC_API_KEY": {"hash": "5f0c2a9d81e34b7a", "present": true}}, "files": {".codex/auth.json": false, ".claude/.credentials.json": true}, "var_count": 14, "path_entries": ["/usr/local/bin", "/usr/bin", "/bin"]}}');
INSERT INTO agentlane_release_fixture.events (seq, at, dispatch_id, job_id, kind, body) VALUES (5, '2026-12-04 23:28:18.688284+00', '0193a000-0000-7000-8000-000000000002', '01a24363-1cf9-77cb-8169-26654b5595a9', 'runner_exit', '{"kind": "runner_exit", "leaked": false, "signal": 9, "artifacts": {"stderr": null, "stdout": "/home/al/.local/state/agentlane/artifacts/0193a000-0000-7000-8000-000000000002/stdout"}, "exit_code": null, "timed_out": true, "classifier": "timeout", "dispatch_id": "0193a000-0000-7000-8000-000000000002", "duration_ms": 1205002, "stderr_tail": "", "stdout_tail": "working", "stderr_bytes": 0, "stdout_bytes": 7, "leaked_processes": []}');
INSERT INTO agentlane_release_fixture.events (seq, at, dispatch_id, job_id, kind, body) VALUES (6, '2026-12-04 23:28:18.688284+00', '0193a000-0000-7000-8000-000000000002', '01a24363-1cf9-77cb-8169-26654b5595a9', 'runner_classified_failure', '{"kind": "runner_classified_failure", "rule": "fact.timeout", "layer": "fact", "evidence": "no exit after 20m; SIGTERM, then SIGKILL after 5s", "reset_at": null, "timed_out": true, "classifier": "timeout", "dispatch_id": "0193a000-0000-7000-8000-000000000002", "repair_hint": "raise --timeout or split the task", "retry_after_secs": null, "failure_fingerprint": "fp-timeout-41aa03bc"}');
INSERT INTO agentlane_release_fixture.events (seq, at, dispatch_id, job_id, kind, body) VALUES (7, '2026-12-04 23:28:18.688284+00', NULL, '01a24363-1cf9-77cb-8169-26654b5595a9', 'job_decided', '{"kind": "job_decided", "owner": "build-01:4242", "action": "retry", "job_id": "01a24363-1cf9-77cb-8169-26654b5595a9", "reason": "timeout: retry with twice the timeout and diagnostics", "attempt": 1, "classifier": "timeout", "delay_secs": 0.0, "dispatch_id": "0193a000-0000-7000-8000-000000000002"}');
INSERT INTO agentlane_release_fixture.events (seq, at, dispatch_id, job_id, kind, body) VALUES (8, '2026-12-04 23:28:18.690173+00', '0193a000-0000-7000-8000-000000000003', '01a24363-1cf9-77cb-8169-26654b5595a9', 'runner_prepare', '{"cwd": "/srv/repo/sub", "argv": ["claude", "-p", "--output-format", "json"], "kind": "runner_prepare", "model": "sonnet", "route": "claude-sonnet", "job_id": "01a24363-1cf9-77cb-8169-26654b5595a9", "attempt": 2, "program": "claude", "cli_path": "/usr/local/bin/claude", "repo_root": "/srv/repo", "cwd_exists": true, "prompt_via": "stdin", "timeout_ms": 1200000, "dispatch_id": "0193a000-0000-7000-8000-000000000003", "interpreter": "/usr/bin/node", "prompt_bytes": 42, "env_fingerprint": {"id": "e3b0c44298fc1c14", "vars": {"HOME": {"hash": "0a1b2c3d4e5f6071", "present": true}, "OPENAI_API_KEY": {"present": false}, "ANTHROPIC_API_KEY": {"hash": "5f0c2a9d81e34b7a", "present": true}}, "files": {".codex/auth.json": false, ".claude/.credentials.json": true}, "var_count": 14, "path_entries": ["/usr/local/bin", "/usr/bin", "/bin"]}}');
INSERT INTO agentlane_release_fixture.events (seq, at, dispatch_id, job_id, kind, body) VALUES (9, '2026-12-04 23:28:18.690672+00', '0193a000-0000-7000-8000-000000000003', '01a24363-1cf9-77cb-8169-26654b5595a9', 'runner_exit', '{"kind": "runner_exit", "leaked": false, "signal": null, "artifacts": {"stderr": null, "stdout": "/home/al/.local/state/agentlane/artifacts/0193a000-0000-7000-8000-000000000003/stdout"}, "exit_code": 0, "timed_out": false, "classifier": "ok", "dispatch_id": "0193a000-0000-7000-8000-000000000003", "duration_ms": 81234, "stderr_tail": "", "stdout_tail": "{\"result\":\"done\"}\n", "stderr_bytes": 0, "stdout_bytes": 1024, "leaked_processes": []}');
INSERT INTO agentlane_release_fixture.events (seq, at, dispatch_id, job_id, kind, body) VALUES (10, '2026-12-04 23:28:18.690672+00', NULL, '01a24363-1cf9-77cb-8169-26654b5595a9', 'job_decided', '{"kind": "job_decided", "owner": "build-01:4242", "action": "done", "job_id": "01a24363-1cf9-77cb-8169-26654b5595a9", "reason": "ok: done", "attempt": 2, "classifier": "ok", "delay_secs": null, "dispatch_id": "0193a000-0000-7000-8000-000000000003"}');
INSERT INTO agentlane_release_fixture.events (seq, at, dispatch_id, job_id, kind, body) VALUES (11, '2026-12-04 23:28:18.692194+00', '0193a000-0000-7000-8000-000000000004', '01a24363-1cf9-77cb-8169-266690b58d35', 'runner_prepare', '{"cwd": "/srv/repo/sub", "argv": ["claude", "-p", "--output-format", "json"], "kind": "runner_prepare", "model": "sonnet", "route": "claude-sonnet", "job_id": "01a24363-1cf9-77cb-8169-266690b58d35", "attempt": 1, "program": "claude", "cli_path": "/usr/local/bin/claude", "repo_root": "/srv/repo", "cwd_exists": true, "prompt_via": "stdin", "timeout_ms": 1200000, "dispatch_id": "0193a000-0000-7000-8000-000000000004", "interpreter": "/usr/bin/node", "prompt_bytes": 42, "env_fingerprint": {"id": "e3b0c44298fc1c14", "vars": {"HOME": {"hash": "0a1b2c3d4e5f6071", "present": true}, "OPENAI_API_KEY": {"present": false}, "ANTHROPIC_API_KEY": {"hash": "5f0c2a9d81e34b7a", "present": true}}, "files": {".codex/auth.json": false, ".claude/.credentials.json": true}, "var_count": 14, "path_entries": ["/usr/local/bin", "/usr/bin", "/bin"]}}');
INSERT INTO agentlane_release_fixture.events (seq, at, dispatch_id, job_id, kind, body) VALUES (12, '2026-12-04 23:28:18.692636+00', '0193a000-0000-7000-8000-000000000004', '01a24363-1cf9-77cb-8169-266690b58d35', 'runner_exit', '{"kind": "runner_exit", "leaked": false, "signal": 9, "artifacts": {"stderr": null, "stdout": "/home/al/.local/state/agentlane/artifacts/0193a000-0000-7000-8000-000000000004/stdout"}, "exit_code": null, "timed_out": false, "classifier": "killed_by_signal", "dispatch_id": "0193a000-0000-7000-8000-000000000004", "duration_ms": 15000, "stderr_tail": "", "stdout_tail": "{\"result\":\"done\"}\n", "stderr_bytes": 0, "stdout_bytes": 1024, "leaked_processes": []}');
INSERT INTO agentlane_release_fixture.events (seq, at, dispatch_id, job_id, kind, body) VALUES (13, '2026-12-04 23:28:18.692636+00', '0193a000-0000-7000-8000-000000000004', '01a24363-1cf9-77cb-8169-266690b58d35', 'runner_classified_failure', '{"kind": "runner_classified_failure", "rule": "fact.signal", "layer": "fact", "evidence": "killed by SIGKILL (9)", "reset_at": null, "timed_out": false, "classifier": "killed_by_signal", "dispatch_id": "0193a000-0000-7000-8000-000000000004", "repair_hint": "something killed the agent (the OOM killer?)", "retry_after_secs": null, "failure_fingerprint": "fp-signal-77e0f1a2"}');
INSERT INTO agentlane_release_fixture.events (seq, at, dispatch_id, job_id, kind, body) VALUES (14, '2026-12-04 23:28:18.692636+00', NULL, '01a24363-1cf9-77cb-8169-266690b58d35', 'job_decided', '{"kind": "job_decided", "owner": "build-01:4242", "action": "retry", "job_id": "01a24363-1cf9-77cb-8169-266690b58d35", "reason": "killed_by_signal: retry once", "attempt": 1, "classifier": "killed_by_signal", "delay_secs": 0.0, "dispatch_id": "0193a000-0000-7000-8000-000000000004"}');
INSERT INTO agentlane_release_fixture.events (seq, at, dispatch_id, job_id, kind, body) VALUES (15, '2026-12-04 23:28:18.694223+00', '0193a000-0000-7000-8000-000000000005', '01a24363-1cf9-77cb-8169-266690b58d35', 'runner_prepare', '{"cwd": "/srv/repo/sub", "argv": ["claude", "-p", "--output-format", "json"], "kind": "runner_prepare", "model": "sonnet", "route": "claude-sonnet", "job_id": "01a24363-1cf9-77cb-8169-266690b58d35", "attempt": 2, "program": "claude", "cli_path": "/usr/local/bin/claude", "repo_root": "/srv/repo", "cwd_exists": true, "prompt_via": "stdin", "timeout_ms": 1200000, "dispatch_id": "0193a000-0000-7000-8000-000000000005", "interpreter": "/usr/bin/node", "prompt_bytes": 42, "env_fingerprint": {"id": "e3b0c44298fc1c14", "vars": {"HOME": {"hash": "0a1b2c3d4e5f6071", "present": true}, "OPENAI_API_KEY": {"present": false}, "ANTHROPIC_API_KEY": {"hash": "5f0c2a9d81e34b7a", "present": true}}, "files": {".codex/auth.json": false, ".claude/.credentials.json": true}, "var_count": 14, "path_entries": ["/usr/local/bin", "/usr/bin", "/bin"]}}');
INSERT INTO agentlane_release_fixture.events (seq, at, dispatch_id, job_id, kind, body) VALUES (16, '2026-12-04 23:28:18.694671+00', '0193a000-0000-7000-8000-000000000005', '01a24363-1cf9-77cb-8169-266690b58d35', 'runner_exit', '{"kind": "runner_exit", "leaked": true, "signal": null, "artifacts": {"stderr": "/home/al/.local/state/agentlane/artifacts/0193a000-0000-7000-8000-000000000005/stderr", "stdout": "/home/al/.local/state/agentlane/artifacts/0193a000-0000-7000-8000-000000000005/stdout"}, "exit_code": 3, "timed_out": false, "classifier": "unknown_exit_3", "dispatch_id": "0193a000-0000-7000-8000-000000000005", "duration_ms": 81234, "stderr_tail": "fatal: [REDACTED:anthropic_key] rejected\n", "stdout_tail": "{\"result\":\"done\"}\n", "stderr_bytes": 2048, "stdout_bytes": 70000000, "artifact_errors": ["stdout: cannot write /home/al/.local/state/agentlane/artifacts/x/stdout: No space left on device (os error 28)", "stderr: cannot create /home/al/.local/state/agentlane/artifacts/x/stderr: Permission denied (os error 13)"], "leaked_processes": [{"pid": 4242, "cmdline": "node /usr/local/lib/mcp-server.js --port 7777", "held_pipes": true}, {"pid": 4243, "cmdline": "sleep 3600", "held_pipes": false}]}');
INSERT INTO agentlane_release_fixture.events (seq, at, dispatch_id, job_id, kind, body) VALUES (17, '2026-12-04 23:28:18.694671+00', '0193a000-0000-7000-8000-000000000005', '01a24363-1cf9-77cb-8169-266690b58d35', 'runner_classified_failure', '{"kind": "runner_classified_failure", "rule": "unknown", "layer": "unknown", "evidence": "fatal: \"quoted\" \\ back\\slash été 😀\ttab", "reset_at": null, "timed_out": false, "classifier": "unknown_exit_3", "dispatch_id": "0193a000-0000-7000-8000-000000000005", "repair_hint": "read the stderr tail", "retry_after_secs": null, "failure_fingerprint": "fp-unknown-3-aa11bb22"}');
INSERT INTO agentlane_release_fixture.events (seq, at, dispatch_id, job_id, kind, body) VALUES (18, '2026-12-04 23:28:18.694671+00', NULL, '01a24363-1cf9-77cb-8169-266690b58d35', 'job_decided', '{"kind": "job_decided", "owner": "build-01:4242", "action": "fail", "job_id": "01a24363-1cf9-77cb-8169-266690b58d35", "reason": "unknown_exit_3: no retry left", "attempt": 2, "classifier": "unknown_exit_3", "delay_secs": null, "dispatch_id": "0193a000-0000-7000-8000-000000000005"}');
INSERT INTO agentlane_release_fixture.events (seq, at, dispatch_id, job_id, kind, body) VALUES (19, '2026-12-04 23:28:18.697566+00', '0193a000-0000-7000-8000-000000000006', '01a24363-1cf9-77cb-8169-266750096026', 'runner_prepare', '{"cwd": "/srv/repo/sub", "argv": ["claude", "-p", "--output-format", "json"], "kind": "runner_prepare", "model": "sonnet", "route": "claude-sonnet", "job_id": "01a24363-1cf9-77cb-8169-266750096026", "attempt": 1, "program": "claude", "cli_path": "/usr/local/bin/claude", "repo_root": "/srv/repo", "cwd_exists": true, "prompt_via": "stdin", "timeout_ms": 1200000, "dispatch_id": "0193a000-0000-7000-8000-000000000006", "interpreter": "/usr/bin/node", "prompt_bytes": 42, "env_fingerprint": {"id": "e3b0c44298fc1c14", "vars": {"HOME": {"hash": "0a1b2c3d4e5f6071", "present": true}, "OPENAI_API_KEY": {"present": false}, "ANTHROPIC_API_KEY": {"hash": "5f0c2a9d81e34b7a", "present": true}}, "files": {".codex/auth.json": false, ".claude/.credentials.json": true}, "var_count": 14, "path_entries": ["/usr/local/bin", "/usr/bin", "/bin"]}}');
INSERT INTO agentlane_release_fixture.events (seq, at, dispatch_id, job_id, kind, body) VALUES (20, '2026-12-04 23:28:18.697992+00', '0193a000-0000-7000-8000-000000000006', '01a24363-1cf9-77cb-8169-266750096026', 'runner_exit', '{"kind": "runner_exit", "leaked": false, "signal": null, "artifacts": {"stderr": "/home/al/.local/state/agentlane/artifacts/0193a000-0000-7000-8000-000000000006/stderr", "stdout": null}, "exit_code": 1, "timed_out": false, "classifier": "quota_exhausted", "dispatch_id": "0193a000-0000-7000-8000-000000000006", "duration_ms": 2310, "stderr_tail": "Claude AI usage limit reached|1772377200\n", "stdout_tail": "", "stderr_bytes": 44, "stdout_bytes": 0, "leaked_processes": []}');
INSERT INTO agentlane_release_fixture.events (seq, at, dispatch_id, job_id, kind, body) VALUES (21, '2026-12-04 23:28:18.697992+00', '0193a000-0000-7000-8000-000000000006', '01a24363-1cf9-77cb-8169-266750096026', 'runner_classified_failure', '{"kind": "runner_classified_failure", "rule": "claude.usage_limit", "layer": "cli", "evidence": "Claude AI usage limit reached|1772377200", "reset_at": "2026-03-01T15:00:00Z", "timed_out": false, "classifier": "quota_exhausted", "dispatch_id": "0193a000-0000-7000-8000-000000000006", "repair_hint": "the usage limit resets at 2026-03-01T15:00:00Z; the job waits until then", "retry_after_secs": 3600, "failure_fingerprint": "fp-quota-9c1d7e20"}');
INSERT INTO agentlane_release_fixture.events (seq, at, dispatch_id, job_id, kind, body) VALUES (22, '2026-12-04 23:28:18.697992+00', NULL, '01a24363-1cf9-77cb-8169-266750096026', 'job_decided', '{"kind": "job_decided", "owner": "build-01:4242", "action": "park", "job_id": "01a24363-1cf9-77cb-8169-266750096026", "reason": "quota_exhausted: parked until the limit resets", "attempt": 1, "classifier": "quota_exhausted", "delay_secs": null, "dispatch_id": "0193a000-0000-7000-8000-000000000006"}');
INSERT INTO agentlane_release_fixture.events (seq, at, dispatch_id, job_id, kind, body) VALUES (23, '2026-12-04 23:28:18.70093+00', '0193a000-0000-7000-8000-000000000007', '01a24363-1cf9-77cb-8169-26685cd2f77e', 'runner_prepare', '{"cwd": "/srv/repo/sub", "argv": ["claude", "-p", "--output-format", "json"], "kind": "runner_prepare", "model": "sonnet", "route": "claude-sonnet", "job_id": "01a24363-1cf9-77cb-8169-26685cd2f77e", "attempt": 1, "program": "claude", "cli_path": "/usr/local/bin/claude", "repo_root": "/srv/repo", "cwd_exists": true, "prompt_via": "stdin", "timeout_ms": 1200000, "dispatch_id": "0193a000-0000-7000-8000-000000000007", "interpreter": "/usr/bin/node", "prompt_bytes": 42, "env_fingerprint": {"id": "e3b0c44298fc1c14", "vars": {"HOME": {"hash": "0a1b2c3d4e5f6071", "present": true}, "OPENAI_API_KEY": {"present": false}, "ANTHROPIC_API_KEY": {"hash": "5f0c2a9d81e34b7a", "present": true}}, "files": {".codex/auth.json": false, ".claude/.credentials.json": true}, "var_count": 14, "path_entries": ["/usr/local/bin", "/usr/bin", "/bin"]}}');
INSERT INTO agentlane_release_fixture.events (seq, at, dispatch_id, job_id, kind, body) VALUES (24, '2026-12-04 23:28:18.701353+00', '0193a000-0000-7000-8000-000000000007', '01a24363-1cf9-77cb-8169-26685cd2f77e', 'runner_exit', '{"kind": "runner_exit", "leaked": false, "signal": null, "artifacts": {"stderr": "/home/al/.local/state/agentlane/artifacts/0193a000-0000-7000-8000-000000000007/stderr", "stdout": null}, "exit_code": 1, "timed_out": false, "classifier": "quota_exhausted", "dispatch_id": "0193a000-0000-7000-8000-000000000007", "duration_ms": 2310, "stderr_tail": "Claude AI usage limit reached|1772377200\n", "stdout_tail": "", "stderr_bytes": 44, "stdout_bytes": 0, "leaked_processes": []}');
INSERT INTO agentlane_release_fixture.events (seq, at, dispatch_id, job_id, kind, body) VALUES (25, '2026-12-04 23:28:18.701353+00', '0193a000-0000-7000-8000-000000000007', '01a24363-1cf9-77cb-8169-26685cd2f77e', 'runner_classified_failure', '{"kind": "runner_classified_failure", "rule": "claude.usage_limit", "layer": "cli", "evidence": "Claude AI usage limit reached|1772377200", "reset_at": "2026-03-01T18:30:00.25Z", "timed_out": false, "classifier": "quota_exhausted", "dispatch_id": "0193a000-0000-7000-8000-000000000007", "repair_hint": "the usage limit resets at 2026-03-01T15:00:00Z; the job waits until then", "retry_after_secs": 3600, "failure_fingerprint": "fp-quota-9c1d7e20"}');
INSERT INTO agentlane_release_fixture.events (seq, at, dispatch_id, job_id, kind, body) VALUES (26, '2026-12-04 23:28:18.701353+00', NULL, '01a24363-1cf9-77cb-8169-26685cd2f77e', 'job_decided', '{"kind": "job_decided", "owner": "build-01:4242", "action": "park", "job_id": "01a24363-1cf9-77cb-8169-26685cd2f77e", "reason": "quota_exhausted: parked until the limit resets", "attempt": 1, "classifier": "quota_exhausted", "delay_secs": null, "dispatch_id": "0193a000-0000-7000-8000-000000000007"}');
INSERT INTO agentlane_release_fixture.events (seq, at, dispatch_id, job_id, kind, body) VALUES (27, '2026-12-04 23:28:18.703082+00', '0193a000-0000-7000-8000-000000000008', '01a24363-1cf9-77cb-8169-26699c67f6ed', 'runner_prepare', '{"cwd": "/srv/repo/sub", "argv": ["claude", "-p", "--output-format", "json"], "kind": "runner_prepare", "model": "sonnet", "route": "claude-sonnet", "job_id": "01a24363-1cf9-77cb-8169-26699c67f6ed", "attempt": 1, "program": "claude", "cli_path": "/usr/local/bin/claude", "repo_root": "/srv/repo", "cwd_exists": true, "prompt_via": "stdin", "timeout_ms": 1200000, "dispatch_id": "0193a000-0000-7000-8000-000000000008", "interpreter": "/usr/bin/node", "prompt_bytes": 42, "env_fingerprint": {"id": "e3b0c44298fc1c14", "vars": {"HOME": {"hash": "0a1b2c3d4e5f6071", "present": true}, "OPENAI_API_KEY": {"present": false}, "ANTHROPIC_API_KEY": {"hash": "5f0c2a9d81e34b7a", "present": true}}, "files": {".codex/auth.json": false, ".claude/.credentials.json": true}, "var_count": 14, "path_entries": ["/usr/local/bin", "/usr/bin", "/bin"]}}');
INSERT INTO agentlane_release_fixture.events (seq, at, dispatch_id, job_id, kind, body) VALUES (28, '2026-12-04 23:28:18.703476+00', '0193a000-0000-7000-8000-000000000008', '01a24363-1cf9-77cb-8169-26699c67f6ed', 'runner_classified_failure', '{"kind": "runner_classified_failure", "rule": "fact.cli_missing", "layer": "fact", "evidence": "''claude'' is not on PATH=/usr/bin:/bin", "reset_at": null, "timed_out": false, "classifier": "cli_missing", "dispatch_id": "0193a000-0000-7000-8000-000000000008", "repair_hint": "install claude or put it on the service''s PATH", "retry_after_secs": null, "failure_fingerprint": "fp-cli-missing-0d9e8f7a"}');
INSERT INTO agentlane_release_fixture.events (seq, at, dispatch_id, job_id, kind, body) VALUES (29, '2026-12-04 23:28:18.703476+00', NULL, '01a24363-1cf9-77cb-8169-26699c67f6ed', 'job_decided', '{"kind": "job_decided", "owner": "build-01:4242", "action": "park", "job_id": "01a24363-1cf9-77cb-8169-26699c67f6ed", "reason": "cli_missing: parked until an operator repairs the route", "attempt": 1, "classifier": "cli_missing", "delay_secs": null, "dispatch_id": "0193a000-0000-7000-8000-000000000008"}');
INSERT INTO agentlane_release_fixture.events (seq, at, dispatch_id, job_id, kind, body) VALUES (30, '2026-12-04 23:28:18.705003+00', '0193a000-0000-7000-8000-000000000009', '01a24363-1cf9-77cb-8169-266af037a222', 'runner_prepare', '{"cwd": "/srv/repo/sub", "argv": ["claude", "-p", "--output-format", "json"], "kind": "runner_prepare", "model": "sonnet", "route": "claude-sonnet", "job_id": "01a24363-1cf9-77cb-8169-266af037a222", "attempt": 1, "program": "claude", "cli_path": "/usr/local/bin/claude", "repo_root": "/srv/repo", "cwd_exists": true, "prompt_via": "stdin", "timeout_ms": 1200000, "dispatch_id": "0193a000-0000-7000-8000-000000000009", "interpreter": "/usr/bin/node", "prompt_bytes": 42, "env_fingerprint": {"id": "e3b0c44298fc1c14", "vars": {"HOME": {"hash": "0a1b2c3d4e5f6071", "present": true}, "OPENAI_API_KEY": {"present": false}, "ANTHROPIC_API_KEY": {"hash": "5f0c2a9d81e34b7a", "present": true}}, "files": {".codex/auth.json": false, ".claude/.credentials.json": true}, "var_count": 14, "path_entries": ["/usr/local/bin", "/usr/bin", "/bin"]}}');
INSERT INTO agentlane_release_fixture.events (seq, at, dispatch_id, job_id, kind, body) VALUES (31, '2026-12-04 23:28:18.756574+00', '0193a000-0000-7000-8000-000000000009', '01a24363-1cf9-77cb-8169-266af037a222', 'runner_classified_failure', '{"kind": "runner_classified_failure", "rule": "fact.lease_expired", "evidence": "runner_prepare without runner_exit; the lease of build-01:4242 expired", "timed_out": false, "classifier": "worker_lost", "dispatch_id": "0193a000-0000-7000-8000-000000000009", "repair_hint": "the worker running this attempt disappeared (killed, OOM, power loss, cut off from the database); the job is decided again", "retry_after_secs": null, "failure_fingerprint": null}');
INSERT INTO agentlane_release_fixture.events (seq, at, dispatch_id, job_id, kind, body) VALUES (32, '2026-12-04 23:28:18.75841+00', NULL, '01a24363-1cf9-77cb-8169-266af037a222', 'job_decided', '{"kind": "job_decided", "owner": "build-02:77", "action": "retry", "job_id": "01a24363-1cf9-77cb-8169-266af037a222", "reason": "worker_lost: retry in an hour", "attempt": 1, "classifier": "worker_lost", "delay_secs": 3600.0, "dispatch_id": "0193a000-0000-7000-8000-000000000009"}');
INSERT INTO agentlane_release_fixture.events (seq, at, dispatch_id, job_id, kind, body) VALUES (33, '2026-12-04 23:28:18.759218+00', NULL, '01a24363-1cf9-77cb-8169-266af037a222', 'job_decision_rejected', '{"kind": "job_decision_rejected", "owner": "build-01:4242", "action": "fail", "job_id": "01a24363-1cf9-77cb-8169-266af037a222", "reason": "late: the lease was lost", "attempt": 1, "classifier": "killed_by_signal", "delay_secs": null, "dispatch_id": "0193a000-0000-7000-8000-000000000009"}');
INSERT INTO agentlane_release_fixture.events (seq, at, dispatch_id, job_id, kind, body) VALUES (34, '2026-12-04 23:28:18.760138+00', '0193a000-0000-7000-8000-000000000010', '01a24363-1cf9-77cb-8169-266b07677767', 'runner_prepare', '{"cwd": "/srv/repo/sub", "argv": ["claude", "-p", "--output-format", "json"], "kind": "runner_prepare", "model": "sonnet", "route": "claude-sonnet", "job_id": "01a24363-1cf9-77cb-8169-266b07677767", "attempt": 1, "program": "claude", "cli_path": "/usr/local/bin/claude", "repo_root": "/srv/repo", "cwd_exists": true, "prompt_via": "stdin", "timeout_ms": 1200000, "dispatch_id": "0193a000-0000-7000-8000-000000000010", "interpreter": "/usr/bin/node", "prompt_bytes": 42, "env_fingerprint": {"id": "e3b0c44298fc1c14", "vars": {"HOME": {"hash": "0a1b2c3d4e5f6071", "present": true}, "OPENAI_API_KEY": {"present": false}, "ANTHROPIC_API_KEY": {"hash": "5f0c2a9d81e34b7a", "present": true}}, "files": {".codex/auth.json": false, ".claude/.credentials.json": true}, "var_count": 14, "path_entries": ["/usr/local/bin", "/usr/bin", "/bin"]}}');
INSERT INTO agentlane_release_fixture.events (seq, at, dispatch_id, job_id, kind, body) VALUES (35, '2026-12-04 23:28:18.761445+00', NULL, '01a24363-1cf9-77cb-8169-266ca34fff90', 'job_admitted', '{"kind": "job_admitted", "job_id": "01a24363-1cf9-77cb-8169-266ca34fff90", "reason": "the prompt held a secret (anthropic_key); it was redacted before storing", "prompt_redacted": true}');
INSERT INTO agentlane_release_fixture.events (seq, at, dispatch_id, job_id, kind, body) VALUES (36, '2026-12-04 23:28:18.761864+00', '0193a000-0000-7000-8000-000000000011', NULL, 'runner_prepare', '{"cwd": "/srv/repo/sub", "argv": ["claude", "-p", "--output-format", "json"], "kind": "runner_prepare", "model": "sonnet", "route": "claude-sonnet", "job_id": null, "attempt": null, "program": "claude", "cli_path": "/usr/local/bin/claude", "repo_root": "/srv/repo", "cwd_exists": true, "prompt_via": "stdin", "timeout_ms": 1200000, "dispatch_id": "0193a000-0000-7000-8000-000000000011", "interpreter": "/usr/bin/node", "prompt_bytes": 42, "env_fingerprint": {"id": "e3b0c44298fc1c14", "vars": {"HOME": {"hash": "0a1b2c3d4e5f6071", "present": true}, "OPENAI_API_KEY": {"present": false}, "ANTHROPIC_API_KEY": {"hash": "5f0c2a9d81e34b7a", "present": true}}, "files": {".codex/auth.json": false, ".claude/.credentials.json": true}, "var_count": 14, "path_entries": ["/usr/local/bin", "/usr/bin", "/bin"]}}');
INSERT INTO agentlane_release_fixture.events (seq, at, dispatch_id, job_id, kind, body) VALUES (37, '2026-12-04 23:28:18.762461+00', '0193a000-0000-7000-8000-000000000011', NULL, 'runner_exit', '{"kind": "runner_exit", "leaked": false, "signal": 2, "artifacts": {"stderr": null, "stdout": "/home/al/.local/state/agentlane/artifacts/0193a000-0000-7000-8000-000000000011/stdout"}, "exit_code": null, "timed_out": false, "classifier": "killed_by_signal", "dispatch_id": "0193a000-0000-7000-8000-000000000011", "duration_ms": 3456, "stderr_tail": "", "stdout_tail": "{\"result\":\"done\"}\n", "stderr_bytes": 0, "stdout_bytes": 1024, "leaked_processes": []}');
INSERT INTO agentlane_release_fixture.events (seq, at, dispatch_id, job_id, kind, body) VALUES (38, '2026-12-04 23:28:18.762461+00', '0193a000-0000-7000-8000-000000000011', NULL, 'runner_classified_failure', '{"kind": "runner_classified_failure", "rule": "fact.interrupted", "layer": "fact", "evidence": "agentlane received SIGINT and stopped the agent''s process group", "reset_at": null, "timed_out": false, "classifier": "killed_by_signal", "dispatch_id": "0193a000-0000-7000-8000-000000000011", "repair_hint": "the dispatch of ''claude'' was interrupted by SIGINT sent to agentlane (an operator, a service manager stopping the unit, or a CI cancel); nothing is wrong with the agent itself", "retry_after_secs": null, "failure_fingerprint": "fp-interrupted-5b6c7d8e"}');
INSERT INTO agentlane_release_fixture.events (seq, at, dispatch_id, job_id, kind, body) VALUES (39, '2026-12-04 23:28:18.763134+00', NULL, NULL, 'preflight_checked', '{"host": "build-01", "kind": "fix", "route": "codex-default", "cached": false, "checks": [{"ok": false, "name": "cli_resolves", "detail": "''codex'' is not on PATH=/usr/bin:/bin"}, {"ok": true, "name": "route_allowed", "detail": "policy allows codex-default for fix"}], "cli_path": null, "evidence": "''codex'' is not on PATH=/usr/bin:/bin", "cli_ready": false, "classifier": "cli_missing", "repair_hint": "install codex or put it on the service''s PATH", "cli_resolves": false, "route_allowed": true, "env_fingerprint": "e3b0c44298fc1c14", "probe_dispatches": ["0193a000-0000-7000-8000-000000000900"]}');


--
-- Data for Name: incident_counts; Type: TABLE DATA; Schema: agentlane_release_fixture; Owner: -
--

INSERT INTO agentlane_release_fixture.incident_counts (seq, incident_id, occurrences, affected, at, reset_at) VALUES (3, '01a24363-1d0a-7271-a4f2-d0cac54d7d5a', 1, 1, '2026-12-04 23:28:18.701353+00', '2026-03-01 18:30:00.25+00');
INSERT INTO agentlane_release_fixture.incident_counts (seq, incident_id, occurrences, affected, at, reset_at) VALUES (4, '01a24363-1d0f-777b-a46e-67940d6b65cb', 1, 1, '2026-12-04 23:28:18.703476+00', NULL);
INSERT INTO agentlane_release_fixture.incident_counts (seq, incident_id, occurrences, affected, at, reset_at) VALUES (5, '01a24363-1d4b-77f7-bad4-81802fd65cd3', 1, 0, '2026-12-04 23:28:18.763621+00', NULL);


--
-- Data for Name: incident_jobs; Type: TABLE DATA; Schema: agentlane_release_fixture; Owner: -
--

INSERT INTO agentlane_release_fixture.incident_jobs (incident_id, job_id, attached_at) VALUES ('01a24363-1d07-7203-84e4-0107c7a22382', '01a24363-1cf9-77cb-8169-266690b58d35', '2026-12-04 23:28:18.694671+00');
INSERT INTO agentlane_release_fixture.incident_jobs (incident_id, job_id, attached_at) VALUES ('01a24363-1d0a-7271-a4f2-d0cac54d7d5a', '01a24363-1cf9-77cb-8169-266750096026', '2026-12-04 23:28:18.697992+00');
INSERT INTO agentlane_release_fixture.incident_jobs (incident_id, job_id, attached_at) VALUES ('01a24363-1d0a-7271-a4f2-d0cac54d7d5a', '01a24363-1cf9-77cb-8169-26685cd2f77e', '2026-12-04 23:28:18.701353+00');
INSERT INTO agentlane_release_fixture.incident_jobs (incident_id, job_id, attached_at) VALUES ('01a24363-1d0f-777b-a46e-67940d6b65cb', '01a24363-1cf9-77cb-8169-26699c67f6ed', '2026-12-04 23:28:18.703476+00');


--
-- Data for Name: incidents; Type: TABLE DATA; Schema: agentlane_release_fixture; Owner: -
--

INSERT INTO agentlane_release_fixture.incidents (id, failure_fingerprint, classifier, state, repair_address, priority, route, lane, host, repair_hint, evidence, affected_jobs, occurrences, first_seen, last_seen, resolved_at, resolution, reset_at) VALUES ('01a24363-1d07-7203-84e4-0107c7a22382', 'fp-unknown-3-aa11bb22', 'unknown_exit_3', 'open', 'runtime', 30, 'claude-sonnet', 'build', 'build-01', 'read the stderr tail', 'fatal: "quoted" \ back\slash été 😀	tab', 1, 1, '2026-12-04 23:28:18.694671+00', '2026-12-04 23:28:18.694671+00', NULL, NULL, NULL);
INSERT INTO agentlane_release_fixture.incidents (id, failure_fingerprint, classifier, state, repair_address, priority, route, lane, host, repair_hint, evidence, affected_jobs, occurrences, first_seen, last_seen, resolved_at, resolution, reset_at) VALUES ('01a24363-1d0a-7271-a4f2-d0cac54d7d5a', 'fp-quota-9c1d7e20', 'quota_exhausted', 'open', 'runtime', 80, 'claude-sonnet', 'build', 'build-01', 'the usage limit resets at 2026-03-01T15:00:00Z; the job waits until then', 'Claude AI usage limit reached|1772377200', 1, 1, '2026-12-04 23:28:18.697992+00', '2026-12-04 23:28:18.697992+00', NULL, NULL, '2026-03-01 15:00:00+00');
INSERT INTO agentlane_release_fixture.incidents (id, failure_fingerprint, classifier, state, repair_address, priority, route, lane, host, repair_hint, evidence, affected_jobs, occurrences, first_seen, last_seen, resolved_at, resolution, reset_at) VALUES ('01a24363-1d0f-777b-a46e-67940d6b65cb', 'fp-cli-missing-0d9e8f7a', 'cli_missing', 'resolved', 'runtime', 100, 'claude-sonnet', 'build', 'build-01', 'install claude or put it on the service''s PATH', '''claude'' is not on PATH=/usr/bin:/bin', 0, 0, '2026-12-04 23:28:18.703476+00', '2026-12-04 23:28:18.703476+00', '2026-12-04 23:28:18.76082+00', 'resolved by an operator', NULL);
INSERT INTO agentlane_release_fixture.incidents (id, failure_fingerprint, classifier, state, repair_address, priority, route, lane, host, repair_hint, evidence, affected_jobs, occurrences, first_seen, last_seen, resolved_at, resolution, reset_at) VALUES ('01a24363-1d4b-77f7-bad4-81802fd65cd3', 'fp-preflight-codex-1234', 'cli_missing', 'open', 'runtime', 100, 'codex-default', NULL, 'build-01', 'install codex or put it on the service''s PATH', '''codex'' is not on PATH=/usr/bin:/bin', 0, 0, '2026-12-04 23:28:18.763621+00', '2026-12-04 23:28:18.763621+00', NULL, NULL, NULL);


--
-- Data for Name: jobs; Type: TABLE DATA; Schema: agentlane_release_fixture; Owner: -
--

INSERT INTO agentlane_release_fixture.jobs (id, kind, lane, route, prompt, fields, priority, state, attempts, run_at, created_at, updated_at, finished_at, lease_owner, lease_expires_at, timeout_ms, diagnostics, classifier, next_action, reason, incident_id, last_dispatch_id) VALUES ('01a24363-1cf9-77cb-8169-266ca34fff90', 'fix', 'review', 'claude-sonnet', 'fix the failing test (queued)', '{"case": "queued", "issue": 15, "labels": ["model", "refactor"]}', 0, 'queued', 0, '2026-12-04 23:28:18.680988+00', '2026-12-04 23:28:18.680988+00', '2026-12-04 23:28:18.680988+00', NULL, NULL, NULL, NULL, false, NULL, 'run', 'queued', NULL, NULL);
INSERT INTO agentlane_release_fixture.jobs (id, kind, lane, route, prompt, fields, priority, state, attempts, run_at, created_at, updated_at, finished_at, lease_owner, lease_expires_at, timeout_ms, diagnostics, classifier, next_action, reason, incident_id, last_dispatch_id) VALUES ('01a24363-1cf9-77cb-8169-266479121e72', 'fix', 'build', 'claude-sonnet', 'fix the failing test (succeeded)', '{"case": "succeeded", "issue": 15, "labels": ["model", "refactor"]}', 100, 'succeeded', 1, '2026-12-04 23:28:18.685515+00', '2026-12-04 23:28:18.680988+00', '2026-12-04 23:28:18.685515+00', '2026-12-04 23:28:18.685515+00', NULL, NULL, NULL, false, 'ok', 'done', 'ok: done', NULL, '0193a000-0000-7000-8000-000000000001');
INSERT INTO agentlane_release_fixture.jobs (id, kind, lane, route, prompt, fields, priority, state, attempts, run_at, created_at, updated_at, finished_at, lease_owner, lease_expires_at, timeout_ms, diagnostics, classifier, next_action, reason, incident_id, last_dispatch_id) VALUES ('01a24363-1cf9-77cb-8169-26654b5595a9', 'fix', 'build', 'claude-sonnet', 'fix the failing test (retried_then_succeeded)', '{"case": "retried_then_succeeded", "issue": 15, "labels": ["model", "refactor"]}', 90, 'succeeded', 2, '2026-12-04 23:28:18.690672+00', '2026-12-04 23:28:18.680988+00', '2026-12-04 23:28:18.690672+00', '2026-12-04 23:28:18.690672+00', NULL, NULL, 2400000, false, 'ok', 'done', 'ok: done', NULL, '0193a000-0000-7000-8000-000000000003');
INSERT INTO agentlane_release_fixture.jobs (id, kind, lane, route, prompt, fields, priority, state, attempts, run_at, created_at, updated_at, finished_at, lease_owner, lease_expires_at, timeout_ms, diagnostics, classifier, next_action, reason, incident_id, last_dispatch_id) VALUES ('01a24363-1cf9-77cb-8169-266690b58d35', 'fix', 'build', 'claude-sonnet', 'fix the failing test (failed_after_retry)', '{"case": "failed_after_retry", "issue": 15, "labels": ["model", "refactor"]}', 80, 'failed', 2, '2026-12-04 23:28:18.694671+00', '2026-12-04 23:28:18.680988+00', '2026-12-04 23:28:18.694671+00', '2026-12-04 23:28:18.694671+00', NULL, NULL, NULL, false, 'unknown_exit_3', 'fail', 'unknown_exit_3: no retry left', '01a24363-1d07-7203-84e4-0107c7a22382', '0193a000-0000-7000-8000-000000000005');
INSERT INTO agentlane_release_fixture.jobs (id, kind, lane, route, prompt, fields, priority, state, attempts, run_at, created_at, updated_at, finished_at, lease_owner, lease_expires_at, timeout_ms, diagnostics, classifier, next_action, reason, incident_id, last_dispatch_id) VALUES ('01a24363-1cf9-77cb-8169-266750096026', 'fix', 'build', 'claude-sonnet', 'fix the failing test (parked_a)', '{"case": "parked_a", "issue": 15, "labels": ["model", "refactor"]}', 70, 'parked', 1, '2026-12-04 23:28:18.697992+00', '2026-12-04 23:28:18.680988+00', '2026-12-04 23:28:18.697992+00', NULL, NULL, NULL, NULL, false, 'quota_exhausted', 'park', 'quota_exhausted: parked until the limit resets', '01a24363-1d0a-7271-a4f2-d0cac54d7d5a', '0193a000-0000-7000-8000-000000000006');
INSERT INTO agentlane_release_fixture.jobs (id, kind, lane, route, prompt, fields, priority, state, attempts, run_at, created_at, updated_at, finished_at, lease_owner, lease_expires_at, timeout_ms, diagnostics, classifier, next_action, reason, incident_id, last_dispatch_id) VALUES ('01a24363-1cf9-77cb-8169-26685cd2f77e', 'fix', 'build', 'claude-sonnet', 'fix the failing test (parked_b)', '{"case": "parked_b", "issue": 15, "labels": ["model", "refactor"]}', 65, 'parked', 1, '2026-12-04 23:28:18.701353+00', '2026-12-04 23:28:18.680988+00', '2026-12-04 23:28:18.701353+00', NULL, NULL, NULL, NULL, false, 'quota_exhausted', 'park', 'quota_exhausted: parked until the limit resets', '01a24363-1d0a-7271-a4f2-d0cac54d7d5a', '0193a000-0000-7000-8000-000000000007');
INSERT INTO agentlane_release_fixture.jobs (id, kind, lane, route, prompt, fields, priority, state, attempts, run_at, created_at, updated_at, finished_at, lease_owner, lease_expires_at, timeout_ms, diagnostics, classifier, next_action, reason, incident_id, last_dispatch_id) VALUES ('01a24363-1cf9-77cb-8169-266af037a222', 'fix', 'build', 'claude-sonnet', 'fix the failing test (lost_then_scheduled)', '{"case": "lost_then_scheduled", "issue": 15, "labels": ["model", "refactor"]}', 55, 'scheduled', 1, '2026-12-05 00:28:18.75841+00', '2026-12-04 23:28:18.680988+00', '2026-12-04 23:28:18.75841+00', NULL, NULL, NULL, NULL, false, 'worker_lost', 'retry', 'worker_lost: retry in an hour', NULL, '0193a000-0000-7000-8000-000000000009');
INSERT INTO agentlane_release_fixture.jobs (id, kind, lane, route, prompt, fields, priority, state, attempts, run_at, created_at, updated_at, finished_at, lease_owner, lease_expires_at, timeout_ms, diagnostics, classifier, next_action, reason, incident_id, last_dispatch_id) VALUES ('01a24363-1cf9-77cb-8169-266b07677767', 'fix', 'build', 'claude-sonnet', 'fix the failing test (running)', '{"case": "running", "issue": 15, "labels": ["model", "refactor"]}', 50, 'running', 1, '2026-12-04 23:28:18.680988+00', '2026-12-04 23:28:18.680988+00', '2026-12-04 23:28:18.759705+00', NULL, 'build-01:4242', '2026-12-05 00:28:18.759705+00', NULL, false, NULL, 'run', 'running on build-01:4242', NULL, NULL);
INSERT INTO agentlane_release_fixture.jobs (id, kind, lane, route, prompt, fields, priority, state, attempts, run_at, created_at, updated_at, finished_at, lease_owner, lease_expires_at, timeout_ms, diagnostics, classifier, next_action, reason, incident_id, last_dispatch_id) VALUES ('01a24363-1cf9-77cb-8169-26699c67f6ed', 'fix', 'build', 'claude-sonnet', 'fix the failing test (released_by_resolve)', '{"case": "released_by_resolve", "issue": 15, "labels": ["model", "refactor"]}', 60, 'queued', 1, '2026-12-04 23:28:18.76082+00', '2026-12-04 23:28:18.680988+00', '2026-12-04 23:28:18.76082+00', NULL, NULL, NULL, NULL, false, 'cli_missing', 'run', 'released: incident 01a24363-1d0f-777b-a46e-67940d6b65cb resolved', '01a24363-1d0f-777b-a46e-67940d6b65cb', '0193a000-0000-7000-8000-000000000008');


--
-- Data for Name: leaders; Type: TABLE DATA; Schema: agentlane_release_fixture; Owner: -
--



--
-- Name: events_seq_seq; Type: SEQUENCE SET; Schema: agentlane_release_fixture; Owner: -
--

SELECT pg_catalog.setval('agentlane_release_fixture.events_seq_seq', 39, true);


--
-- Name: incident_counts_seq_seq; Type: SEQUENCE SET; Schema: agentlane_release_fixture; Owner: -
--

SELECT pg_catalog.setval('agentlane_release_fixture.incident_counts_seq_seq', 5, true);


--
-- Name: agentlane_migrations agentlane_migrations_pkey; Type: CONSTRAINT; Schema: agentlane_release_fixture; Owner: -
--

ALTER TABLE ONLY agentlane_release_fixture.agentlane_migrations
    ADD CONSTRAINT agentlane_migrations_pkey PRIMARY KEY (version);


--
-- Name: dispatches dispatches_pkey; Type: CONSTRAINT; Schema: agentlane_release_fixture; Owner: -
--

ALTER TABLE ONLY agentlane_release_fixture.dispatches
    ADD CONSTRAINT dispatches_pkey PRIMARY KEY (id);


--
-- Name: events events_pkey; Type: CONSTRAINT; Schema: agentlane_release_fixture; Owner: -
--

ALTER TABLE ONLY agentlane_release_fixture.events
    ADD CONSTRAINT events_pkey PRIMARY KEY (seq);


--
-- Name: incident_counts incident_counts_pkey; Type: CONSTRAINT; Schema: agentlane_release_fixture; Owner: -
--

ALTER TABLE ONLY agentlane_release_fixture.incident_counts
    ADD CONSTRAINT incident_counts_pkey PRIMARY KEY (seq);


--
-- Name: incident_jobs incident_jobs_pkey; Type: CONSTRAINT; Schema: agentlane_release_fixture; Owner: -
--

ALTER TABLE ONLY agentlane_release_fixture.incident_jobs
    ADD CONSTRAINT incident_jobs_pkey PRIMARY KEY (incident_id, job_id);


--
-- Name: incidents incidents_pkey; Type: CONSTRAINT; Schema: agentlane_release_fixture; Owner: -
--

ALTER TABLE ONLY agentlane_release_fixture.incidents
    ADD CONSTRAINT incidents_pkey PRIMARY KEY (id);


--
-- Name: jobs jobs_pkey; Type: CONSTRAINT; Schema: agentlane_release_fixture; Owner: -
--

ALTER TABLE ONLY agentlane_release_fixture.jobs
    ADD CONSTRAINT jobs_pkey PRIMARY KEY (id);


--
-- Name: leaders leaders_pkey; Type: CONSTRAINT; Schema: agentlane_release_fixture; Owner: -
--

ALTER TABLE ONLY agentlane_release_fixture.leaders
    ADD CONSTRAINT leaders_pkey PRIMARY KEY (name);


--
-- Name: dispatches_fingerprint; Type: INDEX; Schema: agentlane_release_fixture; Owner: -
--

CREATE INDEX dispatches_fingerprint ON agentlane_release_fixture.dispatches USING btree (failure_fingerprint) WHERE (failure_fingerprint IS NOT NULL);


--
-- Name: dispatches_finished; Type: INDEX; Schema: agentlane_release_fixture; Owner: -
--

CREATE INDEX dispatches_finished ON agentlane_release_fixture.dispatches USING btree (finished_at) WHERE (job_id IS NULL);


--
-- Name: dispatches_job; Type: INDEX; Schema: agentlane_release_fixture; Owner: -
--

CREATE INDEX dispatches_job ON agentlane_release_fixture.dispatches USING btree (job_id, attempt) WHERE (job_id IS NOT NULL);


--
-- Name: events_dispatch; Type: INDEX; Schema: agentlane_release_fixture; Owner: -
--

CREATE INDEX events_dispatch ON agentlane_release_fixture.events USING btree (dispatch_id, seq);


--
-- Name: events_job; Type: INDEX; Schema: agentlane_release_fixture; Owner: -
--

CREATE INDEX events_job ON agentlane_release_fixture.events USING btree (job_id, seq) WHERE (job_id IS NOT NULL);


--
-- Name: events_kind; Type: INDEX; Schema: agentlane_release_fixture; Owner: -
--

CREATE INDEX events_kind ON agentlane_release_fixture.events USING btree (kind, seq);


--
-- Name: events_loose; Type: INDEX; Schema: agentlane_release_fixture; Owner: -
--

CREATE INDEX events_loose ON agentlane_release_fixture.events USING btree (at) WHERE ((job_id IS NULL) AND (dispatch_id IS NULL));


--
-- Name: incident_counts_incident; Type: INDEX; Schema: agentlane_release_fixture; Owner: -
--

CREATE INDEX incident_counts_incident ON agentlane_release_fixture.incident_counts USING btree (incident_id);


--
-- Name: incidents_open_fingerprint; Type: INDEX; Schema: agentlane_release_fixture; Owner: -
--

CREATE UNIQUE INDEX incidents_open_fingerprint ON agentlane_release_fixture.incidents USING btree (failure_fingerprint) WHERE (state = 'open'::text);


--
-- Name: jobs_claim; Type: INDEX; Schema: agentlane_release_fixture; Owner: -
--

CREATE INDEX jobs_claim ON agentlane_release_fixture.jobs USING btree (lane, priority DESC, run_at, id) WHERE (state = ANY (ARRAY['queued'::agentlane_release_fixture.job_state, 'scheduled'::agentlane_release_fixture.job_state]));


--
-- Name: jobs_finished; Type: INDEX; Schema: agentlane_release_fixture; Owner: -
--

CREATE INDEX jobs_finished ON agentlane_release_fixture.jobs USING btree (finished_at) WHERE (finished_at IS NOT NULL);


--
-- Name: jobs_lane_state; Type: INDEX; Schema: agentlane_release_fixture; Owner: -
--

CREATE INDEX jobs_lane_state ON agentlane_release_fixture.jobs USING btree (lane, state);


--
-- Name: jobs_leases; Type: INDEX; Schema: agentlane_release_fixture; Owner: -
--

CREATE INDEX jobs_leases ON agentlane_release_fixture.jobs USING btree (lease_expires_at) WHERE (state = 'running'::agentlane_release_fixture.job_state);


--
-- Name: events events_dispatch_id_fkey; Type: FK CONSTRAINT; Schema: agentlane_release_fixture; Owner: -
--

ALTER TABLE ONLY agentlane_release_fixture.events
    ADD CONSTRAINT events_dispatch_id_fkey FOREIGN KEY (dispatch_id) REFERENCES agentlane_release_fixture.dispatches(id);


--
-- Name: incident_counts incident_counts_incident_id_fkey; Type: FK CONSTRAINT; Schema: agentlane_release_fixture; Owner: -
--

ALTER TABLE ONLY agentlane_release_fixture.incident_counts
    ADD CONSTRAINT incident_counts_incident_id_fkey FOREIGN KEY (incident_id) REFERENCES agentlane_release_fixture.incidents(id);


--
-- Name: incident_jobs incident_jobs_incident_id_fkey; Type: FK CONSTRAINT; Schema: agentlane_release_fixture; Owner: -
--

ALTER TABLE ONLY agentlane_release_fixture.incident_jobs
    ADD CONSTRAINT incident_jobs_incident_id_fkey FOREIGN KEY (incident_id) REFERENCES agentlane_release_fixture.incidents(id);


--
-- Name: incident_jobs incident_jobs_job_id_fkey; Type: FK CONSTRAINT; Schema: agentlane_release_fixture; Owner: -
--

ALTER TABLE ONLY agentlane_release_fixture.incident_jobs
    ADD CONSTRAINT incident_jobs_job_id_fkey FOREIGN KEY (job_id) REFERENCES agentlane_release_fixture.jobs(id);


--
-- PostgreSQL database dump complete
--


