"""Build the controller an operator or ``chalkline run`` uses, from its config."""

from __future__ import annotations

import os
from collections.abc import Mapping

from chalkline.core.errors import InvalidSpec
from chalkline.executors.base import Executor
from chalkline.executors.local import LocalExecutor
from chalkline.executors.render_sizes import render_sizes_with
from chalkline.operator.config import OperatorConfig
from chalkline.operator.controller import ConfigMapReader, Controller
from chalkline.operator.reconciler import Settings
from chalkline.stitcher.tier_table import load_tier_table
from chalkline.storage import Storage, open_storage

_DOCS_HINT = "see docs/configuration.md, sections 'Operator' and 'Cloud Run'"
_KUBERNETES_HINT = "see docs/configuration.md, sections 'Operator' and 'Kubernetes Jobs'"


def build_controller(
    config: OperatorConfig,
    read_config_map: ConfigMapReader,
    env: Mapping[str, str] | None = None,
    *,
    in_cluster: bool = True,
) -> Controller:
    """The controller for ``config.backend``; ``env`` (default ``os.environ``) holds
    the cloudrun backend's ``CHALKLINE_CLOUDRUN_*`` project, region and endpoint.

    ``in_cluster`` is False for ``chalkline run`` and laptop runs, whose
    RenderJob exists only in memory: nothing in the cluster may name it as owner.
    """
    storage = open_storage(config.storage)
    executor: Executor
    if config.backend == "cloudrun":
        executor = cloudrun_executor(config, storage, os.environ if env is None else env)
    elif config.backend == "kubernetes":
        executor = kubernetes_executor(config, storage, owner_references=in_cluster)
    else:
        executor = LocalExecutor(storage, config.cache_dir, config.workers)
    settings = Settings(
        storage_root=storage.root_uri,
        tier_table=load_tier_table(config.tiers),
        signed_url_seconds=config.signed_url_seconds,
        backend=config.backend,
    )
    return Controller(executor, storage, settings, read_config_map)


def cloudrun_executor(config: OperatorConfig, storage: Storage, env: Mapping[str, str]) -> Executor:
    """A Cloud Run executor whose Jobs exist and match the config (``ensure_jobs``)."""
    # Imported here: the local backend never loads the Cloud Run client.
    from chalkline.executors.cloudrun import CloudRunExecutor
    from chalkline.executors.cloudrun_jobs import CloudRunConfig, render_resources_with

    cloudrun = CloudRunConfig.from_env(
        _image(config.cloudrun_image, "cloudrun", _DOCS_HINT),
        env,
        project=config.cloudrun_project,
        region=config.cloudrun_region,
        endpoint=config.cloudrun_endpoint,
        stitch_image=config.cloudrun_stitch_image,
        render_resources=render_resources_with(config.cloudrun_render_resources),
        parallelism=config.cloudrun_parallelism,
        task_timeout_s=config.cloudrun_task_timeout_seconds,
        max_retries=config.cloudrun_max_retries,
        service_account=config.cloudrun_service_account,
        command=config.cloudrun_command,
        tier_table=config.tiers,
        poll_interval_s=config.cloudrun_poll_interval,
    )
    executor = CloudRunExecutor(storage, cloudrun)
    try:
        executor.ensure_jobs()
    except BaseException:
        executor.close()
        raise
    return executor


def kubernetes_executor(
    config: OperatorConfig, storage: Storage, owner_references: bool = True
) -> Executor:
    """An executor that runs tasks as Jobs on the cluster of the operator's credentials.

    The pods must reach the storage the operator uses: gs:// directly, or a
    file:// root on a ReadWriteMany claim mounted at the same path.
    """
    # Imported here: other backends never load the Jobs executor.
    from chalkline.executors.kubernetes import KubernetesExecutor
    from chalkline.executors.kubernetes_jobs import KubernetesJobsConfig, pod_sizes

    image = _image(config.kubernetes_image, "kubernetes", _KUBERNETES_HINT)
    local_root = storage.local_path(storage.root_uri)
    if local_root is not None and not config.kubernetes_storage_claim:
        raise InvalidSpec(
            f"the kubernetes backend's pods cannot see {storage.root_uri} on the operator's disk",
            hint="use gs:// storage, or a ReadWriteMany claim (kubernetesStorageClaim) mounted "
            "at that path in the operator; " + _KUBERNETES_HINT,
        )
    jobs = KubernetesJobsConfig(
        image=image,
        namespace=config.kubernetes_namespace,
        stitch_image=config.kubernetes_stitch_image,
        command=config.kubernetes_command,
        render_sizes=pod_sizes(render_sizes_with(config.kubernetes_render_resources)),
        retries_per_index=config.kubernetes_retries_per_index,
        ttl_seconds_after_finished=config.kubernetes_ttl_seconds_after_finished,
        task_timeout_seconds=config.kubernetes_task_timeout_seconds,
        service_account=config.kubernetes_service_account,
        node_selector=config.kubernetes_node_selector,
        tolerations=config.kubernetes_tolerations,
        priority_class=config.kubernetes_priority_class,
        image_pull_secrets=config.kubernetes_image_pull_secrets,
        labels=config.kubernetes_labels,
        storage_claim=config.kubernetes_storage_claim,
        storage_path=str(local_root) if local_root is not None else None,
        owner_references=owner_references,
    )
    return KubernetesExecutor(storage, jobs, load_tier_table(config.tiers))


def _image(image: str | None, backend: str, docs: str) -> str:
    """The backend's container image, or an error that names the setting to give."""
    if not image:
        raise InvalidSpec(
            f"the {backend} backend needs a container image",
            hint=f"set {backend}Image in the config file or CHALKLINE_{backend.upper()}_IMAGE; "
            + docs,
        )
    return image
