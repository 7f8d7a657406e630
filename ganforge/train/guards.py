"""Resource guards that need the data: refuse an absurd model before allocating it.

config.validate bounds each size on its own (batch, image size, widths); their product can still be
absurd (a dcgan of width 100000 has 3e11 parameters). The recipe is first built on the ``meta`` device
(shapes only, no memory), its parameters counted, and a clear error raised above the limit.
"""
from __future__ import annotations

import torch

from ganforge.errors import GanforgeError

MAX_PARAMETERS = 2 * 10**9  # 8 GB of fp32 weights, ~32 GB with gradients and Adam's two moments


def check_model_size(cfg, dataset, recipe_class) -> None:
    try:
        with torch.device("meta"):
            recipe = recipe_class(cfg, dataset)
    except GanforgeError:
        raise
    except Exception:  # something in a recipe cannot run on meta: the real build will tell
        return
    counts = {name: sum(p.numel() for p in net.parameters()) for name, net in recipe.nets.items()}
    if sum(counts.values()) > MAX_PARAMETERS:
        detail = ", ".join(f"{name} {n:.2g}" for name, n in counts.items())
        raise GanforgeError(
            f"the networks would have {sum(counts.values()):.2g} parameters ({detail}), more than the "
            f"{MAX_PARAMETERS:.0e} limit; lower --g-width / --d-width / --z-dim or --image-size."
        )
