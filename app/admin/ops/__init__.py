"""Admin operations: every job, the stats and the system metrics."""
