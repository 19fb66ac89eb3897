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
