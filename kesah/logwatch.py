"""An owning service watching its own log (used by its nameko worker)."""

from __future__ import annotations

from . import broker, config, database, health
from .alerts import Alerter
from .watch import Watchdog


def owner_watchdog(settings: config.Settings, service: str) -> Watchdog:
    engine = database.create_engine(settings.database_url(service))
    return Watchdog(
        service,
        engine,
        [],
        Alerter(service, settings.alert_webhook),
        settings.verify_interval,
        checks={"store": health.database_check(engine), "broker": broker.BrokerCheck(settings.amqp_uri, service)},
    )
