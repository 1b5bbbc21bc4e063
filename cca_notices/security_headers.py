"""Security headers Django does not set itself (docs/configuration.md "Security").

Django's SecurityMiddleware sets X-Content-Type-Options, Referrer-Policy and
Cross-Origin-Opener-Policy, XFrameOptionsMiddleware sets X-Frame-Options and django-csp the
Content-Security-Policy; Permissions-Policy has no setting in Django 5.2, so it is set here.
"""

from django.conf import settings


class PermissionsPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        policy = getattr(settings, "PERMISSIONS_POLICY", "")
        if policy:
            response.headers.setdefault("Permissions-Policy", policy)
        return response
