"""Re-verification batch throughput against the registry simulator's contracted limit."""
