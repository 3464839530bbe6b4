"""Reliability and security suite: fault matrix, restarts, secrets audit, bad input."""
