-- Usage per attempt (issue 17): what the agent CLI reported (tokens, turns,
-- dollars when it printed them), kept as columns so `agentlane usage` and
-- the lanes' daily budgets sum them without reading every report. They are
-- copied from the report's `usage` by triggers, in the statement that
-- stores the report: no path that finishes a dispatch can forget them, and
-- a row copied in whole (`store copy`) keeps them.
ALTER TABLE dispatches ADD COLUMN usage_input_tokens INTEGER;
ALTER TABLE dispatches ADD COLUMN usage_output_tokens INTEGER;
ALTER TABLE dispatches ADD COLUMN usage_cached_tokens INTEGER;
ALTER TABLE dispatches ADD COLUMN usage_cost_usd REAL;
ALTER TABLE dispatches ADD COLUMN usage_model TEXT;
ALTER TABLE dispatches ADD COLUMN usage_turns INTEGER;

CREATE TRIGGER dispatches_usage AFTER UPDATE OF report ON dispatches
WHEN json_type(NEW.report, '$.usage') = 'object'
BEGIN
    UPDATE dispatches SET
        usage_input_tokens = json_extract(NEW.report, '$.usage.input_tokens'),
        usage_output_tokens = json_extract(NEW.report, '$.usage.output_tokens'),
        usage_cached_tokens = json_extract(NEW.report, '$.usage.cached_tokens'),
        usage_cost_usd = json_extract(NEW.report, '$.usage.cost_usd'),
        usage_model = json_extract(NEW.report, '$.usage.model'),
        usage_turns = json_extract(NEW.report, '$.usage.turns')
    WHERE id = NEW.id;
END;

-- What a lane spent today: its finished attempts that reported a cost.
CREATE INDEX dispatches_usage_finished ON dispatches (finished_at) WHERE usage_input_tokens IS NOT NULL;
