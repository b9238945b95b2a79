"""A Cloud Run Admin API v2 fake for the real ``google.cloud.run_v2`` clients (REST)."""

from tests.support.cloudrun_fake.runner import Fault, FaultKind
from tests.support.cloudrun_fake.server import CloudRunFake

__all__ = ["CloudRunFake", "Fault", "FaultKind"]
