# The render worker: `chalkline worker`, one planned scene per Cloud Run task.
# Build from the repository root:
#   docker build -f docker/worker.Dockerfile -t REGISTRY/chalkline-worker:0.1.0 .
# The task reads its plan from CHALKLINE_PLAN and its place from CLOUD_RUN_TASK_INDEX.
# Base pinned by exact tag here (no registry access); pin the digest in CI that can pull:
#   FROM python:3.11.10-slim-bookworm@sha256:...
FROM python:3.11.10-slim-bookworm AS build

# pycairo and manimpango (no wheel for every platform: pip may build it) compile
# against Cairo and Pango here; the runtime stage keeps only their libraries.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libcairo2-dev libpango1.0-dev pkg-config gcc \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY chalkline chalkline
COPY worker worker
COPY stitcher stitcher
COPY k8s-operator k8s-operator
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11.10-slim-bookworm

# Runtime libraries only; fonts for Text() and the default sans and mono faces.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libcairo2 libpango-1.0-0 libpangocairo-1.0-0 fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels chalkline && rm -rf /wheels

RUN useradd --uid 10001 --create-home chalkline
USER 10001
WORKDIR /home/chalkline
ENV PYTHONUNBUFFERED=1
ENTRYPOINT ["chalkline"]
CMD ["worker"]
