"""The lake's SQL, one source for every engine: the history tier's statements (`history`), agent activity's
(`activity`) and the named queries (`queries`, `activity`; all of them in `named`), in Trino's dialect as Athena engine v3 runs them. The stack (`infra/`) ships them to
Athena, the local lake (`local_athena/`) translates them to DuckDB, and the Trino suite (`tests/trino/`)
runs them on a real Trino: nothing else holds a copy of a statement."""
