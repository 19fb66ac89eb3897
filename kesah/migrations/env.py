"""Alembic's environment for every component: kesah.schema hands it the connection.

Run through ``kesah migrate`` / ``kesah db revision`` (kesah/schema.py), not
the ``alembic`` command: the connection, the component's tables and its
version table come in ``config.attributes``.
"""

from alembic import context

from kesah.schema import include_name

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through 'kesah migrate', which provides the connection")

context.configure(
    connection=connection,
    target_metadata=config.attributes["target_metadata"],
    version_table=config.attributes["version_table"],
    # SQLite alters a table by copying it; batch mode writes that for us.
    render_as_batch=True,
    compare_type=True,
    include_name=include_name(config.attributes["target_metadata"]),
)
with context.begin_transaction():
    context.run_migrations()
