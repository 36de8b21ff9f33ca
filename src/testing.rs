//! Throwaway PostgreSQL servers for tests and demos (feature `testing`).
