-- IP ranges to ASN, loaded by `gatewarden asn import`. Ranges are inclusive, on the ip_num axis
-- (IPv4 mapped into ::ffff:0:0/96), non-overlapping after import, so an ASOF join finds the range.
CREATE TABLE IF NOT EXISTS asn_ranges (
    range_start UHUGEINT NOT NULL,
    range_end   UHUGEINT NOT NULL,
    asn         INTEGER,
    as_org      VARCHAR,
    country     VARCHAR,
    source      VARCHAR
);

-- Hosting / datacenter / VPN ASNs from the bundled public lists (enrich/hosting.py loads it when the
-- bundled files change). Config extra/exclude lists apply at query time: see hosting_asn_sql().
CREATE TABLE IF NOT EXISTS asn_info (
    asn        INTEGER NOT NULL,
    as_org     VARCHAR,
    is_hosting BOOLEAN NOT NULL,
    is_vpn     BOOLEAN NOT NULL,
    source     VARCHAR           -- which lists name it, comma separated
);

-- Version (content hash) of each bundled data set loaded into a table, so it is reloaded only on change.
CREATE TABLE IF NOT EXISTS bundled_data (
    name      VARCHAR PRIMARY KEY,
    version   VARCHAR NOT NULL,
    loaded_at TIMESTAMP
);
