# Two stages: the build stage installs the package into a venv; the runtime stage
# carries only that venv and runs as an unprivileged user.

FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH"

WORKDIR /src
COPY pyproject.toml README.md ./
COPY service/ service/
COPY clients/ clients/
# The registry simulator ships in the image too, so its console script runs there.
COPY simulators/ simulators/
# The merchant gateway too: `docker run --entrypoint integrity-gateway ...`.
COPY gateway/ gateway/
# gen/ is committed, so the image needs neither protoc nor buf.
COPY gen/ gen/
RUN pip install .


FROM python:3.11-slim

# The default database is sqlite:///var/integrity.db, relative to the working directory,
# so the user owns var/ there.
RUN groupadd --gid 10001 integrity \
    && useradd --uid 10001 --gid integrity --no-create-home --shell /usr/sbin/nologin integrity \
    && mkdir -p /srv/integrity/var \
    && chown -R integrity:integrity /srv/integrity

COPY --from=build /opt/venv /opt/venv

# The listener is not on loopback, so the server serves TLS or refuses to start: mount the
# certificate and key at these paths (a renewed pair is picked up without a restart). Behind
# a network that encrypts on its own (a mesh sidecar), run with INTEGRITY_TLS_CERT_FILE= and
# INTEGRITY_TLS_KEY_FILE= empty and INTEGRITY_ALLOW_PLAINTEXT=true instead.
ENV PATH="/opt/venv/bin:$PATH" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    INTEGRITY_LISTEN=0.0.0.0:50051 \
    INTEGRITY_TLS_CERT_FILE=/run/secrets/integrity/tls.crt \
    INTEGRITY_TLS_KEY_FILE=/run/secrets/integrity/tls.key

WORKDIR /srv/integrity
USER integrity

EXPOSE 50051

# Liveness: the listener accepts connections. A gRPC health call would need the server's
# CA and, under mutual TLS, a client certificate of its own; orchestrators that hold those
# can ask grpc.health.v1 through the listener, which the server serves.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import socket; socket.create_connection(('127.0.0.1', 50051), 3).close()"]

ENTRYPOINT ["integrity-server"]
