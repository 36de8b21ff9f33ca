-- pgcluster-bench's testdb-* migrations, file 4 of 10: tables t16 to t20
-- (50 tables in all, each with a primary key, a unique key, a foreign key to the table
-- before it, two more indexes and 20 rows: 1,000 rows). See ../README.md.

CREATE TABLE t16 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t15 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t16_parent_id ON t16 (parent_id);
CREATE INDEX t16_created_at ON t16 (created_at);
INSERT INTO t16 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't16-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;

CREATE TABLE t17 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t16 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t17_parent_id ON t17 (parent_id);
CREATE INDEX t17_created_at ON t17 (created_at);
INSERT INTO t17 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't17-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;

CREATE TABLE t18 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t17 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t18_parent_id ON t18 (parent_id);
CREATE INDEX t18_created_at ON t18 (created_at);
INSERT INTO t18 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't18-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;

CREATE TABLE t19 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t18 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t19_parent_id ON t19 (parent_id);
CREATE INDEX t19_created_at ON t19 (created_at);
INSERT INTO t19 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't19-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;

CREATE TABLE t20 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t19 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t20_parent_id ON t20 (parent_id);
CREATE INDEX t20_created_at ON t20 (created_at);
INSERT INTO t20 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't20-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;
