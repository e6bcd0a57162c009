"""Service tests: database, migrations, HTTP API (on SQLite and PostgreSQL)."""
