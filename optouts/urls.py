"""Customer-facing opt-out pages and IVR webhooks."""

from django.urls import path

from optouts import ivr, views

app_name = "optouts"

_pages = [
    ("", views.optout_form, "form"),
    ("confirm/", views.optout_confirm, "confirm"),
    ("done/", views.optout_done, "done"),
    ("stay/", views.optout_stay, "stay"),
]

urlpatterns = (
    [path(f"opt-out/{p}", v, name=n) for p, v, n in _pages]
    + [path(f"ivr/{p.pattern}", p.callback, name=p.name) for p in ivr.urlpatterns]
    + [path(f"es/opt-out/{p}", v, {"lang": "es"}, name=f"{n}_es") for p, v, n in _pages]
)
