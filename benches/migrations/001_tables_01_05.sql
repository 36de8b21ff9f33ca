-- pgcluster-bench's testdb-* migrations, file 1 of 10: tables t01 to t05
-- (50 tables in all, each with a primary key, a unique key, a foreign key to the table
-- before it, two more indexes and 20 rows: 1,000 rows). See ../README.md.

CREATE TABLE t01 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t01_amount ON t01 (amount);
CREATE INDEX t01_created_at ON t01 (created_at);
INSERT INTO t01 (code, amount, note)
    SELECT 't01-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;

CREATE TABLE t02 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t01 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t02_parent_id ON t02 (parent_id);
CREATE INDEX t02_created_at ON t02 (created_at);
INSERT INTO t02 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't02-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;

CREATE TABLE t03 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t02 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t03_parent_id ON t03 (parent_id);
CREATE INDEX t03_created_at ON t03 (created_at);
INSERT INTO t03 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't03-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;

CREATE TABLE t04 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t03 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t04_parent_id ON t04 (parent_id);
CREATE INDEX t04_created_at ON t04 (created_at);
INSERT INTO t04 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't04-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;

CREATE TABLE t05 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t04 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t05_parent_id ON t05 (parent_id);
CREATE INDEX t05_created_at ON t05 (created_at);
INSERT INTO t05 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't05-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;
