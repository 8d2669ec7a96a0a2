-- Events the snippet reports it had to drop before delivery (its queue or
-- localStorage budget overflowed while the collector was unreachable).
-- One row per reporting batch, keyed by the id of the batch's first event,
-- so a batch that is resent (lost response, beacon + next page) counts once.

CREATE TABLE client_drops (
    site_id BIGINT NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    batch_key TEXT NOT NULL,                -- first event id of the reporting batch
    dropped BIGINT NOT NULL,                    -- events the snippet dropped
    received_at BIGINT NOT NULL,                -- server clock, ms
    PRIMARY KEY (site_id, batch_key)
);
