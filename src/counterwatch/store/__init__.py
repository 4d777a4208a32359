"""Case state: SQLAlchemy models, the database behind a URL, migrations and the audit log."""
