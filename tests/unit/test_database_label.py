"""How messages and metrics name a database, including a multi-host URL (a failover pair)."""

from __future__ import annotations

from kesah.database import label


def test_a_multi_host_url_names_every_host() -> None:
    url = "postgresql://app@/kesah_intake?host=10.0.0.1:5432&host=10.0.0.2:5433&target_session_attrs=read-write"
    assert label(url) == "postgresql 10.0.0.1:5432,10.0.0.2:5433/kesah_intake"


def test_a_single_host_url_names_its_host_and_never_its_password() -> None:
    assert label("postgresql://app:secret@kesah-postgres-rw:5432/kesah_intake") == \
        "postgresql kesah-postgres-rw/kesah_intake"
