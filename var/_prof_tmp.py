import os, time, django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cca_notices.settings")
django.setup()
from django.db import connection, reset_queries
from django.conf import settings

settings.DEBUG = True
from accounts.models import Program
from accounts.services.calendar import today
from optouts.services import dashboard as D, standing as S, board_report as B

p = Program.objects.get(slug="bench-dashboard")
t = today()


def timed(name, fn):
    reset_queries()
    s = time.perf_counter()
    r = fn()
    e = time.perf_counter() - s
    print(f"{name}: {e:.3f}s, {len(connection.queries)} queries")
    for q in sorted(connection.queries, key=lambda q: -float(q["time"]))[:4]:
        print("   ", q["time"], q["sql"][:300])
    return r


timed("standing", lambda: S.program_standing(program=p, today=t))
timed("standing2", lambda: S.program_standing(program=p, today=t))
g = timed("groups", lambda: D.account_groups(program=p))
timed("per_day", lambda: D.optouts_per_day(program=p))
timed("compliance", lambda: D.notice_compliance(program=p, today=t))
timed("fees", lambda: D.fees_by_week(program=p))
