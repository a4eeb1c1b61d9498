"""The guard's scope decisions, remembered on the token they were made for."""

from __future__ import annotations

import pytest

from facade.auth.guard import Forbidden, caller_for
from facade.auth.scopes import parse_scopes
from facade.auth.tokens import AccessToken


def token(scope: str, patient: str | None = None) -> AccessToken:
    return AccessToken(client_id="partner", scope=scope, scopes=tuple(parse_scopes(scope)),
                       patient=patient, expires=2e9, issuer="https://facade.test/auth",
                       jti="j1")


def test_a_decision_is_made_once_per_token_and_question():
    access = token("system/Condition.rs system/Patient.r")
    first = caller_for(access, "Condition", "search")
    assert caller_for(access, "Condition", "search") is first
    assert caller_for(access, "Patient", "read") is not first
    assert set(access.callers) == {("Condition", "search", False), ("Patient", "read", False)}


def test_a_refusal_is_not_remembered_as_a_decision():
    access = token("system/Patient.r")
    for _ in range(2):
        with pytest.raises(Forbidden):
            caller_for(access, "Condition", "search")
    assert access.callers == {}


def test_what_a_token_remembers_is_not_part_of_its_value():
    """Two tokens with the same claims are the same token, whatever either has been asked:
    the memo must not make them unequal, nor make a token unhashable."""
    used, fresh = token("system/*.rs"), token("system/*.rs")
    caller_for(used, "Observation", "search")
    assert used == fresh
    assert hash(used) == hash(fresh)
    assert "callers" not in repr(used)
