"""Hooks: one per API, each holding one connection's key and one reusable HTTP session."""
