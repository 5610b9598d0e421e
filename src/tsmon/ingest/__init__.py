"""Ingest: wire formats turn bytes into sample batches with located errors; one writer stores them."""
