"""Log evidence: drain3 template mining per service, masking of variable tokens, and template rates.

`masking` turns settings into drain3 masking instructions, `miner` holds one drain3 miner per service with
a snapshot the Faust table can keep, `rates` counts templates in event-time buckets and says which ones
surged or are new at error level, `cli` is `aiops logs mine FILE`.
"""
