"""The Kubernetes operator for ``RenderJob`` (import name ``chalkline.operator``).

``reconciler`` decides (pure), ``controller`` observes the world and carries
out decisions, ``handlers`` wires both to Kopf. The folder is mapped into the
``chalkline`` namespace so it can never shadow the standard ``operator``.
"""
