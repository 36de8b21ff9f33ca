-- pgcluster-bench's testdb-* migrations, file 9 of 10: tables t41 to t45
-- (50 tables in all, each with a primary key, a unique key, a foreign key to the table
-- before it, two more indexes and 20 rows: 1,000 rows). See ../README.md.

CREATE TABLE t41 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t40 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t41_parent_id ON t41 (parent_id);
CREATE INDEX t41_created_at ON t41 (created_at);
INSERT INTO t41 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't41-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;

CREATE TABLE t42 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t41 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t42_parent_id ON t42 (parent_id);
CREATE INDEX t42_created_at ON t42 (created_at);
INSERT INTO t42 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't42-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;

CREATE TABLE t43 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t42 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t43_parent_id ON t43 (parent_id);
CREATE INDEX t43_created_at ON t43 (created_at);
INSERT INTO t43 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't43-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;

CREATE TABLE t44 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t43 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t44_parent_id ON t44 (parent_id);
CREATE INDEX t44_created_at ON t44 (created_at);
INSERT INTO t44 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't44-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;

CREATE TABLE t45 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t44 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t45_parent_id ON t45 (parent_id);
CREATE INDEX t45_created_at ON t45 (created_at);
INSERT INTO t45 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't45-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;
