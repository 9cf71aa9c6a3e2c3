"""Settings: one object from AIOPS_* variables, secrets masked when shown."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from aiops.core.settings import Settings


def test_environment_prefix_and_masking(monkeypatch):
    monkeypatch.setenv("AIOPS_LLM_API_KEY", "sk-very-secret")
    monkeypatch.setenv("AIOPS_TOPIC_PREFIX", "staging.")
    settings = Settings()
    shown = settings.masked()
    assert shown["llm_api_key"] == "**********"
    assert "sk-very-secret" not in repr(shown) and "sk-very-secret" not in repr(settings)
    assert settings.llm_api_key.get_secret_value() == "sk-very-secret"
    assert settings.topic("aiops.incidents") == "staging.aiops.incidents"


def test_client_addresses_follow_the_stack_ports(monkeypatch):
    monkeypatch.setenv("AIOPS_KAFKA_PORT", "19092")
    monkeypatch.setenv("AIOPS_OPA_PORT", "18181")
    settings = Settings()
    assert settings.kafka_bootstrap == "127.0.0.1:19092"
    assert settings.opa_url == "http://127.0.0.1:18181"


def test_settings_are_frozen():
    settings = Settings()
    with pytest.raises(ValidationError):
        settings.kafka_bootstrap = "elsewhere:9092"


def test_config_show_masks_secrets(monkeypatch):
    from typer.testing import CliRunner

    from aiops.cli import app

    monkeypatch.setenv("AIOPS_LLM_API_KEY", "sk-very-secret")
    monkeypatch.setenv("COLUMNS", "200")
    result = CliRunner().invoke(app, ["config", "show"])
    assert result.exit_code == 0
    assert "AIOPS_LLM_API_KEY" in result.output and "**********" in result.output
    assert "sk-very-secret" not in result.output
