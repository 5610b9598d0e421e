"""Statistics for monitoring analysis: pure functions over numpy arrays (scipy underneath), no I/O."""
