"""IVR webhook latency: Twilio-signed POSTs to every step of the call flow (entry, language,
account number, ZIP with the account look-up and quote, confirm with the recording), replayed by
`wrk` against gunicorn with 2 workers on the configured database. Figures: ivr_p50_ms, ivr_p99_ms
(all steps), ivr_rps, and ivr_confirm_p99_ms (the step that records, measured on its own).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlencode

from bench.web_fixture import DURATION, Server, seed

TOKEN = "bench-twilio-auth-token"
DEFAULT_SCALE = 20_000

LUA = r"""
local reqs = {}
for line in io.lines(os.getenv("WRK_REQUESTS")) do
  local path, sig, body = line:match("([^\t]*)\t([^\t]*)\t(.*)")
  reqs[#reqs + 1] = {path, sig, body}
end
local threads = {}
function setup(thread) thread:set("id", #threads); table.insert(threads, thread) end
function init(args) ok, other, n = 0, 0, 0; nthreads = tonumber(os.getenv("WRK_THREADS")) end
function request()
  local r = reqs[(id + n * nthreads) % #reqs + 1]
  n = n + 1
  local headers = {["Content-Type"] = "application/x-www-form-urlencoded"}
  headers["X-Twilio-Signature"] = r[2]
  return wrk.format("POST", r[1], headers, r[3])
end
function response(status, headers, body)
  if status == 200 then ok = ok + 1 else other = other + 1 end
end
function done(summary, latency, requests)
  local o, x = 0, 0
  for _, t in ipairs(threads) do o = o + t:get("ok"); x = x + t:get("other") end
  io.write(string.format('BENCH_JSON {"requests": %d, "seconds": %f, "p50_us": %f, '
    .. '"p99_us": %f, "ok": %d, "other": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99), o, x))
end
"""


# Two requests always in flight: ~20x the webhook rate of 50 simultaneous calls (one step every
# ~10 s each), so the latency is that of a busy line, not of a queue wrk builds on purpose.
CONNECTIONS = int(os.environ.get("BENCH_IVR_CONNECTIONS", "2"))


def _wrk(
    url: str, lines: list[str], *, duration: int, connections: int = CONNECTIONS, threads: int = 2
) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        script, data = Path(tmp) / "ivr.lua", Path(tmp) / "requests.tsv"
        script.write_text(LUA)
        data.write_text("\n".join(lines) + "\n")
        env = {**os.environ, "WRK_REQUESTS": str(data), "WRK_THREADS": str(threads)}
        out = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{duration}s",
                "--timeout",
                "10s",
                "-s",
                str(script),
                url,
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    result = json.loads(
        next(x for x in out.splitlines() if x.startswith("BENCH_JSON ")).removeprefix("BENCH_JSON ")
    )
    result["rps"] = result["requests"] / result["seconds"]
    return result


def run(*, scale: int | None):
    from django.core.management import call_command
    from django.utils import timezone
    from twilio.request_validator import RequestValidator

    from accounts.models import ServiceAccount
    from optouts.models import IvrCall

    if not shutil.which("wrk"):
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    call_command("migrate", verbosity=0)
    program = seed(scale or DEFAULT_SCALE)
    accounts = list(
        ServiceAccount.objects.filter(program=program)
        .order_by("?")
        .values_list("pk", "account_number", "service_zip")[:20_000]
    )
    validator = RequestValidator(TOKEN)

    # The call state lives on the server by CallSid (optouts.ivr): each request is a call of its
    # own, its row seeded at the step it answers, since wrk sends the lines in no call's order.
    calls: list[IvrCall] = []

    def at(step: str, **kw) -> str:
        sid = f"CAbench{len(calls):08d}"
        calls.append(
            IvrCall(call_sid=sid, steps={step: {"p": program.pk, **kw}}, updated_at=timezone.now())
        )
        return sid

    with Server({"TWILIO_AUTH_TOKEN": TOKEN}) as server:

        def line(path: str, sid: str, **params) -> str:
            params = {
                "CallSid": sid,
                "From": "+14155550100",
                "To": program.ivr_phone,
                **params,
            }
            signature = validator.compute_signature(f"{server.url}{path}", params)
            return f"{path}\t{signature}\t{urlencode(params)}"

        steps: list[str] = []
        half = len(accounts) // 2
        for _pk, number, zip5 in accounts[:half]:
            steps += [
                line("/ivr/voice/", f"CAbenchv{len(steps):08d}"),
                line("/ivr/language/", at("language", t=0), Digits="1"),
                line("/ivr/account/", at("account", l="en", t=0), Digits=f"{number}#"),
                line("/ivr/zip/", at("zip", l="en", t=0, n=number), Digits=zip5),
            ]
        confirms = [
            line("/ivr/confirm/", at("confirm", l="en", t=0, n=number, a=pk, z=zip5), Digits="1")
            for pk, number, zip5 in accounts[half:]
        ]
        IvrCall.objects.all().delete()
        IvrCall.objects.bulk_create(calls, batch_size=5000)
        _wrk(server.url, steps[:200], duration=3)  # warm-up
        flow = _wrk(server.url, steps, duration=DURATION)
        confirm = _wrk(server.url, confirms, duration=max(5, DURATION // 2))
    if flow["other"] or confirm["other"]:
        print(
            f"# warning: {flow['other'] + confirm['other']} IVR answers were not 200",
            file=sys.stderr,
        )
    yield "ivr_p50_ms", round(flow["p50_us"] / 1000, 2), "ms"
    yield "ivr_p99_ms", round(flow["p99_us"] / 1000, 2), "ms"
    yield "ivr_rps", round(flow["rps"], 1), "req/s"
    yield "ivr_confirm_p99_ms", round(confirm["p99_us"] / 1000, 2), "ms"
    yield "ivr_non_200", flow["other"] + confirm["other"], "responses"
