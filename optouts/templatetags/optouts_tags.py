from django import template

from accounts.services import display

register = template.Library()


@register.filter
def longdate(value):
    """The date spelled out in the page's language ("April 2, 2027", "2 de abril de 2027")."""
    return display.long_date(value) if value else ""


@register.filter
def money(value):
    """Dollars as on a bill, in the page's language: "$6.25"."""
    return display.money(value) if value is not None else ""


@register.filter
def phone_display(value):
    """+18005550100 → (800) 555-0100, as customers dial it."""
    return display.phone_display(value)
