"""The one settings object: built once at start-up (from AIOPS_* variables) and passed in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _default_cache_dir() -> Path:
    # Outside the repo so that downloads and builds survive a fresh clone.
    return Path.home() / ".cache" / "aiops"


def _default_state_dir() -> Path:
    return Path.home() / ".local" / "state" / "aiops"


class Settings(BaseSettings):
    """Effective configuration. Nothing else in the code reads os.environ."""

    model_config = SettingsConfigDict(env_prefix="AIOPS_", frozen=True, extra="ignore")

    # Kafka
    kafka_bootstrap: str = Field("127.0.0.1:9092", description="bootstrap servers for every client")
    topic_prefix: str = Field("", description="prepended to every topic name")
    default_partitions: int = Field(3, ge=1, description="partitions for topics created by `aiops topics create`")
    schema_registry_url: str | None = Field(
        None, description="when set, Avro uses the Confluent wire format with this registry"
    )
    schema_registry_password: SecretStr | None = Field(None, description="basic-auth password for the registry")
    schema_registry_user: str | None = Field(None, description="basic-auth user for the registry")

    # OPA
    opa_url: str = Field("http://127.0.0.1:8181", description="OPA server the gatekeeper asks")
    opa_timeout_s: float = Field(2.0, gt=0, description="a slower OPA answer counts as deny")

    # Local stack (`aiops stack up`)
    cache_dir: Path = Field(default_factory=_default_cache_dir, description="downloads and builds")
    state_dir: Path = Field(default_factory=_default_state_dir, description="broker data, pid files, logs")
    kafka_version: str = Field("4.1.2", description="Apache Kafka version fetched from Maven Central")
    kafka_port: int = Field(9092, description="broker listener port on 127.0.0.1")
    kafka_controller_port: int = Field(9093, description="KRaft controller port on 127.0.0.1")
    opa_version: str = Field("v1.22.3", description="OPA version built with go install")
    opa_port: int = Field(8181, description="OPA server port on 127.0.0.1")
    policy_dir: Path = Field(PROJECT_ROOT / "policy", description="the Rego bundle OPA serves")
    schemas_dir: Path = Field(PROJECT_ROOT / "schemas", description="Avro schemas (topic contracts)")
    startup_timeout_s: float = Field(60.0, gt=0, description="how long `stack up` waits for health")

    # LLM (OpenAI-compatible); without a base URL the deterministic runbook reasoner runs.
    llm_base_url: str | None = Field(None, description="OpenAI-compatible endpoint")
    llm_model: str = Field("gpt-4o-mini", description="model name sent to the endpoint")
    llm_api_key: SecretStr | None = Field(None, description="API key for the endpoint")

    @model_validator(mode="before")
    @classmethod
    def _addresses_follow_ports(cls, data: Any) -> Any:
        # Moving the local stack to other ports moves the clients with it, unless set explicitly.
        if isinstance(data, dict):
            data = dict(data)
            if "kafka_bootstrap" not in data and "kafka_port" in data:
                data["kafka_bootstrap"] = f"127.0.0.1:{data['kafka_port']}"
            if "opa_url" not in data and "opa_port" in data:
                data["opa_url"] = f"http://127.0.0.1:{data['opa_port']}"
        return data

    def topic(self, name: str) -> str:
        """The full topic name for a catalog name, with the configured prefix."""
        return f"{self.topic_prefix}{name}"

    def masked(self) -> dict[str, Any]:
        """Effective settings for display: secrets replaced by a mask, paths as strings."""
        shown: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = "**********" if value.get_secret_value() else ""
            elif isinstance(value, Path):
                value = str(value)
            shown[name] = value
        return shown
