"""Alertmanager's fingerprint of a label set, for alerts that arrive without one (Alertmanager before 0.19,
and the many tools that speak its webhook format)."""

from __future__ import annotations

from collections.abc import Mapping

_FNV64_OFFSET = 14695981039346656037
_FNV64_PRIME = 1099511628211
_LABEL_SEPARATOR = b"\xff"
_MASK = 0xFFFFFFFFFFFFFFFF


def labels_fingerprint(labels: Mapping[str, str]) -> str:
    """prometheus/common `model.LabelSet.Fingerprint()` as `Fingerprint.String()` prints it: FNV-1a 64 over the
    label names in byte order, each name and each value followed by 0xff, as 16 lowercase hex digits."""
    digest = _FNV64_OFFSET
    encoded = sorted((name.encode("utf-8", "surrogatepass"), value.encode("utf-8", "surrogatepass"))
                     for name, value in labels.items())
    for name, value in encoded:
        for byte in name + _LABEL_SEPARATOR + value + _LABEL_SEPARATOR:
            digest = ((digest ^ byte) * _FNV64_PRIME) & _MASK
    return f"{digest:016x}"
