"""The WSGI entry point: ``gunicorn wsgi:app``. Settings come from FACADE_* variables."""

from facade.app import create_app

app = create_app()
