"""Settings, API-key hashing and the blinding secret."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from notary.crypto import sm3
from transfer.security import (
    KEY_PREFIX,
    blind_cadre_id,
    blinding_secret,
    generate_api_key,
    hash_api_key,
)
from transfer.settings import Settings


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NOTARY_HOME", str(tmp_path))
    monkeypatch.setenv("NOTARY_CHECKPOINT_INTERVAL_S", "0.5")
    monkeypatch.setenv("NOTARY_CHAIN", "http://127.0.0.1:8545")
    s = Settings()
    assert s.home == tmp_path and s.checkpoint_interval_s == 0.5
    assert s.chain == "http://127.0.0.1:8545" and s.store == "local"
    assert s.database_url_resolved == f"sqlite:///{(tmp_path / 'notary.db').resolve()}"
    assert (s.host, s.port) == ("127.0.0.1", 8000)
    assert s.upload_max_bytes == 512 * 2**20
    assert "application/ofd" in s.accepted_media_types
    assert (
        s.transfer_sender_deadline_days,
        s.transfer_receiver_audit_days,
        s.transfer_overdue_days,
    ) == (60, 60, 30)


def test_plain_postgres_urls_use_psycopg3() -> None:
    s = Settings(database_url="postgresql://u@h/db")
    assert s.database_url_resolved == "postgresql+psycopg://u@h/db"
    assert not s.is_sqlite


@pytest.mark.parametrize(
    "override", [{"chain": "ganache"}, {"store": "ipfs"}, {"checkpoint_interval_s": 0}]
)
def test_bad_settings_are_refused(override: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Settings(**override)  # type: ignore[arg-type]


def test_api_keys_are_random_and_stored_as_sm3() -> None:
    a, b = generate_api_key(), generate_api_key()
    assert a != b and a.startswith(KEY_PREFIX) and len(a) >= 40
    assert hash_api_key(a) == sm3(a.encode())


def test_blinding_secret_file_is_created_once_and_private(tmp_path: Path) -> None:
    s = Settings(home=tmp_path)
    with pytest.raises(FileNotFoundError):
        blinding_secret(s)
    first = blinding_secret(s, create=True)
    assert blinding_secret(s) == first == blinding_secret(s, create=True)
    mode = (tmp_path / "secrets" / "blinding.key").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600


def test_blinded_ids_depend_on_the_secret() -> None:
    one, two = b"1" * 32, b"2" * 32
    assert blind_cadre_id(one, "110105194912310020") != blind_cadre_id(two, "110105194912310020")
    assert len(blind_cadre_id(one, "x")) == 64
    with pytest.raises(ValueError):
        blind_cadre_id(one, "   ")
