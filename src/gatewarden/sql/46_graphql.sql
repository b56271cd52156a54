-- Shape of each distinct GraphQL document seen (content-addressed: md5 of the text), computed once
-- by the graphql detector with graphql-core, fragments expanded. parse_error is NULL when it parsed.
CREATE TABLE IF NOT EXISTS graphql_docs (
    doc_hash      VARCHAR PRIMARY KEY,
    depth         INTEGER,
    fields        BIGINT,
    aliases       BIGINT,
    fragments     INTEGER,
    spreads       INTEGER,
    introspection BOOLEAN,
    parse_error   VARCHAR,
    bytes         INTEGER,
    first_seen    TIMESTAMP
);

-- Per analysis window and metric (depth, fields, aliases): the request-weighted distribution and
-- the limit gatewarden recommends configuring in the GraphQL server or gateway, with its basis.
CREATE TABLE IF NOT EXISTS graphql_stats (
    window_start    TIMESTAMP NOT NULL,
    window_end      TIMESTAMP NOT NULL,
    metric          VARCHAR NOT NULL,
    requests        BIGINT,     -- GraphQL requests in the window
    documents       BIGINT,     -- distinct documents among them
    unparseable     BIGINT,     -- requests whose document did not parse (syntax error, fragment cycle)
    p50             DOUBLE,
    p75             DOUBLE,
    p95             DOUBLE,
    p99             DOUBLE,
    recommended_max INTEGER,
    basis           VARCHAR     -- how recommended_max was derived, in words
);
