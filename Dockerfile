# syntax=docker/dockerfile:1
# One image for every part of Kesah Etam: `kesah serve intake|routing|responses|publicview|relay|web ...`,
# `kesah migrate`, `kesah verify`, `kesah replay`. Build: docker build -t kesah-etam:$(git describe) .
# Dependencies are pinned by requirements.lock (used as constraints: the image gets the runtime
# dependencies at the locked versions, none of the test tools).

# The base image is pinned by version here; a release pins it by digest too (python:3.11.7-slim-bookworm@sha256:...).
# A machine without a registry builds on a base of its own: scripts/build-image passes
# BASE=localhost/kesah-base:bookworm (Debian's python3, made with debootstrap).
# checkov:skip=CKV_DOCKER_7: FROM names the BASE build arg, whose default is pinned by version; tests/deploy/test_manifests.py checks that pin
ARG BASE=python:3.11.7-slim-bookworm
FROM ${BASE} AS build
# Where pip finds packages, only when the build machine needs it (a proxy's index and CA bundle);
# unset, pip uses PyPI. Build args of this stage only: the runtime image keeps none of them.
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ARG PIP_TRUSTED_HOST
ARG PIP_CERT
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/kesah
COPY requirements.lock pyproject.toml README.md ./
COPY kesah ./kesah
COPY services ./services
RUN /opt/kesah/bin/pip install --constraint requirements.lock . \
    && /opt/kesah/bin/pip check \
    && /opt/kesah/bin/kesah --help > /dev/null

FROM ${BASE}
LABEL org.opencontainers.image.title="kesah-etam" \
      org.opencontainers.image.description="Kota Bontang citizen complaints as a signed event log" \
      org.opencontainers.image.licenses="Proprietary"
RUN groupadd --system --gid 10001 kesah \
    && useradd --system --uid 10001 --gid kesah --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin kesah
COPY --from=build /opt/kesah /opt/kesah
# The root file system is read-only in Kubernetes: bytecode was compiled at install time, and the
# only writable place is KESAH_DATA_DIR (an emptyDir at /tmp). Keys and URLs come from the environment.
ENV PATH=/opt/kesah/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    KESAH_DATA_DIR=/tmp/kesah \
    KESAH_HTTP_HOST=0.0.0.0
WORKDIR /tmp
USER 10001:10001
EXPOSE 8000 8081
# For plain Docker: healthy when the web face (8000) or a worker's probe server (8081) answers.
# Kubernetes ignores this and probes /healthz and /readyz itself.
HEALTHCHECK --interval=30s --timeout=5s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u\nfor p in (8000, 8081):\n    try:\n        u.urlopen(f'http://127.0.0.1:{p}/healthz', timeout=2); raise SystemExit(0)\n    except OSError: pass\nraise SystemExit(1)"]
ENTRYPOINT ["kesah"]
CMD ["serve", "web"]
