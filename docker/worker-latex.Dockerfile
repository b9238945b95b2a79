# The render worker with LaTeX, for scripts that use Tex() and MathTex().
# Build from the repository root:
#   docker build -f docker/worker-latex.Dockerfile -t REGISTRY/chalkline-worker-latex:0.1.0 .
# Same as docker/worker.Dockerfile plus a TeX Live subset: Manim's default
# template needs standalone and preview (latex-extra), amsmath and amssymb,
# and dvisvgm to turn DVI into the SVG it animates.
# Base pinned by exact tag here (no registry access); pin the digest in CI that can pull:
#   FROM python:3.11.10-slim-bookworm@sha256:...
FROM python:3.11.10-slim-bookworm AS build

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

RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libcairo2 libpango-1.0-0 libpangocairo-1.0-0 fonts-dejavu-core \
      texlive-latex-base texlive-latex-recommended texlive-latex-extra \
      texlive-fonts-recommended dvisvgm \
 && rm -rf /var/lib/apt/lists/* /usr/share/doc/texlive* /usr/share/texlive/texmf-dist/doc
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels chalkline && rm -rf /wheels

RUN useradd --uid 10001 --create-home chalkline
USER 10001
WORKDIR /home/chalkline
ENV PYTHONUNBUFFERED=1
ENTRYPOINT ["chalkline"]
CMD ["worker"]
