"""The `bakeoff view` web app: runs, trials with filters, two contenders side by side, blind A/B rating.

Safety, since answers are untrusted and the app writes to the database:
- it listens on 127.0.0.1 only (see serve.py), and answers only requests whose Host header is
  127.0.0.1 or localhost, so a web page cannot reach it through DNS rebinding;
- every page is rendered with jinja2 autoescape, and a Content-Security-Policy lets only the
  app's own scripts run (a fresh nonce per response);
- the only write, a rating, is a POST carrying a one-time token from the rating page; posts
  from another origin are refused.
"""

from __future__ import annotations

import json
import secrets
from collections import defaultdict
from pathlib import Path
from urllib.parse import parse_qs, urlencode

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from bakeoff.report.diff import word_diff
from bakeoff.report.matrix import fmt
from bakeoff.report.ratings import win_rates
from bakeoff.report.sandbox import sandbox_warnings
from bakeoff.util.stats import summarise_trials
from bakeoff.store import Database
from bakeoff.store.ratings import VERDICTS
from bakeoff.util.answers import normal_form
from bakeoff.web.blind import PendingPairs, choose_pair

PAGE_SIZE = 200
VERDICT_WORDS = {"a": "A is better", "b": "B is better", "tie": "a tie", "both_bad": "both are bad"}


def _templates():
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("bakeoff.web", "templates"), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters["fmt"] = fmt
    return env


def _verdict(t) -> str:
    if t["status"] != "ok":
        return "error"
    return "no checks" if t["passed"] is None else "pass" if t["passed"] else "fail"


def scoreboard(trials, rating_rows: list[dict]) -> list[dict]:
    """Per contender: the automatic checks' pass rate beside the blind ratings' win rate."""
    by_spec: dict[str, list] = defaultdict(list)
    for t in trials:
        by_spec[t["spec"]].append(t)
    human = win_rates(rating_rows)["contenders"]
    return [{"spec": spec, **summarise_trials(ts), "human": human.get(spec)} for spec, ts in by_spec.items()]


