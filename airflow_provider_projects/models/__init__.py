"""Pydantic models of the APIs' answers: unknown fields are kept (APIs grow), missing required ones refused."""
