"""``python -m facade`` is the ``facade`` command."""

from .cli import main

main()
