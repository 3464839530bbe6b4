"""The triggerer's shared HTTP pool: no reconnect churn, and waits queue outside httpx."""

from __future__ import annotations

import asyncio

import httpx

from airflow_provider_projects._http import aio
from airflow_provider_projects._http.core import HttpCore
from airflow_provider_projects._http.dialect import GcoreDialect
from airflow_provider_projects._http.secret import Secret
from airflow_provider_projects.models.base import ApiModel


def test_the_shared_client_keeps_every_connection_it_may_open_alive() -> None:
    async def limits() -> tuple[int, int]:
        client = aio.shared_client()
        try:
            assert aio.shared_client() is client  # one client per loop
            return client._transport._pool._max_keepalive_connections, client._transport._pool._max_connections
        finally:
            await client.aclose()

    keepalive, total = asyncio.run(limits())
    assert keepalive == total == aio.POOL_SIZE


def test_requests_in_flight_never_exceed_the_pool_size() -> None:
    in_flight = 0
    peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return httpx.Response(200, json={})

    async def many() -> None:
        core = HttpCore(dialect=GcoreDialect(), base_url="https://api.test", api_key=Secret("k"), user_agent="t")
        client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        transport = aio.AsyncTransport(core, client=client)
        await asyncio.gather(*(transport.call("GET", "/x", ApiModel) for _ in range(3 * aio.POOL_SIZE)))
        await client.aclose()

    asyncio.run(many())
    assert peak == aio.POOL_SIZE
