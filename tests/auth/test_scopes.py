"""SMART on FHIR scopes, v1 and v2: parsing, granting, permitting."""

from __future__ import annotations

import re

import pytest

from facade.auth.scopes import (
    Permit,
    Scope,
    ScopeError,
    grant,
    parse_scope,
    parse_scopes,
    permitted,
    split_scopes,
)

CRUDS = frozenset("cruds")
RS = frozenset("rs")

VALID = [
    # text, context, type, permissions, restrictions, version
    ("system/Patient.read", "system", "Patient", RS, (), 1),
    ("system/Patient.write", "system", "Patient", frozenset("cud"), (), 1),
    ("system/Patient.*", "system", "Patient", CRUDS, (), 1),
    ("patient/Observation.read", "patient", "Observation", RS, (), 1),
    ("user/Observation.read", "user", "Observation", RS, (), 1),
    ("system/*.read", "system", "*", RS, (), 1),
    ("system/*.*", "system", "*", CRUDS, (), 1),
    ("system/Patient.rs", "system", "Patient", RS, (), 2),
    ("system/Patient.r", "system", "Patient", frozenset("r"), (), 2),
    ("system/Patient.s", "system", "Patient", frozenset("s"), (), 2),
    ("system/Patient.c", "system", "Patient", frozenset("c"), (), 2),
    ("system/Patient.cruds", "system", "Patient", CRUDS, (), 2),
    ("system/Patient.cud", "system", "Patient", frozenset("cud"), (), 2),
    ("patient/*.rs", "patient", "*", RS, (), 2),
    ("user/*.cruds", "user", "*", CRUDS, (), 2),
    ("patient/Observation.rs?category=laboratory", "patient", "Observation", RS,
     (("category", "laboratory"),), 2),
    ("patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/"
     "observation-category|vital-signs", "patient", "Observation", RS,
     (("category", "http://terminology.hl7.org/CodeSystem/observation-category|vital-signs"),),
     2),
    ("system/Observation.s?category=a%7Cb&code=x%20y", "system", "Observation",
     frozenset("s"), (("category", "a|b"), ("code", "x y")), 2),
    ("system/Observation.rs?date=ge2020-01-01T00:00:00+01:00", "system", "Observation", RS,
     (("date", "ge2020-01-01T00:00:00+01:00"),), 2),  # a plus stays a plus
    ("system/Observation.rs?code:text=a&code:text=b", "system", "Observation", RS,
     (("code:text", "a"), ("code:text", "b")), 2),
    ("system/AllergyIntolerance.r", "system", "AllergyIntolerance", frozenset("r"), (), 2),
]


@pytest.mark.parametrize(("text", "context", "resource_type", "permissions", "restrictions",
                          "version"), VALID, ids=[row[0] for row in VALID])
def test_valid_resource_scopes(text, context, resource_type, permissions, restrictions, version):
    assert parse_scope(text) == Scope(context, resource_type, permissions, restrictions, text,
                                      version)


@pytest.mark.parametrize("text", sorted(["openid", "fhirUser", "profile", "launch",
                                         "launch/patient", "online_access", "offline_access"]))
def test_non_resource_scopes_parse_to_none(text):
    assert parse_scope(text) is None


