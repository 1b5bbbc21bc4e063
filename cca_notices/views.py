from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render

from accounts.models import Program


def home(request):
    return render(request, "home.html", {"programs": Program.objects.select_related("utility")})


def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True})
