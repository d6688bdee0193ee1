"""The `relhealth` command line: serve, demo, projects, tokens, import, cleanup,
migrate, export-schema and persisted-queries."""
