-- pgcluster-bench's testdb-* migrations, file 5 of 10: tables t21 to t25
-- (50 tables in all, each with a primary key, a unique key, a foreign key to the table
-- before it, two more indexes and 20 rows: 1,000 rows). See ../README.md.

CREATE TABLE t21 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t20 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t21_parent_id ON t21 (parent_id);
CREATE INDEX t21_created_at ON t21 (created_at);
INSERT INTO t21 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't21-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;

CREATE TABLE t22 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t21 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t22_parent_id ON t22 (parent_id);
CREATE INDEX t22_created_at ON t22 (created_at);
INSERT INTO t22 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't22-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;

CREATE TABLE t23 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t22 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t23_parent_id ON t23 (parent_id);
CREATE INDEX t23_created_at ON t23 (created_at);
INSERT INTO t23 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't23-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;

CREATE TABLE t24 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t23 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t24_parent_id ON t24 (parent_id);
CREATE INDEX t24_created_at ON t24 (created_at);
INSERT INTO t24 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't24-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;

CREATE TABLE t25 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t24 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t25_parent_id ON t25 (parent_id);
CREATE INDEX t25_created_at ON t25 (created_at);
INSERT INTO t25 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't25-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;
