-- Sites, their allowed origins, and ingested events (SQLite).
-- Timestamps are milliseconds since the Unix epoch.

CREATE TABLE sites (
    id INTEGER PRIMARY KEY,
    site_key TEXT NOT NULL UNIQUE,          -- public, in the script tag
    name TEXT NOT NULL,
    admin_token_hash TEXT NOT NULL,         -- SHA-256 hex; the token itself is never stored
    created_at INTEGER NOT NULL
);

CREATE TABLE site_origins (
    site_id INTEGER NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    origin TEXT NOT NULL,                   -- ASCII origin: scheme://host[:port]
    PRIMARY KEY (site_id, origin)
);

CREATE TABLE events (
    seq INTEGER PRIMARY KEY,                -- insertion order, the admin read cursor
    site_id INTEGER NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,                 -- client-generated; dedup key
    session_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    client_ts INTEGER NOT NULL,             -- client clock, as sent
    received_at INTEGER NOT NULL,           -- server clock
    body TEXT NOT NULL,                     -- the event as JSON
    UNIQUE (site_id, event_id)
);

CREATE INDEX events_site_received ON events (site_id, received_at);
CREATE INDEX events_site_session ON events (site_id, session_id);
