"""Correlation scopes: keys, home partitions, and one scope's view of a shared table."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner

from aiops.core.settings import Settings
from streams.condense.stages import inputs_for
from streams.scopes import home_partition, scope_from, scope_of_key, scoped, scopes_in, signal_key


def test_scope_keys_round_trip_and_the_default_scope_is_all():
    assert signal_key("") == b"all" and scope_of_key(b"all") == "" and scope_of_key(None) == ""
    assert scope_of_key(signal_key("eu-1/prod")) == "eu-1/prod"
    assert scope_from({"k8s.cluster.name": "eu-1", "env": "prod"}, ["k8s.cluster.name", "env"]) == "eu-1/prod"
    assert scope_from({"k8s.cluster.name": "eu-1"}, []) == ""


def test_home_partition_is_where_the_producer_sends_the_scope():
    partitioner = DefaultPartitioner()
    for scope in ("", "eu-1", "us-2/prod"):
        assert home_partition(scope, 6) == partitioner(signal_key(scope), list(range(6)), list(range(6)))


def test_a_scoped_view_sees_only_its_own_keys_and_the_default_scope_uses_the_table_itself():
    table: dict = {"fp1": "inc-a"}
    eu, us = scoped(table, "eu-1"), scoped(table, "us-1")
    eu["fp1"] = "inc-b"
    us["fp2"] = "inc-c"
    assert scoped(table, "") is table and table["fp1"] == "inc-a"
    assert dict(eu) == {"fp1": "inc-b"} and dict(us) == {"fp2": "inc-c"} and len(eu) == 1
    del eu["fp1"]
    assert "fp1" not in eu and scopes_in(table) == {"", "us-1"}


def test_condensers_read_the_canonical_topics_alone_when_the_normalizers_write_them():
    off = [i.topic for i in inputs_for("logs", Settings(topic_prefix="p.", canonical_lines="off"))]
    on = [i.topic for i in inputs_for("logs", Settings(topic_prefix="p.", canonical_lines="all"))]
    assert off == ["p.aiops.logs.raw", "p.otlp_logs", "p.aiops.logs"] and on == ["p.aiops.logs"]
    assert [i.topic for i in inputs_for("spans", Settings(canonical_lines="all"))] == ["aiops.spans"]
