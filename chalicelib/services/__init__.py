"""Use cases, one per public function: check the input, apply the domain's rules, write through the
adapters (campaigns, batches, scans, shoppers, exports, operator auth, the statistics aggregator and
its reconciliation, and lucky draws: draw_schedule, draw_snapshot, draw_runner, draw_notify). May import: domain, adapters, views, rendering, config, logs."""
