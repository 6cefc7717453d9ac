"""The async backend contract (aload / agenerate / aclose) called from synchronous test code."""

from __future__ import annotations

import asyncio


def load(backend) -> dict:
    return asyncio.run(backend.aload())


def events(backend, request) -> list[dict]:
    """Every event of one request, in order."""
    async def collect() -> list[dict]:
        return [event async for event in backend.agenerate(request)]

    return asyncio.run(collect())


def close(backend) -> None:
    asyncio.run(backend.aclose())
