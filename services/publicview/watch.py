"""publicview watching itself: its journal, its projection, its lag behind the owners."""

from __future__ import annotations

from kesah import broker, config, database, health
from kesah.alerts import Alerter
from kesah.watch import Watchdog


def publicview_watchdog(settings: config.Settings) -> Watchdog:
    engine = database.create_engine(settings.database_url("publicview"))
    return Watchdog(
        "publicview",
        engine,
        [],
        Alerter("publicview", settings.alert_webhook),
        settings.verify_interval,
        checks={"store": health.database_check(engine),
                "broker": broker.BrokerCheck(settings.amqp_uri, "publicview")},
    )
