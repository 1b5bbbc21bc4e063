"""Soak: mixed traffic for a long while, with the day's batch and import running underneath.

Method. gunicorn (2 workers, gthread; bench/web_fixture.py) serves the app on loopback with DEBUG
off, Redis as cache and broker, the per-IP and per-account rate limits lifted (all traffic comes
from 127.0.0.1). `--concurrency` clients (default 8) run back to back for `--seconds` (default
600), or until `--max-requests` requests have been sent or the accounts run out, each picking its
next piece of work at random in these shares:
  web opt-out   40 %  the form walked as a browser does: page, look-up, confirm, done page;
  IVR call      20 %  a whole call, Twilio-signed: entry, language, account number, ZIP, confirm;
  API           20 %  a POST /api/v1/opt-outs/ with an Idempotency-Key, then the account's status;
  agent search  20 %  a logged-in call-centre agent searching the agent screen by account number.
Every opt-out is a different account of the seeded bench program (web_fixture.seed). Meanwhile,
as separate processes beside the server, the demo program (`manage.py demo`, on the same
database) gets its mail batches built one drop after another (`build_mail_batch`) and its
eligible-customer file re-imported in a loop (`import_accounts`).

Figures. `soak_requests`: HTTP requests answered. `soak_errors`: requests with an unexpected
answer, a timeout or a connection error. `soak_p99_ms`: nearest-rank 99th percentile of every
request's latency. `soak_lost` (target 0): opt-outs confirmed to a client (the web's done page,
the IVR's spoken code, the API's 200/201) whose row with that code is not in the database at the
end, plus accounts with more than one opt-out row. Also `soak_optouts` (confirmed),
`soak_batches` and `soak_imports` (background runs that finished, and `soak_background_failed`);
once every drop the 45-day window allows is built, the batch loop writes the built batches again
(`build_mail_batch --reference`, `soak_batch_rewrites`) so a batch is being written to the end.
Flags: --seconds, --concurrency, --max-requests, --demo-accounts, --timeout.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from bench.optout_burst import StepFailed, _session, customer, percentile_ms
from bench.web_fixture import NO_RATE_LIMITS, ROOT, Server, seed

TOKEN = "bench-twilio-auth-token"
DEFAULT_SCALE = 20_000
SHARES = (("web", 40), ("ivr", 20), ("api", 20), ("agent", 20))
AGENT_PASSWORD = "soak-agent-" + uuid.uuid4().hex
_CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def add_arguments(parser) -> None:
    group = parser.add_argument_group("soak")
    group.add_argument("--seconds", type=float, default=600.0, help="how long the traffic runs")
    group.add_argument("--concurrency", type=int, default=8, help="clients back to back")
    group.add_argument("--max-requests", type=int, default=500_000, help="stop after this many")
    group.add_argument("--demo-accounts", type=int, default=1000, help="the demo program's size")
    group.add_argument("--timeout", type=float, default=15.0, help="seconds for one request")


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    confirmed: dict[int, str] = field(default_factory=dict)  # account pk → code told the client
    requests: int = 0

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


class Timed:
    """Counts each request and its latency."""

    def __init__(self, tally: Tally):
        self.tally = tally

    async def __call__(self, method, session, url, **kw):
        loop = asyncio.get_running_loop()
        start = loop.time()
        async with session.request(method, url, **kw) as r:
            body = (await r.read()).decode(errors="replace")
        self.tally.latencies.append(loop.time() - start)
        self.tally.requests += 1
        return r, body


async def ivr_call(timed, session, base, account) -> str:
    """A whole call; returns the confirmation code the IVR read out."""
    import xml.etree.ElementTree as ET

    import yarl
    from twilio.request_validator import RequestValidator

    _, number, zip5 = account
    validator = RequestValidator(TOKEN)
    base_params = {"CallSid": f"CA{uuid.uuid4().hex}", "From": "+19515550123", "To": "+18005550999"}
    path, said = "/ivr/voice/", ""
    # Language, account number, ZIP, then "1" to each question that follows (the first way
    # back offered after the free window, then confirm) until the call hangs up.
    for keys in (None, "1", f"{number}#", zip5, "1", "1", "1"):
        params = dict(base_params)
        if keys is not None:
            params["Digits"] = keys
        signature = validator.compute_signature(f"{base}{path}", params)
        r, body = await timed(
            "POST",
            session,
            # As signed: aiohttp must not re-quote the signed state in the query string.
            yarl.URL(f"{base}{path}", encoded=True),
            data=urlencode(params),
            headers={
                "X-Twilio-Signature": signature,
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        if r.status != 200:
            raise StepFailed(f"ivr: HTTP {r.status}")
        xml = ET.fromstring(body)
        said = " ".join(s.text or "" for s in xml.iter("Say"))
        gather = xml.find("Gather")
        if gather is None:
            break
        path = gather.get("action") or path
        if path.startswith(base):
            path = path[len(base) :]
    digits = "".join(re.findall(r"\d", said.split("confirmation", 1)[-1]))
    if len(digits) < 10:
        raise StepFailed("ivr: no confirmation code said")
    return digits[:10]


async def api_optout(timed, session, base, account, token, slug) -> str:
    pk, number, _ = account
    headers = {"Authorization": f"Token {token}", "Idempotency-Key": f"soak-{pk}"}
    body = {"program": slug, "account_number": number, "channel": "utility_transfer"}
    r, text = await timed("POST", session, f"{base}/api/v1/opt-outs/", json=body, headers=headers)
    if r.status not in (200, 201):
        raise StepFailed(f"api post: HTTP {r.status}")
    code = json.loads(text)["confirmation_code"]
    r, _ = await timed(
        "GET",
        session,
        f"{base}/api/v1/accounts/{number}/opt-out-status/?program={slug}",
        headers={"Authorization": f"Token {token}"},
    )
    if r.status != 200:
        raise StepFailed(f"api status: HTTP {r.status}")
    return code


async def agent_login(session, base) -> dict[str, str]:
    async with session.get(f"{base}/admin/login/") as r:
        html = (await r.read()).decode()
        csrf_cookie = r.cookies["csrftoken"].value
    found = _CSRF_INPUT.search(html)
    if found is None:
        raise RuntimeError("soak: no CSRF token on the admin login page")
    data = {
        "csrfmiddlewaretoken": found.group(1),
        "username": "soak-agent",
        "password": AGENT_PASSWORD,
    }
    async with session.post(
        f"{base}/admin/login/?next=/admin/",
        data=data,
        headers={"Cookie": f"csrftoken={csrf_cookie}", "Referer": f"{base}/admin/login/"},
        allow_redirects=False,
    ) as r:
        await r.read()
        if r.status != 302 or "sessionid" not in r.cookies:
            raise RuntimeError(f"soak: the agent could not log in (HTTP {r.status})")
        return {"Cookie": f"sessionid={r.cookies['sessionid'].value}"}


async def agent_search(timed, session, base, cookie, number) -> None:
    r, body = await timed(
        "GET", session, f"{base}/admin/optouts/optoutrequest/agent/?q={number}", headers=cookie
    )
    if r.status != 200 or number not in body:
        raise StepFailed(f"agent search: HTTP {r.status}")


async def traffic(base, accounts, searchable, *, token, slug, args) -> Tally:
    tally = Tally()
    timed = Timed(tally)
    kinds = [k for k, share in SHARES for _ in range(share)]
    rng = random.Random(13)
    queue = iter(accounts)
    async with _session(4 * args.concurrency, args.timeout) as session:
        cookie = await agent_login(session, base)
        loop = asyncio.get_running_loop()
        end = loop.time() + args.seconds

        async def client():
            import aiohttp

            while loop.time() < end and tally.requests < args.max_requests:
                kind = rng.choice(kinds)
                account = None if kind == "agent" else next(queue, None)
                if kind != "agent" and account is None:
                    return  # accounts used up: the run is bounded by the seeded program
                try:
                    if kind == "web":
                        out = await customer(
                            session, base, account, due=loop.time(), email=rng.random() < 0.3
                        )
                        tally.requests += len(out.steps) + (1 if out.error else 0)
                        if out.total is not None:
                            tally.latencies.extend(out.steps.values())
                        if out.error:
                            tally.error(out.error)
                        if out.code:
                            tally.confirmed[account[0]] = out.code
                    elif kind == "ivr":
                        tally.confirmed[account[0]] = await ivr_call(timed, session, base, account)
                    elif kind == "api":
                        tally.confirmed[account[0]] = await api_optout(
                            timed, session, base, account, token, slug
                        )
                    else:
                        await agent_search(timed, session, base, cookie, rng.choice(searchable))
                except StepFailed as exc:
                    tally.error(str(exc))
                except (aiohttp.ClientError, TimeoutError) as exc:
                    tally.requests += 1
                    tally.error(f"{kind}: {type(exc).__name__}")

        await asyncio.gather(*(client() for _ in range(args.concurrency)))
    return tally


class Background:
    """The day's batch builds and a re-import loop, as commands in processes of their own."""

    def __init__(self, env: dict, workdir: Path, demo_file: Path, drops: list[tuple[str, str]]):
        self.env, self.workdir, self.demo_file, self.drops = env, workdir, demo_file, drops
        self.stop = threading.Event()
        self.done = {"batches": 0, "rewrites": 0, "imports": 0, "failed": 0}
        self.threads = [
            threading.Thread(target=self._batches, daemon=True),
            threading.Thread(target=self._imports, daemon=True),
        ]

    def _manage(self, *argv: str) -> bool:
        done = subprocess.run(
            [sys.executable, "manage.py", *argv],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            self.done["failed"] += 1
            print(f"# soak: {argv[0]} failed: {done.stderr.strip()[-300:]}", file=sys.stderr)
        return done.returncode == 0

    def _batches(self) -> None:
        from django.db import connection

        from cca_notices.models import MailBatch

        for n, (kind, mail_date) in enumerate(self.drops):
            if self.stop.is_set():
                return
            out = self.workdir / f"batch-{n}"
            args = ("--program", "demo", "--kind", kind, "--mail-date", mail_date)
            if self._manage("build_mail_batch", *args, "--out", str(out)):
                self.done["batches"] += 1
        # Every drop the 45-day window allows is built: keep a batch building to the end by
        # writing the built ones again, as when the mail house asks for a batch's files again.
        references = list(
            MailBatch.objects.filter(program__slug="demo").values_list("reference", flat=True)
        )
        connection.close()
        n = 0
        while references and not self.stop.is_set():
            out = self.workdir / f"rewrite-{n % 4}"
            shutil.rmtree(out, ignore_errors=True)
            ref = references[n % len(references)]
            if self._manage("build_mail_batch", "--reference", ref, "--out", str(out)):
                self.done["rewrites"] += 1
            n += 1

    def _imports(self) -> None:
        while not self.stop.is_set():
            args = (str(self.demo_file), "--program", "demo", "--skip-invalid")
            if self._manage("import_accounts", *args):
                self.done["imports"] += 1

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=600)


