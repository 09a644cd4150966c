"""The built-in sandbox: one seeded synthetic world served through faithful platform simulators.

Connectors talk to it over their real HTTP code path by using `sandbox_transport(world)` as the
httpx transport; tests compare what connectors produce with `SandboxWorld`'s ground truth.
"""

from ownlay_pipelines.sandbox.faults import FaultPlan, PlatformFaults
from ownlay_pipelines.sandbox.transport import SandboxTransport, sandbox_transport
from ownlay_pipelines.sandbox.world import SandboxWorld

__all__ = ["FaultPlan", "PlatformFaults", "SandboxTransport", "SandboxWorld", "sandbox_transport"]
