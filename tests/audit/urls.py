"""A view that fails while holding a customer's data, for the error-report tests."""

from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from accounts.models import ServiceAccount


@csrf_exempt
def boom(request):
    account = ServiceAccount.objects.get(account_number=request.POST["account_number"])
    customer_name = account.customer_name  # a local variable the report must not show
    raise RuntimeError(f"failed on account {account.pk} ({len(customer_name)} letters)")


urlpatterns = [path("boom/", boom)]
