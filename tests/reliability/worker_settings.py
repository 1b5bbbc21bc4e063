"""Settings of the Celery workers tests/reliability/test_worker_kill.py starts and kills: the
project's settings, with short leases and visibility timeout so a killed worker's work comes
back within seconds, and the hooks that make a worker stop at a known point."""

from cca_notices.settings import *  # noqa: F403

EMAIL_BACKEND = "tests.reliability.worker_hooks.BlockingEmailBackend"
CELERY_IMPORTS = ["tests.reliability.worker_hooks"]
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 2,
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}
CONFIRMATION_CLAIM_LEASE_SECONDS = 2
MAIL_BATCH_LEASE_SECONDS = 2
MAIL_BATCH_LETTERS_PER_FILE = 2
