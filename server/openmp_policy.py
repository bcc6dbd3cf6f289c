"""OpenMP's wait policy for serving: threads sleep as soon as a parallel region ends.

    use_passive_wait_policy()   sets OMP_WAIT_POLICY=PASSIVE unless OMP_WAIT_POLICY or
                                GOMP_SPINCOUNT is already set; call it before torch is imported

torch's CPU kernels run on libgomp, which reads its environment once, when torch loads it, so
this must happen before the first `import torch` (`avatarforge serve` and `avatarforge bench`
call it at the top of their modules; a process that imported torch already keeps its policy).

Why: by default a libgomp thread that finished its share of a region spins for up to 300,000
iterations before it sleeps. In a server the spinning threads hold cores that image encoding,
gRPC and the event loop need between and during batches; on a CPU shared with other processes
a team also waits for a partner that was descheduled. avatars64 at 2 threads on this 2-core
machine while it was shared (load average 4.3): batch 1 ran 1.3-3.1 img/s with the default and
11.6-12.8 with PASSIVE (CPU time 355-524 vs 56-59 ms an image), batch 16 9-14 vs 19 img/s.
Sleeping costs a futex wake per region instead, small next to a conv layer's work. Set
OMP_WAIT_POLICY=ACTIVE (or a GOMP_SPINCOUNT) in the environment to measure the other way.
"""
from __future__ import annotations

import os


def use_passive_wait_policy() -> bool:
    """True when this call set the policy (the environment named none)."""
    if "OMP_WAIT_POLICY" in os.environ or "GOMP_SPINCOUNT" in os.environ:
        return False
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    return True