def _prepare(scale: int, demo_accounts: int, workdir: Path):
    """The bench program, an agent and an API user, the demo program with its schedule, and the
    demo's eligible-customer file to re-import."""
    import os

    from django.contrib.auth.models import Group, Permission, User
    from django.core.management import call_command
    from django.db.models import Count
    from knox.models import AuthToken

    from accounts.models import Program, ProgramAccess
    from accounts.services.calendar import today
    from accounts.services.demo_data import demo_data_generate
    from cca_notices.models import Notice
    from cca_notices.services.batches import max_ahead_days

    call_command("migrate", verbosity=0)
    with open(os.devnull, "w") as quiet:
        call_command("demo", accounts=demo_accounts, no_history=True, stdout=quiet)
    demo_file = workdir / "demo-eligible.csv"
    # The demo's own generator and seed: the same customers as the demo loaded.
    from cca_notices.management.commands.demo import DEMO_SEED

    demo_data_generate(path=demo_file, accounts=demo_accounts, seed=DEMO_SEED, today=today())
    # Only drops a batch may be built for today (cca_notices.services.batches: no more than
    # MAIL_BATCH_MAX_AHEAD_DAYS ahead); the later ones would only be refused.
    drops = [
        (kind, day.isoformat())
        for kind, day, _ in Notice.objects.filter(
            program__slug="demo",
            status="scheduled",
            mail_date__range=(today(), today() + dt.timedelta(days=max_ahead_days())),
        )
        .values_list("kind", "mail_date")
        .annotate(n=Count("id"))
        .order_by("mail_date", "kind")[:20]
    ]
    program = seed(scale)
    agent, _ = User.objects.get_or_create(username="soak-agent", defaults={"is_staff": True})
    agent.set_password(AGENT_PASSWORD)
    agent.is_staff = True
    agent.save()
    agent.groups.add(Group.objects.get(name="Call-centre agent"))
    feed, _ = User.objects.get_or_create(username="soak-feed")
    feed.user_permissions.add(
        *Permission.objects.filter(codename__in=["record_optout", "view_optoutrequest"])
    )
    # Staff and API users see only the programs they are given (accounts.access).
    for user in (agent, feed):
        for p in (program, Program.objects.get(slug="demo")):
            ProgramAccess.objects.get_or_create(user=user, program=p)
    _, token = AuthToken.objects.create(user=feed)
    return program, token, demo_file, drops


