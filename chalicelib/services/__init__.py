"""Use cases, one per public function: check the input, apply the domain's rules, write through the
adapters' stores in domain values. May import: domain, adapters, views, rendering, config, logs.

Modules: audit (the audit trail, written), auth (operator and shopper tokens), batches, brand_purposes (a
brand's own consent purposes: set, accepted at sign-in, withdrawn), campaigns, consents
(the notices a shopper accepted, each brand's marketing consent),
draw_notify (the winners' SMS), draw_runner (freeze, draw and the every-minute run), draw_schedule,
draw_snapshot, integrity (brands' thresholds, a code or batch quarantined and released, audited),
erasure (deleting a shopper's account, resumable), exports (print files, queued and written in chunks), loyalty (programs, wallets, the monthly
review), my_data (everything held about a shopper, for them), reconcile (counters recomputed from claims), redemptions, reports (the regulator's papers downloaded, audited), retention (a brand's settings and the job removing what is due), rewards (the catalogue), scans (the
claim), shoppers (sign-in), signals (the integrity signals folded from the stream), subject_requests (data-subject requests received by other means: recorded with
their legal deadline, acted on, audited, closed), stats_aggregator (the stream fold into counters), webhooks (owners' webhook
endpoints), webhook_events (events from the changes' stream records, written once and fanned out),
webhook_delivery (one delivery posted, signed and retried; the sweep), texting (what every SMS to a
shopper shares: its language and the SMS budgets), wins (claiming a draw's prize: the winner's and the
brand's moves, passing it on to an alternate, prize_terms), win_offers (each winner's win made once; the
runner's forfeits, reminders and alternates' SMS).
"""
