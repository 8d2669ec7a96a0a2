-- Cart recovery (issue 9, PostgreSQL): the latest cart snapshot of each session, recovery
-- contacts made from consented exit-survey answers, the per-site suppression
-- list, per-site recovery settings, the recovery mail outbox and the secret
-- that signs recovery and unsubscribe links. Timestamps are ms since the
-- Unix epoch.

-- The latest `cart_snapshot` of a session (replaced by each new one).
CREATE TABLE session_carts (
    site_id BIGINT NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    session_id TEXT NOT NULL,
    items TEXT NOT NULL,                    -- JSON [{"sku","name","qty","unit_price_minor"}]
    currency TEXT,                          -- ISO 4217
    value_minor BIGINT,                     -- NULL when a price is unknown
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (site_id, session_id)
);
CREATE INDEX session_carts_updated ON session_carts (updated_at);

-- One contact per site and address: who consented to be emailed once the
-- trouble is fixed, with the consent exactly as shown and the context of
-- their latest abandoned session. Deleted on unsubscribe and on erasure.
CREATE TABLE recovery_contacts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id BIGINT NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    email TEXT NOT NULL,                    -- as the shopper typed it
    email_norm TEXT NOT NULL,               -- lower-cased: the identity
    session_id TEXT NOT NULL,               -- latest session that answered with consent
    answer_event_id TEXT NOT NULL,          -- that survey_answered event
    consent_text TEXT NOT NULL,             -- the checkbox label exactly as shown
    consent_version TEXT NOT NULL,
    consented_at BIGINT NOT NULL,           -- server time of the answer
    choice TEXT,                            -- survey option id
    free_text TEXT,                         -- verbatim; untrusted
    trouble_roles TEXT NOT NULL DEFAULT '', -- comma-separated
    trouble_endpoints TEXT NOT NULL DEFAULT '[]', -- JSON ["METHOD /path"]
    last_status BIGINT,
    trouble_at BIGINT NOT NULL,             -- first troubled call of the session (else the answer time)
    first_seen BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    last_emailed_at BIGINT,
    status TEXT NOT NULL,                   -- pending | emailed | recovered | bounced
    UNIQUE (site_id, email_norm)
);
CREATE INDEX recovery_contacts_session ON recovery_contacts (site_id, session_id);
CREATE INDEX recovery_contacts_updated ON recovery_contacts (site_id, updated_at);

-- Addresses that unsubscribed, per site, forever. Only a SHA-256 of the
-- normalised address is kept, so erasure leaves no readable address while
-- the opt-out still holds.
CREATE TABLE recovery_suppressions (
    site_id BIGINT NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    email_hash TEXT NOT NULL,
    reason TEXT NOT NULL,                   -- 'unsubscribed'
    created_at BIGINT NOT NULL,
    PRIMARY KEY (site_id, email_hash)
);

-- Per-site recovery settings (shop name, sender, link template, locale,
-- templates) as JSON; see collector/src/recovery/settings.rs.
CREATE TABLE recovery_settings (
    site_id BIGINT PRIMARY KEY REFERENCES sites (id) ON DELETE CASCADE,
    settings TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Transactional outbox of recovery emails: one row per (contact,
-- abandoned session), written with the survey answer; due after the
-- configured delay; claimed by any instance (FOR UPDATE SKIP LOCKED on
-- PostgreSQL), sent over SMTP, retried with backoff.
CREATE TABLE recovery_outbox (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id BIGINT NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    contact_id BIGINT NOT NULL REFERENCES recovery_contacts (id) ON DELETE CASCADE,
    session_id TEXT NOT NULL,               -- the abandonment this email is about
    created_at BIGINT NOT NULL,             -- the answer's arrival; due at created_at + delay
    status TEXT NOT NULL DEFAULT 'queued',  -- queued | sent | failed | cancelled
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_until BIGINT NOT NULL DEFAULT 0,
    done_at BIGINT,
    message_id TEXT,
    last_error TEXT,                        -- SMTP reply or cause, addresses scrubbed
    UNIQUE (contact_id, session_id)
);
CREATE INDEX recovery_outbox_due ON recovery_outbox (next_attempt_at) WHERE status = 'queued';

-- The key that signs recovery and unsubscribe links, shared by every
-- instance on this database (created on first use).
CREATE TABLE recovery_secrets (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    secret TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
