-- Exit-survey answers with the shopper's consent, recorded verbatim (PostgreSQL).
-- One row per `survey_answered` event, written in the same transaction as
-- the event. An email is stored only together with the consent text and
-- version the shopper agreed to (enforced by the collector and by CHECK).

CREATE TABLE survey_answers (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- insertion order, the admin read cursor
    site_id BIGINT NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,                 -- the survey_answered event
    session_id TEXT NOT NULL,
    page TEXT,                              -- path where the survey was answered
    answered_at BIGINT NOT NULL,           -- client clock, ms
    received_at BIGINT NOT NULL,           -- server clock, ms
    exit_trigger TEXT NOT NULL,             -- pointer_top, scroll_up, back, return, idle
    choice TEXT,                            -- id of the chosen option
    free_text TEXT,                         -- verbatim, ≤ 1000 characters
    rating BIGINT,                          -- 1..5
    email TEXT,                             -- only with consent
    consent_text TEXT,                      -- the checkbox label exactly as shown
    consent_version TEXT,
    trouble_roles TEXT NOT NULL DEFAULT '', -- comma-separated roles, first trouble first
    trouble_endpoints TEXT NOT NULL DEFAULT '[]', -- JSON array of "METHOD /path"
    last_outcome TEXT,
    last_status BIGINT,
    UNIQUE (site_id, event_id),
    CHECK (email IS NULL OR (consent_text IS NOT NULL AND consent_version IS NOT NULL))
);

CREATE INDEX survey_answers_site_received ON survey_answers (site_id, received_at);
CREATE INDEX survey_answers_site_email ON survey_answers (site_id, email) WHERE email IS NOT NULL;
