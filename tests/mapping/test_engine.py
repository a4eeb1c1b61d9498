"""The mapping vocabulary's meaning, one word at a time (MAPPINGS.md)."""

import pytest
from lxml import etree

from facade.mapping.engine import CompiledMapping, MappingError
from facade.mapping.transforms import TRANSFORMS
from facade.mapping.vocabulary import Each, Include, Path, Required, Var, When

SOURCE = etree.fromstring(
    b"<Response><Demographics><Sex>F</Sex><Blank>  </Blank><DateOfBirth>1951-01-01"
    b"</DateOfBirth><Bad>31/12/1950</Bad></Demographics><Clinical>"
    b"<Event DateTime='2020-01-02T09:00:00'><Item n='1'>a</Item><Item n='2'>b</Item></Event>"
    b"</Clinical></Response>")
MAPS = {"sex": {"F": "female"}}


def apply(template, **variables):
    return CompiledMapping("T", template, TRANSFORMS, MAPS).apply(SOURCE, **variables)


def test_path_takes_the_first_non_blank_fallback():
    assert apply({"x": Path("Missing", "Demographics/Blank", "Demographics/Sex")}) == {"x": "F"}


def test_path_reads_attributes_and_xpath_expressions():
    assert apply({"a": Path("Clinical/Event/@DateTime"),
                  "n": Path("count(Clinical/Event/Item)")}) == {
        "a": "2020-01-02T09:00:00", "n": "2.0"}


def test_path_transform_map_and_default():
    assert apply({"d": Path("Demographics/DateOfBirth", via="date"),
                  "g": Path("Demographics/Sex", map="sex"),
                  "u": Path("Demographics/Missing", map="sex", default="unknown")}) == {
        "d": "1951-01-01", "g": "female", "u": "unknown"}


def test_absent_and_empty_values_leave_nothing_behind():
    assert apply({"a": Path("Nope"), "b": [Path("Nope")], "c": {"d": Path("Nope")}}) == {}


def test_constants_and_variables():
    assert apply({"k": "v", "n": 1, "t": True, "id": Var("id"), "no": Var("other")},
                 id="x") == {"k": "v", "n": 1, "t": True, "id": "x"}


def test_when_with_otherwise():
    template = {"a": When("Demographics/Sex = 'F'", "yes", "no"),
                "b": When("Demographics/Sex = 'M'", "yes", "no"),
                "c": When("Nope", "never")}
    assert apply(template) == {"a": "yes", "b": "no"}


def test_each_repeats_and_arrays_flatten():
    template = {"items": ["first", Each("Clinical/Event/Item", {"v": Path("."), "n": Path("@n")})]}
    assert apply(template) == {"items": ["first", {"v": "a", "n": "1"}, {"v": "b", "n": "2"}]}


def test_include_moves_the_context_and_passes_values():
    fragment = {"value": Path("."), "use": Var("use")}
    assert apply({"x": Include(fragment, at="Demographics/Sex", values={"use": "home"}),
                  "y": Include(fragment, at="Demographics/Nope")}) == {
        "x": {"value": "F", "use": "home"}}


def test_required_drops_the_whole_object():
    fragment = {"system": "phone", "value": Required(Path("Nope"))}
    assert apply({"telecom": [fragment, {"system": "email", "value": Required(Path(
        "Demographics/Sex"))}]}) == {"telecom": [{"system": "email", "value": "F"}]}


def test_a_failing_transform_names_the_fhir_path_and_the_source():
    with pytest.raises(MappingError) as raised:
        apply({"birthDate": Path("Demographics/Bad", via="date")})
    assert str(raised.value).startswith("T.birthDate from /Response/Demographics/Bad:")
    with pytest.raises(MappingError, match=r"T.when from /Response/Clinical/Event/@DateTime"):
        apply({"when": Path("Clinical/Event/@DateTime", via="nhs_number")})


@pytest.mark.parametrize(("template", "problem"), [
    ({"x": Path("(((")}, "bad XPath"),
    ({"x": Path("a", via="nope")}, "unknown value transform 'nope'"),
    ({"x": Path("a", map="nope")}, "unknown concept map 'nope'"),
    ({"x": object()}, "not part of the mapping vocabulary"),
])
def test_mistakes_in_a_mapping_are_caught_when_it_is_compiled(template, problem):
    with pytest.raises((ValueError, TypeError), match=problem):
        CompiledMapping("T", template, TRANSFORMS, MAPS)


def test_generated_code_matches_the_interpreter_on_every_generated_record():
    """The node tree is the definition; the generated function must agree with it exactly."""
    import datetime as dt

    from facade.mapping.registry import MappingRegistry
    from facade.protocol.envelope import OutputScheme
    from simulator.practice.generator import GeneratedPractice
    from simulator.practice.index import result_element, summarise
    from simulator.practice.render import translate

    registry = MappingRegistry()
    practice = GeneratedPractice(25, seed=3, as_of=dt.date(2026, 11, 1))
    for index in range(len(practice)):
        for scheme in (OutputScheme("CTV3", None), OutputScheme("Snomed", "Dmd")):
            record = etree.fromstring(etree.tostring(practice.record(index)))
            translate(record, scheme)
            for name in ("patient", "observation"):
                compiled = registry.mapping(name)
                assert compiled.apply(record, id="x", patient={"reference": "Patient/x"}) == \
                    compiled.interpret(record, id="x", patient={"reference": "Patient/x"})
        result = result_element(summarise(practice.demographics(index), index, "s"))
        patient = registry.mapping("patient")
        assert patient.apply(result, id="x") == patient.interpret(result, id="x")


@pytest.mark.parametrize("template", [
    {"x": Path("Nope", "Demographics/Sex", map="sex", default="d")},
    {"a": [Each("Clinical/Event/Item", {"v": Path("."), "r": Required(Path("@n"))})]},
    {"w": When("Demographics/Sex = 'F'", {"k": Var("id")}, "no")},
    {"i": Include({"v": Var("use"), "r": Required(Path("Nope"))}, at="Demographics",
                  values={"use": Path("Demographics/Sex")})},
])
def test_generated_code_matches_the_interpreter_word_by_word(template):
    compiled = CompiledMapping("T", template, TRANSFORMS, MAPS)
    assert compiled.apply(SOURCE, id="x") == compiled.interpret(SOURCE, id="x")


@pytest.mark.parametrize("condition", [
    "Item = 'b'", "Item/@n = '2'", "Item", "Item/@n", "Item/@m", "Nope = ''", "Item = ' b'",
])
def test_plain_conditions_keep_xpaths_any_node_meaning(condition):
    # Read without XPath by the generated code; true when any selected node matches.
    source = etree.fromstring(b"<E><Item n='1'>a</Item><Item n='2'>b<!--c--></Item></E>")
    compiled = CompiledMapping("T", {"w": When(condition, "yes", "no")}, TRANSFORMS, MAPS)
    assert compiled.apply(source) == compiled.interpret(source)
