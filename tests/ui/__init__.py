"""Tests against real Airflow processes: the api-server and its UI in a browser, and the CLI."""
