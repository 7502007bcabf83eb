-- A hard stop remembers the digest of its route's preflight stamp on its
-- host when it failed: a worker there resolves it once the stamp differs
-- (the environment changed), even after a restart.
ALTER TABLE incidents ADD COLUMN stamp text;
