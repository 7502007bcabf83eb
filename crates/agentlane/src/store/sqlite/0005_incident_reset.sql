-- An incident of usage or rate limits records when the limit resets: the
-- latest reset_at of its failures (UTC, RFC 3339 with milliseconds, like
-- every time here, so text order is time order).
ALTER TABLE incidents ADD COLUMN reset_at text;
