"""`bakeoff cost` as text: the price table, the assumptions, local cost per 1M tokens and the
break-even per local contender and cloud model (the data comes from bakeoff.measure.cost.cost_report)."""

from __future__ import annotations

from typing import Any

from bakeoff.measure.cost import amount_text
from bakeoff.measure.cost_config import default_cost_config_path
from bakeoff.measure.pricing import default_prices_path


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
        head += (f"; energy {amount_text(energy, f' {cur}/1M output tokens')} "
                 f"[{be0['assumptions']['local_energy_label']}]")
        out.append(head)
        for pair in mine:
            be, cloud = pair["break_even"], pair["cloud_cost"]
            ca = cloud["assumptions"]
            out.append(f"    vs {pair['cloud']:<{width}}  {_short_verdict(be)}")
            out.append(f"       {' ' * width}  cloud {amount_text(cloud['value'], f' {cur}/1M output tokens')}: "
                       f"{ca['input_price']:g} in / {ca['output_price']:g} out per 1M, "
                       f"{be['assumptions']['input_per_output']:.3g} input tokens per output token; "
                       f"price as of {ca['as_of']}, {ca['price_source']}")
    return out
