"""Declarative SystmOne → FHIR R4 (UK Core) mappings: data only, no I/O, no logic.

One module per FHIR resource, shared datatype fragments in ``fragments``,
code systems and identifier namespaces in ``systems``, value maps in
``conceptmaps``. The vocabulary and its meaning: MAPPINGS.md.
"""
