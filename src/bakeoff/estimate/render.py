"""Human-readable `bakeoff fit` output: every figure with its working, so a reader can check it."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bakeoff.estimate.overhead import (
    BYTES_PER_VOCAB_ENTRY,
    CPU_BYTES_PER_HEAD,
    CPU_BYTES_PER_MASK,
    RUNTIME_CONST,
)

GIB, MIB = 2**30, 2**20


def size(n: float | None) -> str:
    if n is None:
        return "–"
    if abs(n) >= GIB:
        return f"{n / GIB:.2f} GiB"
    return f"{n / MIB:.1f} MiB"


def _tps(v: float | None) -> str:
    return "unavailable" if v is None else f"{v:,.1f}"


def _kv_lines(r: dict) -> list[str]:
    kv = r["kv"]
    bpe = kv["bytes_per_element"]
    lines = []
    shared = sum(g["layers"] for g in kv["groups"] if g["attention"] == "shared")
    for g in kv["groups"]:
        if g["attention"] == "shared":
            continue
        if g.get("v_padded"):
            lines.append(f"  {g['layers']} {g['attention']} layers × {g['cells']:,} cells × ({g['kv_heads']} KV heads × "
                         f"{g['head_k']} + V padded to {g['v_width']}) × {bpe:g} B = {size(g['bytes'])}")
        else:
            lines.append(f"  {g['layers']} {g['attention']} layers × {g['cells']:,} cells × {g['kv_heads']} KV heads × "
                         f"({g['head_k']} + {g['head_v']}) × {bpe:g} B = {size(g['bytes'])}")
    if shared:
        lines.append(f"  {shared} layers reuse an earlier layer's cache and own none: 0 B")
    return lines


def print_fit(r: dict, out: Console) -> None:
    a = r["architecture"]
    head = f"[bold]{escape(r['model'])}[/bold]"
    if r.get("name"):
        head += f" — {escape(str(r['name']))}"
    out.print(head + escape(f"  [{r['kind']}; {r['quant']}; tensor types {r['tensor_types']}]"))
    out.print(f"source: {escape(r['source'])}", highlight=False)
    if r.get("params_note"):
        out.print(f"parameters: {escape(r['params_note'])}", highlight=False)
    out.print(f"context {r['ctx']:,} tokens, KV cache {r['kv_type']}; {escape(r['runtime_model'])}", highlight=False)
    out.print("All figures below are [bold]estimated[/bold] unless marked measured.\n")

    w = r["weights"]
    out.print(f"[bold]weights[/bold]   {size(r['weights_bytes'])}  = Σ tensors: elements / block size × block bytes "
              f"({w['params'] / 1e9:.3f}B parameters)", highlight=False)
    for t, row in sorted(w["by_type"].items(), key=lambda kv: -kv[1]["bytes"]):
        out.print(f"  {t:<6} {row['tensors']:>4} tensors {row['params'] / 1e6:>10,.1f}M params → {size(row['bytes'])}",
                  highlight=False)
    read = f"  read per decoded token: {size(w['active_bytes_per_token'])}"
    if w["lookup_bytes"]:
        read += f" (row lookups not read whole: {size(w['lookup_bytes'])})"
    if w["expert_bytes"]:
        read += f" (experts: {a['experts_used']} of {a['experts']} of {size(w['expert_bytes'])})"
    out.print(read, highlight=False)
    if w["resident_bytes"]["cpu"] != w["bytes"]:
        out.print(f"  in RAM on CPU: {size(w['resident_bytes']['cpu'])} ({escape(w['resident_rule']['cpu'])})",
                  highlight=False)

    out.print(f"[bold]KV cache[/bold]  {size(r['kv_bytes'])}  = Σ layers owning a cache: cells × KV heads × "
              f"(d_k + d_v) × bytes per element", highlight=False)
    for line in _kv_lines(r):
        out.print(line, highlight=False)
    if r["kv"]["cells_sliding"] is not None:
        mode = ("full-size (llama-cpp-python's default, what bakeoff's llamacpp backend gets; "
                "llama-server and Ollama use window + ubatch: --no-swa-full)") if r["swa_full"] else \
            f"window {a['window']} + ubatch {r['kv']['ubatch']}, rounded up to 256"
        out.print(f"  sliding-window cache: {mode}", highlight=False)
    if r.get("kv_alternative"):
        alt = r["kv_alternative"]
        out.print(f"  with swa_full={alt['swa_full']}: KV {size(alt['kv_bytes'])}, total {size(alt['total_bytes'])}",
                  highlight=False)

    o = r["overhead"]
    entries = o["vocab_entries"]
    out.print(f"[bold]runtime[/bold]   {size(o['runtime_bytes'])}  = {RUNTIME_CONST // MIB} MiB + "
              f"{BYTES_PER_VOCAB_ENTRY} B × {entries:,} vocabulary entries (tokens + merges)"
              if entries else f"[bold]runtime[/bold]   {size(o['runtime_bytes'])}", highlight=False)
    heads = max((k["heads"] for k in a["layer_kinds"]), default=0)
    masks = 2 if any(k["attention"] == "sliding" for k in a["layer_kinds"]) and \
        any(k["attention"] == "global" for k in a["layer_kinds"]) else 1
    out.print(f"[bold]compute[/bold]   {size(o['compute_cpu_full_context_bytes'])} on CPU at full context "
              f"≈ {r['kv']['ubatch']} × {r['kv']['cells_global']:,} cells × ({CPU_BYTES_PER_HEAD:g} B × {heads} heads + "
              f"{CPU_BYTES_PER_MASK:g} B × {masks} mask{'s' if masks > 1 else ''}); {size(o['compute_cpu_short_prompt_bytes'])} for a "
              f"64-token prompt; llama.cpp's reserved buffer (allocated up front on a GPU) "
              f"{size(o['compute_reserved_bytes'])}", highlight=False)
    t = r["totals_by_kind"]
    res = w["resident_bytes"]
    out.print(f"[bold]total[/bold]     {size(r['total_bytes'])} on CPU with the context full "
              f"(resident weights + KV + runtime + compute); "
              f"{size(t['gpu'])} of VRAM on a GPU ({size(res['gpu'])} weights: input-layer lookups stay in RAM; "
              f"reserved compute buffer); {size(t['unified'])} on unified memory; "
              f"{size(r['peak_short_prompt_bytes'])} peak after a 64-token prompt (what a typical bakeoff "
              f"trial measures)\n", highlight=False)

    rl = r["roofline"]
    print_hardware_table(r, out)
    for h in r["hardware"]:
        if h["bandwidth_label"] == "measured":
            out.print(f"{escape(h['name'])}: {escape(h['source'])}", highlight=False)
    rules = sorted({f"{h['kind']}: {h['usable_rule']}" for h in r["hardware"] if h.get("usable_rule")})
    out.print("usable memory: " + "; ".join(rules), highlight=False)
    out.print(f"decode roofline: tok/s ≤ bandwidth / bytes per token ({size(rl['active_weight_bytes'])} weights + "
              f"{size(rl['kv_read_bytes'])} KV read at depth {rl['depth']:,}); with an offload, time per token = "
              "GPU bytes / GPU bandwidth + RAM bytes / RAM bandwidth (+ PCIe bytes / PCIe bandwidth)", highlight=False)
    for e in r.get("engines", {}).values():
        out.print(f"[dim]{escape(e['runtime_model'])}; KV {size(e['kv_bytes'])}[/dim]", highlight=False)

    if r["measured"]:
        mt = Table(title="measured in the results database (bakeoff's llamacpp backend)", title_justify="left")
        for col in ("contender", "from", "ctx", "n", "peak MiB (measured)", "peak MiB (estimated)", "error",
                    "decode tok/s (measured)", "roofline tok/s (this machine)", "efficiency"):
            mt.add_column(col, overflow="fold")
        for m in r["measured"]:
            mt.add_row(escape(m["spec"]), escape(m["source"]), f"{m['ctx']:,}", str(m["trials"]),
                       "–" if m["peak_mem_mib_max"] is None else f"{m['peak_mem_mib_max']:.0f}",
                       "–" if m["estimated_peak_bytes"] is None else f"{m['estimated_peak_bytes'] / MIB:.0f}",
                       "–" if m.get("peak_error_pct") is None else f"{m['peak_error_pct']:+.1f}%",
                       "–" if not m["decode_tps_median"] else f"{m['decode_tps_median']:.1f}",
                       _tps(m.get("roofline_this_machine_tps")) if m["this_host"] else "other host",
                       "–" if m.get("efficiency") is None else f"{m['efficiency']:.0%}")
        out.print(mt)
        for m in r["measured"]:
            e = m.get("engine_reported")
            if e:
                out.print(f"{escape(m['spec'])} at n_ctx {m['ctx']:,}, engine-reported by llama.cpp: KV "
                          f"{e['kv_mib']:.2f} MiB (estimated {e['estimated_kv_mib']:.2f}), compute buffer "
                          f"{e['compute_mib']:.2f} MiB (estimated reservation {e['estimated_compute_reserved_mib']:.2f})",
                          highlight=False)
    if r.get("twin_measurement"):
        print_twin_measurement(r["twin_measurement"], out)
    for note in r["notes"]:
        out.print(f"[yellow]note:[/yellow] {escape(note)}", highlight=False)


def print_twin_measurement(m: dict, out: Console) -> None:
    t = m["twin"]
    table = Table(title=f"estimate vs the twin measured on this machine ({escape(t['spec'])}, mmap off)",
                  title_justify="left")
    for col in ("figure", "estimated", "measured", "error", "measured by"):
        table.add_column(col, overflow="fold")
    for row in m["memory"]:
        table.add_row(escape(row["figure"]), size(row["estimated_bytes"]), size(row["measured_bytes"]),
                      "–" if row["error_pct"] is None else f"{row['error_pct']:+.1f}%", escape(row["measured_source"]))
    out.print(table)
    s = m["speed"]
    sd = lambda v: "" if v is None else f" ± {v:.2f}"  # noqa: E731
    out.print(f"speed (measured, {s['repetitions']} repetitions, {t['threads']} threads): prefill pp{s['n_prompt']} "
              f"{s['prefill_tps']:.2f}{sd(s['prefill_tps_stddev'])} tok/s, decode tg{s['n_gen']} "
              f"{s['decode_tps']:.2f}{sd(s['decode_tps_stddev'])} tok/s", highlight=False)
    if s["roofline_decode_tps"]:
        out.print(f"decode roofline at depth {s['roofline_depth']} on {s['bandwidth_gbs']:.1f} GB/s "
                  f"({escape(s['bandwidth_source'])}): {s['roofline_decode_tps']:.2f} tok/s; efficiency "
                  f"{s['efficiency']:.0%} of the roofline", highlight=False)
    out.print(f"[dim]quality: {m['quality']}[/dim]")


def _offload_cell(h: dict) -> str:
    o = h.get("offload")
    if not o:
        return "–"
    if not o.get("placement"):
        return escape(o.get("note", "no offload fits"))
    verdict = "fits" if o["fits"] else "does not fit"
    ram = f", RAM {size(o['ram_bytes'])}" if o.get("ram_bytes") else ""
    return (f"{verdict} with {escape(o['placement'])}: VRAM {size(o['vram_bytes'])}{ram}, "
            f"~{_tps(o['decode_tps_roofline'])} tok/s")


def print_hardware_table(r: dict, out: Console) -> None:
    """One row per hardware profile and engine: the whole model on the device, and where it does not
    fit (or a placement was given), the smallest offload that fits and its roofline."""
    table = Table(title=f"fit at {r['ctx']:,} tokens, per engine (estimated)", title_justify="left")
    for col in ("hardware", "engine", "needs", "usable", "fits", "tok/s at ctx", "tok/s, empty", "with offload"):
        table.add_column(col, overflow="fold")
    engines = r.get("engines") or {r.get("engine", "llama-cpp-python"): {"hardware": r["hardware"]}}
    n_profiles = len(r["hardware"])
    for i in range(n_profiles):
        for eid, e in engines.items():
            h = e["hardware"][i]
            name = escape(h["name"]) + ("" if h["memory_label"] == "spec" else f" [{h['memory_label']}]")
            if h.get("supported") is False:
                table.add_row(name, eid, "–", "–", "n/a", "–", "–", escape(h.get("note", "")))
                continue
            table.add_row(name, eid, size(h["total_bytes"]), size(h["usable_bytes"]),
                          "[green]yes[/green]" if h["fits"] else "[red]no[/red]",
                          _tps(h["decode_tps_roofline"]), _tps(h["decode_tps_roofline_empty"]), _offload_cell(h))
    out.print(table)
