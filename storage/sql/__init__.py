"""The SQL implementation of the session store (SQLite and PostgreSQL)."""
