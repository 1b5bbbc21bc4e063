"""Settings of the workers the CCASR killed-worker tests start: the killed-worker settings
(tests/reliability/worker_settings.py) plus the CCASR export's stopping points."""

from tests.reliability.worker_settings import *  # noqa: F403
from tests.reliability.worker_settings import CELERY_IMPORTS

CELERY_IMPORTS = [*CELERY_IMPORTS, "tests.reliability.killed.edi_hooks"]
