"""The one place that reads configuration.

Everything comes from environment variables with embedded defaults, so a
local install needs no configuration at all and a Kubernetes pod sets only
what differs. Every variable the project reads is listed in ``VARIABLES``;
the deployment consistency test checks manifests against that list.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from .ratelimit import Limit

OWNERS = ("intake", "routing", "responses")
SERVICES = OWNERS + ("publicview",)

# name -> (default, meaning). Defaults that depend on others are None here
# and derived in ``load``.
VARIABLES: dict[str, tuple[str | None, str]] = {
    "KESAH_DATA_DIR": ("var", "directory for SQLite files, keys and local state"),
    "KESAH_AMQP_URI": ("amqp://guest:guest@127.0.0.1:5672/%2F", "RabbitMQ URL; several separated by ';' (one per "
                       "node of a cluster): every connection fails over to the next"),
    "KESAH_INTAKE_DB_URL": (None, "intake's database (default: SQLite file in the data dir)"),
    "KESAH_ROUTING_DB_URL": (None, "routing's database"),
    "KESAH_RESPONSES_DB_URL": (None, "responses' database"),
    "KESAH_PUBLICVIEW_DB_URL": (None, "publicview's database"),
    "KESAH_DB_ADMIN_URL": (None, "PostgreSQL admin URL for 'kesah db init-roles' and 'kesah migrate' (never given to services)"),
    "KESAH_KEYS_DIR": (None, "directory of signing keys (default: <data dir>/keys)"),
    "KESAH_INTAKE_SIGNING_KEY": (None, "intake's Ed25519 private key, base64 (overrides the keys dir)"),
    "KESAH_ROUTING_SIGNING_KEY": (None, "routing's Ed25519 private key, base64"),
    "KESAH_RESPONSES_SIGNING_KEY": (None, "responses' Ed25519 private key, base64"),
    "KESAH_CONTACT_KEY": (None, "key-encryption key for reporters' contact data, base64 (default: a file in the keys dir)"),
    "KESAH_CONTACT_VAULT_DB_URL": (None, "database of the per-complaint contact keys, kept apart from intake's "
                                   "(default: SQLite file in the keys dir)"),
    "KESAH_PHOTO_MAX_BYTES": ("5242880", "largest photo a reporter may attach, in bytes"),
    "KESAH_HTTP_HOST": ("127.0.0.1", "address the HTTP faces listen on"),
    "KESAH_HTTP_PORT": ("8000", "port the HTTP faces listen on"),
    "KESAH_TRUSTED_PROXIES": ("127.0.0.1,::1", "addresses or networks (CIDR) of the reverse proxies whose "
                              "X-Forwarded-For names the client; * trusts any (only behind a NetworkPolicy)"),
    "KESAH_SUBMIT_LIMIT": ("30/3600", "complaints one client address may submit through the form and the public "
                           "API, as COUNT/SECONDS per intake replica; off for no limit"),
    "KESAH_INTAKE_URL": (None, "where other faces reach intake's HTTP face (default: http://127.0.0.1:<http port>)"),
    "KESAH_RELAY_BATCH": ("500", "events the outbox relay publishes per confirm round"),
    "KESAH_RELAY_IDLE_SECONDS": ("0.05", "how long the relay sleeps when the outbox is empty"),
    "KESAH_RELAY_RETRY_MAX_SECONDS": ("30", "longest wait of the relay before trying a failing store again "
                                      "(the wait doubles from 0.5 s up to this; the broker's up to 5 s)"),
    "KESAH_DISK_MIN_FREE_MB": ("64", "free space (MB) under a SQLite store below which its disk counts as full: "
                               "the owning process is unready and alerts"),
    "KESAH_MAX_WORKERS": ("10", "concurrent handlers per nameko service"),
    "KESAH_DELIVERY_LIMIT": ("10", "deliveries of one message before it is dead-lettered"),
    "KESAH_LOG_LEVEL": ("INFO", "log level"),
    "KESAH_HEALTH_PORT": ("8081", "port of the /healthz, /readyz, /metrics server of a worker or the relay"),
    "KESAH_VERIFY_INTERVAL": ("60", "seconds between a running service's checks of its own log"),
    "KESAH_CHECKPOINT_INTERVAL": ("3600", "seconds between the signed checkpoints an owner adds to its log"),
    "KESAH_ALERT_WEBHOOK": (None, "URL that receives alerts as JSON POSTs (besides the ERROR log line)"),
    "KESAH_PAGE_CACHE": ("on", "publicview answers its most read pages from memory while its SQLite projection is "
                         "unchanged (on/off; never on PostgreSQL)"),
    "KESAH_SELF_HEAL": ("on", "publicview repairs its projection and journal by itself (on/off)"),
    "KESAH_LAG_ALERT_EVENTS": ("1000", "projection lag (events) that counts as high"),
    "KESAH_LAG_ALERT_SECONDS": ("300", "how long lag may stay high before publicview is unready and alerts"),
    "KESAH_META_APP_SECRET": (None, "Meta app secret: checks X-Hub-Signature-256 of Facebook/Instagram/WhatsApp webhooks"),
    "KESAH_META_VERIFY_TOKEN": (None, "token Meta sends as hub.verify_token when the webhook is subscribed"),
    "KESAH_CHANNEL_SECRETS": (None, "secrets of the generic signed webhook: name=secret pairs, comma separated"),
    "KESAH_WEBHOOK_TOLERANCE_SECONDS": ("300", "how far a signed webhook's sent_at may be from now"),
    "KESAH_HOLIDAYS": ("", "public holidays that do not count as working days for due dates: ISO dates, comma-separated"),
    "KESAH_DEADLINE_CHECK_SECONDS": ("300", "how often routing looks for complaints past their due date"),
    "KESAH_SESSION_KEY": (None, "key that signs the agency portal's session cookies (default: a file in the keys dir)"),
    "KESAH_SECURE_COOKIES": ("off", "on: portal cookies only over HTTPS (set it behind TLS)"),
}

# Channels that are not the generic webhook's to name: the site's form and Meta's three.
RESERVED_CHANNELS = ("web", "facebook", "instagram", "whatsapp")
CHANNEL_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,29}$")


def _env(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    if value is None or value == "":
        return VARIABLES[name][0]
    return value


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    amqp_uri: str
    database_urls: dict[str, str]
    keys_dir: Path
    signing_keys: dict[str, str] = field(default_factory=dict)
    contact_key: str | None = None
    contact_vault_url: str = ""
    photo_max_bytes: int = 5 * 1024 * 1024
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    trusted_proxies: str = "127.0.0.1,::1"
    submit_limit: Limit | None = Limit(30, 3600.0)
    intake_url: str = "http://127.0.0.1:8000"
    relay_batch: int = 500
    relay_idle_seconds: float = 0.05
    relay_retry_max_seconds: float = 30.0
    disk_min_free_mb: int = 64
    max_workers: int = 10
    delivery_limit: int = 5
    log_level: str = "INFO"
    health_port: int = 8081
    verify_interval: float = 60.0
    checkpoint_interval: float = 3600.0
    alert_webhook: str | None = None
    self_heal: bool = True
    page_cache: bool = True
    lag_alert_events: int = 1000
    lag_alert_seconds: float = 300.0
    meta_app_secret: str | None = None
    meta_verify_token: str | None = None
    channel_secrets: dict[str, str] = field(default_factory=dict)
    webhook_tolerance_seconds: float = 300.0
    db_admin_url: str | None = None
    holidays: frozenset[dt.date] = frozenset()
    deadline_check_seconds: float = 300.0
    session_key: str | None = None
    secure_cookies: bool = False

    def database_url(self, service: str) -> str:
        if service == "contactvault":
            return self.contact_vault_url
        return self.database_urls[service]

    @property
    def disk_min_free_bytes(self) -> int:
        return self.disk_min_free_mb * 1024 * 1024

    def nameko_config(self) -> dict:
        return {
            "AMQP_URI": _rotated(self.amqp_uri),
            "max_workers": self.max_workers,
            "serializer": "json",
            "DELIVERY_LIMIT": self.delivery_limit,
        }


def _rotated(amqp_uri: str) -> str:
    """The broker's nodes from a random one: kombu tries them in order, so without this every
    nameko process would sit on the first node (pika's connections rotate in kesah.broker.connect)."""
    import random

    uris = amqp_uri.split(";")
    start = random.randrange(len(uris))
    return ";".join(uris[start:] + uris[:start])


class ConfigError(ValueError):
    """A configuration value is unusable; the message says which and why."""


def _int(env: Mapping[str, str], name: str) -> int:
    raw = _env(env, name)
    try:
        return int(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None


def _float(env: Mapping[str, str], name: str) -> float:
    raw = _env(env, name)
    try:
        return float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None


def _switch(env: Mapping[str, str], name: str) -> bool:
    raw = (_env(env, name) or "").strip().lower()
    if raw in ("on", "true", "yes", "1"):
        return True
    if raw in ("off", "false", "no", "0"):
        return False
    raise ConfigError(f"{name} must be on or off, got {raw!r}")
def _at_least(value, least, name):  # type: ignore[no-untyped-def]
    if value < least:
        raise ConfigError(f"{name} must be at least {least}, got {value}")
    return value


def _amqp_uri(env: Mapping[str, str]) -> str:
    """One URL, or one per node of a cluster separated by ';' (kombu's failover syntax, which nameko takes as is)."""
    raw = _env(env, "KESAH_AMQP_URI") or ""
    uris = [part.strip() for part in raw.split(";") if part.strip()]
    if not uris or not all(uri.startswith(("amqp://", "amqps://")) for uri in uris):
        raise ConfigError("KESAH_AMQP_URI must be an amqp:// URL, or several separated by ';'")
    return ";".join(uris)


def _limit(env: Mapping[str, str], name: str) -> Limit | None:
    try:
        return Limit.parse(_env(env, name) or "")
    except ValueError as exc:
        raise ConfigError(f"{name} {exc}") from None


def _dates(env: Mapping[str, str], name: str) -> frozenset[dt.date]:
    raw = _env(env, name) or ""
    days = set()
    for part in raw.replace(";", ",").split(","):
        if part.strip():
            try:
                days.add(dt.date.fromisoformat(part.strip()))
            except ValueError:
                raise ConfigError(f"{name} must list dates as YYYY-MM-DD, comma-separated; got {part.strip()!r}") from None
    return frozenset(days)


def _channel_secrets(env: Mapping[str, str]) -> dict[str, str]:
    raw = _env(env, "KESAH_CHANNEL_SECRETS") or ""
    secrets: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in raw.split(","))):
        name, sep, secret = pair.partition("=")
        name, secret = name.strip(), secret.strip()
        if not sep or not secret or not CHANNEL_NAME_RE.match(name):
            raise ConfigError("KESAH_CHANNEL_SECRETS must be name=secret pairs separated by commas "
                              "(names: lower case letters, digits, '-')")
        if name in RESERVED_CHANNELS:
            raise ConfigError(f"KESAH_CHANNEL_SECRETS: channel {name!r} is reserved; Meta's channels use "
                              "KESAH_META_APP_SECRET")
        secrets[name] = secret
    return secrets