class Viewer:
    def __init__(self, db_path: Path):
        self.db_path = Path(db_path)
        Database(self.db_path, create=False).close()  # fail early, and apply the ratings migration
        self.env = _templates()
        self.pending = PendingPairs()

    # --- plumbing -----------------------------------------------------------------------

    def db(self) -> Database:
        # One connection per request: requests run on a thread pool and sqlite3 connections
        # stay in the thread that made them.
        return Database(self.db_path, create=False)

    def page(self, name: str, request: Request, status_code: int = 200, **context) -> HTMLResponse:
        nonce = secrets.token_urlsafe(18)
        body = self.env.get_template(name).render(request=request, nonce=nonce, db_path=str(self.db_path),
                                                  **context)
        return HTMLResponse(body, status_code=status_code, headers={
            "Content-Security-Policy": (f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; "
                                        "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
        })

    # --- pages ----------------------------------------------------------------------------

    def home(self, request: Request) -> Response:
        db = self.db()
        try:
            trials = db.trials()
            counts: dict[str, int] = defaultdict(int)
            specs_in: dict[str, set] = defaultdict(set)
            for t in trials:
                counts[t["run_id"]] += 1
                specs_in[t["run_id"]].add(t["spec"])
            runs = [{"id": r["id"], "started_at": r["started_at"], "finished_at": r["finished_at"], "status": r["status"],
                     "suite": r["suite"], "trials": counts.get(r["id"], 0), "specs": sorted(specs_in.get(r["id"], ()))}
                    for r in reversed(db.runs())]
            rows = db.ratings()
            warnings = sandbox_warnings([{"id": r["id"], "environment": json.loads(r["environment"] or "{}")}
                                         for r in db.runs()])
            return self.page("home.html", request, runs=runs, board=scoreboard(trials, rows), rated=len(rows),
                             specs=sorted({t["spec"] for t in trials}), warnings=warnings)
        finally:
            db.close()

    def trials(self, request: Request) -> Response:
        q = request.query_params
        f = {k: q.get(k, "") for k in ("run", "spec", "case", "verdict")}
        raw_offset = q.get("offset", "0")
        offset = int(raw_offset) if raw_offset.isdigit() else 0
        db = self.db()
        try:
            everything = db.trials(f["run"] or None)
            specs = sorted({t["spec"] for t in everything})
            rows = [t for t in everything
                    if (not f["spec"] or t["spec"] == f["spec"])
                    and (not f["case"] or f["case"].lower() in t["case_id"].lower())
                    and (not f["verdict"] or _verdict(t) == f["verdict"])]
            shown = [{"t": t, "verdict": _verdict(t)} for t in rows[offset:offset + PAGE_SIZE]]
            runs = [r["id"] for r in db.runs()]
        finally:
            db.close()
        more = urlencode({**{k: v for k, v in f.items() if v}, "offset": offset + PAGE_SIZE}) \
            if offset + PAGE_SIZE < len(rows) else None
        return self.page("trials.html", request, f=f, rows=shown, total=len(rows), offset=offset, more=more,
                         specs=specs, runs=runs, verdicts=["pass", "fail", "error", "no checks"])

    def trial_page(self, request: Request) -> Response:
        db = self.db()
        try:
            t = db.trial(request.path_params["trial_id"])
            if t is None:
                return self.page("message.html", request, status_code=404, title="no such trial",
                                 message="No trial with that id in this database.")
            checks = [dict(c) for c in db.check_results(t["id"])]
        finally:
            db.close()
        case = json.loads(t["case_json"] or "{}")
        return self.page("trial.html", request, t=t, verdict=_verdict(t), checks=checks,
                         messages=case.get("messages", []))

    def compare(self, request: Request) -> Response:
        q = request.query_params
        x, y, run = q.get("x", ""), q.get("y", ""), q.get("run", "")
        only_diff = q.get("only") == "differ"
        db = self.db()
        try:
            trials = db.trials(run or None)
            specs = sorted({t["spec"] for t in trials})
            runs = [r["id"] for r in db.runs()]
            cases = []
            if x and y:
                ok: dict[tuple[str, str], list] = defaultdict(list)
                order: dict[str, dict] = {}
                for t in trials:
                    if t["spec"] in (x, y):
                        order.setdefault(t["case_id"], t)
                        ok[(t["case_id"], t["spec"])].append(t)
                checks = db.check_results_by_trial({t["id"] for ts in ok.values() for t in ts})
                for case_id in order:
                    sides = []
                    for spec in (x, y):
                        ts = sorted(ok.get((case_id, spec), []), key=lambda t: t["repeat"])
                        good = [t for t in ts if t["status"] == "ok"]
                        shown = good[0] if good else (ts[0] if ts else None)
                        sides.append({"spec": spec, "t": shown, "verdict": _verdict(shown) if shown else "missing",
                                      "passed": sum(t["passed"] == 1 for t in good),
                                      "judged": sum(t["passed"] is not None for t in good), "repeats": len(ts),
                                      "checks": checks.get(shown["id"], []) if shown else []})
                    a, b = (s["t"]["output"] if s["t"] is not None else None for s in sides)
                    differ = normal_form(a) != normal_form(b)
                    if only_diff and not differ:
                        continue
                    diff = word_diff(a, b) if a is not None and b is not None and differ else None
                    cases.append({"case_id": case_id, "sides": sides, "diff": diff, "differ": differ,
                                  "messages": json.loads(order[case_id]["case_json"] or "{}").get("messages", [])})
            rows = db.ratings()
        finally:
            db.close()
        board = [s for s in scoreboard(trials, rows) if s["spec"] in (x, y)]
        return self.page("compare.html", request, x=x, y=y, run=run, specs=specs, runs=runs, cases=cases,
                         only_diff=only_diff, board=board)

    # --- blind A/B rating -------------------------------------------------------------------

    def rate_form(self, request: Request) -> Response:
        q = request.query_params
        x, y = q.get("x", ""), q.get("y", "")
        db = self.db()
        try:
            trials = db.trials()
            specs = sorted({t["spec"] for t in trials})
            rated = {(r["case_id"], *sorted((r["spec_a"], r["spec_b"]))) for r in db.ratings()}
            pair = choose_pair(trials, rated, x or None, y or None)
            if pair is None:
                return self.page("rate.html", request, case_id=None, specs=specs, x=x, y=y, token=None)
            ta, tb = db.trial(pair.trial_a), db.trial(pair.trial_b)
        finally:
            db.close()
        token = self.pending.add(pair)
        messages = json.loads(ta["case_json"] or "{}").get("messages", [])
        # Only the case and the two answers go to the page: no spec, no trial id, no figure
        # that could tell the contenders apart (the reveal page shows them after the verdict).
        return self.page("rate.html", request, case_id=pair.case_id, token=token, messages=messages,
                         output_a=ta["output"], output_b=tb["output"], specs=specs, x=x, y=y)

    def _same_origin(self, request: Request) -> bool:
        site = request.headers.get("sec-fetch-site")
        if site and site not in ("same-origin", "none"):
            return False
        origin = request.headers.get("origin")
        if origin and origin != "null":
            host = request.headers.get("host", "")
            return origin in (f"http://{host}",)
        return True

    async def rate_post(self, request: Request) -> Response:
        if not self._same_origin(request):
            return PlainTextResponse("cross-origin rating refused", status_code=403)
        body = (await request.body()).decode("utf-8", "replace")
        form = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
        verdict = form.get("verdict", "")
        if verdict not in VERDICTS:
            return PlainTextResponse(f"verdict must be one of {', '.join(VERDICTS)}", status_code=400)
        pair = self.pending.take(form.get("token", ""))
        back = {k: form[k] for k in ("x", "y") if form.get(k)}
        if pair is None:  # already rated, or the viewer was restarted: show a new pair
            return RedirectResponse("/rate" + (f"?{urlencode(back)}" if back else ""), status_code=303)
        db = self.db()
        try:
            rating_id = db.record_rating(pair.case_id, pair.trial_a, pair.spec_a, pair.trial_b, pair.spec_b, verdict)
        finally:
            db.close()
        return RedirectResponse(f"/rated/{rating_id}" + (f"?{urlencode(back)}" if back else ""), status_code=303)

    def rated(self, request: Request) -> Response:
        try:
            rating_id = int(request.path_params["rating_id"])
        except ValueError:
            rating_id = -1
        db = self.db()
        try:
            r = db.rating(rating_id)
            if r is None:
                return self.page("message.html", request, status_code=404, title="no such rating",
                                 message="No rating with that id in this database.")
            ta, tb = db.trial(r["trial_a"]), db.trial(r["trial_b"])
            pair_rows = [p for p in db.ratings() if {p["spec_a"], p["spec_b"]} == {r["spec_a"], r["spec_b"]}]
            board = scoreboard([t for t in db.trials() if t["spec"] in (r["spec_a"], r["spec_b"])], pair_rows)
        finally:
            db.close()
        q = request.query_params
        nxt = "/rate" + (f"?{urlencode({k: q[k] for k in ('x', 'y') if q.get(k)})}" if q.get("x") else "")
        return self.page("rated.html", request, r=r, ta=ta, tb=tb, verdict_words=VERDICT_WORDS[r["verdict"]],
                         board=board, pair_ratings=len(pair_rows), next_url=nxt)

    def ratings_page(self, request: Request) -> Response:
        db = self.db()
        try:
            rows = db.ratings()
            board = scoreboard(db.trials(), rows)
        finally:
            db.close()
        return self.page("ratings.html", request, rows=list(reversed(rows))[:PAGE_SIZE], total=len(rows),
                         board=board, wins=win_rates(rows))


def create_app(db_path: str | Path) -> Starlette:
    viewer = Viewer(Path(db_path))
    routes = [
        Route("/", viewer.home),
        Route("/trials", viewer.trials),
        Route("/trial/{trial_id}", viewer.trial_page),
        Route("/compare", viewer.compare),
        Route("/rate", viewer.rate_form, methods=["GET"]),
        Route("/rate", viewer.rate_post, methods=["POST"]),
        Route("/rated/{rating_id}", viewer.rated),
        Route("/ratings", viewer.ratings_page),
        Route("/favicon.ico", lambda request: Response(status_code=204)),  # no icon, and no 404 in the console
    ]
    app = Starlette(routes=routes, middleware=[
        Middleware(TrustedHostMiddleware, allowed_hosts=["127.0.0.1", "localhost"])])
    app.state.viewer = viewer
    return app
