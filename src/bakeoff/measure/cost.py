"""Cost per 1M tokens, local and cloud, and the break-even between them.

Local::

    cost per 1M tokens = (energy kWh × electricity price
                          + hardware price / lifetime hours × hours used) / tokens × 1e6
    lifetime hours     = lifetime_years × 365 × hours_per_day × utilisation

Cloud: the price table: the ``genai-prices`` package's bundled snapshot (read offline, never
updated from the network), ``bakeoff/data/prices.yaml`` for models it lacks, and a user file
``$XDG_CONFIG_HOME/bakeoff/prices.yaml`` that replaces or adds entries; every entry has a date
and a source. Priced on the same
workload as the local figure: (input tokens × input price + output tokens × output price) per
1M *output* tokens, so both sides divide the same bill by the same tokens.

Break-even: local costs a fixed ``hardware_price / (lifetime_years × 12)`` per month plus its
energy per token; the cloud costs its price per token. Local is cheaper above
``fixed per month / (cloud per token − local energy per token)`` tokens a month, if the
cloud's price per token is above local energy's at all. It is also capped by what the machine
can generate in its hours (``tokens/s × hours_per_day × utilisation`` a day), which is said.

Every figure is a :class:`CostFigure` with a label (``measured``, ``estimated``,
``unavailable``, ``price table``), its parts and every assumption used.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from dataclasses import asdict, dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bakeoff.errors import InputError
from bakeoff.measure.energy import meter_basis

HOURS_PER_YEAR = 365 * 24
DAYS_PER_MONTH = 365 / 12


# ----------------------------------------------------------------------------- YAML with lines


def _load_yaml_with_lines(text: str, path: str) -> tuple[Any, dict[tuple, int]]:
    """Parse YAML; return the data and the line (1-based) of every mapping key and value path.

    Duplicate keys are an error (PyYAML would keep the last one silently).
    """
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(f"not valid YAML: {getattr(exc, 'problem', None) or exc}", path,
                         mark.line + 1 if mark else None) from None
    lines: dict[tuple, int] = {}

    def walk(n: Any, at: tuple) -> None:
        if isinstance(n, yaml.MappingNode):
            seen: dict[str, int] = {}
            for k, v in n.value:
                key = k.value if isinstance(k, yaml.ScalarNode) else str(k)
                if key in seen:
                    raise InputError(f"duplicate key {key!r} (first on line {seen[key]})", path, k.start_mark.line + 1)
                seen[key] = k.start_mark.line + 1
                lines[at + (key,)] = k.start_mark.line + 1
                walk(v, at + (key,))
        elif isinstance(n, yaml.SequenceNode):
            for i, v in enumerate(n.value):
                lines[at + (i,)] = v.start_mark.line + 1
                walk(v, at + (i,))

    if node is not None:
        walk(node, ())
    data = yaml.safe_load(text)
    return data, lines


def _line_for(loc: tuple, lines: dict[tuple, int], prefix: tuple = ()) -> int | None:
    full = prefix + tuple(loc)
    for n in range(len(full), 0, -1):
        if full[:n] in lines:
            return lines[full[:n]]
    return None


def _raise_validation(exc: ValidationError, path: str, lines: dict[tuple, int], prefix: tuple = ()) -> None:
    errors = exc.errors()
    # A misspelt key also makes the real one "missing": name the misspelling first.
    err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = tuple(err["loc"])
    where = ".".join(str(p) for p in prefix + loc)
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    raise InputError(f"{where}: {msg}", path, _line_for(loc, lines, prefix)) from None


# ------------------------------------------------------------------------------------- config


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
    defaults, _ = _load_yaml_with_lines(_defaults_text(), "bakeoff/data/cost_defaults.yaml")
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
        data, lines = _load_yaml_with_lines(text, str(user_path))
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
            _raise_validation(exc, str(user_path), lines)
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


# ------------------------------------------------------------------------------------ figures


@dataclass
class CostFigure:
    value: float | None                 # per 1M tokens, in `currency`; None when unavailable
    label: str                          # measured | estimated | unavailable | price table
    currency: str
    parts: dict[str, float | None] = field(default_factory=dict)
    assumptions: dict[str, Any] = field(default_factory=dict)
    source: str = ""                    # one line: where the figure comes from, or why it is missing

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def local_cost_per_mtok(energy_j: Any, tokens: float, seconds: float, config: CostConfig,
                        energy_label: str | None = None, energy_source: str | None = None) -> CostFigure:
    """Local cost per 1M tokens from energy (J), tokens and busy seconds.

    ``energy_j``: joules (give ``energy_label`` "measured" or "estimated"), ``None`` (energy
    unavailable: the value is None but the hardware part is still given), or an
    :class:`~bakeoff.measure.energy.EnergySample` (its label and source are used).
    """
    if hasattr(energy_j, "joules") and hasattr(energy_j, "label"):
        energy_label = energy_label or energy_j.label
        energy_source = energy_source or energy_j.source
        energy_j = energy_j.joules
    if energy_j is not None:
        if energy_label not in ("measured", "estimated"):
            raise ValueError("energy_label must be 'measured' or 'estimated' when energy_j is a number")
        if energy_j < 0:
            raise ValueError(f"energy_j must be >= 0, got {energy_j}")
    hours_used = seconds / 3600
    assumptions: dict[str, Any] = {
        "energy_j": energy_j, "energy_label": energy_label if energy_j is not None else "unavailable",
        "energy_source": energy_source, "tokens": tokens, "seconds": seconds, "hours_used": hours_used,
        **config.assumptions(),
    }
    cur = config.currency
    if not tokens or tokens <= 0:
        return CostFigure(None, "unavailable", cur, {"energy": None, "hardware": None}, assumptions,
                          "no tokens: cost per token undefined")
    hardware = config.hardware_price / config.lifetime_hours * hours_used / tokens * 1e6
    if energy_j is None:
        why = f" ({energy_source})" if energy_source else ""
        return CostFigure(None, "unavailable", cur, {"energy": None, "hardware": hardware}, assumptions,
                          f"energy unavailable{why}; hardware part alone: {hardware:.4g} {cur}/1M tokens")
    kwh = energy_j / 3.6e6
    energy = kwh * config.electricity_price_per_kwh / tokens * 1e6
    value = energy + hardware
    source = (f"({kwh:.6g} kWh × {config.electricity_price_per_kwh:g} {cur}/kWh + {config.hardware_price:g} {cur} / "
              f"{config.lifetime_hours:.0f} h × {hours_used:.6g} h) / {tokens:,.0f} tokens × 1e6; energy {energy_label}"
              + (f": {energy_source}" if energy_source else ""))
    return CostFigure(value, energy_label, cur, {"energy": energy, "hardware": hardware}, assumptions, source)


def local_cost_from_power(watts: float, tokens_per_second: float, config: CostConfig) -> CostFigure:
    """Local cost per 1M tokens for a machine drawing ``watts`` at ``tokens_per_second`` (given, so ``estimated``)."""
    if watts <= 0 or tokens_per_second <= 0:
        raise InputError("--local-watts and --local-tps must be > 0")
    seconds = 1e6 / tokens_per_second
    return local_cost_per_mtok(watts * seconds, 1e6, seconds, config, energy_label="estimated",
                               energy_source=f"given: {watts:g} W at {tokens_per_second:g} tokens/s")


# -------------------------------------------------------------------------------- price table


class PriceEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(None, ge=0)
    currency: str = "USD"
    source: str = Field(min_length=1)
    as_of: str
    provider_page: bool = False
    checked_via: list[str] = Field(default_factory=list)
    unconfirmed: list[str] = Field(default_factory=list)
    notes: str | None = None
    effective_from: str | None = None   # the date the price took effect, where the source says
    key: str = ""                       # filled in: "openai:gpt-4o"
    origin: str = ""                    # filled in: the file the entry came from

    @field_validator("as_of", mode="before")
    @classmethod
    def _date(cls, v: Any) -> str:
        if isinstance(v, date):
            return v.isoformat()
        if isinstance(v, str) and re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", v):
            return v
        raise ValueError("as_of must be a date: YYYY-MM-DD or YYYY-MM")


class _PriceFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    currency: str = "USD"
    unit: str = "per 1M tokens"
    models: dict[str, dict[str, Any]]


def default_prices_path() -> Path:
    xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(xdg) / "bakeoff" / "prices.yaml"


def _read_price_file(text: str, path: str, user: bool, mtime: float | None = None) -> dict[str, PriceEntry]:
    data, lines = _load_yaml_with_lines(text, path)
    if data is None:
        return {}
    try:
        parsed = _PriceFile(**data) if isinstance(data, dict) else _PriceFile.model_validate(data)
    except ValidationError as exc:
        _raise_validation(exc, path, lines)
    out: dict[str, PriceEntry] = {}
    for key, raw in parsed.models.items():
        if not isinstance(raw, dict):
            raise InputError(f"models.{key}: an entry is a mapping (input, output, source, as_of)", path,
                             lines.get(("models", key)))
        raw = dict(raw)
        raw.setdefault("currency", parsed.currency)
        if user:
            raw.setdefault("source", f"your price file {path}")
            if "as_of" not in raw and mtime is not None:
                raw["as_of"] = date.fromtimestamp(mtime).isoformat()
        try:
            entry = PriceEntry(**raw)
        except ValidationError as exc:
            _raise_validation(exc, path, lines, ("models", key))
        entry.key = key.lower()
        entry.origin = path
        out[entry.key] = entry
    return out


# The providers bakeoff's cloud backends talk to, as genai-prices names them (spec prefix -> id).
_PROVIDER_ALIASES = {"gemini": "google", "google-genai": "google", "vertex": "google", "claude": "anthropic"}
_PACKAGE_PROVIDERS = ("openai", "anthropic", "google")

# The cloud models `bakeoff cost` prices when no --cloud is given: those the cloud backends'
# documentation and the README name as examples (a test checks each has a dated, sourced price).
DEFAULT_CLOUD_MODELS = (
    "openai:gpt-4o", "openai:gpt-4o-mini", "openai:gpt-4.1", "openai:gpt-4.1-mini", "openai:gpt-5",
    "openai:gpt-5-mini", "openai:o4-mini",
    "anthropic:claude-sonnet-4-5", "anthropic:claude-haiku-4-5", "anthropic:claude-opus-4-1",
    "google:gemini-2.5-pro", "google:gemini-2.5-flash",
)


class PackagePrices:
    """Prices from the ``genai-prices`` package's bundled snapshot (offline, never updated from
    the network by bakeoff: a newer snapshot comes with a newer package version).

    ``as_of`` of its entries is the snapshot's date: the newest price change it records that is
    already in force (its data is at least that recent); ``effective_from`` is the date the
    price took effect where the package records one.
    """

    def __init__(self, today: date | None = None):
        from importlib.metadata import version

        from genai_prices import data_snapshot   # the bundled data only; UpdatePrices is never started
        from genai_prices.types import StartDateConstraint

        self.version = version("genai-prices")
        self.today = today or date.today()
        self._snapshot = data_snapshot.get_snapshot()
        starts = [c.constraint.start_date for p in self._snapshot.providers for m in p.models
                  if isinstance(m.prices, list) for c in m.prices
                  if isinstance(c.constraint, StartDateConstraint) and c.constraint.start_date <= self.today]
        self.snapshot_date = max(starts).isoformat() if starts else None
        self.origin = f"genai-prices {self.version} (offline snapshot)"

    def _price_in_force(self, model: Any) -> tuple[Any, str | None]:
        prices = model.prices
        if not isinstance(prices, list):
            return prices, None
        best, when = None, None
        for c in prices:
            start = getattr(c.constraint, "start_date", None) if c.constraint is not None else None
            if start is not None and start > self.today:
                continue                     # a price announced for later
            if best is None or (start is not None and (when is None or start >= when)):
                best, when = c.prices, start
        return best, when.isoformat() if when else None

    @staticmethod
    def _base(value: Any) -> tuple[float | None, str | None]:
        if value is None:
            return None, None
        base = getattr(value, "base", None)
        if base is not None:                 # TieredPrices: the base rate, tiers noted
            tiers = ", ".join(f"{float(t.price):g} above {t.start:,} input tokens" for t in value.tiers)
            return float(base), tiers
        return float(value), None

    def lookup(self, provider: str, model: str) -> PriceEntry | None:
        """The entry for ``model`` at ``provider`` (one of _PACKAGE_PROVIDERS), or None."""
        try:
            prov, info = self._snapshot.find_provider_model(model, None, provider, None)
        except LookupError:
            return None
        if prov.id != provider:
            return None
        price, effective = self._price_in_force(info)
        if price is None:
            return None
        inp, in_tiers = self._base(getattr(price, "input_mtok", None))
        out, out_tiers = self._base(getattr(price, "output_mtok", None))
        cached, _ = self._base(getattr(price, "cache_read_mtok", None))
        if inp is None or out is None:
            return None                      # not priced per token (a subscription, a free model)
        notes = []
        if in_tiers or out_tiers:
            notes.append(f"long prompts are priced higher: input {in_tiers or 'flat'}; output {out_tiers or 'flat'}")
        if info.price_comments:
            notes.append(info.price_comments[:400])
        page = (prov.pricing_urls or [""])[0]
        entry = PriceEntry(input=inp, output=out, cached_input=cached, currency="USD",
                           source=f"{page} via {self.origin}" if page else self.origin,
                           as_of=self.snapshot_date or self.today.isoformat(), provider_page=False,
                           effective_from=effective, notes=" ".join(notes) or None)
        entry.key = f"{provider}:{info.id}"
        entry.origin = self.origin
        return entry


_PACKAGE: PackagePrices | None = None


def package_prices() -> PackagePrices | None:
    """The genai-prices snapshot (loaded once, ~0.5 s), or None if the package is missing."""
    global _PACKAGE
    if _PACKAGE is None:
        try:
            _PACKAGE = PackagePrices()
        except ImportError:
            return None
    return _PACKAGE


class PriceTable:
    """Cloud prices: the user's file first, then bakeoff's own entries (models genai-prices lacks),
    then the genai-prices snapshot. Indexable by ``provider:model``."""

    def __init__(self, entries: dict[str, PriceEntry], package: PackagePrices | None):
        self.entries = entries
        self.package = package

    def get(self, key: str) -> PriceEntry | None:
        key = key.lower()
        if key in self.entries:
            return self.entries[key]
        provider, _, model = key.partition(":")
        if self.package is not None and provider in _PACKAGE_PROVIDERS and model:
            return self.package.lookup(provider, model)
        return None

    def __getitem__(self, key: str) -> PriceEntry:
        entry = self.get(key)
        if entry is None:
            raise KeyError(key)
        return entry

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def known(self) -> list[str]:
        """Keys to suggest: bakeoff's and the user's entries and the default cloud models."""
        return sorted(set(self.entries) | set(DEFAULT_CLOUD_MODELS))


def load_prices(user_path: str | os.PathLike | None = None) -> PriceTable:
    """The price table: the genai-prices snapshot, bakeoff's own entries for models it lacks
    (``bakeoff/data/prices.yaml``), and the user's file (``user_path``, else
    ``$XDG_CONFIG_HOME/bakeoff/prices.yaml`` if present) replacing or adding entries."""
    packaged = resources.files("bakeoff").joinpath("data/prices.yaml").read_text()
    prices = _read_price_file(packaged, "bakeoff/data/prices.yaml", user=False)
    path = Path(user_path) if user_path is not None else default_prices_path()
    if user_path is not None and not path.is_file():
        raise InputError("no such price file", str(path))
    if path.is_file():
        try:
            text = path.read_text()
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror}", str(path)) from None
        prices.update(_read_price_file(text, str(path), user=True, mtime=path.stat().st_mtime))
    return PriceTable(prices, package_prices())


def find_price(spec_or_model: str, prices: PriceTable | None = None) -> PriceEntry:
    """The entry for ``openai:gpt-4o``, ``gpt-4o``, a spec with options (``openai:gpt-4o?temperature=0``)
    or a dated model id (``claude-sonnet-4-5-20250929``). InputError names the known ones."""
    prices = prices if prices is not None else load_prices()
    text = spec_or_model.strip().lower().split("?", 1)[0]
    if "#" in text:                      # openai-compat:URL#model
        text = text.rsplit("#", 1)[1]
    provider, _, model = text.rpartition(":") if ":" in text else ("", "", text)
    provider = _PROVIDER_ALIASES.get(provider, provider)
    candidates = [model, re.sub(r"-\d{4}-?\d{2}-?\d{2}$", "", model), re.sub(r"-latest$", "", model)]
    for m in candidates:
        if provider:
            entry = prices.get(f"{provider}:{m}")
            if entry is not None:
                return entry
            continue
        matches = [e for k, e in prices.entries.items() if k.split(":", 1)[-1] == m]
        if len(matches) == 1:
            return matches[0]
        found = [e for p in _PACKAGE_PROVIDERS if (e := prices.get(f"{p}:{m}")) is not None]
        if len(found) == 1:
            return found[0]
    known = ", ".join(prices.known())
    package = (f"genai-prices' snapshot for {', '.join(_PACKAGE_PROVIDERS)}" if prices.package is not None
               else "genai-prices is not installed: pip install genai-prices")
    raise InputError(f"no price for {spec_or_model!r} in the price table ({package}; bakeoff's own entries); "
                     f"e.g. {known}. Add it to {default_prices_path()}")


def cloud_cost_per_mtok(spec_or_model: str | PriceEntry, input_tokens: float, output_tokens: float,
                        prices: PriceTable | None = None, per: str = "output") -> CostFigure:
    """What the cloud would charge for a workload, per 1M output tokens (``per="output"``, the
    unit of the local figure) or per 1M tokens in + out (``per="total"``)."""
    entry = spec_or_model if isinstance(spec_or_model, PriceEntry) else find_price(spec_or_model, prices)
    if input_tokens < 0 or output_tokens < 0:
        raise ValueError("token counts must be >= 0")
    divisor = output_tokens if per == "output" else input_tokens + output_tokens
    assumptions = {"model": entry.key, "input_tokens": input_tokens, "output_tokens": output_tokens, "per": per,
                   "input_price": entry.input, "output_price": entry.output, "as_of": entry.as_of,
                   "price_source": entry.source, "price_file": entry.origin, "unconfirmed": entry.unconfirmed,
                   "cached_input_price": entry.cached_input, "cached_input_used": False}
    src = f"{entry.key}: {entry.input:g} in / {entry.output:g} out {entry.currency} per 1M, {entry.source} as of {entry.as_of}"
    if divisor <= 0:
        return CostFigure(None, "unavailable", entry.currency, {"input": None, "output": None}, assumptions,
                          "no tokens to price")
    p_in = input_tokens * entry.input / divisor
    p_out = output_tokens * entry.output / divisor
    return CostFigure(p_in + p_out, "price table", entry.currency, {"input": p_in, "output": p_out}, assumptions, src)


# ---------------------------------------------------------------------------------- break-even


@dataclass
class BreakEven:
    tokens_per_month: float | None      # local is cheaper above this; None: never (or unknown)
    verdict: str
    currency: str
    fixed_per_month: float
    local_variable_per_mtok: float | None
    cloud_per_mtok: float | None
    capacity_tokens_per_month: float | None
    assumptions: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        """The result and every assumption, as text lines."""
        a = self.assumptions
        unit = f" {self.currency}/1M output tokens"
        fixed = (f"  fixed: hardware {a['hardware_price']:g} {self.currency} / ({a['lifetime_years']:g} years × 12) "
                 f"= {self.fixed_per_month:.2f} {self.currency}/month")
        variable = (f"  local variable (energy only): {_num(self.local_variable_per_mtok, unit)} "
                    f"({a['local_energy_label']}; electricity {a['electricity_price_per_kwh']:g} {self.currency}/kWh)")
        cloud = (f"  cloud: {_num(self.cloud_per_mtok, unit)} ({a['cloud_model']}, "
                 f"{a['cloud_input_price']:g} in / {a['cloud_output_price']:g} out, {a['input_per_output']:.3g} input tokens "
                 f"per output token, as of {a['cloud_as_of']})")
        out = [self.verdict, fixed, variable, cloud]
        if self.capacity_tokens_per_month is not None:
            out.append(f"  capacity: {a['tokens_per_second']:.3g} tokens/s × {a['hours_per_day']:g} h/day × "
                       f"utilisation {a['utilisation']:g} = {self.capacity_tokens_per_month:.3g} tokens/month")
        return out


def _num(v: float | None, unit: str = "") -> str:
    return "unavailable" if v is None else f"{v:.4g}{unit}"


def break_even(local: CostFigure, cloud: CostFigure, config: CostConfig,
               tokens_per_second: float | None = None) -> BreakEven:
    """Tokens per month above which local (fixed hardware per month + energy per token) is cheaper
    than the cloud model priced in ``cloud``. ``tokens_per_second`` (optional) caps it by capacity."""
    H = config.hardware_per_month
    v = local.parts.get("energy")
    c = cloud.value
    a = cloud.assumptions
    ratio = (a["input_tokens"] / a["output_tokens"]) if a.get("output_tokens") else 0.0
    assumptions = {
        "hardware_price": config.hardware_price, "lifetime_years": config.lifetime_years,
        "hours_per_day": config.hours_per_day, "utilisation": config.utilisation,
        "electricity_price_per_kwh": config.electricity_price_per_kwh, "currency": config.currency,
        "local_energy_label": local.label if v is not None else "unavailable",
        "local_energy_source": local.assumptions.get("energy_source"),
        "cloud_model": a.get("model"), "cloud_input_price": a.get("input_price"), "cloud_output_price": a.get("output_price"),
        "cloud_as_of": a.get("as_of"), "cloud_price_source": a.get("price_source"), "input_per_output": ratio,
        "tokens_per_second": tokens_per_second, "config_from": {k: x["from"] for k, x in config.assumptions().items()},
        "formula": "tokens/month > fixed per month / (cloud per token − local energy per token)",
    }
    capacity = (tokens_per_second * 3600 * config.generating_hours_per_month) if tokens_per_second else None
    cur = config.currency
    if cloud.currency != cur:
        return BreakEven(None, f"unavailable: local costs are in {cur}, {a.get('model')}'s price in {cloud.currency}; "
                         f"price it in {cur} in your prices.yaml", cur, H, v, c, capacity, assumptions)
    if c is None:
        return BreakEven(None, "unavailable: no cloud figure", cur, H, v, c, capacity, assumptions)
    if v is None:
        verdict = "unavailable: local energy per token is unknown (energy unavailable)"
        if c > 0:
            bound = H / (c / 1e6)
            assumptions["lower_bound_tokens_per_month"] = bound
            verdict += f"; even with free electricity local would need more than {bound:,.0f} tokens/month"
        return BreakEven(None, verdict, cur, H, v, c, capacity, assumptions)
    if c <= v:
        return BreakEven(None, f"local is never cheaper than {a.get('model')}: its energy alone ({v:.4g} {cur}/1M) "
                         f"costs at least the cloud price ({c:.4g} {cur}/1M)", cur, H, v, c, capacity, assumptions)
    tokens = H / ((c - v) / 1e6)
    verdict = (f"local is cheaper than {a.get('model')} above {tokens:,.0f} tokens/month"
               if tokens > 0 else f"local is always cheaper than {a.get('model')} (no hardware cost)")
    if capacity is not None and tokens > capacity:
        verdict += f", more than this machine can generate ({capacity:,.0f} tokens/month): cloud is cheaper at any volume it can serve"
    return BreakEven(tokens, verdict, cur, H, v, c, capacity, assumptions)


# ------------------------------------------------------------------------- local usage from DB


@dataclass
class LocalUsage:
    spec: str
    trials: int
    prompt_tokens: float
    output_tokens: float
    seconds: float
    energy_j: float | None
    energy_label: str               # measured | estimated | unavailable
    energy_source: str

    @property
    def tokens_per_second(self) -> float | None:
        return self.output_tokens / self.seconds if self.seconds > 0 else None


def _recorded_meters(conn: sqlite3.Connection, run_id: str | None) -> dict[str, dict]:
    """Each contender's energy meter as its worker described it (the latest load), if recorded."""
    try:
        rows = conn.execute("SELECT spec, facts FROM contenders" + (" WHERE run_id = ?" if run_id else "") +
                            " ORDER BY rowid", (run_id,) if run_id else ()).fetchall()
    except sqlite3.Error:
        return {}
    out = {}
    for r in rows:
        try:
            meter = json.loads(r["facts"] or "{}").get("energy_meter")
        except (ValueError, AttributeError):
            continue
        if meter:
            out[r["spec"]] = meter
    return out


