"""A Cloud Run Admin API v2 fake for the real ``google.cloud.run_v2`` clients (REST)."""

from .runner import Fault, FaultKind
from .server import CloudRunFake

__all__ = ["CloudRunFake", "Fault", "FaultKind"]
