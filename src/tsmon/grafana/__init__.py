"""Grafana for tsmon: dashboards and alerting generated from code, macro expander, checks, layout pictures."""
