"""The Postgres warehouse: connection (embedded or configured), migrations, loader."""
