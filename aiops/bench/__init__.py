"""`aiops bench`: throughput measured on the real broker against a baseline taken in the same run."""
