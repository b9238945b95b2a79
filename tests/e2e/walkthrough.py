"""Regenerate docs/walkthrough.md with real output.

    .venv/bin/python -m tests.e2e.walkthrough      # from the repository root

Serves the test API server (with no CRD: the walkthrough installs it) and
runs the real operator beside it with the kubernetes backend, and the fake
node that runs its Jobs' pods, as the end-to-end tests do; then runs, in
order, every ``$ command`` line of the document's ``console`` blocks with
bash and kubectl, and writes each command's output (stdout and stderr, as a
terminal shows them) under it. kubectl must be on PATH.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from chalkline.operator.config import OperatorConfig
from chalkline.storage.files import uri_of
from tests.support.harness import ROOT, ApiServer, Operator, use_kubeconfig
from tests.support.kube_node import FakeNode

DOC = ROOT / "docs" / "walkthrough.md"
#: A fixed place, so the document's paths stay the same from run to run.
WORK = Path("/tmp/chalkline-walkthrough")
CONSOLE = re.compile(r"(```console\n)(.*?)(```)", re.DOTALL)


def main() -> int:
    if shutil.which("kubectl") is None:
        print("kubectl is not on PATH", file=sys.stderr)
        return 1
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    with ApiServer() as server:
        kubeconfig = server.write_kubeconfig(WORK / "kubeconfig")
        use_kubeconfig(kubeconfig)
        operator = Operator(
            OperatorConfig(
                backend="kubernetes",
                storage=uri_of(WORK / "storage"),
                cache_dir=WORK / "cache",
                poll_interval=0.5,
                kubernetes_image="ghcr.io/chalkline/chalkline-worker:0.1.0",
                # The fake node runs pods here: the image's command is this interpreter's.
                kubernetes_command=(sys.executable, "-m", "chalkline"),
                kubernetes_storage_claim="chalkline-storage",
            ),
            namespaces=(),  # --all-namespaces, as manifests/base runs it
        )
        with FakeNode(server.url, namespaces=("default",)):
            operator.start()
            try:
                document = CONSOLE.sub(lambda block: _run_block(block, kubeconfig), DOC.read_text())
            finally:
                operator.stop()
    DOC.write_text(document)
    print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


def _run_block(block: re.Match[str], kubeconfig: Path) -> str:
    commands = [line[2:] for line in block[2].splitlines() if line.startswith("$ ")]
    transcript = "".join(f"$ {command}\n{_run(command, kubeconfig)}" for command in commands)
    return f"{block[1]}{transcript}{block[3]}"


def _run(command: str, kubeconfig: Path) -> str:
    print(f"$ {command}", flush=True)
    done = subprocess.run(
        ["bash", "-c", command],
        cwd=ROOT,
        env={**os.environ, "KUBECONFIG": str(kubeconfig)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=180,
        check=False,
    )
    print(done.stdout, end="", flush=True)
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {command}")
    return done.stdout


if __name__ == "__main__":
    sys.exit(main())
