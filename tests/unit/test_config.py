from __future__ import annotations

from pathlib import Path

import pytest

from kesah import config


def test_defaults_need_no_environment(tmp_path: Path) -> None:
    settings = config.load({"KESAH_DATA_DIR": str(tmp_path)})
    assert settings.database_url("intake") == f"sqlite:///{tmp_path / 'intake.db'}"
    assert settings.keys_dir == tmp_path / "keys"
    assert settings.http_port == 8000
    assert settings.amqp_uri.startswith("amqp://")


def test_urls_and_numbers_come_from_the_environment(tmp_path: Path) -> None:
    settings = config.load({
        "KESAH_DATA_DIR": str(tmp_path),
        "KESAH_PUBLICVIEW_DB_URL": "postgresql://pv@db/publicview",
        "KESAH_HTTP_PORT": "9000",
        "KESAH_RELAY_BATCH": "50",
    })
    assert settings.database_url("publicview") == "postgresql://pv@db/publicview"
    assert settings.http_port == 9000 and settings.relay_batch == 50


def test_a_bad_number_names_the_variable() -> None:
    with pytest.raises(config.ConfigError, match="KESAH_HTTP_PORT must be a whole number"):
        config.load({"KESAH_HTTP_PORT": "eighty"})


def test_self_watch_settings_have_defaults_and_switches(tmp_path: Path) -> None:
    settings = config.load({"KESAH_DATA_DIR": str(tmp_path)})
    assert settings.health_port == 8081 and settings.verify_interval == 60 and settings.self_heal
    assert settings.alert_webhook is None
    settings = config.load({"KESAH_SELF_HEAL": "off", "KESAH_VERIFY_INTERVAL": "0.5",
                            "KESAH_ALERT_WEBHOOK": "http://127.0.0.1:9/alerts"})
    assert not settings.self_heal and settings.verify_interval == 0.5
    assert settings.alert_webhook == "http://127.0.0.1:9/alerts"
    with pytest.raises(config.ConfigError, match="KESAH_SELF_HEAL must be on or off"):
        config.load({"KESAH_SELF_HEAL": "maybe"})


def test_the_submission_limit_defaults_to_thirty_an_hour_and_can_be_switched_off(tmp_path: Path) -> None:
    from kesah.ratelimit import Limit

    assert config.load({"KESAH_DATA_DIR": str(tmp_path)}).submit_limit == Limit(30, 3600.0)
    assert config.load({"KESAH_SUBMIT_LIMIT": "off"}).submit_limit is None
    with pytest.raises(config.ConfigError, match="KESAH_SUBMIT_LIMIT must be COUNT/SECONDS"):
        config.load({"KESAH_SUBMIT_LIMIT": "lots"})


def test_the_broker_may_be_several_nodes_of_a_cluster() -> None:
    settings = config.load({"KESAH_AMQP_URI": " amqp://u:p@10.0.0.1:5672/%2F ; amqp://u:p@10.0.0.2:5672/%2F;"})
    # kombu's failover syntax, which nameko is given as it is
    assert settings.amqp_uri == "amqp://u:p@10.0.0.1:5672/%2F;amqp://u:p@10.0.0.2:5672/%2F"
    # each process starts from a random node, so the services spread over the cluster
    rotations = {settings.nameko_config()["AMQP_URI"] for _ in range(50)}
    assert rotations == {"amqp://u:p@10.0.0.1:5672/%2F;amqp://u:p@10.0.0.2:5672/%2F",
                         "amqp://u:p@10.0.0.2:5672/%2F;amqp://u:p@10.0.0.1:5672/%2F"}


@pytest.mark.parametrize("value", ["rabbitmq:5672", "amqp://a:5672;http://b", ";"])
def test_a_broker_url_that_is_not_amqp_is_refused(value: str) -> None:
    with pytest.raises(config.ConfigError, match="KESAH_AMQP_URI must be an amqp:// URL"):
        config.load({"KESAH_AMQP_URI": value})