def local_usage_from_db(path: str | os.PathLike, run_id: str | None = None) -> list[LocalUsage]:
    """Per contender: successful trials' tokens, busy seconds (sum of E2E) and energy, read
    read-only. Works on databases from before energy columns existed (energy unavailable)."""
    p = Path(path)
    if not p.is_file():
        raise InputError("no such results database", str(p))
    try:
        conn = sqlite3.connect(f"file:{p}?mode=ro", uri=True)
        conn.row_factory = sqlite3.Row
        cols = {r["name"] for r in conn.execute("PRAGMA table_info(trials)")}
    except sqlite3.Error as exc:
        raise InputError(f"not a readable bakeoff database: {exc}", str(p)) from None
    if not {"spec", "output_tokens", "e2e_ms", "status"} <= cols:
        raise InputError("not a bakeoff results database (no trials table with tokens and timings)", str(p))
    has_energy = {"energy_j", "energy_label"} <= cols
    has_source = "energy_source" in cols
    select = "spec, prompt_tokens, output_tokens, e2e_ms" + (", energy_j, energy_label" if has_energy else "") + \
             (", energy_source" if "energy_source" in cols else "")
    where = "status = 'ok' AND output_tokens > 0 AND e2e_ms > 0" + (" AND run_id = ?" if run_id else "")
    rows = conn.execute(f"SELECT {select} FROM trials WHERE {where} ORDER BY spec", (run_id,) if run_id else ()).fetchall()
    meters = _recorded_meters(conn, run_id)
    conn.close()
    by_spec: dict[str, list[sqlite3.Row]] = {}
    for r in rows:
        by_spec.setdefault(r["spec"], []).append(r)
    out = []
    for spec, rs in by_spec.items():
        prompt = sum(r["prompt_tokens"] or 0 for r in rs)
        output = sum(r["output_tokens"] for r in rs)
        seconds = sum(r["e2e_ms"] for r in rs) / 1000
        if not has_energy:
            joules, label, src = None, "unavailable", "this database has no energy columns (recorded before energy metering)"
        else:
            labels = [r["energy_label"] for r in rs]
            missing = sum(1 for r in rs if r["energy_j"] is None or r["energy_label"] not in ("measured", "estimated"))
            if missing:
                joules, label = None, "unavailable"
                src = f"{missing} of {len(rs)} trials have no energy figure"
                reasons = {r["energy_source"] for r in rs if has_source and r["energy_source"] and r["energy_j"] is None}
                if reasons:
                    src += ": " + "; ".join(sorted(reasons))[:300]
            else:
                joules = sum(r["energy_j"] for r in rs)
                label = "measured" if all(x == "measured" for x in labels) else "estimated"
                srcs = sorted({r["energy_source"] for r in rs if has_source and r["energy_source"]})
                if spec in meters:
                    src = f"sum over {len(rs)} trials; {meter_basis(meters[spec])}"
                else:
                    src = f"sum over {len(rs)} trials" + (f" ({srcs[0]}{' …' if len(srcs) > 1 else ''})" if srcs else "")
        out.append(LocalUsage(spec, len(rs), prompt, output, seconds, joules, label, src))
    return out


