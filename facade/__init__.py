"""FHIR R4 facade for TPP SystmOne."""

__version__ = "0.1.0"
