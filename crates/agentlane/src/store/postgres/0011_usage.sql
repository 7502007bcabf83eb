-- Usage per attempt (issue 17): what the agent CLI reported (tokens, turns,
-- dollars when it printed them), kept as columns so `agentlane usage` and
-- the lanes' daily budgets sum them without reading every report. A trigger
-- copies them from the report's `usage` in the statement that stores the
-- report: no path that finishes a dispatch can forget them, and a row copied
-- in whole (`store copy`) gets them again.
ALTER TABLE dispatches
    ADD COLUMN usage_input_tokens bigint,
    ADD COLUMN usage_output_tokens bigint,
    ADD COLUMN usage_cached_tokens bigint,
    ADD COLUMN usage_cost_usd double precision,
    ADD COLUMN usage_model text,
    ADD COLUMN usage_turns bigint;

CREATE FUNCTION al_dispatch_usage() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE u jsonb := NEW.report -> 'usage';
BEGIN
    IF jsonb_typeof(u) = 'object' THEN
        NEW.usage_input_tokens := (u ->> 'input_tokens')::numeric::bigint;
        NEW.usage_output_tokens := (u ->> 'output_tokens')::numeric::bigint;
        NEW.usage_cached_tokens := (u ->> 'cached_tokens')::numeric::bigint;
        NEW.usage_cost_usd := (u ->> 'cost_usd')::double precision;
        NEW.usage_model := u ->> 'model';
        NEW.usage_turns := (u ->> 'turns')::numeric::bigint;
    END IF;
    RETURN NEW;
END $$;

-- Called only for a report that has usage (the WHEN is evaluated without
-- entering PL/pgSQL): most dispatches report none and pay nothing.
CREATE TRIGGER dispatches_usage BEFORE INSERT OR UPDATE OF report ON dispatches
    FOR EACH ROW WHEN (NEW.report ? 'usage') EXECUTE FUNCTION al_dispatch_usage();

-- What a lane spent today: its finished attempts that reported usage.
CREATE INDEX dispatches_usage_finished ON dispatches (finished_at) WHERE usage_input_tokens IS NOT NULL;
