"""Mining: masked variants share a template, snapshots restore the miner exactly, the state stays bounded."""

from __future__ import annotations

import random
import uuid

import jsonpickle
import pytest

from aiops.core.settings import Settings
from streams.logtemplates.errors import SnapshotError
from streams.logtemplates.miner import MinerConfig, ServiceTemplateMiner


def orders_api_lines(count: int, seed: int, kinds: int = 12) -> list[str]:
    """Realistic messages of `kinds` different shapes with random variable parts."""
    rnd = random.Random(seed)

    def oid() -> str:
        return str(uuid.UUID(int=rnd.getrandbits(128), version=4))

    shapes = [
        lambda: f"Created order {oid()} for customer {rnd.randint(1, 99999)} with {rnd.randint(1, 9)} items",
        lambda: f"Payment authorized for order {oid()} by payments-api in {rnd.randint(20, 900)}ms",
        lambda: f"POST /v1/orders {rnd.choice([201, 400, 503])} in {rnd.randint(5, 5000)}ms",
        lambda: f"timeout acquiring connection from pool (pool=orders-db, waited={rnd.randint(4990, 5010)}ms)",
        lambda: f"connected to orders-db at 10.42.{rnd.randint(0, 9)}.{rnd.randint(1, 254)}:5432",
        lambda: f"pool stats (total=20, active={rnd.randint(0, 20)}, idle={rnd.randint(0, 20)})",
        lambda: f"user {rnd.choice(['alice', 'bob', 'carol', 'dave'])} logged in from {rnd.choice(['web', 'ios'])}",
        lambda: f"cache {rnd.choice(['hit', 'miss'])} for key order:{rnd.randint(1, 9999)}",
        lambda: f"Published OrderCreated to orders.events partition {rnd.randint(0, 5)} offset {rnd.randint(1, 10**6)}",
        lambda: f"heap usage {rnd.randint(100, 900)}MB of {rnd.choice([1, 2])}GiB after GC pause {rnd.random():.3f}s",
        lambda: f"circuit breaker orders-db changed state from {rnd.choice(['OPEN', 'CLOSED'])} to HALF_OPEN",
        lambda: f"Failed to reserve stock for sku SKU-{rnd.randint(100, 999)}: insufficient quantity",
    ]
    extra = [lambda i=i: f"batch job step{i} finished with status {rnd.choice(['ok', 'failed'])}"
             for i in range(max(0, kinds - len(shapes)))]
    shapes = (shapes + extra)[:kinds]
    return [rnd.choice(shapes)() for _ in range(count)]


def test_lines_differing_only_in_masked_tokens_share_a_template():
    miner = ServiceTemplateMiner(service="orders-api")
    first = miner.add("timeout acquiring connection from pool (pool=orders-db, waited=5001ms)")
    second = miner.add("timeout acquiring connection from pool (pool=orders-db, waited=30000ms)")
    third = miner.add("Created order 33187a44-c2da-42b5-b447-041287015d41 for customer 11794")
    fourth = miner.add("Created order 74336b37-2cf0-4ea9-b9ff-05d13114c56d for customer 5506")
    other = miner.add("circuit breaker orders-db changed state from CLOSED to OPEN")

    assert first.change_type == "cluster_created" and second.change_type == "none"
    assert first.template_id == second.template_id == "1"
    assert second.template == "timeout acquiring connection from pool (pool=orders-db, waited=<DURATION>)"
    assert third.template_id == fourth.template_id == "2"
    assert fourth.template == "Created order <UUID> for customer <NUM>"
    assert other.template_id == "3" and len({first.template_id, third.template_id, other.template_id}) == 3
    assert miner.templates() == {"1": second.template, "2": fourth.template, "3": other.template}


def test_match_is_read_only():
    miner = ServiceTemplateMiner()
    learned = miner.add("user alice logged in from 10.0.0.1")
    assert miner.match("user alice logged in from 192.168.7.7") == type(learned)(learned.template_id,
                                                                                  learned.template, "none")
    assert miner.match("disk full on /var/lib/postgresql") is None
    assert len(miner) == 1 and miner.template("1") == learned.template and miner.template("x") is None


def test_multi_line_messages_are_mined_by_their_first_line():
    miner = ServiceTemplateMiner()
    a = miner.add("NullPointerException in PromoService\n\tat com.shop.Promo.apply(Promo.java:42)\n\tat x.y(Z.java:1)")
    b = miner.add("NullPointerException in PromoService\n\tat com.shop.Cart.total(Cart.java:7)")
    assert a.template_id == b.template_id and a.template == "NullPointerException in PromoService"


def test_config_comes_from_settings_never_from_a_drain3_ini(monkeypatch, tmp_path):
    (tmp_path / "drain3.ini").write_text("[DRAIN]\nsim_th = 0.99\ndepth = 9\n[MASKING]\nmasking = []\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AIOPS_LOG_TEMPLATE_SIM_TH", "0.7")
    monkeypatch.setenv("AIOPS_LOG_TEMPLATE_MAX_CLUSTERS", "50")
    monkeypatch.setenv("AIOPS_LOG_TEMPLATE_EXTRA_DELIMITERS", '["="]')
    config = MinerConfig.from_settings(Settings())
    miner = ServiceTemplateMiner(config)
    drain = miner._miner.drain
    assert (drain.sim_th, drain.log_cluster_depth, drain.max_clusters) == (0.7, 4, 50)
    assert miner.add("waited=5000ms").template == "waited <DURATION>"


def test_snapshot_restores_the_same_template_ids_as_a_miner_that_never_restarted():
    lines = orders_api_lines(600, seed=7)
    config = MinerConfig()
    never_restarted = ServiceTemplateMiner(config, service="orders-api")
    for line in lines[:500]:
        never_restarted.add(line)

    snapshot = never_restarted.to_bytes()
    restored = ServiceTemplateMiner.from_bytes(snapshot, config)

    assert restored.service == "orders-api"
    assert restored.templates() == never_restarted.templates()
    # The whole drain state is the same, as drain3's own (jsonpickle) persistence would have written it.
    assert jsonpickle.dumps(restored._miner.drain, keys=True) == jsonpickle.dumps(never_restarted._miner.drain,
                                                                                  keys=True)
    for line in lines[500:]:
        assert restored.add(line) == never_restarted.add(line)
    assert restored.to_bytes() == never_restarted.to_bytes()


def test_snapshot_is_bounded_by_max_clusters_and_restores_lru_order():
    config = MinerConfig(max_clusters=8)
    miner = ServiceTemplateMiner(config)
    lines = orders_api_lines(3000, seed=11, kinds=40)
    for line in lines[:300]:
        miner.add(line)
    early = len(miner.to_bytes())
    for line in lines[300:2500]:
        miner.add(line)
    snapshot = miner.to_bytes()
    assert len(miner) == 8 and len(snapshot) < 3 * early  # evicted templates leave no trail in the tree

    restored = ServiceTemplateMiner.from_bytes(snapshot, config)
    for line in lines[2500:]:  # evictions pick the same least recently used templates
        assert restored.add(line) == miner.add(line)


def test_a_snapshot_that_cannot_be_restored_says_why():
    with pytest.raises(SnapshotError, match="not a template miner snapshot"):
        ServiceTemplateMiner.from_bytes(b"garbage")
    snapshot = ServiceTemplateMiner(MinerConfig(depth=5)).to_bytes()
    with pytest.raises(SnapshotError, match="depth"):
        ServiceTemplateMiner.from_bytes(snapshot, MinerConfig(depth=4))
