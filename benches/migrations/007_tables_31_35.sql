-- pgcluster-bench's testdb-* migrations, file 7 of 10: tables t31 to t35
-- (50 tables in all, each with a primary key, a unique key, a foreign key to the table
-- before it, two more indexes and 20 rows: 1,000 rows). See ../README.md.

CREATE TABLE t31 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t30 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t31_parent_id ON t31 (parent_id);
CREATE INDEX t31_created_at ON t31 (created_at);
INSERT INTO t31 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't31-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;

CREATE TABLE t32 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t31 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t32_parent_id ON t32 (parent_id);
CREATE INDEX t32_created_at ON t32 (created_at);
INSERT INTO t32 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't32-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;

CREATE TABLE t33 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t32 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t33_parent_id ON t33 (parent_id);
CREATE INDEX t33_created_at ON t33 (created_at);
INSERT INTO t33 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't33-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;

CREATE TABLE t34 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t33 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t34_parent_id ON t34 (parent_id);
CREATE INDEX t34_created_at ON t34 (created_at);
INSERT INTO t34 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't34-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;

CREATE TABLE t35 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t34 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t35_parent_id ON t35 (parent_id);
CREATE INDEX t35_created_at ON t35 (created_at);
INSERT INTO t35 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't35-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;
