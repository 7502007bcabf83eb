-- al_ts was declared IMMUTABLE, but to_char is only STABLE, so PostgreSQL
-- refused to inline it: every rendered time ran a SQL function of its own
-- (five per claimed job). STABLE is its true volatility; it is inlined now.
CREATE OR REPLACE FUNCTION al_ts(t timestamptz) RETURNS text
    LANGUAGE sql STABLE AS $$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $$;
