"""The demo: a bundled scenario of the sample shop failing, the replayer that plays recorded telemetry
into the input topics, and `aiops demo`, which runs the whole system on it."""
