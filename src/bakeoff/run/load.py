"""`bakeoff load`: a serving load test against a server contender, with the figures of vLLM's
serving benchmark (``benchmarks/benchmark_serving.py``, ``calculate_metrics``).

For each concurrency level C: N requests of P prompt tokens and O output tokens are sent by C
slots, each starting the next request as soon as its last one ends (vLLM's
``--max-concurrency C`` with ``--request-rate inf``). For each arrival rate R: request i goes out
at its time in the level's schedule whatever the server does (constant: i / R; Poisson:
exponential gaps scaled to average 1 / R), as vLLM's ``--request-rate`` and GuideLLM's constant
and Poisson profiles. A sweep (GuideLLM's) runs a synchronous level (C = 1), a throughput level
(all N at once), then rates evenly between their request rates. One warm-up request before the
first level is not counted. Every figure is client-observed: taken on receipt of each streamed
chunk.

- duration: first send -> last request done (completed or failed)
- request throughput: completed requests / duration
- output throughput: output tokens of the completed requests / duration
- total token throughput: (prompt + output tokens of the completed requests) / duration
- TTFT: send -> first streamed token (reasoning or content, docs/architecture.md §4)
- E2E latency: send -> last streamed token (docs/architecture.md §4; vLLM's "E2EL")
- TPOT, per request: (E2E - TTFT) / (output tokens - 1), for requests with more than one token
- ITL: every gap between successive streamed chunks of every completed request, pooled
- mean, sample-free std (numpy's np.std), p50/p90/p99 with numpy's linear interpolation
- goodput: completed requests meeting every SLO given (ttft, tpot, e2el) / duration; as in vLLM a
  request of one output token counts TPOT 0 for the SLO
- sent rate: (requests − 1) / (last send − first send); completion rate: (completed − 1) / (last
  answer − first answer). At an arrival rate, a completion rate below 95% of the sent rate (or a
  failed request) means the server did not keep up: it saturated

The requests go out through the load client (bakeoff.run.load_client): one attempt each, no
retries, so a failed request counts as failed, with its error. For the openai-compat family it
sends the backend's own request body over a bare HTTP client and parses the streamed lines after
the level with the backend's own parser; other server backends go through their ``astream``. The
client's own CPU is recorded per level, and a level where it was saturated says so.
Prompts are random token ids turned into text (vLLM's "random" dataset), a different seed per
request so no prefix cache answers one; with a tokenizer (openai-compat's ``tokenizer=``) the text
re-tokenizes to exactly P tokens, otherwise it is P common English words (approximate).
To get O output tokens, ``ignore_eos`` and ``min_tokens`` are sent to an openai-compat server
(vLLM and llama-server honour ``ignore_eos``, llama-cpp-python's server ``min_tokens``); other
backends have no such parameter, and the actual output tokens are recorded either way.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import re
import statistics
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bakeoff import __version__
from bakeoff.backends import get_backend, make_backend
from bakeoff.backends._server import ServerBackend
from bakeoff.backends.base import BackendError, GenerationRequest
from bakeoff.errors import InputError
from bakeoff.measure.hardware import environment
from bakeoff.measure.load_stats import SOURCE, rates_achieved, summarise, tokens_source
from bakeoff.run.load_client import LevelPlan, default_workers, make_client
from bakeoff.spec import ContenderSpec
from bakeoff.store import Database

SLO_KEYS = {"ttft": "ttft_ms", "tpot": "tpot_ms", "e2el": "e2el_ms", "e2e": "e2el_ms"}


def default_requests(concurrency: int) -> int:
    """Requests per level when --requests is not given: 4 per worker, at least 8."""
    return max(8, 4 * concurrency)


# --- input ------------------------------------------------------------------------------

def parse_slo(text: str | None) -> dict[str, float]:
    """``ttft=500ms,tpot=50ms,e2el=2s`` -> {"ttft_ms": 500.0, "tpot_ms": 50.0, "e2el_ms": 2000.0}.

    Keys as vLLM's ``--goodput``: ttft, tpot, e2el (e2e accepted). ``key:value`` works too; a bare
    number is milliseconds, as in vLLM.
    """
    if text is None or not text.strip():
        return {}
    slo: dict[str, float] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        key, sep, value = part.partition("=") if "=" in part else part.partition(":")
        key, value = key.strip().lower(), value.strip().lower()
        if not sep or not value:
            raise InputError(f"--slo takes KEY=VALUE pairs such as ttft=500ms,tpot=50ms; got {part!r}")
        if key not in SLO_KEYS:
            raise InputError(f"--slo: unknown key {key!r}; use ttft, tpot or e2el (e.g. ttft=500ms,tpot=50ms)")
        match = re.fullmatch(r"([+-]?[0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*(ms|s)?", value)
        if not match:
            raise InputError(f"--slo {key}: {value!r} is not a time; write it as 500ms or 0.5s")
        number = float(match.group(1)) * (1000.0 if match.group(2) == "s" else 1.0)
        if not math.isfinite(number) or number <= 0:
            raise InputError(f"--slo {key}: the limit must be a positive time, got {value!r}")
        name = SLO_KEYS[key]
        if name in slo:
            raise InputError(f"--slo: {key} given twice")
        slo[name] = number
    return slo


def check_server_contender(spec: ContenderSpec) -> None:
    if not issubclass(get_backend(spec.backend), ServerBackend):
        raise InputError(f"{spec.canonical}: load mode needs a server contender; "
                         "use `bakeoff speed` for in-process models")


# --- prompts ----------------------------------------------------------------------------

_WORDS = ("time year people way day man thing woman life child world school state family student "
          "group country problem hand part place case week company system program question work "
          "government number night point home water room mother area money story fact month lot "
          "right study book eye job word business issue side kind head house service friend father "
          "power hour game line end member law car city community name president team minute idea "
          "kid body information back parent face others level office door health person art war "
          "history party result change morning reason research girl guy moment air teacher force "
          "education foot boy age policy music market sense nation plan college interest death").split()


class PromptMaker:
    """Random-token prompts of P tokens: exact with a tokenizer, approximate (words) without."""

    def __init__(self, tokenizer_ref: str | None, loaded=None):
        self.tokenizer = loaded  # the backend's own vocab-only Llama, when it has one
        if tokenizer_ref and loaded is None:
            from llama_cpp import Llama

            from bakeoff.models import resolve_model

            self.tokenizer = Llama(model_path=str(resolve_model(tokenizer_ref)), vocab_only=True, verbose=False)
        self.method = ("random token ids, detokenized and adjusted until the text re-tokenizes to P tokens "
                       f"(tokenizer {tokenizer_ref})" if self.tokenizer else
                       "P random common English words (about one token each in most tokenizers); "
                       "no tokenizer known for this contender")

    def count(self, text: str) -> int | None:
        if self.tokenizer is None:
            return None
        return len(self.tokenizer.tokenize(text.encode(), add_bos=False, special=False))

    def make(self, n: int, seed: str) -> tuple[str, int | None]:
        """(text, its token count: n unless the adjustment did not converge; None without a tokenizer)."""
        rng = random.Random(seed)
        if self.tokenizer is None:
            return " ".join(rng.choice(_WORDS) for _ in range(n)), None
        tok = self.tokenizer
        vocab = tok.n_vocab()
        ids = [rng.randrange(vocab) for _ in range(n)]
        text, got = "", []
        for _ in range(20):  # detokenize -> retokenize changes the count a little; converge on n
            text = tok.detokenize(ids, special=False).decode("utf-8", "replace")
            got = tok.tokenize(text.encode(), add_bos=False, special=False)
            if len(got) == n:
                break
            ids = got[:n] if len(got) > n else got + [rng.randrange(vocab) for _ in range(n - len(got))]
        return text, len(got)


def build_requests(spec: ContenderSpec, maker: PromptMaker, n: int, prompt_tokens: int,
                   output_tokens: int, seed: str) -> tuple[list[GenerationRequest], list[int | None]]:
    """n distinct requests (a seed per request), with the contender's own sampling options, and
    the tokenizer's count of each prompt text (None without a tokenizer)."""
    o = spec.options
    out, counts = [], []
    for i in range(n):
        text, count = maker.make(prompt_tokens, f"{seed}:{i}")
        counts.append(count)
        out.append(GenerationRequest(
            messages=[{"role": "user", "content": text}], max_tokens=output_tokens,
            temperature=o["temperature"] if o.get("temperature") is not None else 0.0,
            top_p=o.get("top_p"), top_k=o.get("top_k"), seed=(o.get("seed") or 0) + i))
    return out, counts


