"""Execution engines: where render tasks and stitches run.

``local`` runs them on this machine (a warm process pool, threads for
stitches); ``cloudrun`` (next) runs one Cloud Run Job execution per launch.
The reconciler only speaks :class:`~chalkline.executors.base.Executor`.
"""
