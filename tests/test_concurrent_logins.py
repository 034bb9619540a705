"""Wrong passwords sent in parallel: no more of them are checked than the login limits allow.

Each thread is one login request with its own database connection, all started together, as an
attacker's requests reach several server processes at once. The password check is slowed to stand
for production's hasher (PBKDF2 takes a good part of a second; the suite's MD5 next to nothing), so
the requests are all in flight together, as they would be.
"""

import threading
import time

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db import connection
from django.test import Client
from django.urls import reverse

from staff.models import FailedLogin
from tests.conftest import PASSWORD

ADDRESS = "203.0.113.7"
THROTTLED = "Too many failed attempts."
WRONG = "Please enter a correct username and password."
PRODUCTION_HASH_SECONDS = 0.2


@pytest.fixture
def password_checks(monkeypatch):
    """The usernames whose password was checked (the login backend was asked), one per check."""
    checks = []
    authenticate = ModelBackend.authenticate

    def slow_authenticate(self, request, username=None, password=None, **kwargs):
        checks.append(username)
        time.sleep(PRODUCTION_HASH_SECONDS)
        return authenticate(self, request, username=username, password=password, **kwargs)

    monkeypatch.setattr(ModelBackend, "authenticate", slow_authenticate)
    return checks


def parallel_logins(usernames: list[str]) -> list[str]:
    """Post a wrong password for each username at once, from one address; each response's page."""
    barrier = threading.Barrier(len(usernames))
    pages, failures = [], []

    def work(username):
        try:
            barrier.wait(timeout=20)
            response = Client(REMOTE_ADDR=ADDRESS).post(
                reverse("login"), {"username": username, "password": "wrong-password"}
            )
            assert response.status_code == 200
            pages.append(response.content.decode())
        except Exception as error:  # noqa: BLE001 - every failure is reported by the assertion below
            failures.append(f"{username}: {error!r}")
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(username,)) for username in usernames]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads)
    assert failures == []
    return pages


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "attempts, one_username, limit",
    [(16, True, settings.LOGIN_THROTTLE_PER_USERNAME), (40, False, settings.LOGIN_THROTTLE_PER_ADDRESS)],
    ids=["one username", "one address"],
)
def test_parallel_wrong_passwords_are_checked_no_more_often_than_the_limit(
    password_checks, attempts, one_username, limit
):
    get_user_model().objects.create_user(username="staff", password=PASSWORD)
    usernames = ["staff"] * attempts if one_username else [f"guess{number}" for number in range(attempts)]

    pages = parallel_logins(usernames)

    assert len(password_checks) <= limit
    # Each attempt was either checked and refused as wrong, and counted, or refused unchecked, and not counted.
    wrong = [page for page in pages if WRONG in page]
    refused = [page for page in pages if THROTTLED in page]
    assert (len(wrong), len(refused)) == (len(password_checks), attempts - len(password_checks))
    assert FailedLogin.objects.count() == len(password_checks)
    assert set(FailedLogin.objects.values_list("ip_address", flat=True)) == {ADDRESS}
