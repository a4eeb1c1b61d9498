# syntax=docker/dockerfile:1
# The SystmOne FHIR facade as a container: `facade serve` (gunicorn) as a non-root user.
#
#   docker build -t systmone-fhir-facade .
#   docker run -p 8080:8080 -v facade-state:/var/lib/facade \
#       -e FACADE_UPSTREAM=gateway-pc:40700 -e FACADE_API_KEY=... systmone-fhir-facade
#
# Callers reach it by a name: give FACADE_PUBLIC_BASE_URL=https://that-name/fhir (or
# FACADE_ALLOWED_HOSTS=that-name), or requests naming another host get 421 (docs/security.md).
# The worker buffers requests, so slow clients hold no thread (docs/security.md); /metrics
# answers this container's loopback only unless FACADE_OPS_BIND=0.0.0.0:9464 is set.
# Settings are FACADE_* variables (CONFIG.md); `docker run ... --config /path/env-file` passes
# options to `facade serve`. SIGTERM lets in-flight requests finish for FACADE_GRACEFUL_TIMEOUT
# (30 s), longer than docker's default stop timeout: use `docker stop -t 35` or stop_grace_period.
# tests/serving/test_docker.py lints this file and runs its entry command from an installed wheel.

ARG PYTHON_IMAGE=python:3.11-slim

# --- builder: the project's wheel and the wheels of its dependencies ---------------------------
FROM ${PYTHON_IMAGE} AS builder
WORKDIR /src
COPY pyproject.toml README.md wsgi.py ./
COPY facade ./facade
COPY mappings ./mappings
COPY simulator ./simulator
COPY schemas ./schemas
RUN pip wheel --no-cache-dir --disable-pip-version-check --wheel-dir /wheels .

# --- runtime: a venv at /opt/facade installed from those wheels only, no build tools ------------
FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="systmone-fhir-facade" \
      org.opencontainers.image.description="FHIR R4 facade for TPP SystmOne" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"

ENV VIRTUAL_ENV=/opt/facade \
    PATH=/opt/facade/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    FACADE_STATE_DIR=/var/lib/facade \
    FACADE_BIND=0.0.0.0:8080

# The wheels are bind-mounted from the builder, so none of them stays in a layer.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    python -m venv /opt/facade \
    && /opt/facade/bin/pip install --no-cache-dir --disable-pip-version-check --no-index \
       --find-links=/wheels systmone-fhir-facade \
    && groupadd --system --gid 10001 facade \
    && useradd --system --uid 10001 --gid facade --home-dir /srv/facade --no-create-home \
       --shell /usr/sbin/nologin facade \
    && install -d -o facade -g facade -m 700 /var/lib/facade \
    && install -d -o facade -g facade -m 755 /srv/facade

# Keys, device ids, the embedded shared store and the audit: keep them across containers
# (a new named volume takes the directory's owner and mode 700 from the image).
VOLUME ["/var/lib/facade"]
# Empty on purpose: gunicorn imports wsgi:app from the installed package, not from here.
WORKDIR /srv/facade
EXPOSE 8080

# Liveness: GET /healthz on this container's own listener (FACADE_BIND's port; a wildcard host
# is asked on 127.0.0.1). With FACADE_TLS_CERT it is HTTPS and the certificate is not checked:
# it names the public host, not 127.0.0.1. Python's urllib, since the slim image has no curl.
# It reads the environment only: set FACADE_BIND and FACADE_TLS_CERT with -e or --env-file, not
# in a file given to --config, or the probe asks the wrong port or scheme.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, ssl, urllib.request; host, _, port = os.environ.get('FACADE_BIND', '0.0.0.0:8080').rpartition(':'); host = '127.0.0.1' if host in ('', '0.0.0.0', '::', '[::]') else host; tls = bool(os.environ.get('FACADE_TLS_CERT')); urllib.request.urlopen(f\"{'https' if tls else 'http'}://{host}:{port}/healthz\", timeout=4, context=ssl._create_unverified_context() if tls else None)"]

# Numeric, so that runAsNonRoot and the host can tell it is not root (user facade).
USER 10001:10001
ENTRYPOINT ["facade", "serve"]
