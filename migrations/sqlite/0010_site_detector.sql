-- Per-site detector tuning (issue 8): the fields a site overrides of the
-- collector-wide detector parameters, as JSON
-- (steadycart_collector::detect::overrides::DetectorOverrides). A site
-- without a row uses the defaults. Read by the signals engine every bucket.
CREATE TABLE site_detector (
    site_id INTEGER PRIMARY KEY REFERENCES sites (id) ON DELETE CASCADE,
    overrides TEXT NOT NULL,                -- JSON object, unknown fields refused by the API
    updated_at INTEGER NOT NULL             -- ms since the Unix epoch
);
