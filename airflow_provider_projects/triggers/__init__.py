"""Triggers that poll (read-only) for the deferrable sensors and operators."""
