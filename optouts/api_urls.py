"""Opt-out API routes under /api/v1/ (issue: opt-out intake)."""
urlpatterns = []
