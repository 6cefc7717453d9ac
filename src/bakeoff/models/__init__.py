"""Models bakeoff can run without a download: aliases for GGUF files shipped in PyPI packages,
assembled once into the cache, plus plain paths to any GGUF file."""

from bakeoff.models.packaged import (
    PACKAGED,
    ModelStatus,
    PackagedModel,
    default_aliases,
    model_status,
    resolve_model,
)

__all__ = ["PACKAGED", "ModelStatus", "PackagedModel", "default_aliases", "model_status", "resolve_model"]
