"""Cloud prices per 1M tokens: the ``genai-prices`` package's bundled snapshot (read offline,
never updated from the network), ``bakeoff/data/prices.yaml`` for models it lacks, and the
user's ``$XDG_CONFIG_HOME/bakeoff/prices.yaml``, which replaces or adds entries. Every entry has
a date and a source."""

from __future__ import annotations

import os
import re
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bakeoff.errors import InputError
from bakeoff.util.yaml_lines import load_yaml_with_lines, raise_validation


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
    data, lines = load_yaml_with_lines(text, path)
    if data is None:
        return {}
    try:
        parsed = _PriceFile(**data) if isinstance(data, dict) else _PriceFile.model_validate(data)
    except ValidationError as exc:
        raise_validation(exc, path, lines)
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
            raise_validation(exc, path, lines, ("models", key))
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
