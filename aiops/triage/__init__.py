"""Triage: from an enriched incident to proposed catalog actions, by a deterministic runbook reasoner or
an LLM whose output code validates against the action catalog."""
