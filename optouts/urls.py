"""Customer-facing opt-out pages and IVR webhooks (issue: opt-out intake)."""
urlpatterns = []
