"""The store: what has been imported, pseudonymised, in SQLite by default or any SQLAlchemy URL."""

from flowcap.store.repository import ImportReport, Store, database_url, default_database_url

__all__ = ["ImportReport", "Store", "database_url", "default_database_url"]
