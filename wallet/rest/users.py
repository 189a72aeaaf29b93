"""The authenticated user of an API request, typed for the services."""

from django.contrib.auth.models import User
from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request


def request_user(request: Request) -> User:
    """``request.user`` narrowed to a real user; views behind IsAuthenticated never see anyone else."""
    user = request.user
    if not isinstance(user, User):
        raise NotAuthenticated()
    return user
