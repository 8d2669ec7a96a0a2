-- Abandonment signals, incidents, notifiers, the notification outbox and the
-- leader lease (issue 8). Timestamps are ms since the Unix epoch.

-- Session model state of sessions that can still change a count.
CREATE TABLE signal_sessions (
    site_id INTEGER NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    session_id TEXT NOT NULL,
    last_seen INTEGER NOT NULL,
    due_at INTEGER,                         -- abandoned at this time unless heard from; NULL: can't be
    state TEXT NOT NULL,                    -- SessionState as JSON
    PRIMARY KEY (site_id, session_id)
);
CREATE INDEX signal_sessions_due ON signal_sessions (site_id, due_at);
CREATE INDEX signal_sessions_seen ON signal_sessions (site_id, last_seen);

-- One row per site and closed bucket.
CREATE TABLE signal_buckets (
    site_id INTEGER NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    bucket_start INTEGER NOT NULL,
    bucket_ms INTEGER NOT NULL,
    sessions INTEGER NOT NULL,
    checkout_starts INTEGER NOT NULL,
    completions INTEGER NOT NULL,
    abandonments INTEGER NOT NULL,
    abandon_after_trouble INTEGER NOT NULL,
    calls INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    stalls INTEGER NOT NULL,
    causes TEXT NOT NULL,                   -- JSON {"POST /api/checkout 503": n}
    samples TEXT NOT NULL,                  -- JSON ["session id", …]
    PRIMARY KEY (site_id, bucket_start)
);

-- Per endpoint (dim 'endpoint') and per SKU (dim 'sku') and closed bucket.
CREATE TABLE signal_dims (
    site_id INTEGER NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    dim TEXT NOT NULL,
    key TEXT NOT NULL,
    bucket_start INTEGER NOT NULL,
    calls INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    stalls INTEGER NOT NULL,
    p50_ms INTEGER,
    p95_ms INTEGER,
    statuses TEXT NOT NULL,                 -- JSON {"503": n}
    PRIMARY KEY (site_id, dim, key, bucket_start)
);
CREATE INDEX signal_dims_bucket ON signal_dims (site_id, bucket_start);

-- Where each site's rollup stands, and its detectors' state.
CREATE TABLE signal_progress (
    site_id INTEGER PRIMARY KEY REFERENCES sites (id) ON DELETE CASCADE,
    next_bucket INTEGER NOT NULL,           -- start of the next bucket to roll up
    detectors TEXT NOT NULL                 -- SiteDetectors as JSON
);

CREATE TABLE incidents (
    id INTEGER PRIMARY KEY,
    site_id INTEGER NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    series TEXT NOT NULL,                   -- 'abandonment', 'errors', 'stalls'
    status TEXT NOT NULL,                   -- 'open' | 'resolved'
    since INTEGER NOT NULL,                 -- onset: first breaching bucket
    opened_at INTEGER NOT NULL,             -- end of the bucket that opened it
    updated_at INTEGER NOT NULL,
    ended INTEGER,                          -- first healthy bucket
    resolved_at INTEGER,
    baseline REAL NOT NULL,
    observed REAL NOT NULL,
    peak_ratio REAL NOT NULL,
    summary TEXT NOT NULL,
    details TEXT NOT NULL                   -- JSON: culprits, causes, samples, totals
);
CREATE INDEX incidents_site ON incidents (site_id, since);

-- Where a site's incidents are sent. config holds secrets (routing keys,
-- API keys, webhook secrets): never logged, redacted in API answers.
CREATE TABLE notifiers (
    id INTEGER PRIMARY KEY,
    site_id INTEGER NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,                     -- 'pagerduty' | 'opsgenie' | 'slack' | 'webhook'
    config TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- Transactional outbox: written with the incident change, delivered with
-- retries until accepted.
CREATE TABLE notify_outbox (
    id INTEGER PRIMARY KEY,
    site_id INTEGER NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    incident_id INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    notifier_id INTEGER NOT NULL REFERENCES notifiers (id) ON DELETE CASCADE,
    action TEXT NOT NULL,                   -- 'trigger' | 'resolve'
    created_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    claimed_until INTEGER NOT NULL DEFAULT 0,
    delivered_at INTEGER,
    failed_at INTEGER,                      -- gave up (rejected or out of attempts)
    last_error TEXT,
    UNIQUE (incident_id, notifier_id, action)
);
CREATE INDEX notify_outbox_due ON notify_outbox (next_attempt_at) WHERE delivered_at IS NULL AND failed_at IS NULL;

-- Leadership among collector instances sharing one database.
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
