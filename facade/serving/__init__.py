"""Production serving: ``facade serve`` (gunicorn) and ``facade check``."""
