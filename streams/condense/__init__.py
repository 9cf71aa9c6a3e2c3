"""Condensing the volume inputs (log lines, spans) into counts per service, template or operation and time
bucket, at line rate and before Faust: the pure cores, the records they write, and the Kafka loop that runs them."""
