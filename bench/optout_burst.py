"""Web opt-outs at a fixed arrival rate: many distinct customers, each walking the real form.

Method. gunicorn (2 workers, gthread; bench/web_fixture.py) serves the app on loopback with DEBUG
off, on the configured database, with Redis (REDIS_URL) as cache and Celery broker; no Celery
worker runs, the queue is emptied before and after. The load is open-loop: customer i starts at
t0 + i / rate (default 50 a second for 60 s) whether or not earlier ones have finished, so a slow
server builds a queue instead of slowing the load down. Each customer is a different account
(seeded: a third before enrollment, a third in the free window, a third after it) and does what a
browser does, with no think time:
  form    GET /opt-out/ (the page and its CSRF cookie);
  find    POST account number and ZIP; the answer is the review page with the signed token;
  confirm POST the token (and the first return path offered, as the page checks it); a redirect;
  done    GET the redirect: the page with the confirmation code.
Every third customer leaves an e-mail address, so a third of the opt-outs queue a task. The
client is asyncio with aiohttp (a dependency of twilio), bounded to `--connections` connections;
a request that takes longer than `--timeout` seconds is an error.

A step's latency runs from when it should have started (the customer's scheduled start for the
form, the end of the step before for the others), so time queued in the client or the server
counts; the customer's latency runs from its scheduled start to the done page. Percentiles are
nearest-rank over the customers that completed; the others are counted in `optout_burst_errors`
(an answer other than 2xx/3xx, or the wrong page, a timeout, a connection error).
`optout_burst_lost` compares with the database after the run: confirm redirects whose opt-out row
is missing (or whose done page shows another code), plus rows that no redirect answered for.
The per-IP rate limit is lifted (every customer comes from 127.0.0.1); the per-account limit is
the production one, which one look-up per customer stays under.

`optout_max_rps` is a closed loop afterwards on other accounts: `--concurrency` customers, each
starting the next as soon as one is done, for `--max-seconds`; opt-outs completed per second.
The load generator shares the machine's two cores with the server and the database; the CPU
the gunicorn processes and this client used during the burst per customer completed
(`optout_burst_server_cpu_ms`, `optout_burst_client_cpu_ms`) moves less with other work on the
machine than the latencies do. Flags: --rate, --seconds, --concurrency, --max-seconds,
--connections, --timeout (`python -m bench optout_burst --help`).
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import re
import sys
import time
from dataclasses import dataclass, field

from bench.web_fixture import Server, seed

DEFAULT_SCALE = 100_000
WARM_UP = 40
STEPS = ("form", "find", "confirm", "done")

_CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_TOKEN = re.compile(r'name="t" value="([^"]+)"')
_RETURN_PATH = re.compile(r'name="return_path" id="[^"]*" value="([^"]+)"')
_ALERT = re.compile(r'role="alert"[^>]*>(.*?)</div>', re.S)
_CODE = re.compile(r'class="oo-code"[^>]*>([^<]+)<')


def add_arguments(parser) -> None:
    group = parser.add_argument_group("optout_burst")
    group.add_argument("--rate", type=float, default=50.0, help="customers starting per second")
    group.add_argument("--seconds", type=float, default=60.0, help="how long customers arrive")
    group.add_argument("--concurrency", type=int, default=16, help="closed loop: customers")
    group.add_argument("--max-seconds", type=float, default=20.0, help="closed loop: duration")
    group.add_argument("--connections", type=int, default=256, help="the client's bound")
    group.add_argument("--timeout", type=float, default=10.0, help="seconds for one request")


class StepFailed(Exception):
    pass


@dataclass
class Outcome:
    account_pk: int
    steps: dict[str, float] = field(default_factory=dict)  # seconds, from the step's due start
    total: float | None = None
    confirmed: bool = False  # the confirm step was answered with a redirect
    code: str = ""  # the confirmation code the done page showed
    error: str = ""


def _expect(response, status: int, step: str) -> None:
    if response.status != status:
        raise StepFailed(f"{step}: HTTP {response.status}")


async def customer(session, base: str, account: tuple, *, due: float, email: bool) -> Outcome:
    """One customer's walk through the form; `due` is its scheduled start (loop time)."""
    import aiohttp

    pk, number, zip5 = account
    out = Outcome(pk)
    loop = asyncio.get_running_loop()
    step, started = "form", due
    try:
        async with session.get(f"{base}/opt-out/") as r:
            html = (await r.read()).decode()
            _expect(r, 200, step)
            cookie = r.cookies.get("csrftoken")
        middleware_token = _CSRF_INPUT.search(html)
        if cookie is None or middleware_token is None:
            raise StepFailed("form: no CSRF cookie or token")
        headers = {"Cookie": f"csrftoken={cookie.value}"}
        csrf = middleware_token.group(1)
        out.steps[step], started, step = loop.time() - started, loop.time(), "find"

        data = {"csrfmiddlewaretoken": csrf, "account_number": number, "zip_code": zip5}
        async with session.post(f"{base}/opt-out/", data=data, headers=headers) as r:
            html = (await r.read()).decode()
            _expect(r, 200, step)
        token = _TOKEN.search(html)
        if token is None:
            alert = _ALERT.search(html)
            why = re.sub(r"<[^>]+>|\s+", " ", alert.group(1)).strip() if alert else "no message"
            raise StepFailed(f"find: no review page ({why[:120]})")
        out.steps[step], started, step = loop.time() - started, loop.time(), "confirm"

        data = {"csrfmiddlewaretoken": csrf, "t": token.group(1)}
        return_path = _RETURN_PATH.search(html)
        if return_path:
            data["return_path"] = return_path.group(1)
        if email:
            data["contact_email"] = f"bench{pk}@example.com"
        async with session.post(
            f"{base}/opt-out/confirm/", data=data, headers=headers, allow_redirects=False
        ) as r:
            await r.read()
            _expect(r, 302, step)
            location = r.headers["Location"]
            done_cookie = r.cookies.get("optout_done")
        out.confirmed = True
        out.steps[step], started, step = loop.time() - started, loop.time(), "done"
        if done_cookie is not None:  # the done page reads its token from this cookie
            headers = {"Cookie": f"{headers['Cookie']}; optout_done={done_cookie.value}"}

        async with session.get(f"{base}{location}", headers=headers) as r:
            html = (await r.read()).decode()
            _expect(r, 200, step)
        code = _CODE.search(html)
        if code is None:
            raise StepFailed("done: no confirmation code")
        out.code = code.group(1).strip()
        out.steps[step] = loop.time() - started
        out.total = loop.time() - due
    except StepFailed as exc:
        out.error = str(exc)
    except (aiohttp.ClientError, TimeoutError) as exc:
        out.error = f"{step}: {type(exc).__name__}"
    return out


