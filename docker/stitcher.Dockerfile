# The stitcher: `chalkline stitch`, one stitch order per Cloud Run stitch job.
# Build from the repository root:
#   docker build -f docker/stitcher.Dockerfile -t REGISTRY/chalkline-stitcher:0.1.0 .
# The job reads its stitch order from CHALKLINE_PLAN.
#
# No Manim: the package is installed with --no-deps and its dependencies are
# taken from pyproject.toml minus manim (and the operator's kopf and
# kubernetes), which the stitch path never imports. FFmpeg comes from the
# imageio-ffmpeg wheel and probing from PyAV's, so no compiler is needed.
# Base pinned by exact tag here (no registry access); pin the digest in CI that can pull:
#   FROM python:3.11.10-slim-bookworm@sha256:...
FROM python:3.11.10-slim-bookworm

# Fonts for any re-encode that burns in text, and a sane fontconfig cache.
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY pyproject.toml README.md ./
COPY chalkline chalkline
COPY worker worker
COPY stitcher stitcher
COPY k8s-operator k8s-operator
RUN python -c "import re, tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; print('\n'.join(d for d in deps if re.match(r'[A-Za-z0-9_.-]+', d)[0] not in ('manim', 'kopf', 'kubernetes')))" > /tmp/requirements.txt \
 && pip install --no-cache-dir -r /tmp/requirements.txt \
 && pip install --no-cache-dir --no-deps . \
 && rm -rf /src /tmp/requirements.txt

RUN useradd --uid 10001 --create-home chalkline
USER 10001
WORKDIR /home/chalkline
ENV PYTHONUNBUFFERED=1
ENTRYPOINT ["chalkline"]
CMD ["stitch"]
