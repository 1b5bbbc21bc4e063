"""factory_boy factories for the registry. Tests build only what they assert on."""

import datetime as dt
import itertools

import factory

from accounts.models import (
    CustomerClass,
    Phase,
    Product,
    Program,
    RateSchedule,
    ReadDate,
    ServiceAccount,
    Utility,
)

_codes = itertools.count(1)


class UtilityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Utility
        django_get_or_create = ("code",)

    code = "SCE"
    name = "Southern California Edison"


class ProgramFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Program
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"program-{n}")
    name = factory.LazyAttribute(lambda o: f"{o.slug.title()} Clean Power")
    utility = factory.SubFactory(UtilityFactory)
    phone = "+18005550100"
    # Each program its own line (accounts.Program's constraint): the called number picks it.
    ivr_phone = factory.Sequence(lambda n: f"+1800555{(101 + n) % 10000:04d}")
    call_centre_phone = "+18005550102"
    website = "https://cleanpower.example.org"
    return_address = "PO Box 100\nSan Rafael CA 94901"
    languages = ["en", "es"]


class PhaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Phase

    program = factory.SubFactory(ProgramFactory)
    name = factory.Sequence(lambda n: f"Phase {n}")
    number = factory.Sequence(lambda n: n + 1)
    enrollment_start = dt.date(2027, 3, 1)
    enrollment_end = dt.date(2027, 3, 31)


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    program = factory.SubFactory(ProgramFactory)
    code = "light-green"
    name = "Light Green"
    renewable_pct = 50
    is_default = True


class RateScheduleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RateSchedule
        django_get_or_create = ("utility", "code")

    utility = factory.SubFactory(UtilityFactory)
    code = "D"
    customer_class = CustomerClass.RESIDENTIAL


class ReadDateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReadDate

    utility = factory.SubFactory(UtilityFactory)
    read_cycle = 1
    read_date = dt.date(2027, 3, 2)


class ServiceAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServiceAccount

    program = factory.SubFactory(ProgramFactory)
    account_number = factory.Sequence(lambda n: f"{3000000000 + n}")
    customer_name = factory.Sequence(lambda n: f"CUSTOMER {n}")
    service_address = factory.Sequence(lambda n: f"{100 + n} MAIN ST")
    service_city = "SAN RAFAEL"
    service_zip = "94901"
    mailing_address = factory.LazyAttribute(lambda o: o.service_address)
    mailing_city = "SAN RAFAEL"
    mailing_state = "CA"
    mailing_zip = "94901"
    customer_class = CustomerClass.RESIDENTIAL
    rate_schedule = "D"
    read_cycle = 1
    language = "en"
    opt_out_code = factory.LazyFunction(lambda: f"T{next(_codes):09d}")
    customer_key = factory.LazyAttribute(
        lambda o: f"{o.customer_name}|{o.service_address}|{o.service_zip}"[:64]
    )


def grant_programs(user, programs=None):
    """Let `user` see `programs` (default: every program that exists now), as staff are granted
    them on their user page (accounts.access)."""
    from accounts.models import ProgramAccess

    for program in Program.objects.all() if programs is None else programs:
        ProgramAccess.objects.get_or_create(user=user, program=program)
    return user


def staff_user(username: str, *groups: str, programs=None, **extra):
    """A staff user in the named groups (the migrations' roles), granted `programs` (default:
    every program that exists now) through ProgramAccess (accounts.access)."""
    from django.contrib.auth.models import Group, User

    from accounts.models import ProgramAccess

    extra.setdefault("is_staff", True)
    user = User.objects.create_user(username, password="pw", **extra)
    user.groups.add(*[Group.objects.get(name=g) for g in groups])
    for program in Program.objects.all() if programs is None else programs:
        ProgramAccess.objects.create(user=user, program=program)
    return User.objects.get(pk=user.pk)  # a fresh permission cache


def letter_previewer(username: str = "clerk", programs=None):
    """A staff user who may preview letters (cca_notices.preview_letter) of `programs`."""
    from django.contrib.auth.models import Permission

    user = staff_user(username, programs=programs)
    user.user_permissions.add(Permission.objects.get(codename="preview_letter"))
    return type(user).objects.get(pk=user.pk)