INVALID = [
    ("system/Patient.sr", "'sr'"),  # out of order
    ("system/Patient.rr", "'rr'"),  # repeated
    ("system/Patient.rx", "'rx'"),  # unknown letter
    ("system/Patient.Read", "'Read'"),
    ("system/Patient.readwrite", "'readwrite'"),
    ("system/Patient.", "no permissions"),
    ("system/Patient", "neither"),
    ("system/patient.read", "neither"),  # lowercase type
    ("system/P.read", "neither"),  # one letter is no type
    ("system/Pat1ent.read", "neither"),
    ("Patient.read", "neither"),  # missing context
    ("/Patient.read", "neither"),
    ("*/Patient.read", "neither"),
    ("admin/Patient.read", "context 'admin'"),
    ("System/Patient.read", "neither"),
    ("system/Patient.read?category=x", "v1"),  # v1 may not be restricted
    ("system/Patient.*?category=x", "v1"),
    ("system/Patient.rs?", "restriction ''"),
    ("system/Patient.rs?category", "restriction 'category'"),
    ("system/Patient.rs?=x", "restriction '=x'"),
    ("system/Patient.rs?category=", "restriction 'category='"),
    ("system/Patient.rs?a=b&&c=d", "restriction ''"),
    ("system/Patient.rs?a=b=c", "restriction 'a=b=c'"),
    ("system/Patient.rs?a=%zz", "percent-encoding"),
    ("system/Patient.rs?a=%ff", "UTF-8"),
    ("system/Patient.rs?1a=b", "not a search parameter name"),
    ("system/Patient.rs?a=\"b\"", "characters"),
    ("system/Patient.read extra", "characters"),
    ("", "empty"),
    ("launch/encounter", "neither"),
    ("Launch", "neither"),
    ("OPENID", "neither"),
]


@pytest.mark.parametrize(("text", "why"), INVALID, ids=[row[0] or "empty" for row in INVALID])
def test_malformed_scopes(text, why):
    with pytest.raises(ScopeError) as caught:
        parse_scope(text)
    message = str(caught.value)
    assert repr(text) in message and why in message


def test_a_request_may_mix_v1_v2_and_other_scopes():
    resource, other = split_scopes("openid system/Patient.read  system/Observation.rs launch")
    assert [s.text for s in resource] == ["system/Patient.read", "system/Observation.rs"]
    assert [s.version for s in resource] == [1, 2]
    assert resource[0].permissions == resource[1].permissions == RS
    assert other == ["openid", "launch"]
    assert parse_scopes("openid system/Patient.read") == [parse_scope("system/Patient.read")]
    assert parse_scopes("") == []


def test_one_malformed_scope_spoils_the_request():
    with pytest.raises(ScopeError, match=re.escape("'system/Observation.sr'")):
        parse_scopes("system/Patient.read system/Observation.sr")


def test_covers_and_v2_text():
    scope = parse_scope("system/*.read")
    assert scope.covers("Patient", "r") and scope.covers("Observation", "s")
    assert not scope.covers("Patient", "c")
    specific = parse_scope("patient/Observation.rs?code=a%20b")
    assert specific.covers("Observation", "r") and not specific.covers("Patient", "r")
    assert specific.v2_text == "patient/Observation.rs?code=a%20b"
    assert parse_scope("system/Patient.*").v2_text == "system/Patient.cruds"
    assert parse_scope(specific.v2_text) == specific
    with pytest.raises(ValueError, match="unknown permission"):
        scope.covers("Patient", "read")


