"""Sensors that wait for Gcore task locks to clear."""
