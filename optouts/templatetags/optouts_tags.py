from django import template
from django.utils import dateformat, translation

from accounts.services import contact

register = template.Library()

# Spelled-out month, as customers read dates in letters ("April 2, 2027", "2 de abril de 2027").
LONG_DATE = {"es": r"j \d\e F \d\e Y"}


@register.filter
def longdate(value):
    if not value:
        return ""
    return dateformat.format(value, LONG_DATE.get(translation.get_language(), "F j, Y"))


@register.filter
def phone_display(value):
    """+18005550100 → (800) 555-0100, as customers dial it (accounts.services.contact)."""
    return contact.phone_display(value or "") or value
