"""Cost per 1M tokens, the price table, the break-even and `bakeoff cost`, checked by hand arithmetic."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bakeoff.errors import InputError
from bakeoff.measure.cost import (
    DEFAULT_CLOUD_MODELS,
    PackagePrices,
    CostConfig,
    break_even,
    cpu_power,
    cloud_cost_per_mtok,
    find_price,
    load_cost_config,
    load_prices,
    local_cost_from_power,
    local_cost_per_mtok,
    local_usage_from_db,
    package_prices,
)
from bakeoff.measure.energy import EnergySample

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def no_user_files(tmp_path, monkeypatch):
    """Keep the developer's own ~/.config/bakeoff out of the tests."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))


def cfg(**kw) -> CostConfig:
    base = {"electricity_price_per_kwh": 0.20, "hardware_price": 1000, "lifetime_years": 1, "hours_per_day": 10,
            "utilisation": 0.5, "currency": "USD"}
    return CostConfig(**(base | kw))


# ------------------------------------------------------------------------------------- local


def test_local_cost_hand_arithmetic():
    c = cfg()
    # 3600 J = 0.001 kWh; 36 s = 0.01 h; lifetime = 1 × 365 × 10 × 0.5 = 1825 h
    f = local_cost_per_mtok(3600.0, 1000, 36.0, c, energy_label="measured")
    energy = 0.001 * 0.20 / 1000 * 1e6            # 0.2
    hardware = 1000 / 1825 * 0.01 / 1000 * 1e6     # 5.47945...
    assert c.lifetime_hours == 1825
    assert f.parts["energy"] == pytest.approx(energy)
    assert f.parts["hardware"] == pytest.approx(hardware)
    assert f.value == pytest.approx(energy + hardware)
    assert f.label == "measured" and f.currency == "USD"
    a = f.assumptions
    assert a["energy_j"] == 3600 and a["tokens"] == 1000 and a["hours_used"] == pytest.approx(0.01)
    for key in ("electricity_price_per_kwh", "hardware_price", "lifetime_years", "hours_per_day", "utilisation",
                "lifetime_hours", "cpu_tdp_watts", "currency"):
        assert key in a


def test_local_cost_estimated_and_from_sample():
    s = EnergySample(joules=7200.0, label="estimated", source="TDP 65 W × ...", seconds=36.0, parts={"cpu": 7200.0})
    f = local_cost_per_mtok(s, 1000, 36.0, cfg())
    assert f.label == "estimated" and f.parts["energy"] == pytest.approx(0.4)
    assert f.assumptions["energy_source"] == "TDP 65 W × ..."


def test_local_cost_unavailable_keeps_hardware_part():
    s = EnergySample(None, "unavailable", "no RAPL, no GPU", 36.0)
    f = local_cost_per_mtok(s, 1000, 36.0, cfg())
    assert f.value is None and f.label == "unavailable"
    assert f.parts["energy"] is None
    assert f.parts["hardware"] == pytest.approx(1000 / 1825 * 0.01 / 1000 * 1e6)
    assert "no RAPL" in f.source
    f = local_cost_per_mtok(None, 1000, 36.0, cfg())
    assert f.value is None and f.parts["hardware"] is not None


def test_local_cost_number_needs_a_label_and_tokens():
    with pytest.raises(ValueError):
        local_cost_per_mtok(100.0, 10, 1.0, cfg())
    f = local_cost_per_mtok(100.0, 0, 1.0, cfg(), energy_label="measured")
    assert f.value is None and f.label == "unavailable"


def test_local_cost_from_power():
    # 50 W at 25 tok/s: 1e6 tokens take 40,000 s = 11.11 h and 2,000,000 J = 0.5556 kWh
    f = local_cost_from_power(50, 25, cfg())
    assert f.label == "estimated"
    assert f.parts["energy"] == pytest.approx(2e6 / 3.6e6 * 0.20)
    assert f.parts["hardware"] == pytest.approx(1000 / 1825 * 40000 / 3600)


# ------------------------------------------------------------------------------------ config


def test_default_config_loads_with_sources():
    c = load_cost_config()
    assert c.currency == "USD" and c.cpu_tdp_watts is None and c.cpu_watts_per_core == 4
    for key in ("electricity_price_per_kwh", "hardware_price", "lifetime_years", "hours_per_day", "utilisation",
                "cpu_tdp_watts", "cpu_watts_per_core", "currency"):
        assert c.sources[key].startswith("default: ")


