-- pgcluster-bench's testdb-* migrations, file 10 of 10: tables t46 to t50
-- (50 tables in all, each with a primary key, a unique key, a foreign key to the table
-- before it, two more indexes and 20 rows: 1,000 rows). See ../README.md.

CREATE TABLE t46 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t45 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t46_parent_id ON t46 (parent_id);
CREATE INDEX t46_created_at ON t46 (created_at);
INSERT INTO t46 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't46-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;

CREATE TABLE t47 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t46 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t47_parent_id ON t47 (parent_id);
CREATE INDEX t47_created_at ON t47 (created_at);
INSERT INTO t47 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't47-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;

CREATE TABLE t48 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t47 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t48_parent_id ON t48 (parent_id);
CREATE INDEX t48_created_at ON t48 (created_at);
INSERT INTO t48 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't48-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;

CREATE TABLE t49 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t48 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t49_parent_id ON t49 (parent_id);
CREATE INDEX t49_created_at ON t49 (created_at);
INSERT INTO t49 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't49-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;

CREATE TABLE t50 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint NOT NULL REFERENCES t49 (id),
    code text NOT NULL UNIQUE,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    note text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t50_parent_id ON t50 (parent_id);
CREATE INDEX t50_created_at ON t50 (created_at);
INSERT INTO t50 (parent_id, code, amount, note)
    SELECT 1 + (g * 7) % 20, 't50-' || g, g * 1.25, md5(g::text) FROM generate_series(1, 20) AS g;
