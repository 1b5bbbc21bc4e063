from django.apps import AppConfig


class OptoutsConfig(AppConfig):
    name = "optouts"
    verbose_name = "Opt-outs"

    def ready(self):
        from optouts import receivers  # noqa: F401  (connects the optout_recorded receivers)
