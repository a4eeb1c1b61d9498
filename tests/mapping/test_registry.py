"""The mapping registry: modules found by their declarations, sections, the collection
pause around a record's mapping."""

from __future__ import annotations

import gc
import threading

import pytest

from facade.mapping.registry import DEFAULT, MappingRegistry, _no_cycle_collection


def test_every_module_with_a_declaration_is_a_served_type_named_after_it():
    declarations = DEFAULT.declarations()
    for name in DEFAULT.modules:
        assert declarations[next(t for t in declarations if t.lower() == name)]
    assert "Patient" in declarations and "Observation" in declarations
    assert all(d.source == "record" for d in DEFAULT.record_types())
    assert "Patient" not in {d.type for d in DEFAULT.record_types()}


def test_sections_are_the_union_of_the_declarations():
    assert DEFAULT.sections() == frozenset().union(
        *(d.sections for d in DEFAULT.declarations().values()))


def test_an_overlay_module_without_a_declaration_adds_no_type(tmp_path):
    (tmp_path / "helpers.py").write_text("X = 1\n")
    assert MappingRegistry(tmp_path).modules == DEFAULT.modules


def test_a_broken_overlay_names_its_file(tmp_path):
    (tmp_path / "flag.py").write_text("this is not python\n")
    with pytest.raises(ValueError, match=r"flag\.py cannot be loaded"):
        MappingRegistry(tmp_path)


def test_collection_pauses_while_any_thread_maps_and_comes_back_as_it_was():
    assert gc.isenabled()
    inside, release = threading.Event(), threading.Event()

    def mapping():
        with _no_cycle_collection():
            inside.set()
            release.wait(5)

    worker = threading.Thread(target=mapping)
    worker.start()
    inside.wait(5)
    with _no_cycle_collection():
        assert not gc.isenabled()
    assert not gc.isenabled()  # the other thread is still mapping
    release.set()
    worker.join(5)
    assert gc.isenabled()
    gc.disable()
    try:
        with _no_cycle_collection():
            pass
        assert not gc.isenabled()  # left off, as it was found
    finally:
        gc.enable()
