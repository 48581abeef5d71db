"""The read side, which never writes: statistics readers, the shopper's wallet, what a scanned code shows,
lucky draws (draws).
May import: domain, adapters, config, logs."""