def full_length_fields(backend: ServerBackend, output_tokens: int) -> dict[str, Any] | None:
    """Body fields asking an openai-compat server not to stop at EOS before max_tokens.

    vLLM, SGLang and llama-server take ``ignore_eos``; llama-cpp-python's server takes
    ``min_tokens``. Cloud APIs take neither (OpenAI rejects unknown fields), so only the
    openai-compat backend gets them.
    """
    if backend.name != "openai-compat":
        return None
    return {"ignore_eos": True, "min_tokens": output_tokens}


def with_extra_body(requests: list[GenerationRequest], extra: dict[str, Any] | None) -> list[GenerationRequest]:
    for request in requests:
        request.extra_body = extra
    return requests


# --- one level ------------------------------------------------------------------------------

def run_level(client, requests: list[GenerationRequest], plan: LevelPlan,
              on_done: Callable[[bool], None] | None = None) -> tuple[float, list[dict], dict[str, Any]]:
    """Send a level's requests through the load client. Returns (duration s, samples, the client's
    own figures); each sample's send and done times are made relative to the first send."""
    samples, client_figures = client.run_level(requests, plan, on_done)
    t0 = min(s["t_send"] for s in samples)
    duration = max(s["t_done"] for s in samples) - t0
    for s in samples:  # relative times: when each request went out and came back, in s from t0
        s["sent_s"] = round(s.pop("t_send") - t0, 6)
        s["done_s"] = round(s.pop("t_done") - t0, 6)
    return duration, samples, client_figures


