-- Remote site configuration (issue 6): one JSON document per site, served
-- to the snippet at GET /v1/config and changed through the admin API.
CREATE TABLE site_config (
    site_id BIGINT PRIMARY KEY REFERENCES sites (id) ON DELETE CASCADE,
    version BIGINT NOT NULL,                -- +1 on every change
    doc TEXT NOT NULL,                      -- steadycart_protocol::remote::SiteConfig as JSON
    updated_at BIGINT NOT NULL              -- ms since the Unix epoch
);
