"""Institutional memory: the handbook and resolved incidents, indexed in Milvus and retrieved for new incidents."""