def test_cpu_power_for_an_estimate(tmp_path):
    """Default: the per-core figure × logical cores, saying so; a TDP in cost.yaml replaces it;
    cpu_watts_per_core: null turns the estimate off."""
    watts, source = cpu_power(load_cost_config(), logical_cores=16, cpu_model="AMD Ryzen 7 7700")
    assert watts == 64
    assert source == ("assumed: 4 W per logical core × 16 logical cores of AMD Ryzen 7 7700 (cpu_watts_per_core, "
                      "bakeoff's default (cost_defaults.yaml says why)); set cpu_tdp_watts in cost.yaml to replace it")
    p = tmp_path / "cost.yaml"
    p.write_text("cpu_tdp_watts: 28\n")
    watts, source = cpu_power(load_cost_config(p), logical_cores=16, cpu_model="x")
    assert watts == 28 and source == f"cpu_tdp_watts, {p}:1"
    p.write_text("cpu_watts_per_core: null\n")
    assert cpu_power(load_cost_config(p), logical_cores=16, cpu_model="x") == (None, None)
    p.write_text("cpu_watts_per_core: 2.5\n")
    assert cpu_power(load_cost_config(p), logical_cores=4, cpu_model="x")[0] == 10


def test_user_config_overrides_some_keys(tmp_path):
    d = tmp_path / "xdg" / "bakeoff"
    d.mkdir(parents=True)
    (d / "cost.yaml").write_text("# mine\nelectricity_price_per_kwh: 0.31\ncurrency: EUR\n"
                                 "sources:\n  electricity_price_per_kwh: my bill, March\n")
    c = load_cost_config()
    assert c.electricity_price_per_kwh == 0.31 and c.currency == "EUR"
    assert "my bill" in c.sources["electricity_price_per_kwh"]
    assert c.sources["currency"].endswith("cost.yaml:3")
    assert c.sources["hardware_price"].startswith("default: ")


