"""Windows: 1m / 1h / 1d rollups per series, as continuous aggregates or maintained by tsmon."""
