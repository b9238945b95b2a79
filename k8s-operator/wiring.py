"""Build the controller an operator or ``chalkline run`` uses, from its config."""

from __future__ import annotations

from chalkline.errors import InvalidSpec
from chalkline.executors.local import LocalExecutor
from chalkline.operator.config import OperatorConfig
from chalkline.operator.controller import ConfigMapReader, Controller
from chalkline.operator.reconciler import Settings
from chalkline.stitcher.tier_table import load_tier_table
from chalkline.storage import open_storage


def build_controller(config: OperatorConfig, read_config_map: ConfigMapReader) -> Controller:
    if config.backend != "local":
        raise InvalidSpec(
            f"backend {config.backend!r} is not available yet",
            hint="use --backend local (the Cloud Run backend is on the roadmap)",
        )
    storage = open_storage(config.storage)
    executor = LocalExecutor(storage, config.cache_dir, config.workers)
    settings = Settings(storage_root=storage.root_uri, tier_table=load_tier_table(config.tiers))
    return Controller(executor, storage, settings, read_config_map)
