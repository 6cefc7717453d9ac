"""Contender spec strings <-> objects.

A spec is ``BACKEND:MODEL?key=value&key=value``. A spec with no known backend prefix is an
in-process llama.cpp model (an alias of a packaged model, or a path to a GGUF file), so
``smollm2-135m`` means ``llamacpp:smollm2-135m``. Options are validated by the backend's own
pydantic model, so an error names the part that is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from pydantic import ValidationError

from bakeoff.errors import InputError

DEFAULT_BACKEND = "llamacpp"
# Where a contender runs, not what it is: left out of its identity, so the same trials resume
# whichever executor (and placement) finishes them.
PLACEMENT_OPTIONS = frozenset({"num_cpus", "num_gpus", "memory_mb"})
_BACKEND_NAME = re.compile(r"[a-z][a-z0-9_-]+")


@dataclass(frozen=True)
class ContenderSpec:
    backend: str
    model: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def canonical(self) -> str:
        """The spec string with options sorted: the contender's identity in the database."""
        # ":" and "/" stay readable (URLs, paths); parse_qsl reads them back unchanged.
        query = urlencode(sorted((k, _fmt(v)) for k, v in self.options.items() if k not in PLACEMENT_OPTIONS),
                          safe=":/")
        return f"{self.backend}:{self.model}" + (f"?{query}" if query else "")

    def __str__(self) -> str:
        return self.canonical


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_spec(text: str) -> ContenderSpec:
    """Parse and validate a spec string; raise InputError naming the bad part."""
    from bakeoff.backends import backend_names, get_backend

    raw = text.strip()
    if not raw:
        raise InputError("empty contender spec")
    head, sep, query = raw.partition("?")
    backend, colon, model = head.partition(":")
    if not colon:
        # No backend prefix: an in-process llama.cpp model (alias or path).
        backend, model = DEFAULT_BACKEND, head
    elif backend not in backend_names():
        if _BACKEND_NAME.fullmatch(backend):
            raise InputError(
                f"unknown backend {backend!r} in spec {raw!r}; known backends: {', '.join(backend_names())}"
            )
        backend, model = DEFAULT_BACKEND, head  # a path such as C:\models\x.gguf
    if not model:
        raise InputError(f"spec {raw!r} names no model after {backend + ':'!r}")
    pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=False) if sep else []
    if sep and query and not pairs:
        raise InputError(f"cannot read options {query!r} in spec {raw!r}; write ?key=value&key=value")
    seen: dict[str, str] = {}
    for key, value in pairs:
        if key in seen:
            raise InputError(f"option {key!r} given twice in spec {raw!r}")
        seen[key] = value
    backend_cls = get_backend(backend)
    try:
        options = backend_cls.Options.model_validate(seen)
    except ValidationError as exc:
        err = exc.errors()[0]
        if not err["loc"]:  # a check across options (e.g. thinking and reasoning_effort both given)
            raise InputError(f"spec {raw!r}: {err['msg'].removeprefix('Value error, ')}") from None
        name = str(err["loc"][0])  # not "think.bool" for a union-typed option
        if err["type"] == "extra_forbidden":
            known = ", ".join(backend_cls.Options.model_fields)
            raise InputError(f"unknown option {name!r} in spec {raw!r}; {backend} takes: {known}") from None
        raise InputError(f"option {name}={seen.get(name, '')!r} in spec {raw!r}: "
                         f"{err['msg'].removeprefix('Value error, ')}") from None
    given = options.model_dump(include=set(seen))
    return ContenderSpec(backend=backend, model=model, options=given)


def parse_contender(text: str, ready: bool = True) -> ContenderSpec:
    """parse_spec and the backend's option check; then, with ``ready``, ask the backend whether
    the model can work (alias known, file there, key set)."""
    from bakeoff.backends import get_backend

    spec = parse_spec(text)
    backend_cls = get_backend(spec.backend)
    options = backend_cls.Options.model_validate(spec.options)
    if ready:
        backend_cls.check_model(spec.model)
        backend_cls.check_ready(spec.model, options)
    return spec
