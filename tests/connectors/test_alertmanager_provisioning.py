"""Alertmanager and amtool come from `go install` at the pinned version, into the cache, once."""

from __future__ import annotations

from aiops.core.settings import Settings
from aiops.stack import components, opa


def test_built_with_go_install_at_the_pinned_version_once(tmp_path, monkeypatch):
    built = []

    def fake_go_install(module, gobin, say=print):
        built.append((module, gobin))
        gobin.mkdir(parents=True, exist_ok=True)
        (gobin / module.split("/")[-1].split("@")[0]).write_text("binary")

    monkeypatch.setattr(opa, "go_install", fake_go_install)
    settings = Settings(cache_dir=tmp_path, alertmanager_version="v0.31.1")
    home = tmp_path / "bin" / "alertmanager-v0.31.1"
    assert components.binary(settings, "amtool") == home / "amtool"
    assert built == [("github.com/prometheus/alertmanager/cmd/alertmanager@v0.31.1", home),
                     ("github.com/prometheus/alertmanager/cmd/amtool@v0.31.1", home)]
    assert components.binary(settings, "alertmanager") == home / "alertmanager"
    assert len(built) == 2  # cached: nothing built the second time


def test_provision_builds_it_with_the_rest(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(components.kafka, "ensure_jars", lambda s, say: calls.append("kafka"))
    monkeypatch.setattr(components.opa, "ensure_binary", lambda s, say: calls.append("opa"))
    monkeypatch.setattr(components, "ensure_alertmanager", lambda s, say: calls.append("alertmanager"))
    components.provision(Settings(cache_dir=tmp_path), say=lambda _msg: None)
    assert calls == ["kafka", "opa", "alertmanager"]
