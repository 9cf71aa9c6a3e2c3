"""Masking: each default rule on realistic lines, their order, disabling and custom rules from settings."""

from __future__ import annotations

import pytest

from aiops.core.settings import Settings
from streams.logtemplates.errors import MaskingConfigError
from streams.logtemplates.masking import DEFAULT_MASK_RULES, DEFAULT_RULE_NAMES, MaskingConfig, MaskRule

DEFAULTS = MaskingConfig()


@pytest.mark.parametrize(("line", "masked"), [
    # timestamp
    ("lease expires at 2025-09-16T14:02:01.113Z, renewed 2025-09-16 14:01:00,120",
     "lease expires at <TIMESTAMP>, renewed <TIMESTAMP>"),
    # uuid
    ("Created order 33187a44-c2da-42b5-b447-041287015d41 for customer 11794",
     "Created order <UUID> for customer <NUM>"),
    # ipv4, with and without port
    ("connected to orders-db at 10.42.3.17:5432 from 192.168.1.7", "connected to orders-db at <IP> from <IP>"),
    # ipv6: compressed, full, bracketed with port, loopback, IPv4-mapped
    ("peer fe80::1ff:fe23:4567:890a reset", "peer <IP> reset"),
    ("bound 2001:0db8:85a3:0000:0000:8a2e:0370:7334 ok", "bound <IP> ok"),
    ("upstream [2001:db8::8a2e:370:7334]:443 refused", "upstream <IP> refused"),
    ("listening on ::1 and ::ffff:10.0.0.1", "listening on <IP> and <IP>"),
    # hex: 0x.., and long hex strings with digits and letters
    ("SIGSEGV at 0x7f3a2c9e trace_id=4bf92f3577b34da6a3ce929d0e0e4736", "SIGSEGV at <HEX> trace_id=<HEX>"),
    # durations
    ("request timed out after 30000ms.", "request timed out after <DURATION>."),
    ("retry in 1.5s, took 250µs, lease 2m30s, backoff 5 minutes, p99 12 ms",
     "retry in <DURATION>, took <DURATION>, lease <DURATION>, backoff <DURATION>, p99 <DURATION>"),
    # sizes
    ("heap 512KB of 1.2GiB, wrote 4096 bytes at 10 MB/s", "heap <SIZE> of <SIZE>, wrote <SIZE> at <SIZE>/s"),
    # paths
    ("GET /api/v1/orders/123 returned 200", "GET <PATH> returned <NUM>"),
    ("cannot open '/var/lib/postgresql/data/pg_wal/000000010000000A' (/tmp/x).",
     "cannot open '<PATH>' (<PATH>)."),
    # numbers
    ("pool stats (total=20, active=-1, idle=16.5, waiting=0) 50% worker-3",
     "pool stats (total=<NUM>, active=<NUM>, idle=<NUM>, waiting=<NUM>) <NUM>% worker-<NUM>"),
])
def test_each_default_rule_masks_realistic_lines(line, masked):
    assert DEFAULTS.mask(line) == masked


@pytest.mark.parametrize(("line", "masked"), [
    ("deployed v1.2.3 (build 1.2.3) with std::vector and I/O and/or TCP/IP",
     "deployed v1.2.3 (build 1.2.3) with std::vector and I/O and/or TCP/IP"),
    # a hex-looking word without digits stays; a URL keeps its path (only its port is a number)
    ("commit deadbeef on http://orders-db:5432/orders", "commit deadbeef on http://orders-db:<NUM>/orders"),
])
def test_what_is_not_a_variable_token_stays(line, masked):
    assert DEFAULTS.mask(line) == masked


def test_default_order_is_specific_before_generic():
    assert DEFAULT_RULE_NAMES == ("timestamp", "uuid", "ipv6", "ipv4", "hex", "duration", "size", "path", "number")
    line = "order 3f2a9c1e-7b4d-4e8a-9f10-2c3d4e5f6a7b retried in 5 minutes"
    assert DEFAULTS.mask(line) == "order <UUID> retried in <DURATION>"

    by_name = {rule.name: rule for rule in DEFAULT_MASK_RULES}
    hex_first = MaskingConfig(rules=(by_name["hex"], by_name["uuid"], by_name["duration"]))
    assert hex_first.mask(line) == "order <HEX>-7b4d-4e8a-9f10-<HEX> retried in <DURATION>"
    number_first = MaskingConfig(rules=(by_name["uuid"], by_name["number"], by_name["duration"]))
    assert number_first.mask(line) == "order <UUID> retried in <NUM> minutes"


def test_a_disabled_default_rule_is_not_applied():
    config = MaskingConfig.build(disabled=["path"])
    assert "path" not in [rule.name for rule in config.rules]
    assert config.mask("GET /api/v1/orders/123 returned 200") == "GET /api/v1/orders/<NUM> returned <NUM>"


def test_custom_rules_from_settings_run_first_and_can_replace_a_default(monkeypatch):
    monkeypatch.setenv("AIOPS_LOG_MASK_RULES", '[{"name": "order_number", "regex": "ORD-\\\\d+", "mask": "ORDER"},'
                                               ' {"name": "ipv4", "regex": "\\\\d+\\\\.\\\\d+\\\\.\\\\d+\\\\.\\\\d+",'
                                               ' "mask": "ADDR"}]')
    monkeypatch.setenv("AIOPS_LOG_MASK_DISABLED", '["size"]')
    config = MaskingConfig.from_settings(Settings())
    names = [rule.name for rule in config.rules]
    assert names[0] == "order_number" and names.index("ipv4") < names.index("number") and "size" not in names
    assert config.mask("shipped ORD-88231 via 10.0.0.7, 512KB") == "shipped <ORDER> via <ADDR>, 512KB"


def test_invalid_masking_configuration_is_refused():
    with pytest.raises(MaskingConfigError, match="unknown masking rule"):
        MaskingConfig.build(disabled=["ipv7"])
    with pytest.raises(MaskingConfigError, match="regular expression"):
        MaskingConfig.build([{"name": "broken", "regex": "(unclosed", "mask": "X"}])
    with pytest.raises(MaskingConfigError, match="unique"):
        MaskingConfig.build([MaskRule(name="a", regex="a", mask="A"), MaskRule(name="a", regex="b", mask="B")])
