"""Persistence of the service: SQLAlchemy 2 models, engine/session setup, Alembic migrations."""
