"""``python -m tests.validators``: install the external FHIR validators once (scripts/test)."""

import sys

from .external import install_for_test_run

sys.exit(install_for_test_run())
