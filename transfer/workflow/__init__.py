"""The transfer (转递) workflow as a library: documents, package, signed acts, verification,
state machine. No web framework and no database: the service (``transfer.api``) calls
these functions and persists what they return. Formats: ``docs/transfer-format.md``."""