# ------------------------------------------------------------------------------ the cost report


def cost_report(cloud: list[str] | None = None, db: str | os.PathLike | None = None, run_id: str | None = None,
                local_tps: float | None = None, local_watts: float | None = None, input_per_output: float | None = None,
                config_path: str | os.PathLike | None = None, prices_path: str | os.PathLike | None = None) -> dict[str, Any]:
    """Everything ``bakeoff cost`` shows, as plain data (JSON-able)."""
    if (local_tps is None) != (local_watts is None):
        raise InputError("--local-tps and --local-watts go together")
    if input_per_output is not None and input_per_output < 0:
        raise InputError("--input-per-output must be >= 0")
    config = load_cost_config(config_path)
    prices = load_prices(prices_path)
    entries = [find_price(m, prices) for m in (cloud or DEFAULT_CLOUD_MODELS)]
    locals_: list[dict[str, Any]] = []
    if local_tps is not None:
        fig = local_cost_from_power(local_watts, local_tps, config)
        ratio = 1.0 if input_per_output is None else input_per_output
        locals_.append({"spec": f"given: {local_watts:g} W at {local_tps:g} tokens/s", "tokens_per_second": local_tps,
                        "input_per_output": ratio, "input_per_output_from": "default 1.0" if input_per_output is None else "--input-per-output",
                        "usage": None, "cost": fig})
    if db is not None:
        for u in local_usage_from_db(db, run_id):
            fig = local_cost_per_mtok(u.energy_j, u.output_tokens, u.seconds, config,
                                      energy_label=u.energy_label if u.energy_j is not None else None,
                                      energy_source=u.energy_source)
            ratio = input_per_output if input_per_output is not None else (u.prompt_tokens / u.output_tokens)
            locals_.append({"spec": u.spec, "tokens_per_second": u.tokens_per_second, "input_per_output": ratio,
                            "input_per_output_from": "--input-per-output" if input_per_output is not None else "the database's trials",
                            "usage": asdict(u), "cost": fig})
    default_ratio = 1.0 if input_per_output is None else input_per_output
    cloud_figs = {e.key: cloud_cost_per_mtok(e, default_ratio * 1e6, 1e6) for e in entries}
    pairs = []
    for loc in locals_:
        for e in entries:
            cf = cloud_cost_per_mtok(e, loc["input_per_output"] * 1e6, 1e6)
            be = break_even(loc["cost"], cf, config, loc["tokens_per_second"])
            pairs.append({"local": loc["spec"], "cloud": e.key, "cloud_cost": cf.to_dict(), "break_even": be.to_dict(),
                          "lines": be.lines()})
    return {
        "currency": config.currency,
        "config": config.assumptions(),
        "prices": [e.model_dump() for e in entries],
        "cloud": [{"model": k, "input_per_output": default_ratio, "cost": f.to_dict()} for k, f in cloud_figs.items()],
        "local": [{**{k: v for k, v in loc.items() if k != "cost"}, "cost": loc["cost"].to_dict()} for loc in locals_],
        "break_even": pairs,
    }