def test_explicit_config_path(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("hardware_price: 0\ncpu_tdp_watts: 28\n")
    c = load_cost_config(p)
    assert c.hardware_price == 0 and c.cpu_tdp_watts == 28
    with pytest.raises(InputError, match="no such cost config file"):
        load_cost_config(tmp_path / "missing.yaml")


@pytest.mark.parametrize("text, line, needle", [
    ("hardware_price: 900\nelectricty_price_per_kwh: 0.2\n", 2, "unknown key"),
    ("hardware_price: 900\n\nlifetime_years: -3\n", 3, "lifetime_years"),
    ("utilisation: 1.5\n", 1, "utilisation"),
    ("hours_per_day: lots\n", 1, "hours_per_day"),
    ("hardware_price: 1\nhardware_price: 2\n", 2, "duplicate key"),
    ("hardware_price: [1\n", 2, "not valid YAML"),
    ("- a list\n", 1, "mapping"),
])
def test_config_errors_have_file_and_line(tmp_path, text, line, needle):
    p = tmp_path / "cost.yaml"
    p.write_text(text)
    with pytest.raises(InputError) as info:
        load_cost_config(p)
    e = info.value
    assert e.file == str(p) and e.line == line, str(e)
    assert needle in str(e)
    assert str(e).startswith(f"{p}:{line}: ")


# -------------------------------------------------------------------------------- price table


REQUIRED = {"openai:gpt-4o", "openai:gpt-4o-mini", "openai:gpt-4.1", "openai:gpt-4.1-mini",
            "anthropic:claude-sonnet-4-5", "anthropic:claude-haiku-4-5", "anthropic:claude-opus-4-1",
            "google:gemini-2.5-pro", "google:gemini-2.5-flash"}


def _named_cloud_models() -> set[str]:
    """Cloud specs the backends' documentation and the README name (gemini: is Google's API)."""
    texts = [p.read_text() for p in (ROOT / "src/bakeoff/backends").glob("*.py")] + [(ROOT / "README.md").read_text()]
    found = set()
    for text in texts:
        for provider, model in re.findall(r"\b(openai|anthropic|gemini):([a-z0-9][a-z0-9.\-]*[a-z0-9])", text):
            found.add(f"{'google' if provider == 'gemini' else provider}:{model}")
    return found


def test_every_default_cloud_model_has_a_dated_sourced_price():
    prices = load_prices()
    named = _named_cloud_models()
    assert named and named <= set(DEFAULT_CLOUD_MODELS), named - set(DEFAULT_CLOUD_MODELS)
    assert REQUIRED <= set(DEFAULT_CLOUD_MODELS)
    for key in DEFAULT_CLOUD_MODELS:
        e = find_price(key, prices)
        assert e.key == key
        assert e.source.startswith("https://") and "genai-prices" in e.source, key
        assert len(e.as_of) in (7, 10) and e.as_of[:2] == "20", key
        assert e.input > 0 and e.output > 0 and e.currency == "USD", key


# Figures as the providers' pricing pages state them, as genai-prices 0.2.3 records them
# (USD per 1M tokens: input, cached input, output).
PAGE_FIGURES = {
    "openai:gpt-4o": (2.50, 1.25, 10.00),
    "openai:gpt-4o-mini": (0.15, 0.075, 0.60),
    "openai:gpt-4.1": (2.00, 0.50, 8.00),
    "anthropic:claude-sonnet-4-5": (3.00, 0.30, 15.00),
    "anthropic:claude-haiku-4-5": (1.00, 0.10, 5.00),
    "anthropic:claude-opus-4-1": (15.00, 1.50, 75.00),
    "google:gemini-2.5-pro": (1.25, 0.125, 10.00),
    "google:gemini-2.5-flash": (0.30, 0.03, 2.50),
}


@pytest.mark.parametrize("key", sorted(PAGE_FIGURES))
def test_package_prices_match_the_providers_pages(key):
    e = load_prices()[key]
    assert (e.input, e.cached_input, e.output) == pytest.approx(PAGE_FIGURES[key])
    assert e.origin.startswith("genai-prices ")


def test_package_price_in_force_on_a_date():
    """A price the package announces for later is not used before its date; the date a price took
    effect is kept; the snapshot's date is its newest price change already in force."""
    from datetime import date

    now = PackagePrices(today=date(2026, 12, 3))
    assert now.snapshot_date == "2026-12-01"
    flash = now.lookup("google", "gemini-3.6-flash")            # 1.5 / 7.5 from 2027-01-01
    assert (flash.input, flash.output, flash.effective_from) == (0.75, 3.75, None)
    assert flash.as_of == "2026-12-01"
    later = PackagePrices(today=date(2027, 1, 2)).lookup("google", "gemini-3.6-flash")
    assert (later.input, later.output, later.effective_from) == (1.5, 7.5, "2027-01-01")
    o3 = now.lookup("openai", "o3")                              # cut from 10 / 40 on 2025-06-10
    assert (o3.input, o3.output, o3.effective_from) == (2.0, 8.0, "2025-06-10")
    assert now.lookup("openai", "no-such-model") is None


def test_long_prompt_tiers_are_noted():
    e = load_prices()["google:gemini-2.5-pro"]
    assert "long prompts are priced higher" in e.notes and "2.5 above 200,000 input tokens" in e.notes


def test_bakeoff_keeps_no_entry_the_package_covers():
    from importlib import resources

    import yaml

    own = yaml.safe_load(resources.files("bakeoff").joinpath("data/prices.yaml").read_text())["models"]
    pkg = package_prices()
    for key in own:
        provider, _, model = key.partition(":")
        assert provider not in ("openai", "anthropic", "google") or pkg.lookup(provider, model) is None, key


@pytest.mark.skipif(shutil.which("unshare") is None or os.geteuid() != 0,
                    reason="needs unshare and root for a network namespace")
def test_price_package_works_without_network(tmp_path):
    """The price table loads and prices under `unshare -n` (no network namespace), and nothing
    even tries to connect or resolve a name."""
    code = (
        "import socket\n"
        "tries = []\n"
        "def refuse(*a, **k):\n"
        "    tries.append(a)\n"
        "    raise OSError('network use refused by the test')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "socket.getaddrinfo = refuse\n"
        "import genai_prices\n"
        "from bakeoff.measure.cost import load_prices, find_price, cloud_cost_per_mtok\n"
        "p = load_prices()\n"
        "f = cloud_cost_per_mtok(find_price('anthropic:claude-haiku-4-5', p), 1e6, 1e6, p)\n"
        "assert abs(f.value - 6.0) < 1e-9, f\n"
        "assert not tries, tries\n"
        "print('offline ok', f.assumptions['as_of'])\n")
    env = os.environ | {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "PYTHONPATH": str(ROOT / "src")}
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False)
    assert probe.returncode == 0, f"unshare -n refused as root: {probe.stderr.decode()[:200]}"
    r = subprocess.run(["unshare", "-n", sys.executable, "-c", code], capture_output=True, text=True,
                       env=env, timeout=120, check=False)
    assert r.returncode == 0, r.stderr
    assert "offline ok" in r.stdout
    # and the namespace really had no network
    r = subprocess.run(["unshare", "-n", sys.executable, "-c",
                        "import socket; s = socket.socket(); s.settimeout(2); s.connect(('1.1.1.1', 443))"],
                       capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode != 0 and ("unreachable" in r.stderr.lower() or "OSError" in r.stderr)


def test_find_price_accepts_specs_and_aliases():
    prices = load_prices()
    assert find_price("gpt-4o", prices).key == "openai:gpt-4o"
    assert find_price("openai:gpt-4o-mini?temperature=0", prices).key == "openai:gpt-4o-mini"
    assert find_price("anthropic:claude-sonnet-4-5-20250929", prices).key == "anthropic:claude-sonnet-4-5"
    assert find_price("gemini:gemini-2.5-flash", prices).key == "google:gemini-2.5-flash"
    assert find_price("OpenAI:GPT-4.1", prices).key == "openai:gpt-4.1"
    with pytest.raises(InputError, match="no price for 'gpt-9'.*anthropic:claude-haiku-4-5"):
        find_price("gpt-9", prices)


def test_user_price_file_overrides_and_extends(tmp_path):
    d = tmp_path / "xdg" / "bakeoff"
    d.mkdir(parents=True)
    (d / "prices.yaml").write_text(
        "models:\n"
        "  openai:gpt-4o:\n    input: 2.0\n    output: 8.0\n    source: https://example.org/my-contract\n    as_of: 2026-10-01\n"
        "  mistral:mistral-small:\n    input: 0.1\n    output: 0.3\n")
    prices = load_prices()
    assert prices["openai:gpt-4o"].input == 2.0 and prices["openai:gpt-4o"].as_of == "2026-10-01"
    assert prices["openai:gpt-4o"].cached_input is None          # replaced as a whole
    small = prices["mistral:mistral-small"]
    assert small.source.startswith("your price file") and len(small.as_of) == 10
    assert prices["openai:gpt-4.1"].input == 2.0                 # untouched package entry
    assert prices["openai:gpt-4.1"].origin.startswith("genai-prices")


def test_price_file_errors_have_file_and_line(tmp_path):
    p = tmp_path / "prices.yaml"
    p.write_text("models:\n  x:y:\n    input: 1\n    outptu: 2\n")
    with pytest.raises(InputError) as info:
        load_prices(p)
    assert info.value.line == 4 and "models.x:y.outptu: unknown key" in str(info.value)
    p.write_text("models:\n  x:y:\n    input: 1\n    output: 2\n    as_of: last week\n")
    with pytest.raises(InputError) as info:
        load_prices(p)
    assert info.value.line == 5 and "as_of" in str(info.value)


def test_cloud_cost_hand_arithmetic():
    prices = load_prices()
    # gpt-4o: 2.50 in, 10.00 out. 2M in + 1M out = 5 + 10 = 15 USD.
    f = cloud_cost_per_mtok("openai:gpt-4o", 2e6, 1e6, prices)
    assert f.value == pytest.approx(15.0) and f.label == "price table"
    assert f.parts == {"input": pytest.approx(5.0), "output": pytest.approx(10.0)}
    assert f.assumptions["as_of"] == prices["openai:gpt-4o"].as_of and "openai.com" in f.source
    assert "genai-prices" in f.source and f"as of {f.assumptions['as_of']}" in f.source
    assert cloud_cost_per_mtok("gpt-4o", 2e6, 1e6, prices, per="total").value == pytest.approx(5.0)


# --------------------------------------------------------------------------------- break-even


def test_break_even_hand_arithmetic():
    c = cfg(hardware_price=1200, lifetime_years=2)          # 1200 / 24 = 50 per month
    local = local_cost_per_mtok(2.5 * 3.6e6, 1e6, 3600.0, c, energy_label="measured")
    assert local.parts["energy"] == pytest.approx(0.5)        # 2.5 kWh × 0.20 per 1M tokens
    prices = load_prices()
    cloud = cloud_cost_per_mtok("openai:gpt-4o-mini", 1e6, 1e6, prices)   # 0.15 + 0.60 = 0.75 per 1M out
    be = break_even(local, cloud, c)
    assert be.fixed_per_month == pytest.approx(50.0)
    assert be.tokens_per_month == pytest.approx(50 / ((0.75 - 0.5) / 1e6))   # 200,000,000
    assert "above 200,000,000 tokens/month" in be.verdict
    text = "\n".join(be.lines())
    assert "1200 USD / (2 years × 12) = 50.00 USD/month" in text and "0.5 USD/1M output tokens" in text
    assert be.assumptions["cloud_as_of"] == prices["openai:gpt-4o-mini"].as_of

    # capacity: 10 tok/s × 10 h/day × 0.5 × 30.4167 days = 5,475,000 tokens/month < 200M
    be = break_even(local, cloud, c, tokens_per_second=10)
    assert be.capacity_tokens_per_month == pytest.approx(10 * 3600 * 10 * 0.5 * 365 / 12)
    assert "more than this machine can generate" in be.verdict


def test_break_even_never_and_unavailable():
    c = cfg()
    prices = load_prices()
    cloud = cloud_cost_per_mtok("gpt-4o-mini", 0, 1e6, prices)          # 0.60 per 1M out
    pricey = local_cost_per_mtok(3.6e6 * 10, 1e6, 3600, c, energy_label="measured")   # 10 kWh × 0.2 = 2.0 per 1M
    be = break_even(pricey, cloud, c)
    assert be.tokens_per_month is None and "never cheaper" in be.verdict
    unknown = local_cost_per_mtok(None, 1e6, 3600, c)
    be = break_even(unknown, cloud, c)
    assert be.tokens_per_month is None and be.verdict.startswith("unavailable")
    assert be.assumptions["lower_bound_tokens_per_month"] == pytest.approx(c.hardware_per_month / 0.6e-6)
    eur = local_cost_per_mtok(3600.0, 1e6, 3600, cfg(currency="EUR"), energy_label="measured")
    assert "EUR" in break_even(eur, cloud, cfg(currency="EUR")).verdict


# --------------------------------------------------------------------------------------- DB + CLI


def _db(path: Path, energy: bool) -> None:
    conn = sqlite3.connect(path)
    extra = ", energy_j REAL, energy_label TEXT, energy_source TEXT" if energy else ""
    conn.execute(f"CREATE TABLE trials (id TEXT, run_id TEXT, spec TEXT, status TEXT, prompt_tokens INTEGER, "
                 f"output_tokens INTEGER, e2e_ms REAL{extra})")
    rows = [("a", "r", "llamacpp:m1", "ok", 100, 200, 4000.0, 36.0, "measured", "RAPL intel-rapl:0 (package-0)"),
            ("b", "r", "llamacpp:m1", "ok", 300, 800, 6000.0, 144.0, "measured", "RAPL intel-rapl:0 (package-0)"),
            ("c", "r", "llamacpp:m1", "error", None, None, None, None, None, None),
            ("d", "r", "llamacpp:m2", "ok", 50, 100, 1000.0, None, "unavailable", "no RAPL")]
    for r in rows:
        conn.execute(f"INSERT INTO trials VALUES ({','.join('?' * (10 if energy else 7))})", r if energy else r[:7])
    conn.commit()
    conn.close()


def test_local_usage_from_db(tmp_path):
    p = tmp_path / "b.db"
    _db(p, energy=True)
    m1, m2 = local_usage_from_db(p)
    assert (m1.spec, m1.trials, m1.prompt_tokens, m1.output_tokens, m1.seconds) == ("llamacpp:m1", 2, 400, 1000, 10.0)
    assert m1.energy_j == 180.0 and m1.energy_label == "measured" and m1.tokens_per_second == 100.0
    assert m2.energy_j is None and m2.energy_label == "unavailable" and "no RAPL" in m2.energy_source
    p2 = tmp_path / "old.db"
    _db(p2, energy=False)
    (old,) = [u for u in local_usage_from_db(p2) if u.spec == "llamacpp:m1"]
    assert old.energy_j is None and "no energy columns" in old.energy_source
    with pytest.raises(InputError):
        local_usage_from_db(tmp_path / "none.db")


def test_local_usage_names_the_recorded_meter(tmp_path):
    p = tmp_path / "b.db"
    _db(p, energy=True)
    meter = {"cpu": {"method": "estimate", "tdp_watts": 8.0, "tdp_source": "assumed: 4 W per logical core × 2"},
             "gpu": {"method": None}}
    with sqlite3.connect(p) as conn:
        conn.execute("CREATE TABLE contenders (run_id TEXT, spec TEXT, facts TEXT)")
        conn.execute("INSERT INTO contenders VALUES ('r', 'llamacpp:m1', ?)", (json.dumps({"energy_meter": meter}),))
    conn.close()
    m1 = next(u for u in local_usage_from_db(p) if u.spec == "llamacpp:m1")
    assert m1.energy_source == ("sum over 2 trials; CPU estimated: 8 W × this process's share of the cores "
                                "(assumed: 4 W per logical core × 2); no GPU counted")


def _cli(*args: str, env_home: Path) -> subprocess.CompletedProcess:
    env = os.environ | {"XDG_CONFIG_HOME": str(env_home)}
    return subprocess.run([sys.executable, "-m", "bakeoff", "cost", *args], capture_output=True, text=True, check=False,
                          env=env, cwd=ROOT, timeout=120)


def test_cli_cost_json(tmp_path):
    r = _cli("--json", env_home=tmp_path / "xdg")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert {p["key"] for p in data["prices"]} >= REQUIRED
    assert data["local"] == [] and data["break_even"] == []
    assert all(c["cost"]["label"] == "price table" for c in data["cloud"])
    assert data["config"]["hardware_price"]["from"].startswith("default: ")


def test_cli_cost_with_db_and_break_even(tmp_path):
    p = tmp_path / "b.db"
    _db(p, energy=True)
    r = _cli("--db", str(p), "--cloud", "gpt-4o-mini", "--json", env_home=tmp_path / "xdg")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    m1 = next(x for x in data["local"] if x["spec"] == "llamacpp:m1")
    # 180 J = 5e-5 kWh × 0.15 / 1000 tokens × 1e6 = 0.0075 per 1M; hardware 1500 / 8760 h × (10/3600 h) / 1000 × 1e6
    assert m1["cost"]["parts"]["energy"] == pytest.approx(180 / 3.6e6 * 0.15 / 1000 * 1e6)
    assert m1["cost"]["parts"]["hardware"] == pytest.approx(1500 / 8760 * (10 / 3600) / 1000 * 1e6)
    assert m1["cost"]["label"] == "measured" and m1["input_per_output"] == pytest.approx(0.4)
    pair = next(b for b in data["break_even"] if b["local"] == "llamacpp:m1")
    cloud = 0.4 * 0.15 + 0.60                                # per 1M output tokens on this workload
    assert pair["cloud_cost"]["value"] == pytest.approx(cloud)
    assert pair["break_even"]["tokens_per_month"] == pytest.approx((1500 / 36) / ((cloud - 0.0075) / 1e6))
    m2 = next(x for x in data["local"] if x["spec"] == "llamacpp:m2")
    assert m2["cost"]["value"] is None and m2["cost"]["parts"]["hardware"] is not None

    text = _cli("--db", str(p), "--cloud", "gpt-4o-mini", env_home=tmp_path / "xdg")
    assert text.returncode == 0
    assert "Break-even" in text.stdout and "fixed: hardware 1500 USD / (3 years × 12)" in text.stdout
    tokens = (1500 / 36) / ((cloud - 0.0075) / 1e6)
    assert "  llamacpp:m1: 100 tokens/s measured (output tokens / busy seconds)" in text.stdout
    assert f"    vs openai:gpt-4o-mini  {tokens:,.0f} tokens/month\n" in text.stdout
    assert "0.15 in / 0.6 out per 1M, 0.4 input tokens per output token; price as of 20" in text.stdout
    assert "via genai-prices" in text.stdout


def test_cli_cost_bad_input(tmp_path):
    r = _cli("--cloud", "gpt-9", env_home=tmp_path / "xdg")
    assert r.returncode == 2 and "no price for 'gpt-9'" in r.stderr and "Traceback" not in r.stderr
    r = _cli("--local-tps", "20", env_home=tmp_path / "xdg")
    assert r.returncode == 2 and "go together" in r.stderr
    bad = tmp_path / "c.yaml"
    bad.write_text("hardware_price: -1\n")
    r = _cli("--config", str(bad), env_home=tmp_path / "xdg")
    assert r.returncode == 2 and f"{bad}:1:" in r.stderr
