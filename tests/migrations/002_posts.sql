CREATE TABLE posts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    author bigint NOT NULL REFERENCES users (id),
    title text NOT NULL
);
CREATE INDEX posts_author ON posts (author);
