"""Alembic environment of the service database (a package so that it ships installed)."""
