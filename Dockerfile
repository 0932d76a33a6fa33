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

ENV PATH="/opt/venv/bin:$PATH" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    INTEGRITY_LISTEN=0.0.0.0:50051

WORKDIR /srv/integrity
USER integrity

EXPOSE 50051

HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import grpc, sys; from grpc_health.v1 import health_pb2 as h, health_pb2_grpc as g; s = g.HealthStub(grpc.insecure_channel('127.0.0.1:50051')).Check(h.HealthCheckRequest(), timeout=3).status; sys.exit(s != h.HealthCheckResponse.SERVING)"]

ENTRYPOINT ["integrity-server"]