GRANTS = [
    # requested, registered, contexts, granted
    ("system/Patient.read", "system/Patient.read", None, "system/Patient.read"),
    ("system/Patient.read", "system/Patient.rs", None, "system/Patient.read"),
    ("system/Patient.rs", "system/Patient.read", None, "system/Patient.rs"),
    ("system/Patient.read", "system/*.*", None, "system/Patient.read"),
    ("system/Patient.read", "system/Patient.r", None, "system/Patient.r"),
    ("system/Patient.read", "system/Patient.r system/Patient.s", None, "system/Patient.read"),
    ("system/Patient.read system/Observation.rs", "system/*.rs", None,
     "system/Patient.read system/Observation.rs"),
    # escalation attempts
    ("system/*.rs", "system/Patient.rs", None, "system/Patient.rs"),
    ("system/*.read", "system/Patient.rs system/Observation.r", None,
     "system/Patient.rs system/Observation.r"),
    ("system/*.rs", "system/*.r system/Patient.rs", None, "system/*.r system/Patient.rs"),
    ("system/Patient.cruds", "system/Patient.rs", None, "system/Patient.rs"),
    ("system/Patient.cruds", "system/*.*", None, "system/Patient.rs"),  # never write
    ("system/Patient.*", "system/Patient.*", None, "system/Patient.rs"),
    ("system/Patient.write system/Patient.read", "system/*.*", None, "system/Patient.read"),
    ("system/Patient.rs", "system/Patient.s", None, "system/Patient.s"),
    ("system/Patient.rs user/Patient.rs", "system/Patient.rs", None, "system/Patient.rs"),
    # other scopes are never granted, duplicates (in any wording) once
    ("openid fhirUser system/Patient.rs", "openid system/Patient.rs", None, "system/Patient.rs"),
    ("system/Patient.read system/Patient.rs system/Patient.read", "system/Patient.rs", None,
     "system/Patient.read"),
    ("system/Observation.rs system/Patient.rs", "system/*.rs", None,
     "system/Observation.rs system/Patient.rs"),  # order as requested
    # contexts
    ("patient/Patient.rs system/Patient.rs", "patient/*.rs system/*.rs", {"system"},
     "system/Patient.rs"),
    ("patient/Patient.rs system/Patient.rs", "patient/*.rs system/*.rs", None,
     "patient/Patient.rs system/Patient.rs"),
    ("user/Patient.rs", "user/Patient.rs", {"system", "user"}, "user/Patient.rs"),
    # restrictions
    ("patient/Observation.rs?category=laboratory", "patient/Observation.rs", None,
     "patient/Observation.rs?category=laboratory"),
    ("patient/Observation.rs?category=laboratory",
     "patient/Observation.rs?category=laboratory", None,
     "patient/Observation.rs?category=laboratory"),
    ("patient/Observation.rs?category=lab%6fratory",
     "patient/Observation.rs?category=laboratory", None,
     "patient/Observation.rs?category=lab%6fratory"),  # the same once decoded
    ("patient/Observation.rs", "patient/Observation.rs?category=laboratory", None,
     "patient/Observation.rs?category=laboratory"),
    ("patient/Observation.read", "patient/Observation.rs?category=laboratory", None,
     "patient/Observation.rs?category=laboratory"),
    ("patient/Observation.rs?code=x", "patient/Observation.rs?category=laboratory", None,
     "patient/Observation.rs?code=x&category=laboratory"),  # both must match
    ("patient/*.rs", "patient/Observation.rs?category=a%20b", None,
     "patient/Observation.rs?category=a%20b"),
    ("patient/Observation.rs",
     "patient/Observation.rs?category=laboratory patient/Observation.r", None,
     "patient/Observation.rs?category=laboratory patient/Observation.r"),  # registered order
]


@pytest.mark.parametrize(("requested", "registered", "contexts", "granted"), GRANTS,
                         ids=[f"{row[0]} <- {row[1]}" for row in GRANTS])
def test_grant(requested, registered, contexts, granted):
    assert grant(requested, registered, contexts) == granted
    parse_scopes(granted)  # what is granted always parses again


REFUSED = [
    ("system/Observation.rs", "system/Patient.rs", None),
    ("patient/Patient.rs", "system/Patient.rs", None),
    ("user/Patient.rs", "system/*.rs", None),
    ("patient/Patient.rs", "patient/Patient.rs", {"system"}),
    ("system/Patient.write", "system/*.*", None),
    ("system/Patient.cud", "system/Patient.cruds", None),
    ("system/Patient.s", "system/Patient.r", None),
    ("openid offline_access", "openid offline_access system/*.rs", None),
    ("", "system/*.rs", None),
    ("system/Patient.rs", "", None),
]


@pytest.mark.parametrize(("requested", "registered", "contexts"), REFUSED,
                         ids=[f"{row[0]} <- {row[1]}" for row in REFUSED])
def test_grant_refuses_a_request_of_which_nothing_is_allowed(requested, registered, contexts):
    with pytest.raises(ScopeError, match="no requested scope can be granted"):
        grant(requested, registered, contexts)


@pytest.mark.parametrize(("requested", "registered", "bad"), [
    ("system/Patient.sr", "system/*.rs", "system/Patient.sr"),
    ("system/Patient.rs", "system/Patient.rs system/patient.rs", "system/patient.rs"),
    ("system/Patient.read?_id=1", "system/*.rs", "system/Patient.read?_id=1"),
])
def test_grant_refuses_malformed_scopes(requested, registered, bad):
    with pytest.raises(ScopeError, match=re.escape(f"malformed scope {bad!r}")):
        grant(requested, registered)


