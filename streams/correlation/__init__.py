"""Correlation: from alerts, log-template evidence and span evidence to incidents with a likely cause.

The engine here is plain Python over dict-like tables, so it is tested without Kafka; the Faust agent
in streams/agents/correlate.py runs it with changelog-backed tables.
"""