def _lost(program, confirmed: dict[int, str]) -> int:
    from django.db.models import Count

    from optouts.models import OptOutRequest

    rows = OptOutRequest.objects.filter(program=program)
    codes = dict(
        rows.filter(account_id__in=list(confirmed)).values_list("account_id", "confirmation_code")
    )
    missing = sum(1 for pk, code in confirmed.items() if codes.get(pk) != code)
    doubled = rows.values("account_id").annotate(n=Count("id")).filter(n__gt=1).count()
    return missing + doubled


def run(*, scale: int | None, args=None):
    import os

    from accounts.models import ServiceAccount

    seconds = getattr(args, "seconds", 600.0)
    concurrency = getattr(args, "concurrency", 8)
    demo_accounts = getattr(args, "demo_accounts", 1000)
    if args is None:
        args = type("Args", (), {})()
    args.seconds, args.concurrency = seconds, concurrency
    args.max_requests = getattr(args, "max_requests", 500_000)
    args.timeout = getattr(args, "timeout", 15.0)
    scale = scale or DEFAULT_SCALE

    workdir = Path(tempfile.mkdtemp(prefix="soak-"))
    started = time.perf_counter()
    program, token, demo_file, drops = _prepare(scale, demo_accounts, workdir)
    print(
        f"# soak: {scale} bench accounts, demo program of {demo_accounts}, {len(drops)} drops,"
        f" ready in {time.perf_counter() - started:.1f}s",
        file=sys.stderr,
        flush=True,
    )
    accounts = list(
        ServiceAccount.objects.filter(program=program)
        .order_by("pk")
        .values_list("pk", "account_number", "service_zip")
    )
    random.Random(7).shuffle(accounts)
    searchable = [number for _, number, _ in accounts[-2000:]]  # never opted out here
    limits = NO_RATE_LIMITS
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "cca_notices.settings", "LOG_LEVEL": "WARNING"}
    with (
        Server({"TWILIO_AUTH_TOKEN": TOKEN}, rate_limits=limits) as server,
        Background(env, workdir, demo_file, drops) as background,
    ):
        tally = asyncio.run(
            traffic(
                server.url, accounts[:-2000], searchable, token=token, slug=program.slug, args=args
            )
        )
    for error, count in sorted(tally.errors.items(), key=lambda kv: -kv[1])[:10]:
        print(f"# soak error: {error} × {count}", file=sys.stderr)
    yield "soak_requests", tally.requests, f"requests (in {seconds:g} s, {concurrency} clients)"
    yield "soak_optouts", len(tally.confirmed), "opt-outs confirmed to a client"
    yield "soak_lost", _lost(program, tally.confirmed), "opt-outs"
    yield "soak_errors", sum(tally.errors.values()), "requests"
    yield "soak_p99_ms", percentile_ms(tally.latencies, 99), "ms"
    yield "soak_p50_ms", percentile_ms(tally.latencies, 50), "ms"
    yield "soak_batches", background.done["batches"], "mail batches built meanwhile"
    yield "soak_batch_rewrites", background.done["rewrites"], "built batches written again"
    yield "soak_imports", background.done["imports"], "imports run meanwhile"
    yield "soak_background_failed", background.done["failed"], "background commands"
