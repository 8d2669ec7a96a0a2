-- Admin token rotation and revocation (SQLite).
-- Rotating replaces admin_token_hash (the old token stops working at once);
-- revoking sets it to '' (no token opens the site until it is rotated).
-- Timestamps are milliseconds since the Unix epoch; NULL = never.

ALTER TABLE sites ADD COLUMN admin_token_rotated_at INTEGER;
ALTER TABLE sites ADD COLUMN admin_token_revoked_at INTEGER;
