"""Production rehearsal: drills that break real infrastructure under load.

Each drill starts the system against infrastructure of its own (a RabbitMQ
cluster, a PostgreSQL primary with a replica, the service image), puts a
steady load of complaints on it, breaks one thing the way production breaks,
lets the system recover and then counts: complaints accepted, visible on the
public site, lost, duplicated, and how long submissions stalled.
``python -m rehearsal`` (``make rehearsal``) runs them and prints the table;
``--small`` is the size CI runs. docs/runbook.md explains each drill.
"""
