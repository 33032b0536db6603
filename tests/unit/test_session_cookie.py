"""The signed session cookie: values this server handed out are recognised without a second HMAC check, while a
forged, altered or expired value is still refused (a fresh session instead)."""

import time

import pytest

from nemo_gym.http import middleware
from nemo_gym.http.middleware import SESSION_ID_KEY, SessionMiddleware


def scope_with(cookie: bytes | None) -> dict:
    headers = [(b"cookie", b"other=1; srv=" + cookie)] if cookie is not None else []
    return {"type": "http", "headers": headers}


@pytest.fixture
def sessions(monkeypatch: pytest.MonkeyPatch) -> SessionMiddleware:
    monkeypatch.setattr(middleware, "_known_cookies", {})
    return SessionMiddleware(None, secret_key="secret", session_cookie="srv", max_age=60)


def test_a_value_it_signed_is_accepted_without_checking_the_signature_again(sessions, monkeypatch) -> None:
    signed = sessions._sign({SESSION_ID_KEY: "abc", "turn": 1})

    def no_hmac(*args, **kwargs):
        raise AssertionError("the signature was checked again")

    monkeypatch.setattr(sessions.signer, "unsign", no_hmac)
    session, raw = sessions._load(scope_with(signed))
    assert (session, raw) == ({SESSION_ID_KEY: "abc", "turn": 1}, signed)
    session["turn"] = 2  # a handler changing its copy does not change what the next request gets
    assert sessions._load(scope_with(signed))[0]["turn"] == 1


def test_forged_and_altered_values_are_refused(sessions) -> None:
    signed = sessions._sign({SESSION_ID_KEY: "abc"})
    altered = signed[:-2] + (b"AA" if not signed.endswith(b"AA") else b"BB")
    other_secret = SessionMiddleware(None, secret_key="not-the-secret", session_cookie="srv")._sign(
        {SESSION_ID_KEY: "x"}
    )
    for value in (altered, other_secret, b"garbage"):
        assert sessions._load(scope_with(value)) == ({}, None)


def test_a_value_signed_elsewhere_is_checked_once_then_known(sessions) -> None:
    twin = SessionMiddleware(None, secret_key="secret", session_cookie="srv", max_age=60)
    middleware._known_cookies.clear()  # as if another process (a worker) had signed it
    signed = twin.signer.sign(b"eyJzZXNzaW9uX2lkIjoiYWJjIn0")
    assert sessions._load(scope_with(signed)) == ({SESSION_ID_KEY: "abc"}, signed)
    assert signed in sessions._known


def test_an_expired_value_is_refused_even_when_known(sessions, monkeypatch) -> None:
    signed = sessions._sign({SESSION_ID_KEY: "abc"})
    later = time.time() + 61
    monkeypatch.setattr(middleware.time, "time", lambda: later)
    assert sessions._load(scope_with(signed)) == ({}, None)


def test_the_store_stays_bounded(sessions, monkeypatch) -> None:
    monkeypatch.setattr(middleware, "MAX_KNOWN_COOKIES", 8)
    values = [sessions._sign({SESSION_ID_KEY: str(index)}) for index in range(30)]
    assert len(sessions._known) <= 8 and values[-1] in sessions._known
    assert sessions._load(scope_with(values[0]))[0] == {SESSION_ID_KEY: "0"}  # evicted: checked again, still valid