# --- the command --------------------------------------------------------------------------

@dataclass
class LevelResult:
    run_id: str
    spec: str
    concurrency: int | None
    requests: int
    completed: int
    failed: int
    prompt_tokens: int  # asked for, per request
    output_tokens: int  # asked for, per request (max_tokens)
    duration_s: float
    request_throughput: float | None
    output_throughput: float | None
    total_token_throughput: float | None
    goodput: float | None
    slo: dict[str, float] | None
    latency: dict[str, Any]
    tokens_source: str
    samples: list[dict[str, Any]]
    created_at: str
    total_input_tokens: int | None = None
    total_output_tokens: int | None = None
    good_requests: int | None = None
    source: str = SOURCE
    notes: list[str] = field(default_factory=list)
    client: dict[str, Any] | None = None  # the load client's own cost: workers, CPU s and busy share each
    level: int = 0  # position in the contender's run
    profile: str = "concurrency"  # concurrency | constant | poisson
    target_rate: float | None = None  # requests/s asked for (arrival profiles)
    sent_rate: float | None = None  # requests/s that went out, first to last send
    completion_rate: float | None = None  # requests/s that came back, first to last completion
    sweep: str | None = None  # the sweep step this level was, e.g. "synchronous", "throughput", "rate 3/5"


@dataclass
class LevelSpec:
    """One level to run: fixed ``concurrency``, or requests arriving at ``rate`` per second."""

    profile: str  # concurrency | constant | poisson
    concurrency: int | None = None
    rate: float | None = None
    sweep: str | None = None

    @property
    def label(self) -> str:
        return f"concurrency {self.concurrency}" if self.rate is None else f"{self.profile} {self.rate:.3g} req/s"


