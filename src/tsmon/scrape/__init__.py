"""Collecting metrics tsmon pulls itself: this host, and (later) Prometheus targets."""
