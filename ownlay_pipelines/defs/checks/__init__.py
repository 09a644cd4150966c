"""Asset checks: the watchtower's rules run on the assets they watch."""
