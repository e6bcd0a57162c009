"""Backups of a deployment (take.py), their signed manifest (manifest.py) and the restore
that proves itself (restore.py); operators' guide in docs/backup.md."""