@dataclass
class LoadSettings:
    concurrency: list[int]
    requests: int | None
    prompt_tokens: int
    output_tokens: int
    slo: dict[str, float]
    timeout_s: float = 300.0
    workers: int = field(default_factory=default_workers)
    rates: list[float] = field(default_factory=list)  # requests/s, one level each
    arrival: str = "constant"  # constant | poisson: how requests arrive at a rate
    sweep: int | None = None  # rate levels between the synchronous and the throughput level

    def __post_init__(self) -> None:
        if self.arrival not in ARRIVALS:
            raise InputError(f"--arrival takes {' or '.join(ARRIVALS)}, got {self.arrival!r}")
        if any(not math.isfinite(r) or r <= 0 for r in self.rates):
            raise InputError("--rate takes request rates > 0 per second, e.g. 0.5,1,2, or sweep")
        if self.sweep is not None and not 1 <= self.sweep <= 50:
            raise InputError("--rate sweep:N takes 1 to 50 rate levels")
        if not (self.concurrency or self.rates or self.sweep) or any(c < 1 for c in self.concurrency):
            raise InputError("--concurrency takes levels >= 1, e.g. 1,2,4,8,16")
        if self.prompt_tokens < 1 or self.output_tokens < 1:
            raise InputError("--prompt-tokens and --output-tokens must be at least 1")
        if self.workers < 1:
            raise InputError("--workers must be at least 1")
        if self.requests is not None and self.requests < 1:
            raise InputError("--requests must be at least 1")

    def levels(self) -> list[LevelSpec]:
        """The levels known before the run (a sweep adds its rate levels as it learns the range)."""
        if self.sweep:
            return [LevelSpec("concurrency", 1, sweep="synchronous"),
                    LevelSpec("concurrency", self.requests or SWEEP_REQUESTS, sweep="throughput")]
        return ([LevelSpec("concurrency", c) for c in self.concurrency]
                + [LevelSpec(self.arrival, rate=r) for r in self.rates])

    def requests_at(self, level: LevelSpec) -> int:
        if self.requests:
            return self.requests
        if level.sweep:
            return SWEEP_REQUESTS
        if level.rate is not None:
            return default_rate_requests(level.rate)
        return default_requests(level.concurrency)

    def planned_requests(self) -> int:
        return (sum(self.requests_at(level) for level in self.levels())
                + (self.sweep or 0) * (self.requests or SWEEP_REQUESTS))


ARRIVALS = ("constant", "poisson")
SWEEP_REQUESTS = 32  # per sweep level unless --requests says otherwise
SWEEP_DEFAULT = 5


def parse_rates(text: str | None) -> tuple[list[float], int | None]:
    """``--rate 0.5,1,2`` -> ([0.5, 1.0, 2.0], None); ``sweep`` or ``sweep:8`` -> ([], 5 or 8)."""
    if text is None or not text.strip():
        return [], None
    text = text.strip().lower()
    if text.startswith("sweep"):
        _, sep, count = text.partition(":")
        try:
            return [], int(count) if sep else SWEEP_DEFAULT
        except ValueError:
            raise InputError(f"--rate sweep:N takes a whole number of rate levels, got {text!r}") from None
    try:
        return [float(part) for part in text.split(",") if part.strip()], None
    except ValueError:
        raise InputError(f"--rate takes requests per second as a comma list (e.g. 0.5,1,2) or sweep; got {text!r}") from None


def default_rate_requests(rate: float) -> int:
    """Requests per rate level when --requests is not given: ten seconds of arrivals, at least 16."""
    return max(16, math.ceil(10 * rate))


def schedule(profile: str, rate: float, n: int, seed: str) -> list[float]:
    """When each of n requests goes out, in s after the level's start. constant: every 1/rate s.
    poisson: exponential gaps of mean 1/rate (seeded), scaled so that they average exactly 1/rate
    (a Poisson process given its count), so the level offers exactly the target rate."""
    if profile == "constant" or n < 2:
        return [i / rate for i in range(n)]
    rng = random.Random(seed)
    gaps = [rng.expovariate(rate) for _ in range(n - 1)]
    scale = (n - 1) / rate / sum(gaps)
    offsets, t = [0.0], 0.0
    for gap in gaps:
        t += gap * scale
        offsets.append(t)
    return offsets


def sweep_rates(synchronous: float, throughput: float, steps: int) -> list[float]:
    """GuideLLM's sweep: ``steps`` rates evenly spaced strictly between the synchronous rate (one
    request at a time) and the throughput rate (all at once)."""
    low, high = sorted((synchronous, throughput))
    return [low + (high - low) * k / (steps + 1) for k in range(1, steps + 1)]


