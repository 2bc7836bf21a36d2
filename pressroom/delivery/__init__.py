"""Getting renditions out exactly once: the ledger, sign-offs, rate limits, the breaker, notices."""
