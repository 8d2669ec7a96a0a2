-- Abandonment signals, incidents, notifiers, the notification outbox and the
-- leader lease (issue 8). Timestamps are ms since the Unix epoch.

-- Session model state of sessions that can still change a count.
CREATE TABLE signal_sessions (
    site_id BIGINT NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    session_id TEXT NOT NULL,
    last_seen BIGINT NOT NULL,
    due_at BIGINT,                         -- abandoned at this time unless heard from; NULL: can't be
    state TEXT NOT NULL,                    -- SessionState as JSON
    PRIMARY KEY (site_id, session_id)
);
CREATE INDEX signal_sessions_due ON signal_sessions (site_id, due_at);
CREATE INDEX signal_sessions_seen ON signal_sessions (site_id, last_seen);

-- One row per site and closed bucket.
CREATE TABLE signal_buckets (
    site_id BIGINT NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    bucket_start BIGINT NOT NULL,
    bucket_ms BIGINT NOT NULL,
    sessions BIGINT NOT NULL,
    checkout_starts BIGINT NOT NULL,
    completions BIGINT NOT NULL,
    abandonments BIGINT NOT NULL,
    abandon_after_trouble BIGINT NOT NULL,
    calls BIGINT NOT NULL,
    errors BIGINT NOT NULL,
    stalls BIGINT NOT NULL,
    causes TEXT NOT NULL,                   -- JSON {"POST /api/checkout 503": n}
    samples TEXT NOT NULL,                  -- JSON ["session id", …]
    PRIMARY KEY (site_id, bucket_start)
);

-- Per endpoint (dim 'endpoint') and per SKU (dim 'sku') and closed bucket.
CREATE TABLE signal_dims (
    site_id BIGINT NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    dim TEXT NOT NULL,
    key TEXT NOT NULL,
    bucket_start BIGINT NOT NULL,
    calls BIGINT NOT NULL,
    errors BIGINT NOT NULL,
    stalls BIGINT NOT NULL,
    p50_ms BIGINT,
    p95_ms BIGINT,
    statuses TEXT NOT NULL,                 -- JSON {"503": n}
    PRIMARY KEY (site_id, dim, key, bucket_start)
);
CREATE INDEX signal_dims_bucket ON signal_dims (site_id, bucket_start);

-- Where each site's rollup stands, and its detectors' state.
CREATE TABLE signal_progress (
    site_id BIGINT PRIMARY KEY REFERENCES sites (id) ON DELETE CASCADE,
    next_bucket BIGINT NOT NULL,           -- start of the next bucket to roll up
    detectors TEXT NOT NULL                 -- SiteDetectors as JSON
);

CREATE TABLE incidents (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id BIGINT NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    series TEXT NOT NULL,                   -- 'abandonment', 'errors', 'stalls'
    status TEXT NOT NULL,                   -- 'open' | 'resolved'
    since BIGINT NOT NULL,                 -- onset: first breaching bucket
    opened_at BIGINT NOT NULL,             -- end of the bucket that opened it
    updated_at BIGINT NOT NULL,
    ended BIGINT,                          -- first healthy bucket
    resolved_at BIGINT,
    baseline DOUBLE PRECISION NOT NULL,
    observed DOUBLE PRECISION NOT NULL,
    peak_ratio DOUBLE PRECISION NOT NULL,
    summary TEXT NOT NULL,
    details TEXT NOT NULL                   -- JSON: culprits, causes, samples, totals
);
CREATE INDEX incidents_site ON incidents (site_id, since);

-- Where a site's incidents are sent. config holds secrets (routing keys,
-- API keys, webhook secrets): never logged, redacted in API answers.
CREATE TABLE notifiers (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id BIGINT NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,                     -- 'pagerduty' | 'opsgenie' | 'slack' | 'webhook'
    config TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Transactional outbox: written with the incident change, delivered with
-- retries until accepted.
CREATE TABLE notify_outbox (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id BIGINT NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    incident_id BIGINT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    notifier_id BIGINT NOT NULL REFERENCES notifiers (id) ON DELETE CASCADE,
    action TEXT NOT NULL,                   -- 'trigger' | 'resolve'
    created_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_until BIGINT NOT NULL DEFAULT 0,
    delivered_at BIGINT,
    failed_at BIGINT,                      -- gave up (rejected or out of attempts)
    last_error TEXT,
    UNIQUE (incident_id, notifier_id, action)
);
CREATE INDEX notify_outbox_due ON notify_outbox (next_attempt_at) WHERE delivered_at IS NULL AND failed_at IS NULL;

-- Leadership among collector instances sharing one database.
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
