-- gw_net(client_ip, ip_num) / gw_net(client_ip): the /24 (IPv4) or /64 (IPv6) network of an address as
-- canonical CIDR text ('1.2.3.0/24', '2001:db8:0:1::/64'), the unit bot farms and residential proxies
-- rotate within. Python twin: enrich/cidr.py net_key (tests hold them equal).
-- The two-argument form works on ip_num (IPv6: the upper 64 bits) and is the one to use on `requests`/`win`;
-- the one-argument form expands IPv6 text itself for tables that carry no ip_num.

-- The first four IPv6 groups of (lower-case, valid) IPv6 text, `::` expanded; an embedded IPv4 tail counts as two groups.
CREATE OR REPLACE TEMP MACRO gw_v6_head(x) AS (
    CASE WHEN x LIKE '%::%' THEN
        list_slice(list_concat(
            list_filter(string_split(split_part(x, '::', 1), ':'), lambda g: g <> ''),
            list_transform(range(CAST(8
                - len(list_filter(string_split(split_part(x, '::', 1), ':'), lambda g: g <> ''))
                - coalesce(list_sum(list_transform(list_filter(string_split(split_part(x, '::', 2), ':'), lambda g: g <> ''),
                                                   lambda g: CASE WHEN g LIKE '%.%' THEN 2 ELSE 1 END)), 0) AS BIGINT)),
                lambda i: '0'),
            list_filter(string_split(split_part(x, '::', 2), ':'), lambda g: g <> '')), 1, 4)
    ELSE list_slice(string_split(x, ':'), 1, 4) END
);

-- Four 16-bit groups -> '/64' CIDR text: leading zeros dropped, trailing zero groups folded into '::' as
-- RFC 5952 (and Python's ipaddress) write it; the trailing run (>= 4 zero groups) is always the longest.
CREATE OR REPLACE TEMP MACRO gw_v6_net64(groups) AS (
    CASE WHEN list_filter(groups, lambda g: ltrim(g, '0') <> '') = [] THEN '::/64'
    ELSE regexp_replace(array_to_string(list_transform(groups, lambda g: coalesce(nullif(ltrim(g, '0'), ''), '0')), ':'),
                        '(:0)+$', '') || '::/64'
    END
);

CREATE OR REPLACE TEMP MACRO gw_net(ip, num) AS (
    CASE
        WHEN num IS NULL THEN NULL
        WHEN num BETWEEN CAST(281470681743360 AS UHUGEINT) AND CAST(281474976710655 AS UHUGEINT) THEN
            printf('%d.%d.%d.0/24',
                   CAST(((num - CAST(281470681743360 AS UHUGEINT)) >> 24) & 255 AS INTEGER),
                   CAST(((num - CAST(281470681743360 AS UHUGEINT)) >> 16) & 255 AS INTEGER),
                   CAST(((num - CAST(281470681743360 AS UHUGEINT)) >> 8) & 255 AS INTEGER))
        ELSE gw_v6_net64([lower(hex((num >> 112) & 65535)), lower(hex((num >> 96) & 65535)),
                          lower(hex((num >> 80) & 65535)), lower(hex((num >> 64) & 65535))])
    END
),
(ip) AS (
    CASE
        WHEN ip IS NULL THEN NULL
        WHEN regexp_full_match(ip, '[0-9]{1,3}(\.[0-9]{1,3}){3}') THEN regexp_replace(ip, '\.[0-9]+$', '.0/24')
        WHEN regexp_full_match(lower(ip), '[0-9a-f:]*:[0-9a-f:.]*') THEN gw_v6_net64(gw_v6_head(lower(ip)))
    END
);
