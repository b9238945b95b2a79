"""The worker: render exactly one task (one scene of one script) into a clip.

This is the only component that runs user code. It is kept free of anything
local-only so the same code runs in a forked child of the local pool, in
``chalkline worker`` on Cloud Run, or in a Kubernetes Job.
"""
