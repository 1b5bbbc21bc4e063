import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cca_notices.settings")

app = Celery("cca_notices")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Each task runs in its own audit context (channel `system`, actor "task <name>") under the
# request id of whoever queued it, so one id follows an opt-out from the web form to its e-mail.
_open_contexts: dict[str, object] = {}


@signals.before_task_publish.connect
def _task_request_id(headers=None, **kwargs):
    from accounts.audit_context import current_request_id

    if headers is not None and "request_id" not in headers:
        headers["request_id"] = current_request_id()


@signals.task_prerun.connect
def _task_context_open(task_id=None, task=None, **kwargs):
    from accounts.audit_context import AuditChannel, audit_context, current_request_id

    request_id = getattr(task.request, "request_id", None) or current_request_id()
    ctx = audit_context(
        channel=AuditChannel.TASK,
        user=None,
        actor_name=f"task {task.name}",
        request_id=request_id or "",
        remote_addr=None,
    )
    ctx.__enter__()
    _open_contexts[task_id] = ctx


@signals.task_postrun.connect
def _task_context_close(task_id=None, **kwargs):
    ctx = _open_contexts.pop(task_id, None)
    if ctx is not None:
        ctx.__exit__(None, None, None)


@signals.worker_ready.connect
def _outbox_sweep_on_start(sender, **kwargs):
    """A worker that starts (after an outage, a deploy) sends what the broker never carried."""
    sender.app.send_task("optouts.tasks.outbox_redeliver")