def test_grant_rejects_unknown_contexts():
    with pytest.raises(ValueError, match="unknown contexts"):
        grant("system/Patient.rs", "system/Patient.rs", {"practice"})


def scopes(text):
    return parse_scopes(text)


PERMITS = [
    # scopes, type, interaction, permit
    ("system/Patient.read", "Patient", "read", Permit(True)),
    ("system/Patient.read", "Patient", "search", Permit(True)),  # v1 read allows search
    ("system/Patient.r", "Patient", "read", Permit(True)),
    ("system/Patient.r", "Patient", "search", Permit(False)),
    ("system/Patient.s", "Patient", "search", Permit(True)),
    ("system/Patient.s", "Patient", "read", Permit(False)),
    ("system/Patient.write", "Patient", "read", Permit(False)),
    ("system/Patient.rs", "Observation", "read", Permit(False)),
    ("system/*.rs", "Observation", "search", Permit(True)),
    ("", "Patient", "read", Permit(False)),
    ("user/Patient.rs", "Patient", "read", Permit(True)),  # user/ is like system/
    ("patient/Patient.rs", "Patient", "read", Permit(True, patient_only=True)),
    ("patient/*.read", "Observation", "search", Permit(True, patient_only=True)),
    ("patient/Patient.rs system/Patient.r", "Patient", "read", Permit(True)),
    ("patient/Patient.rs system/Patient.r", "Patient", "search",
     Permit(True, patient_only=True)),
    ("patient/Patient.rs user/Patient.rs", "Patient", "search", Permit(True)),
    # restrictions
    ("system/Observation.rs?category=laboratory", "Observation", "search",
     Permit(True, False, ((("category", "laboratory"),),))),
    ("system/Observation.rs?category=laboratory system/Observation.s", "Observation",
     "search", Permit(True)),
    ("system/Observation.rs?category=laboratory system/Observation.r", "Observation",
     "search", Permit(True, False, ((("category", "laboratory"),),))),
    ("system/Observation.rs?category=laboratory system/Observation.rs?category=vital-signs",
     "Observation", "search",
     Permit(True, False, ((("category", "laboratory"),), (("category", "vital-signs"),)))),
    ("system/Observation.rs?category=laboratory&code=x system/Observation.rs?category=laboratory",
     "Observation", "read", Permit(True, False, ((("category", "laboratory"),),))),
    ("patient/Observation.rs?category=laboratory", "Observation", "read",
     Permit(True, True, ((("category", "laboratory"),),))),
    ("patient/Observation.rs?category=laboratory patient/Observation.rs", "Observation",
     "read", Permit(True, True)),
    # patient scopes beside restricted system ones: never wider than the scopes
    ("system/Observation.rs?category=laboratory patient/Observation.rs", "Observation",
     "search", Permit(True, True)),
    ("system/Observation.rs?category=laboratory patient/Observation.rs?code=x",
     "Observation", "search",
     Permit(True, True, ((("code", "x"),), (("category", "laboratory"),)))),
    ("system/Observation.rs patient/Observation.rs?code=x", "Observation", "search",
     Permit(True)),
]


@pytest.mark.parametrize(("granted", "resource_type", "interaction", "permit"), PERMITS,
                         ids=[f"{row[0]} {row[2]} {row[1]}" for row in PERMITS])
def test_permitted(granted, resource_type, interaction, permit):
    assert permitted(scopes(granted), resource_type, interaction) == permit


def test_permit_is_truthy_only_when_allowed():
    assert permitted(scopes("system/Patient.rs"), "Patient", "read")
    assert not permitted(scopes("system/Patient.rs"), "Observation", "read")


def test_permitted_rejects_unknown_interactions():
    with pytest.raises(ValueError, match="unknown interaction"):
        permitted(scopes("system/*.*"), "Patient", "update")
