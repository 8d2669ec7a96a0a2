-- The shopper's language per session (issue 9): the first tag of the
-- Accept-Language header of the ingest request that carried a survey answer
-- or an identify (the browser sends it with the snippet's beacons), so the
-- recovery email can be written in the shopper's language. Pruned with the
-- cart snapshots.
CREATE TABLE session_locales (
    site_id INTEGER NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    session_id TEXT NOT NULL,
    locale TEXT NOT NULL,                   -- BCP 47 tag, e.g. de-AT
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (site_id, session_id)
);
CREATE INDEX session_locales_updated ON session_locales (updated_at);
