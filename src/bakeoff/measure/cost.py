"""Cost per 1M tokens, local and cloud, and the break-even between them.

Local::

    cost per 1M tokens = (energy kWh × electricity price
                          + hardware price / lifetime hours × hours used) / tokens × 1e6
    lifetime hours     = lifetime_years × 365 × hours_per_day × utilisation

Cloud: the price table (bakeoff.measure.pricing), priced on the same workload as the local
figure: (input tokens × input price + output tokens × output price) per 1M *output* tokens, so
both sides divide the same bill by the same tokens.

Break-even: local costs a fixed ``hardware_price / (lifetime_years × 12)`` per month plus its
energy per token; the cloud costs its price per token. Local is cheaper above
``fixed per month / (cloud per token − local energy per token)`` tokens a month, if the
cloud's price per token is above local energy's at all. It is also capped by what the machine
can generate in its hours (``tokens/s × hours_per_day × utilisation`` a day), which is said.

Every figure is a :class:`CostFigure` with a label (``measured``, ``estimated``,
``unavailable``, ``price table``), its parts and every assumption used. The assumptions are
loaded in bakeoff.measure.cost_config; `bakeoff cost`'s text is written by bakeoff.report.cost.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bakeoff.errors import InputError
from bakeoff.measure.cost_config import CostConfig, cpu_power, default_cost_config_path, load_cost_config
from bakeoff.measure.energy import meter_basis
from bakeoff.measure.pricing import (
    DEFAULT_CLOUD_MODELS,
    PackagePrices,
    PriceEntry,
    PriceTable,
    default_prices_path,
    find_price,
    load_prices,
    package_prices,
)
from bakeoff.store import Database, DatabaseError

# Importable from here, as before the config and the price table had modules of their own.
__all__ = [
    "CostConfig", "cpu_power", "default_cost_config_path", "load_cost_config",
    "DEFAULT_CLOUD_MODELS", "PackagePrices", "PriceEntry", "PriceTable", "default_prices_path", "find_price",
    "load_prices", "package_prices",
    "CostFigure", "local_cost_per_mtok", "local_cost_from_power", "cloud_cost_per_mtok", "BreakEven", "break_even",
    "amount_text", "LocalUsage", "local_usage_from_db", "cost_report",
]


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
        variable = (f"  local variable (energy only): {amount_text(self.local_variable_per_mtok, unit)} "
                    f"({a['local_energy_label']}; electricity {a['electricity_price_per_kwh']:g} {self.currency}/kWh)")
        cloud = (f"  cloud: {amount_text(self.cloud_per_mtok, unit)} ({a['cloud_model']}, "
                 f"{a['cloud_input_price']:g} in / {a['cloud_output_price']:g} out, {a['input_per_output']:.3g} input tokens "
                 f"per output token, as of {a['cloud_as_of']})")
        out = [self.verdict, fixed, variable, cloud]
        if self.capacity_tokens_per_month is not None:
            out.append(f"  capacity: {a['tokens_per_second']:.3g} tokens/s × {a['hours_per_day']:g} h/day × "
                       f"utilisation {a['utilisation']:g} = {self.capacity_tokens_per_month:.3g} tokens/month")
        return out


def amount_text(v: float | None, unit: str = "") -> str:
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


def _recorded_meters(db: Database, run_id: str | None) -> dict[str, dict]:
    """Each contender's energy meter as its worker described it (the latest load), if recorded."""
    try:
        rows = db.contender_facts(run_id)
    except DatabaseError:
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
        db = Database.read_only(p)
        cols = db.trial_columns()
    except DatabaseError as exc:
        raise InputError(f"not a readable bakeoff database: {exc}", str(p)) from None
    with db:
        if not {"spec", "output_tokens", "e2e_ms", "status"} <= cols:
            raise InputError("not a bakeoff results database (no trials table with tokens and timings)", str(p))
        has_energy = {"energy_j", "energy_label"} <= cols
        has_source = "energy_source" in cols
        select = ("spec", "prompt_tokens", "output_tokens", "e2e_ms")
        select += ("energy_j", "energy_label") if has_energy else ()
        select += ("energy_source",) if has_source else ()
        rows = db.ok_trial_usage(select, run_id)
        meters = _recorded_meters(db, run_id)
    by_spec: dict[str, list] = {}
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

