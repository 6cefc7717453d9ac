"""The cost assumptions (``CostConfig``): bakeoff's round defaults
(``bakeoff/data/cost_defaults.yaml``) overlaid with the user's ``cost.yaml``, validated with
file:line errors; and the CPU power an energy estimate assumes where no counter exists."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bakeoff.errors import InputError
from bakeoff.util.yaml_lines import load_yaml_with_lines, raise_validation

DAYS_PER_MONTH = 365 / 12


class CostConfig(BaseModel):
    """Cost assumptions. Round defaults ship in ``bakeoff/data/cost_defaults.yaml``: change them."""

    model_config = ConfigDict(extra="forbid")

    currency: str = Field("USD", min_length=1, max_length=8)
    electricity_price_per_kwh: float = Field(ge=0)
    hardware_price: float = Field(ge=0)
    lifetime_years: float = Field(gt=0, le=50)
    hours_per_day: float = Field(gt=0, le=24)
    utilisation: float = Field(1.0, gt=0, le=1)
    cpu_tdp_watts: float | None = Field(None, gt=0, le=5000)
    cpu_watts_per_core: float | None = Field(None, gt=0, le=100)
    sources: dict[str, str] = Field(default_factory=dict)   # key -> where its value comes from

    @property
    def lifetime_hours(self) -> float:
        """Hours the hardware spends generating over its life."""
        return self.lifetime_years * 365 * self.hours_per_day * self.utilisation

    @property
    def hardware_per_month(self) -> float:
        """Fixed hardware cost per calendar month (straight-line over the lifetime)."""
        return self.hardware_price / (self.lifetime_years * 12)

    @property
    def generating_hours_per_month(self) -> float:
        return self.hours_per_day * DAYS_PER_MONTH * self.utilisation

    def assumptions(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in ("currency", "electricity_price_per_kwh", "hardware_price", "lifetime_years",
                    "hours_per_day", "utilisation", "cpu_tdp_watts", "cpu_watts_per_core"):
            out[key] = {"value": getattr(self, key), "from": self.sources.get(key, "")}
        out["lifetime_hours"] = {"value": self.lifetime_hours,
                                 "from": "lifetime_years × 365 × hours_per_day × utilisation"}
        return out


def default_cost_config_path() -> Path:
    xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(xdg) / "bakeoff" / "cost.yaml"


def _defaults_text() -> str:
    return resources.files("bakeoff").joinpath("data/cost_defaults.yaml").read_text()


def load_cost_config(path: str | os.PathLike | None = None) -> CostConfig:
    """Defaults, overlaid with the user's file: ``path`` if given (it must exist), else
    ``$XDG_CONFIG_HOME/bakeoff/cost.yaml`` if it exists. Errors: InputError with file:line."""
    defaults, _ = load_yaml_with_lines(_defaults_text(), "bakeoff/data/cost_defaults.yaml")
    sources = {k: f"default: {v}" for k, v in (defaults.pop("sources", None) or {}).items()}
    merged = dict(defaults)
    user_path = Path(path) if path is not None else default_cost_config_path()
    if path is not None and not user_path.is_file():
        raise InputError("no such cost config file", str(user_path))
    lines: dict[tuple, int] = {}
    if user_path.is_file():
        try:
            text = user_path.read_text()
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror}", str(user_path)) from None
        data, lines = load_yaml_with_lines(text, str(user_path))
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise InputError("a cost config is a mapping of key: value", str(user_path), 1)
        user_sources = data.pop("sources", None) or {}
        if not isinstance(user_sources, dict):
            raise InputError("sources: must be a mapping of key: text", str(user_path), lines.get(("sources",)))
        for key, value in data.items():
            merged[key] = value
            sources[key] = f"{user_path}:{lines.get((key,), '?')}"
        for key, text_ in user_sources.items():
            sources[str(key)] = f"{user_path}: {text_}"
    try:
        return CostConfig(**merged, sources=sources)
    except ValidationError as exc:
        if user_path.is_file():
            raise_validation(exc, str(user_path), lines)
        raise InputError(f"packaged cost defaults are invalid: {exc}") from None


def cpu_power(config: CostConfig, logical_cores: int | None = None, cpu_model: str | None = None
              ) -> tuple[float | None, str | None]:
    """The CPU power (W at full load) an energy estimate uses where no counter exists, and where
    it comes from: ``cpu_tdp_watts`` if set, else ``cpu_watts_per_core`` × logical cores (the
    default, so a first run has a figure), else (None, None): energy is then unavailable.
    Computed where the run starts: Ray actors on other machines are given the same figure."""
    def origin(key: str) -> str:
        said = config.sources.get(key) or "cost config"
        return "bakeoff's default (cost_defaults.yaml says why)" if said.startswith("default: ") else said

    if config.cpu_tdp_watts:
        return config.cpu_tdp_watts, f"cpu_tdp_watts, {origin('cpu_tdp_watts')}"
    if not config.cpu_watts_per_core:
        return None, None
    n = logical_cores or os.cpu_count() or 1
    if cpu_model is None:
        from bakeoff.measure.hardware import _cpu_model

        cpu_model = _cpu_model()
    watts = config.cpu_watts_per_core * n
    return watts, (f"assumed: {config.cpu_watts_per_core:g} W per logical core × {n} logical cores of {cpu_model} "
                   f"(cpu_watts_per_core, {origin('cpu_watts_per_core')}); set cpu_tdp_watts in cost.yaml to "
                   f"replace it")
