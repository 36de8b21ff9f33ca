-- pgcluster-bench's testdb-* migrations, file 3 of 10: tables t11 to t15
-- (50 tables in all, each with a primary key, a unique key, a foreign key to the table
-- before it, two more indexes and 20 rows: 1,000 rows). See ../README.md.

CREATE TABLE t11 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t10 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t11_parent_id ON t11 (parent_id);
CREATE INDEX t11_created_at ON t11 (created_at);
INSERT INTO t11 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't11-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;

CREATE TABLE t12 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t11 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t12_parent_id ON t12 (parent_id);
CREATE INDEX t12_created_at ON t12 (created_at);
INSERT INTO t12 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't12-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;

CREATE TABLE t13 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t12 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t13_parent_id ON t13 (parent_id);
CREATE INDEX t13_created_at ON t13 (created_at);
INSERT INTO t13 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't13-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;

CREATE TABLE t14 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t13 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t14_parent_id ON t14 (parent_id);
CREATE INDEX t14_created_at ON t14 (created_at);
INSERT INTO t14 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't14-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;

CREATE TABLE t15 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t14 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t15_parent_id ON t15 (parent_id);
CREATE INDEX t15_created_at ON t15 (created_at);
INSERT INTO t15 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't15-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;