def format_cost_report(data: dict[str, Any]) -> str:
    """The report as plain text, every assumption included."""
    cur = data["currency"]
    out = ["Cloud prices (USD per 1M tokens; user-editable: " + str(default_prices_path()) + ")",
           f"  {'model':<30} {'input':>7} {'cached':>7} {'output':>7}  {'as of':<10}  source"]
    for p in data["prices"]:
        cached = "–" if p["cached_input"] is None else f"{p['cached_input']:g}"
        flag = f"  [unconfirmed: {', '.join(p['unconfirmed'])}]" if p["unconfirmed"] else ""
        out.append(f"  {p['key']:<30} {p['input']:>7g} {cached:>7} {p['output']:>7g}  {p['as_of']:<10}  {p['source']}{flag}")
    out.append("")
    out.append("Cost assumptions (change them in " + str(default_cost_config_path()) + ")")
    for k, a in data["config"].items():
        out.append(f"  {k} = {a['value']}   ({a['from']})")
    if data["local"]:
        out.append("")
        out.append(f"Local cost per 1M output tokens ({cur})")
        for loc in data["local"]:
            c = loc["cost"]
            val = "unavailable" if c["value"] is None else f"{c['value']:.4g}"
            parts = ", ".join(f"{k} {'–' if v is None else f'{v:.4g}'}" for k, v in c["parts"].items())
            tps = loc["tokens_per_second"]
            out.append(f"  {loc['spec']}: {val} [{c['label']}] ({parts}); "
                       f"{'–' if tps is None else f'{tps:.3g}'} tokens/s; {c['source']}")
        out.extend(_format_break_even(data))
    else:
        out.append("")
        out.append("No local figure: pass --db PATH (measured trials) or --local-tps X --local-watts W for a break-even.")
    return "\n".join(out) + "\n"


