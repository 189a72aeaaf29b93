"""Who signs in with a second factor, and from which address a sign-in comes."""

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AbstractUser, AnonymousUser
from django.http import HttpRequest

from config.roles import TWO_FACTOR_OPTIONAL_ROLES


def two_factor_required(user: AbstractBaseUser | AnonymousUser) -> bool:
    """True unless every role of the user only reads (auditors): whoever approves, resolves or
    changes settings, superusers, staff with permissions given one by one and staff in no role
    at all give a second factor, so a new role or a stray permission is covered by default."""
    if not isinstance(user, AbstractUser):
        return False
    if user.is_superuser or user.user_permissions.exists():
        return True
    roles = set(user.groups.values_list("name", flat=True))
    return not roles or not roles <= TWO_FACTOR_OPTIONAL_ROLES


def client_ip(request: HttpRequest) -> str | None:
    """The address a failed password counts against: the trusted proxy's ``CLIENT_IP_HEADER``
    when set (its last hop, the one the proxy wrote), else the connection's. Never a header a
    client chooses, or every guess would come from a fresh address."""
    if settings.CLIENT_IP_HEADER:
        forwarded = request.headers.get(settings.CLIENT_IP_HEADER, "").split(",")[-1].strip()
        if forwarded:
            return forwarded
    return request.META.get("REMOTE_ADDR")
