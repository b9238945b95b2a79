# The chalkline image: the operator (local backend) and the `chalkline` CLI.
# Build from the repository root:
#   docker build -f docker/operator.Dockerfile -t ghcr.io/chalkline/chalkline:0.1.0 .
# Not built in CI here (the build machines have no Docker engine);
# tests/unit/test_images.py checks what matters in every Dockerfile.
# Base pinned by exact tag here (no registry access); pin the digest in CI that can pull:
#   FROM python:3.11.10-slim-bookworm@sha256:...
FROM python:3.11.10-slim-bookworm

# Manim builds pycairo and manimpango against these; fonts for Text().
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libcairo2-dev libpango1.0-dev pkg-config gcc fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY pyproject.toml README.md ./
COPY chalkline chalkline
COPY worker worker
COPY stitcher stitcher
COPY k8s-operator k8s-operator
RUN pip install --no-cache-dir . && rm -rf /src

RUN useradd --uid 10001 --create-home chalkline \
 && mkdir -p /var/lib/chalkline /var/cache/chalkline \
 && chown chalkline /var/lib/chalkline /var/cache/chalkline
USER 10001
WORKDIR /home/chalkline
ENTRYPOINT ["chalkline"]
CMD ["operator", "--all-namespaces"]
