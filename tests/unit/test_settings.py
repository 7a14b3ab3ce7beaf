from __future__ import annotations

import pytest
from pydantic import ValidationError

from farmacy.settings import LOCAL_JWT_SECRET, Settings


def test_local_mode_accepts_the_local_placeholder_secrets() -> None:
    assert Settings(mode="local").jwt_secret.get_secret_value() == LOCAL_JWT_SECRET


def test_production_refuses_placeholder_jwt_secret() -> None:
    with pytest.raises(ValidationError, match="FARMACY_JWT_SECRET"):
        Settings(mode="production", pg_password="a-real-database-password")


def test_production_refuses_placeholder_database_password() -> None:
    with pytest.raises(ValidationError, match="FARMACY_PG_PASSWORD"):
        Settings(mode="production", jwt_secret="x" * 40)


def test_production_accepts_real_secrets() -> None:
    s = Settings(mode="production", jwt_secret="x" * 40, pg_password="a-real-database-password")
    assert s.mode == "production"


def test_kafka_cluster_ids_never_start_with_a_dash() -> None:
    from stack.render import kafka_cluster_id

    ids = [kafka_cluster_id() for _ in range(2000)]  # ~1 in 64 raw ids would start with '-'
    assert not any(i.startswith("-") for i in ids)
    assert all(len(i) == 22 for i in ids)
