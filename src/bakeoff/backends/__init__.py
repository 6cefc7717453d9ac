"""Backend registry: each backend is one small class registered under the
``bakeoff.backends`` entry point group, loaded only when a spec names it."""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from bakeoff.errors import InputError

if TYPE_CHECKING:
    from bakeoff.backends.base import Backend


@lru_cache(maxsize=1)
def _entry_points() -> dict:
    return {ep.name: ep for ep in entry_points(group="bakeoff.backends")}


def backend_names() -> list[str]:
    return sorted(_entry_points())


def get_backend(name: str) -> type[Backend]:
    eps = _entry_points()
    if name not in eps:
        raise InputError(f"unknown backend {name!r}; known backends: {', '.join(sorted(eps))}")
    try:
        return eps[name].load()
    except ImportError as exc:  # a backend whose SDK is not installed
        raise InputError(f"backend {name!r} needs a package that is not installed ({exc.name}): "
                         f"pip install 'bakeoff[{name}]'") from None


def make_backend(spec, trial_timeout_s: float, **overrides) -> Backend:
    """The contender's backend object, with spec options (and overrides such as ctx) validated."""
    backend_cls = get_backend(spec.backend)
    options = backend_cls.Options.model_validate({**spec.options, **overrides})
    return backend_cls(spec.model, options, trial_timeout_s=trial_timeout_s)
