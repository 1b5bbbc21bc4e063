from django.apps import AppConfig


class NoticesConfig(AppConfig):
    name = "cca_notices"
    verbose_name = "Notices"