def _session(connections: int, timeout: float):
    import aiohttp

    return aiohttp.ClientSession(
        # Each customer carries its own CSRF cookie; a shared jar would mix them up.
        cookie_jar=aiohttp.DummyCookieJar(),
        # Close idle connections before gunicorn's 2-second keep-alive does, so a request is
        # never sent on a connection the server is closing.
        connector=aiohttp.TCPConnector(limit=connections, keepalive_timeout=1.0),
        timeout=aiohttp.ClientTimeout(total=timeout),
    )


async def open_loop(base: str, accounts: list, *, rate: float, connections: int, timeout: float):
    """Customer i starts at t0 + i / rate; returns the outcomes and the seconds from t0 until
    the last one finished."""
    async with _session(connections, timeout) as session:
        loop = asyncio.get_running_loop()
        t0 = loop.time() + 0.2
        tasks = []
        for i, account in enumerate(accounts):
            due = t0 + i / rate
            if due > loop.time():
                await asyncio.sleep(due - loop.time())
            tasks.append(
                asyncio.create_task(customer(session, base, account, due=due, email=i % 3 == 0))
            )
        outcomes = await asyncio.gather(*tasks)
        return outcomes, loop.time() - t0


async def closed_loop(
    base: str, accounts: list, *, concurrency: int, seconds: float, connections: int, timeout: float
):
    """`concurrency` customers back to back until `seconds` have passed (or accounts run out)."""
    async with _session(connections, timeout) as session:
        loop = asyncio.get_running_loop()
        start = loop.time()
        queue = iter(enumerate(accounts))
        outcomes: list[Outcome] = []

        async def one_after_another():
            while loop.time() - start < seconds:
                i, account = next(queue, (None, None))
                if account is None:
                    return
                outcomes.append(
                    await customer(session, base, account, due=loop.time(), email=i % 3 == 0)
                )

        await asyncio.gather(*(one_after_another() for _ in range(concurrency)))
        return outcomes, loop.time() - start


def percentile_ms(values: list[float], pct: float) -> float | str:
    if not values:
        return "n/a"
    ordered = sorted(values)
    return round(1000 * ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)], 1)


def lost_count(outcomes: list[Outcome], rows: dict[int, list[str]]) -> int:
    """Answered opt-outs without their row (or shown another code), plus rows nobody was
    answered for; `rows` maps each account of these customers to its rows' codes."""
    lost = 0
    for o in outcomes:
        codes = rows.get(o.account_pk, [])
        if o.confirmed:
            missing = not codes or bool(o.code and o.code not in codes)
            n = missing + max(0, len(codes) - 1)
        else:
            n = len(codes)
        if n:
            # Each one named, so a lost opt-out can be looked up rather than only counted.
            print(
                f"# lost: account pk={o.account_pk} confirmed={o.confirmed} shown code={o.code!r}"
                f" rows={codes} error={o.error!r}",
                file=sys.stderr,
            )
        lost += n
    return lost


def _rows(program, outcomes: list[Outcome]) -> dict[int, list[str]]:
    from optouts.models import OptOutRequest

    pks = [o.account_pk for o in outcomes]
    rows: dict[int, list[str]] = {}
    for start in range(0, len(pks), 5_000):
        for account_id, code in OptOutRequest.objects.filter(
            program=program, account_id__in=pks[start : start + 5_000]
        ).values_list("account_id", "confirmation_code"):
            rows.setdefault(account_id, []).append(code)
    return rows


