from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from accounts.models import Program
from cca_notices.health import CHECK_NAMES, readiness


def home(request):
    return render(request, "home.html", {"programs": Program.objects.select_related("utility")})


@never_cache
def healthz(request):
    """Liveness: the process answers. No database, so a database outage does not get every
    web process restarted (readiness says what is wrong)."""
    return JsonResponse({"ok": True})


@never_cache
def readyz(request):
    # ?only=database,…: the load balancer's probe (docs/operations.md §7); unknown names are
    # refused so a typo cannot make a probe that always passes.
    only = {n for n in request.GET.get("only", "").split(",") if n} or None
    if only is not None and (unknown := sorted(only - CHECK_NAMES)):
        return JsonResponse(
            {"ok": False, "error": f"unknown check(s): {', '.join(unknown)}"}, status=400
        )
    ready, checks = readiness(only)
    failed = [name for name, result in checks.items() if not result["ok"]]
    return JsonResponse(
        {"ok": ready, "failed": failed, "checks": checks}, status=200 if ready else 503
    )
