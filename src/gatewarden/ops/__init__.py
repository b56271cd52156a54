"""Nightly operation: the run lock, structured stage logs and state kept across nights."""
