"""The few direct Kubernetes API reads the operator makes (besides Kopf's own)."""

from __future__ import annotations

from collections.abc import Mapping

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from chalkline.core.errors import InvalidSpec
from chalkline.operator.controller import ConfigMapReader


def config_map_reader() -> ConfigMapReader:
    """Read ConfigMaps with the pod's service account, or the current kubeconfig."""
    try:
        config.load_incluster_config()
    except config.ConfigException:
        try:
            config.load_kube_config()
        except (config.ConfigException, OSError) as err:
            raise InvalidSpec(
                f"no Kubernetes credentials: not in a cluster, and no usable kubeconfig ({err})",
                hint="run in a pod with a service account, or point KUBECONFIG at a kubeconfig",
            ) from None
    api = client.CoreV1Api()

    def read(namespace: str, name: str) -> Mapping[str, str] | None:
        try:
            found = api.read_namespaced_config_map(name, namespace)
        except ApiException as err:
            if err.status == 404:
                return None
            raise
        return dict(found.data or {})

    return read
