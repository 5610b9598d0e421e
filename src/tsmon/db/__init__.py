"""Database access: connection URL resolution, the embedded cluster, migrations, capabilities."""
