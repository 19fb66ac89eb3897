"""The machine's real RabbitMQ and PostgreSQL, carved up per test."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from urllib.parse import quote

RABBIT_HOST = os.environ.get("KESAH_TEST_RABBIT_HOST", "127.0.0.1")
RABBIT_HTTP = os.environ.get("KESAH_TEST_RABBIT_HTTP", f"http://{RABBIT_HOST}:15672")
PG_SERVER = os.environ.get("KESAH_TEST_PG", "postgresql://postgres@127.0.0.1:5432")


def management(method: str, path: str, body: dict | None = None) -> object:
    request = urllib.request.Request(
        RABBIT_HTTP + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={
            "authorization": "Basic " + base64.b64encode(b"guest:guest").decode(),
            "content-type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read()
    return json.loads(text) if text else None


def create_vhost() -> str:
    name = f"kesah-test-{uuid.uuid4().hex[:10]}"
    management("PUT", f"/api/vhosts/{quote(name, safe='')}")
    management(
        "PUT",
        f"/api/permissions/{quote(name, safe='')}/guest",
        {"configure": ".*", "write": ".*", "read": ".*"},
    )
    return name


def delete_vhost(name: str) -> None:
    try:
        management("DELETE", f"/api/vhosts/{quote(name, safe='')}")
    except urllib.error.URLError:
        pass  # the broker may be down after a fault test; its vhost goes with the next clean-up


def amqp_uri(vhost: str) -> str:
    return f"amqp://guest:guest@{RABBIT_HOST}:5672/{quote(vhost, safe='')}"


def queue_info(vhost: str, queue: str) -> dict:
    return management("GET", f"/api/queues/{quote(vhost, safe='')}/{quote(queue, safe='')}")  # type: ignore[return-value]


def pg_url(database: str) -> str:
    return f"{PG_SERVER}/{database}"


def _pg_admin(sql: str) -> None:
    import psycopg2

    conn = psycopg2.connect(f"{PG_SERVER}/postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql)
    finally:
        conn.close()


def create_pg_database(name: str) -> None:
    _pg_admin(f'CREATE DATABASE "{name}"')


def drop_pg_database(name: str) -> None:
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=120)


def wait_for_broker(timeout: float = 60.0) -> None:
    import pika

    deadline = time.monotonic() + timeout
    while True:
        try:
            pika.BlockingConnection(pika.URLParameters(f"amqp://guest:guest@{RABBIT_HOST}:5672/%2F")).close()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def ready_messages(amqp_uri: str, queue: str) -> int:
    """Messages waiting in a queue (not those a consumer holds), straight from the broker."""
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    try:
        return connection.channel().queue_declare(queue, passive=True).method.message_count
    finally:
        connection.close()