def _report_errors(outcomes: list[Outcome], phase: str) -> None:
    errors: dict[str, int] = {}
    for o in outcomes:
        if o.error:
            errors[o.error] = errors.get(o.error, 0) + 1
    for error, count in sorted(errors.items(), key=lambda kv: -kv[1])[:10]:
        print(f"# {phase} error: {error} × {count}", file=sys.stderr)


def run(*, scale: int | None, args=None):
    from django.core.management import call_command

    from accounts.models import ServiceAccount

    rate = getattr(args, "rate", 50.0)
    seconds = getattr(args, "seconds", 60.0)
    concurrency = getattr(args, "concurrency", 16)
    max_seconds = getattr(args, "max_seconds", 20.0)
    connections = getattr(args, "connections", 256)
    timeout = getattr(args, "timeout", 10.0)
    burst_size = max(1, round(rate * seconds))
    # The closed loop never completes more than this many a second on two cores.
    needed = WARM_UP + burst_size + round(400 * max_seconds)
    scale = max(scale or DEFAULT_SCALE, needed)

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    program = seed(scale)
    print(
        f"# optout_burst: {scale} accounts ready in {time.perf_counter() - started:.1f}s",
        file=sys.stderr,
        flush=True,
    )
    accounts = list(
        ServiceAccount.objects.filter(program=program)
        .order_by("pk")
        .values_list("pk", "account_number", "service_zip")
    )
    random.Random(5).shuffle(accounts)
    warm = accounts[:WARM_UP]
    burst = accounts[WARM_UP : WARM_UP + burst_size]
    closed = accounts[WARM_UP + burst_size :]
    kw: dict = {"connections": connections, "timeout": timeout}
    # One address for every customer: only the per-IP limit is lifted.
    with Server(rate_limits={"web_ip": [10**9, 60]}) as server:
        asyncio.run(closed_loop(server.url, warm, concurrency=4, seconds=60, **kw))
        load_before = os.getloadavg()[0]
        cpu_before, client_before = server.cpu_seconds(), time.process_time()
        burst_out, burst_elapsed = asyncio.run(open_loop(server.url, burst, rate=rate, **kw))
        server_cpu = server.cpu_seconds() - cpu_before
        client_cpu = time.process_time() - client_before
        load_burst = os.getloadavg()[0]
        cpu_before = server.cpu_seconds()
        closed_out, closed_elapsed = asyncio.run(
            closed_loop(server.url, closed, concurrency=concurrency, seconds=max_seconds, **kw)
        )
        closed_cpu = server.cpu_seconds() - cpu_before
        load_closed = os.getloadavg()[0]
    _report_errors(burst_out, "optout_burst")
    _report_errors(closed_out, "optout_max")
    done = [o for o in burst_out if o.total is not None]
    closed_done = [o for o in closed_out if o.total is not None]

    yield "optout_burst_customers", len(burst_out), f"(at {rate:g}/s for {seconds:g} s)"
    yield "optout_burst_rate", round(len(done) / burst_elapsed, 1), "opt-outs/s"
    yield "optout_burst_p50_ms", percentile_ms([o.total for o in done], 50), "ms"
    yield "optout_burst_p99_ms", percentile_ms([o.total for o in done], 99), "ms"
    for step in STEPS:
        values = [o.steps[step] for o in done]
        yield f"optout_burst_{step}_p50_ms", percentile_ms(values, 50), "ms"
        yield f"optout_burst_{step}_p99_ms", percentile_ms(values, 99), "ms"
    yield "optout_burst_lost", lost_count(burst_out, _rows(program, burst_out)), "opt-outs"
    yield "optout_burst_errors", sum(bool(o.error) for o in burst_out), "customers"
    # Less moved by other work on the machine than the latencies: CPU per completed customer
    # (more than a customer costs when some time out: the server's work for them is counted).
    per = 1000 / max(1, len(done))
    yield "optout_burst_server_cpu_ms", round(server_cpu * per, 2), "ms per customer (gunicorn)"
    yield "optout_burst_client_cpu_ms", round(client_cpu * per, 2), "ms per customer (this client)"
    yield "optout_max_rps", round(len(closed_done) / closed_elapsed, 1), "opt-outs/s"
    yield (
        "optout_max_server_cpu_ms",
        round(1000 * closed_cpu / max(1, len(closed_done)), 2),
        "ms per customer (gunicorn)",
    )
    yield "optout_max_p99_ms", percentile_ms([o.total for o in closed_done], 99), "ms"
    yield "optout_max_lost", lost_count(closed_out, _rows(program, closed_out)), "opt-outs"
    yield "optout_max_errors", sum(bool(o.error) for o in closed_out), "customers"
    yield "optout_tasks_queued", server.queued, "messages"
    yield (
        "load_avg_1m",
        f"{load_before:.1f}/{load_burst:.1f}/{load_closed:.1f}",
        "(before the burst, after it, after the closed loop)",
    )
