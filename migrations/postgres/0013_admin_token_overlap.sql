-- Admin token rotation with an overlap window (PostgreSQL).
-- `collector site rotate-token --overlap 1h` keeps the previous token's hash
-- in admin_token_prev_hash, valid until admin_token_prev_until (ms since the
-- Unix epoch), so scripts and open incident views can switch over without a
-- gap. A rotation without overlap and a revocation clear both ('' matches
-- no token).

ALTER TABLE sites ADD COLUMN admin_token_prev_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE sites ADD COLUMN admin_token_prev_until BIGINT NOT NULL DEFAULT 0;
