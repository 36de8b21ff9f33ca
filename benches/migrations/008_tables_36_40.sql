-- pgcluster-bench's testdb-* migrations, file 8 of 10: tables t36 to t40
-- (50 tables in all, each with a primary key, a unique key, a foreign key to the table
-- before it, two more indexes and 20 rows: 1,000 rows). See ../README.md.

CREATE TABLE t36 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t35 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t36_parent_id ON t36 (parent_id);
CREATE INDEX t36_created_at ON t36 (created_at);
INSERT INTO t36 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't36-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;

CREATE TABLE t37 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t36 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t37_parent_id ON t37 (parent_id);
CREATE INDEX t37_created_at ON t37 (created_at);
INSERT INTO t37 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't37-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;

CREATE TABLE t38 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t37 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t38_parent_id ON t38 (parent_id);
CREATE INDEX t38_created_at ON t38 (created_at);
INSERT INTO t38 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't38-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;

CREATE TABLE t39 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t38 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t39_parent_id ON t39 (parent_id);
CREATE INDEX t39_created_at ON t39 (created_at);
INSERT INTO t39 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't39-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;

CREATE TABLE t40 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t39 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t40_parent_id ON t40 (parent_id);
CREATE INDEX t40_created_at ON t40 (created_at);
INSERT INTO t40 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't40-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;
