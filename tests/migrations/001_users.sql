-- Example migrations for pgcluster::testing's templates (README "Test databases", and
-- tests/template.rs). Applied in name order, each file as one simple query.
CREATE TABLE users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE
);
