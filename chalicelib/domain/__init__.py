"""Pure rules, no I/O. May import: no other package.

Modules: claims (what a scan may claim, and why not), clock (the one "now"), consent (the sign-in notice's
version and purposes, marketing consent), codes (minting and verifying
MAC-tagged codes), csvfile (spreadsheet-safe CSV), draws (the lucky draw's algorithm), errors (the domain's
exceptions), ids (time-ordered ids and their shapes), integrity (the signals' thresholds and when each is raised), instant_win (secret winning serials, odds), lifecycle
(statuses as enums and their allowed moves), loyalty (tiers, points lots, expiry), markets (each market's law as data with
its sources: prize tax, claim windows, report deadlines, amounts), personal_data (the registry of
personal data: where each value lives, how long it stays), places (coarse places of scans as data with
their sources: Vietnam's provinces, the Philippines' regions, seats' distances, network pseudonyms), phones (reading, masking,
hashing and sealing numbers), promises (what a started campaign may not take back), retention (how long personal data stays: a brand's
settings, their bounds, due days), schemas (request bodies,
pydantic), reports (the regulator's papers as data: which a market files, when due, each prize's
outcome), statistics (the fold of one claim), tokens (the shopper token check), validation (request parsing,
cursors, headers), webhooks (event types, Standard Webhooks signing, the URL and address rules, retries).
"""
