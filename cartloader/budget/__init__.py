"""Rate budgets: the pacing math, the per-process budget, the Redis-shared budget, the daily-quota watch."""
