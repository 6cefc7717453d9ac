"""Images on the wire: what every backend needs to send an image a suite attached (its bytes as
base64 or a data URL) and to refuse a per-image token budget it cannot send. Kept apart from the
suite's image checks (bakeoff.suite.images) so a backend loads without the suite loader."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any


def image_base64(image: dict[str, Any]) -> str:
    """The image's bytes as base64, read when the request is sent (never stored)."""
    return base64.b64encode(Path(image["path"]).read_bytes()).decode("ascii")


def data_url(image: dict[str, Any]) -> str:
    return f"data:{image['mime']};base64,{image_base64(image)}"


def count_images(messages: list[dict[str, Any]]) -> int:
    return sum(len(m.get("images") or ()) for m in messages)


def no_visual_budget(engine: str, instead: str):
    """The type of ``visual_budget`` on a backend whose API has no per-image token budget: any
    value is refused with the reason (a budget that is not sent must not look measured)."""
    from typing import Annotated

    from pydantic import BeforeValidator

    def refuse(value: Any) -> None:
        if value is not None:
            raise ValueError(f"{engine} takes no per-image token budget; {instead}")
        return None

    return Annotated[int | None, BeforeValidator(refuse)]
