from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Service-account registry"

    def ready(self):
        from accounts.models import Closure, Program
        from accounts.services.calendar import calendar_cache_clear

        # A program's calendars are cached per process (accounts.services.calendar): a closure
        # or a program saved here is seen at once, in other processes within the cache's TTL.
        for model in (Closure, Program):
            post_save.connect(calendar_cache_clear, sender=model, dispatch_uid=f"cal-{model}")
            post_delete.connect(calendar_cache_clear, sender=model, dispatch_uid=f"cal-{model}-d")
