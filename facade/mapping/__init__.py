"""The mapping engine: interprets the declarative modules in ``mappings/``.

``mappings/`` holds data only (templates and concept maps); this package holds
the vocabulary they are written in, the engine that applies them, the named
value transforms, and the validation every mapped resource passes once.
"""

# XPath functions beyond XPath 1.0 (string-join), registered before any mapping compiles.
from . import xpath_functions  # noqa: F401
