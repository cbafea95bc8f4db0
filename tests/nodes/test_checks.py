"""A mistyped node setting is a configuration error, not a silent default."""

from __future__ import annotations

from apps.nodes.checks import check_node_settings


def test_the_settings_as_shipped_pass() -> None:
    assert check_node_settings() == []


def test_an_unknown_role_is_an_error(settings) -> None:
    settings.NODE_ROLE = "controller"
    (error,) = check_node_settings()
    assert error.id == "nodes.E001"
    assert error.msg == "NODE_ROLE is 'controller'"
    assert "terminal, control, satellite, watchtower" in error.hint


def test_an_unknown_reader_is_an_error(settings) -> None:
    settings.RFID_READER = "rc522"
    (error,) = check_node_settings()
    assert error.id == "nodes.E002"
    assert "auto, serial, mfrc522" in error.hint
