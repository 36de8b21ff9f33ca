-- pgcluster-bench's testdb-* migrations, file 2 of 10: tables t06 to t10
-- (50 tables in all, each with a primary key, a unique key, a foreign key to the table
-- before it, two more indexes and 20 rows: 1,000 rows). See ../README.md.

CREATE TABLE t06 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t05 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t06_parent_id ON t06 (parent_id);
CREATE INDEX t06_created_at ON t06 (created_at);
INSERT INTO t06 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't06-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;

CREATE TABLE t07 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t06 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t07_parent_id ON t07 (parent_id);
CREATE INDEX t07_created_at ON t07 (created_at);
INSERT INTO t07 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't07-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;

CREATE TABLE t08 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t07 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t08_parent_id ON t08 (parent_id);
CREATE INDEX t08_created_at ON t08 (created_at);
INSERT INTO t08 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't08-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;

CREATE TABLE t09 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t08 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t09_parent_id ON t09 (parent_id);
CREATE INDEX t09_created_at ON t09 (created_at);
INSERT INTO t09 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't09-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;

CREATE TABLE t10 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t09 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t10_parent_id ON t10 (parent_id);
CREATE INDEX t10_created_at ON t10 (created_at);
INSERT INTO t10 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't10-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;