def load(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    data_dir = Path(_env(env, "KESAH_DATA_DIR") or "var").resolve()
    urls = {}
    for service in SERVICES:
        name = f"KESAH_{service.upper()}_DB_URL"
        urls[service] = _env(env, name) or f"sqlite:///{data_dir / (service + '.db')}"
    keys_dir = Path(_env(env, "KESAH_KEYS_DIR") or data_dir / "keys")
    signing_keys = {}
    for service in OWNERS:
        value = _env(env, f"KESAH_{service.upper()}_SIGNING_KEY")
        if value:
            signing_keys[service] = value
    return Settings(
        data_dir=data_dir,
        amqp_uri=_amqp_uri(env),
        database_urls=urls,
        keys_dir=keys_dir,
        signing_keys=signing_keys,
        contact_key=_env(env, "KESAH_CONTACT_KEY"),
        contact_vault_url=_env(env, "KESAH_CONTACT_VAULT_DB_URL") or f"sqlite:///{keys_dir / 'contact-vault.db'}",
        photo_max_bytes=_int(env, "KESAH_PHOTO_MAX_BYTES"),
        http_host=_env(env, "KESAH_HTTP_HOST") or "127.0.0.1",
        http_port=_int(env, "KESAH_HTTP_PORT"),
        trusted_proxies=_env(env, "KESAH_TRUSTED_PROXIES") or "127.0.0.1,::1",
        submit_limit=_limit(env, "KESAH_SUBMIT_LIMIT"),
        intake_url=_env(env, "KESAH_INTAKE_URL") or f"http://127.0.0.1:{_int(env, 'KESAH_HTTP_PORT')}",
        relay_batch=_int(env, "KESAH_RELAY_BATCH"),
        relay_idle_seconds=_float(env, "KESAH_RELAY_IDLE_SECONDS"),
        relay_retry_max_seconds=_at_least(_float(env, "KESAH_RELAY_RETRY_MAX_SECONDS"), 0.5,
                                          "KESAH_RELAY_RETRY_MAX_SECONDS"),
        disk_min_free_mb=_at_least(_int(env, "KESAH_DISK_MIN_FREE_MB"), 0, "KESAH_DISK_MIN_FREE_MB"),
        max_workers=_int(env, "KESAH_MAX_WORKERS"),
        delivery_limit=_int(env, "KESAH_DELIVERY_LIMIT"),
        log_level=(_env(env, "KESAH_LOG_LEVEL") or "INFO").upper(),
        health_port=_int(env, "KESAH_HEALTH_PORT"),
        verify_interval=_float(env, "KESAH_VERIFY_INTERVAL"),
        checkpoint_interval=_float(env, "KESAH_CHECKPOINT_INTERVAL"),
        alert_webhook=_env(env, "KESAH_ALERT_WEBHOOK"),
        self_heal=_switch(env, "KESAH_SELF_HEAL"),
        page_cache=_switch(env, "KESAH_PAGE_CACHE"),
        lag_alert_events=_int(env, "KESAH_LAG_ALERT_EVENTS"),
        lag_alert_seconds=_float(env, "KESAH_LAG_ALERT_SECONDS"),
        meta_app_secret=_env(env, "KESAH_META_APP_SECRET"),
        meta_verify_token=_env(env, "KESAH_META_VERIFY_TOKEN"),
        channel_secrets=_channel_secrets(env),
        webhook_tolerance_seconds=_float(env, "KESAH_WEBHOOK_TOLERANCE_SECONDS"),
        db_admin_url=_env(env, "KESAH_DB_ADMIN_URL"),
        holidays=_dates(env, "KESAH_HOLIDAYS"),
        deadline_check_seconds=_float(env, "KESAH_DEADLINE_CHECK_SECONDS"),
        session_key=_env(env, "KESAH_SESSION_KEY"),
        secure_cookies=_switch(env, "KESAH_SECURE_COOKIES"),
    )