def _short_verdict(be: dict[str, Any]) -> str:
    """The break-even in a few words: the volume, never, beyond capacity, or unavailable."""
    tokens, capacity = be["tokens_per_month"], be["capacity_tokens_per_month"]
    if tokens is None:
        if be["verdict"].startswith("local is never"):
            return "never (local energy alone costs more)"
        return be["verdict"]
    text = f"{tokens:,.0f} tokens/month"
    if capacity is not None and tokens > capacity:
        text += " (more than this machine can generate: the cloud is cheaper at any volume it serves)"
    return text


def _format_break_even(data: dict[str, Any]) -> list[str]:
    """Break-even per local contender against each cloud model, from the run's own tokens/s."""
    cur = data["currency"]
    pairs = data["break_even"]
    if not pairs:
        return []
    first = pairs[0]["break_even"]
    a = first["assumptions"]
    out = ["", "Break-even: tokens per month above which local is cheaper than the cloud model",
           "  (local: fixed hardware cost per month + its energy per token; cloud: its price per token on the same "
           "workload, input tokens per output token as in the local trials)",
           f"  fixed: hardware {a['hardware_price']:g} {cur} / ({a['lifetime_years']:g} years × 12) = "
           f"{first['fixed_per_month']:.2f} {cur}/month"]
    width = max(len(p["cloud"]) for p in pairs)
    for loc in data["local"]:
        mine = [p for p in pairs if p["local"] == loc["spec"]]
        if not mine:
            continue
        be0 = mine[0]["break_even"]
        tps = loc["tokens_per_second"]
        energy = be0["local_variable_per_mtok"]
        head = f"  {loc['spec']}: "
        head += "tokens/s unknown" if tps is None else f"{tps:.3g} tokens/s measured (output tokens / busy seconds)"
        if be0["capacity_tokens_per_month"] is not None:
            head += (f", at most {be0['capacity_tokens_per_month']:,.0f} tokens/month ({a['hours_per_day']:g} h/day × "
                     f"utilisation {a['utilisation']:g})")
        head += (f"; energy {_num(energy, f' {cur}/1M output tokens')} "
                 f"[{be0['assumptions']['local_energy_label']}]")
        out.append(head)
        for pair in mine:
            be, cloud = pair["break_even"], pair["cloud_cost"]
            ca = cloud["assumptions"]
            out.append(f"    vs {pair['cloud']:<{width}}  {_short_verdict(be)}")
            out.append(f"       {' ' * width}  cloud {_num(cloud['value'], f' {cur}/1M output tokens')}: "
                       f"{ca['input_price']:g} in / {ca['output_price']:g} out per 1M, "
                       f"{be['assumptions']['input_per_output']:.3g} input tokens per output token; "
                       f"price as of {ca['as_of']}, {ca['price_source']}")
    return out
