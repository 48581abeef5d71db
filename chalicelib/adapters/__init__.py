"""Everything that talks to AWS; the only package where DynamoDB requests, wire values and attribute
names are written, one store per aggregate speaking domain values. May import: domain, config, logs.

Modules: audit_log (the audit trail's events, appended and paged), aws (the one botocore session),
batch_store (the mint: batch numbers, a brand's minted count, the mint transaction, a code voided),
claim_store (the claim's requests, low-level; the claim records read back, refusals recorded),
counters (the statistics' sharded counters, counted once), draw_store (a lucky draw, its snapshot pages
and the participant reads of its freeze), dynamo (the one client, condition failures, the one retry
loop and request token rule), erasure_store (an account's deletion record and each step's writes),
export_store (a print-file export and each move of its state machine), integrity_store (the integrity
signals' state and signals, brands' thresholds, a code quarantined or released),
limits (rate windows, locks, budgets, slots), members (points, month lots, the loyalty review), models
(PynamoDB, the one schema), paging (the one cursor), purpose_store (a brand's own consent purposes), participants (the wallet's and the participants
CSV's pages, the leaders), records (campaigns, batches, programs, prizes awarded, the scan lookup and its
bound), redemption_store (redemptions), request_store (data-subject requests, each change with its audit
event and any correction in one transaction), retention_store (a brand's retention settings, the due-day indexes,
each removal counted), reward_store (rewards and their voucher pools), s3, secrets,
shopper_store (a phone number's pending sign-in code, shoppers' accounts), sms, sms_ledger (one SMS sent
once: its claim, next try and outcome on a draw or a win), sqs, tables (creation, upgrades), webhook_http
(the one POST to a webhook: resolved, checked, that address connected to), webhook_store (webhook endpoints,
the events outbox written once, each delivery's attempts and the due index), win_store
(the wins of draws: made once, each move a transaction with its audit event and any promotion).
"""
