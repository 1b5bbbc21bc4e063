"""`manage.py check --deploy`: the delivery settings a production deployment needs."""

from django.conf import settings
from django.core.checks import Tags, Warning, register

CONSOLE_BACKENDS = {
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
}


@register(Tags.security, deploy=True)
def email_delivery_check(app_configs, **kwargs):
    backend = settings.EMAIL_BACKEND
    if backend == getattr(settings, "EMAIL_NOT_CONFIGURED", None):
        return [
            Warning(
                "EMAIL_URL is not set: e-mail confirmations wait, unsent, until it is.",
                hint="Set EMAIL_URL (docs/configuration.md), e.g. smtp+tls://user:pass@host:587.",
                id="optouts.W001",
            )
        ]
    if backend in CONSOLE_BACKENDS:
        return [
            Warning(
                f"EMAIL_BACKEND is {backend}: confirmation e-mails, with the customer's address, "
                "would be printed or kept on disk instead of sent.",
                hint="Set EMAIL_URL to the CCA's mail relay (docs/configuration.md).",
                id="optouts.W002",
            )
        ]
    return []
