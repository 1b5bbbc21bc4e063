"""What a variant-pool worker process runs (stamp.variant_pool): WeasyPrint on a variant's HTML.

Imported by the worker before Django is set up (the spawn start method unpickles these functions
by importing this module first), so nothing here imports Django or the apps at module level.
"""

from __future__ import annotations


def worker_init() -> None:
    """Each worker sets Django up once (settings and apps: the mailers read the letter stylesheet
    from BASE_DIR); it never opens a database connection."""
    import django

    django.setup()


def variant_render(html: str, prefix: str, label: str):
    from cca_notices.mailers.stamp import variant_render_html

    return variant_render_html(html, prefix, label)
