"""The local lake: the stack's Athena SQL (tables, compaction, view, named queries) run by DuckDB over a
directory laid out like the bucket. `python -m local_athena compact|query`."""
