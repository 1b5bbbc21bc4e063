from django.apps import AppConfig


class NoticesConfig(AppConfig):
    name = "cca_notices"
    verbose_name = "Notices"

    def ready(self):
        from cca_notices.services.batch_sources import batch_source_register
        from cca_notices.services.notice_pieces import NoticeSource

        # First: a mail-house report's piece ID is looked up in the notices before the letters.
        batch_source_register(NoticeSource())
