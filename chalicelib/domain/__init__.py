"""Pure rules, no I/O: codes and their MACs, ids, the clock, errors, instant wins, lifecycles, claim rules,
the statistics fold, loyalty tiers and points lots, phone numbers and request validation. May import: no other package."""
