-- gw_ipv4_num(text): an IPv4 dotted quad as a number in IPv4-mapped IPv6 space (::ffff:a.b.c.d),
-- so IPv4 and IPv6 share one UHUGEINT axis for range joins. NULL when not a valid IPv4 address.
-- IPv6 text is converted in Python over distinct values (see enrich/ipnum.py): SQL cannot expand `::`.
CREATE OR REPLACE TEMP MACRO gw_ipv4_num(x) AS (
    CASE WHEN regexp_full_match(x, '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}')
    THEN CAST(281470681743360 AS UHUGEINT)
         + CAST(split_part(x, '.', 1) AS UHUGEINT) * 16777216
         + CAST(split_part(x, '.', 2) AS UHUGEINT) * 65536
         + CAST(split_part(x, '.', 3) AS UHUGEINT) * 256
         + CAST(split_part(x, '.', 4) AS UHUGEINT)
    END
);

-- gw_ip_text(text): strip port/brackets and IPv4-mapped IPv6 prefixes: '[::ffff:1.2.3.4]:443' -> '1.2.3.4'.
CREATE OR REPLACE TEMP MACRO gw_ip_text(x) AS (
    CASE
        WHEN x IS NULL OR x IN ('', '-') THEN NULL
        WHEN regexp_full_match(x, '\[([0-9A-Fa-f:.]+)\](:[0-9]+)?') THEN
            regexp_replace(regexp_extract(x, '\[([0-9A-Fa-f:.]+)\]', 1), '^::[fF]{4}:([0-9.]+)$', '\1')
        WHEN regexp_full_match(x, '[0-9.]+:[0-9]+') THEN split_part(x, ':', 1)
        WHEN regexp_full_match(x, '::[fF]{4}:[0-9.]+') THEN substr(x, 8)
        ELSE lower(x)
    END
);
