"""Faust app, agents, tables and records: correlation of alerts, logs and spans into incidents."""
