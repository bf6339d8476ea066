"""Local servers that speak each provider's real wire format, fed with real recorded data (tests, demo, bench)."""
