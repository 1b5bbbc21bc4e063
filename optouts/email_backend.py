"""The e-mail backend of a deployment with a database and no EMAIL_URL: it sends nothing and says
so. Confirmations never reach it (optouts.services.confirmations.email_configured keeps them
pending); anything else that tries to send is refused rather than printed or dropped."""

from django.core.mail.backends.base import BaseEmailBackend


class EmailNotConfigured(RuntimeError):
    pass


class NotConfiguredBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise EmailNotConfigured("e-mail not sent: EMAIL_URL is not set (docs/configuration.md)")
