"""The HTTP client core every connector uses: errors, retries, limits, breaker, paging, jobs."""
