-- pgcluster-bench's testdb-* migrations, file 6 of 10: tables t26 to t30
-- (50 tables in all, each with a primary key, a unique key, a foreign key to the table
-- before it, two more indexes and 20 rows: 1,000 rows). See ../README.md.

CREATE TABLE t26 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t25 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t26_parent_id ON t26 (parent_id);
CREATE INDEX t26_created_at ON t26 (created_at);
INSERT INTO t26 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't26-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;

CREATE TABLE t27 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t26 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t27_parent_id ON t27 (parent_id);
CREATE INDEX t27_created_at ON t27 (created_at);
INSERT INTO t27 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't27-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;

CREATE TABLE t28 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t27 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t28_parent_id ON t28 (parent_id);
CREATE INDEX t28_created_at ON t28 (created_at);
INSERT INTO t28 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't28-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;

CREATE TABLE t29 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t28 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t29_parent_id ON t29 (parent_id);
CREATE INDEX t29_created_at ON t29 (created_at);
INSERT INTO t29 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't29-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;

CREATE TABLE t30 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t29 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t30_parent_id ON t30 (parent_id);
CREATE INDEX t30_created_at ON t30 (created_at);
INSERT INTO t30 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't30-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;
