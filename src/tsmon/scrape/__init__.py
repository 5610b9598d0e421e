"""Collecting metrics tsmon pulls itself: Prometheus targets, scraped as Prometheus does, and this host."""
