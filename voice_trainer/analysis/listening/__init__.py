"""Active-listening analysis of one reply or a whole call (rules from ``data/listening.toml``)."""
