"""The read side, which never writes; it reads through the adapters' stores. May import: domain, adapters,
config, logs.

Modules: audit (the audit trail, read), codes (what a scanned code shows), draws (lucky draws as shown),
integrity (scans and participants by place, a campaign's integrity signals),
results (a campaign's public results: its draws, proofs and masked picks, each pick's claim state),
reports (the regulator's papers as read: per-win facts, deadlines),
stats (statistics readers and the participants CSV), wallet (the shopper's balances and claims).
"""
