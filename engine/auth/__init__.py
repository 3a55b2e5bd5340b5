"""Who may call the API: API keys (stored as digests) and their per-key rate limits."""
