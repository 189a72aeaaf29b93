"""Staff sessions for tests: an authenticator device per user, its current code, and a Django
test client signed in with the second factor given (django-otp's ``otp_device_id``)."""

from django.contrib.auth.models import User
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice


def totp_device_for(user: User) -> TOTPDevice:
    """The user's confirmed authenticator, enrolled now when they have none."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    return device or TOTPDevice.objects.create(user=user, name="tests", confirmed=True)


def totp_code(device: TOTPDevice) -> str:
    """The code the device's authenticator app shows now."""
    return str(totp(device.bin_key, device.step, device.t0, device.digits, device.drift)).zfill(device.digits)


def otp_login(client: Client, user: User) -> Client:
    """Signs ``client`` in as ``user`` with the session verified by the user's authenticator,
    what the admin's sign-in leaves after a right password and code."""
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = totp_device_for(user).persistent_id
    session.save()
    return client
