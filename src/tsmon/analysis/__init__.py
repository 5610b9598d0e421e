"""Analyses over stored windows and samples: read them, compute with `tsmon.stats`, store runs."""
