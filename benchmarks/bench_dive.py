"""BrainDiVE's guidance overhead: one guided sampler step over one unguided step, on CPU.

Prints one JSON object. The parts are the shipped toy diffusion model (VAE, UNet, DDIM) and the
toy CLIP with a random linear readout to ``--voxels`` voxels (the readout's values do not change
the cost). A batch of ``--batch`` latents is stepped ``--repeats`` times after a warm-up:

* ``unguided_step_s``: the UNet's noise prediction without gradients, and the scheduler step;
* ``guided_step_s``: :meth:`BrainGuidedDiffusionPipeline._guided_output` (the UNet with
  gradients, the x0 estimate decoded by the VAE, the CLIP tower and the readout, the backward
  pass to the latent) and the scheduler step, with one view and with ``--views`` views, and
  with the gradient skipping the UNet (``gradient_through_unet=False``);
* ``forward_s`` / ``backward_s``: where the guided step's time goes (each forward part timed on
  its own with gradients recorded, and the backward pass of the whole chain).

``ratio`` is the guided step over the unguided one (the issue's target is <= 3).

``call``: one whole sampler call of a batch of ``--batch`` candidates at the ``dive`` stage's
default settings (steps, guidance scale and stop, views, normalised gradient), guided and at
scale 0 (the control): seconds per candidate, and per image kept at the stage's default
``num_candidates / num_images``.

    python benchmarks/bench_dive.py
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np


def _best(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def _whole_call(pipe, target, batch: int) -> dict:
    """Seconds per candidate and per kept image of whole calls at the stage's defaults."""
    import torch

    from neurodecode.stages.dive import DiveStageConfig

    fields = {f.name: f.default for f in DiveStageConfig.__dataclass_fields__.values()}
    keys = ("steps", "normalize_gradient", "guidance_stop", "views", "gradient_through_unet")
    settings = {k: fields[k] for k in keys}
    keep = fields["num_candidates"] / fields["num_images"]
    out = {"settings": {**settings, "guidance_scale": fields["guidance_scale"],
                        "candidates_per_kept_image": keep}}  # fmt: skip
    for arm, scale in (("guided", fields["guidance_scale"]), ("control", 0.0)):
        t0 = time.perf_counter()
        gen = torch.Generator().manual_seed(0)
        pipe(target, num_images=batch, num_candidates=batch, batch_size=batch,
             guidance_scale=scale, generator=gen, **settings)  # fmt: skip
        per = (time.perf_counter() - t0) / batch
        out[f"{arm}_s_per_candidate"] = round(per, 4)
        out[f"{arm}_s_per_kept_image"] = round(per * keep, 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--voxels", type=int, default=15_724)
    parser.add_argument("--views", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--bf16", action="store_true")
    args = parser.parse_args()
    import torch

    from neurodecode.decoders import (
        BrainGuidedDiffusionPipeline,
        ImageVoxelEncoder,
        ReconstructionPipeline,
        VoxelTarget,
    )
    from neurodecode.decoders._dive import _Guidance
    from neurodecode.models import load_clip, resolve_weights, unet_condition_kwargs

    parts = ReconstructionPipeline.load_components(resolve_weights("toy-diffusion"))
    clip = load_clip("toy-clip")
    torch.manual_seed(0)
    readout = torch.nn.Linear(clip.model.visual.output_dim, args.voxels)
    encoder = ImageVoxelEncoder(clip.model, readout, clip.mean, clip.std, clip.image_size)
    null = unet_condition_kwargs(parts["unet"], torch.zeros(1, 128))
    pipe = BrainGuidedDiffusionPipeline(parts["vae"], parts["unet"], parts["scheduler"],
                                        encoder, null)  # fmt: skip
    mask = np.zeros(args.voxels, bool)
    mask[: args.voxels // 10] = True
    w = torch.as_tensor(VoxelTarget.mean_of("roi", mask).weights, dtype=torch.float32)
    sched = pipe.scheduler
    sched.set_timesteps(50)
    t = sched.timesteps[10]
    a = sched.alphas_cumprod[int(t)].float()
    z = torch.randn(args.batch, *pipe.latent_shape, generator=torch.Generator().manual_seed(0))
    kw = pipe._kwargs(args.batch)
    auto = {"device_type": "cpu", "dtype": torch.bfloat16, "enabled": args.bf16}

    def unguided() -> None:
        with torch.no_grad(), torch.autocast(**auto):
            out = pipe.unet(z, t, **kw).sample.float()
        sched.step(out, t, z)

    def guided(views: int, through_unet: bool = True) -> None:
        guide = _Guidance(w, 1.0, True, views, through_unet, None)
        with torch.autocast(**auto):
            out = pipe._guided_output(z, t, a, guide, kw)
        sched.step(out, t, z)

    plain = _best(unguided, args.repeats)
    one = _best(lambda: guided(1), args.repeats)
    many = _best(lambda: guided(args.views), args.repeats)
    skip = _best(lambda: guided(1, through_unet=False), args.repeats)

    # where the guided step's time goes: each forward part with gradients, then the backward
    state: dict = {}

    def f_unet() -> None:
        zz = z.detach().requires_grad_(True)
        with torch.enable_grad(), torch.autocast(**auto):
            state["z"], state["eps"] = zz, pipe.unet(zz, t, **kw).sample.float()

    def f_vae() -> None:
        with torch.enable_grad(), torch.autocast(**auto):
            x0 = (state["z"] - (1 - a).sqrt() * state["eps"]) / a.sqrt()
            state["x"] = pipe._decode(x0)

    def f_clip() -> None:
        with torch.enable_grad(), torch.autocast(**auto):
            state["score"] = (encoder(state["x"]) @ w).sum()

    def backward() -> None:
        f_unet(), f_vae(), f_clip()
        t0 = time.perf_counter()
        torch.autograd.grad(state["score"], state["z"])
        state["bwd"] = time.perf_counter() - t0

    forward = {"unet": _best(f_unet, args.repeats), "vae_decode": _best(f_vae, args.repeats),
               "clip_and_readout": _best(f_clip, args.repeats)}  # fmt: skip
    bwd = []
    for _ in range(args.repeats):
        backward()
        bwd.append(state["bwd"])
    call = _whole_call(pipe, VoxelTarget.mean_of("roi", mask), args.batch)
    print(json.dumps({
        "machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "load_avg_1m": os.getloadavg()[0]},
        "batch": args.batch, "bf16": args.bf16, "voxels": args.voxels,
        "unguided_step_s": round(plain, 4), "guided_step_s": round(one, 4),
        "ratio": round(one / plain, 2),
        f"guided_step_{args.views}_views_s": round(many, 4),
        f"ratio_{args.views}_views": round(many / plain, 2),
        "guided_step_gradient_skips_unet_s": round(skip, 4),
        "ratio_gradient_skips_unet": round(skip / plain, 2),
        "forward_s": {k: round(v, 4) for k, v in forward.items()},
        "backward_s": round(float(np.median(bwd)), 4),
        "call": call,
        "command": "python benchmarks/bench_dive.py " + " ".join(sys.argv[1:]),
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
