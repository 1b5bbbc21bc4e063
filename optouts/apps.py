from django.apps import AppConfig


class OptoutsConfig(AppConfig):
    name = "optouts"
    verbose_name = "Opt-outs"

    def ready(self):
        from optouts import checks  # noqa: F401  (registers the deploy checks)
        from optouts.services.letter_batches import letter_source_register

        letter_source_register()  # the notices' batch builder prints confirmation letters too
