"""A server backend's whole session (aload, one request, aclose) on one event loop, as the
scheduler runs it: its HTTP client belongs to that loop, so backend_calls' one loop per call
does not fit it."""

from __future__ import annotations

import asyncio

from bakeoff.backends.base import GenerationRequest


def session(backend, request: GenerationRequest | None = None) -> tuple[dict, list[dict]]:
    """The load facts and every event of ``request`` (none without one)."""
    async def go():
        facts = await backend.aload()
        try:
            log = [e async for e in backend.agenerate(request)] if request else []
        finally:
            await backend.aclose()
        return facts, log

    return asyncio.run(go())
