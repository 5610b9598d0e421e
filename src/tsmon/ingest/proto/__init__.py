"""Protobuf messages of Prometheus remote write 1.0, generated from remote.proto by scripts/gen-proto."""