@dataclass
class LoadRun:
    run_id: str
    results: list[LevelResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    status: str = "running"


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def run_load(db: Database, specs: list[ContenderSpec], settings: LoadSettings, argv: list[str],
             progress=None) -> LoadRun:
    """Every contender at every level; one load_results row per level, committed as it ends."""
    for spec in specs:
        check_server_contender(spec)
    run = LoadRun(run_id=uuid.uuid4().hex[:12])
    db.start_run(run.run_id, _now(), "load", argv, __version__, environment())
    if progress:
        progress.start(settings.planned_requests() * len(specs), 0)
    try:
        for spec in specs:
            _load_contender(db, run, spec, settings, progress)
        run.status = "error" if run.errors else "completed"
    except KeyboardInterrupt:
        run.status = "interrupted"
        raise
    except BaseException:
        run.status = "error"
        raise
    finally:
        db.finish_run(run.run_id, _now(), run.status)
    return run


def _load_contender(db: Database, run: LoadRun, spec: ContenderSpec, settings: LoadSettings, progress) -> None:
    def note(text: str) -> None:
        run.notes.append(f"{spec.canonical}: {text}")
        if progress:
            progress.note(f"{spec.canonical}: {text}")

    client = make_client(spec.canonical, settings.timeout_s, settings.workers)
    try:
        try:
            facts = client.load()
        except BackendError as exc:
            _failed(db, run, spec, f"contender failed to load: {exc}", progress, settings)
            return
        backend = make_backend(spec, settings.timeout_s)  # not loaded: only its name and options are read
        maker = PromptMaker(spec.options.get("tokenizer"))
        seed = uuid.uuid4().hex[:8]  # new prompts every run: no cache from an earlier run answers them
        extra = full_length_fields(backend, settings.output_tokens)
        full_length = "ignore_eos=true, min_tokens=O (extra body fields)" if extra else None
        warm = build_requests(spec, maker, 1, settings.prompt_tokens, settings.output_tokens, f"{seed}:warm-up")[0]
        with_extra_body(warm, extra)
        sample = run_level(client, warm, LevelPlan(slots=1))[1][0]
        if not sample["ok"] and extra and re.search(r"HTTP 4(00|22)", sample["error"] or ""):
            note(f"the server refused ignore_eos/min_tokens ({sample['error']}); sent without them")
            extra = full_length = None  # a server that refuses unknown fields
            sample = run_level(client, with_extra_body(warm, None), LevelPlan(slots=1))[1][0]
        if not sample["ok"]:
            _failed(db, run, spec, f"the warm-up request failed: {sample['error']}", progress, settings)
            return
        if not maker.tokenizer:
            note(f"prompt sizes are approximate: {maker.method}; prompt tokens come from the server's usage "
                 "where it sends it")
        if sample["output_tokens"] is None:
            msg = ("the server sends no token usage and no tokenizer is known, so output tokens, output "
                   "and total token throughput and TPOT are unavailable")
            if backend.name == "openai-compat":
                msg += "; add ?tokenizer=GGUF_OR_ALIAS to the spec to count them"
            if "tpot_ms" in settings.slo:
                raise InputError(f"{spec.canonical}: a TPOT SLO needs output token counts: {msg}")
            note(msg)
        db.record_contender(run.run_id, spec, None, None, {
            **facts, "load_test": {"prompt_method": maker.method, "full_length": full_length or "not sent",
                                   "prompt_seed": seed, "warm_up": _brief(sample),
                                   "client": {"workers": client.workers, "path": client.path()}}}, {}, [], None)
        levels = settings.levels()
        for index, level in enumerate(levels):
            n = settings.requests_at(level)
            if level.concurrency and n < level.concurrency:
                note(f"{level.label}: only {n} requests, so at most {n} are in flight")
            requests, counts = build_requests(spec, maker, n, settings.prompt_tokens, settings.output_tokens,
                                              f"{seed}:{index}")
            with_extra_body(requests, extra)
            if progress:
                progress.contender(f"{spec.canonical} @ {level.label}", n)
            on_done = (lambda ok: progress.advance(None, "ok" if ok else "error")) if progress else None
            plan = (LevelPlan(slots=level.concurrency) if level.rate is None else
                    LevelPlan(offsets_s=schedule(level.profile, level.rate, n, f"{seed}:{index}:arrivals")))
            duration, samples, client_figures = run_level(client, requests, plan, on_done)
            result = level_result(run.run_id, spec.canonical, level.concurrency, settings, duration, samples, counts)
            result.client, result.level, result.profile = client_figures, index, level.profile
            result.target_rate, result.sweep = level.rate, level.sweep
            _client_notes(result)
            short = sum(1 for s in samples if s["ok"] and s["output_tokens"] is not None
                        and s["output_tokens"] < settings.output_tokens)
            if short:
                result.notes.append(f"{short} of {result.completed} completed requests returned fewer than "
                                    f"{settings.output_tokens} output tokens (the model stopped, or the server "
                                    "cut the stream short); the figures count the tokens actually returned")
            for text in result.notes:
                note(f"{level.label}: {text}")
            db.record_load_result(result)  # one commit per level: an interrupt loses only the level in flight
            run.results.append(result)
            if settings.sweep and level.sweep == "throughput":
                synchronous = run.results[-2].request_throughput or 0.0
                highest = result.completion_rate or result.request_throughput or 0.0
                if synchronous <= 0 or highest <= 0:
                    note("the sweep has no rate range: a synchronous or throughput level completed nothing")
                    break
                levels += [LevelSpec(settings.arrival, rate=r, sweep=f"rate {k + 1}/{settings.sweep}")
                           for k, r in enumerate(sweep_rates(synchronous, highest, settings.sweep))]
    finally:
        client.close()


def _client_notes(result: LevelResult) -> None:
    """Warn when the client, not the server, may have set the level's figures."""
    client = result.client or {}
    if client.get("saturated"):
        busy = max(client["busy"])
        result.notes.append(
            f"the load client was saturated: a worker process was busy {busy:.0%} of the level on its own CPU, so "
            "the throughput may be the client's ceiling, not the server's; add --workers (now "
            f"{client['workers']}) on a machine with cores to spare")


def _brief(sample: dict) -> dict:
    return {k: sample[k] for k in ("ttft_ms", "e2e_ms", "output_tokens", "output_tokens_source", "finish_reason")}


def _failed(db: Database, run: LoadRun, spec: ContenderSpec, message: str, progress, settings: LoadSettings) -> None:
    db.record_contender(run.run_id, spec, None, None, {}, {}, [], message)
    run.errors.append(f"{spec.canonical}: {message}")
    if progress:
        for _ in range(settings.planned_requests()):
            progress.advance(None, "error")


def level_result(run_id: str, spec: str, concurrency: int | None, settings: LoadSettings, duration: float,
                 samples: list[dict], prompt_counts: list[int | None]) -> LevelResult:
    """Label each completed request's prompt tokens (server usage, else the tokenizer's count of the
    text sent, else unknown: the figures then use P, labelled approximate) and sum up the level."""
    for s, count in zip(samples, prompt_counts):
        if s["ok"] and s["prompt_tokens"] is None:
            if count is not None:
                s["prompt_tokens"] = count
                s["prompt_tokens_source"] = "tokenizer (message text, without the chat template)"
            else:
                s["prompt_tokens_source"] = "asked for (approximate)"
    figures = summarise(samples, duration, settings.slo, settings.prompt_tokens)
    errors = [s["error"] for s in samples if s["error"]]
    result = LevelResult(
        run_id=run_id, spec=spec, concurrency=concurrency, requests=len(samples),
        completed=figures["completed"], failed=figures["failed"], prompt_tokens=settings.prompt_tokens,
        output_tokens=settings.output_tokens, duration_s=duration,
        request_throughput=figures["request_throughput"], output_throughput=figures["output_throughput"],
        total_token_throughput=figures["total_token_throughput"], goodput=figures["goodput"],
        slo=settings.slo or None, latency=figures["latency"], tokens_source=tokens_source(samples),
        samples=samples, created_at=_now(), total_input_tokens=figures["total_input_tokens"],
        total_output_tokens=figures["total_output_tokens"], good_requests=figures["good_requests"])
    result.sent_rate, result.completion_rate = rates_achieved(samples)
    if errors:
        result.notes.append(f"{len(errors)} of {len(samples)} requests failed; first error: {errors[0]}")
    done = [s for s in samples if s["ok"]]
    cached = [s["cached_tokens"] for s in done if s.get("cached_tokens")]
    if cached:
        result.notes.append(f"{len(cached)} of {len(done)} requests had prompt tokens from the server's prefix cache "
                            f"(median {statistics.median(cached):g} tokens, {done[0]['cache_source']})")
    return result


