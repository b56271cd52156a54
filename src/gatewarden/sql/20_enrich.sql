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
