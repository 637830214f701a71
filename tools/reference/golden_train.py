"""Golden LoRA training steps: kohya sd-scripts' step (train_network.py process_batch, accelerate's
clip_grad_norm_, torch.optim.AdamW) on the tiny LDM UNet with LoRA on kohya's default targets, for three steps
with given noise and timesteps (the TypeScript step takes them as inputs, noiseSource "inputs").
Run with Debian's python3-torch: /usr/bin/python3 tools/reference/golden_train.py"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from common import fill_synthetic, hashed_uniform, synthetic  # noqa: E402
from ldm_unet import SpatialTransformer, UNetModel  # noqa: E402

torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(__file__), "../../packages/core/test/train/golden-train.json")
PREFIX = "model.diffusion_model"
CONFIG = dict(
    in_channels=4, model_channels=32, out_channels=4, num_res_blocks=1, channel_mult=[1], context_dim=32,
    attention_resolutions=[1], num_heads=2,
)
LATENTS, CONTEXT, STEPS, LR = (2, 4, 8, 8), (2, 8, 32), 3, 1e-3
LOSS_WEIGHTS = [1.0, 0.7]
# LoRA modules whose full weights and gradients the golden keeps; the rest are checked by fingerprints.
WATCHED = ["input_blocks.1.1.proj_in", "output_blocks.1.1.transformer_blocks.0.ff.net.2"]
# Timesteps of the three steps: small t (min-SNR < 1 weights), the middle, and the last step t = 999.
TIMESTEPS = [[30, 700], [5, 420], [260, 999]]
CASES = {
    "epsilon": dict(maxGradNorm=0),
    "v_prediction+minSnr": dict(predictionType="v_prediction", minSnrGamma=5, maxGradNorm=0),
    "minSnr+noiseOffset": dict(minSnrGamma=5, noiseOffset=0.1, maxGradNorm=0),
    "clipped": dict(maxGradNorm=0.03),
}


def f32(t):
    return t.float().double()


def schedule():
    """CompVis: scaled-linear betas and their cumulative product in float64, stored in float32."""
    betas = torch.linspace(0.00085**0.5, 0.012**0.5, 1000, dtype=torch.float64) ** 2
    ac = f32(torch.cumprod(1 - betas, 0))
    return ac, f32(ac / (1 - ac))


def raw(key, shape):
    return torch.tensor(hashed_uniform(f"golden.{key}", int(np.prod(shape))).astype(np.float32).astype(np.float64).reshape(shape))


def add_lora(model):
    """kohya's LoRANetwork on Transformer2DModel (LDM SpatialTransformer): every Linear and 1x1 Conv2d gets
    org(x) + up(down(x)) * alpha/rank, rank 1, alpha 1. Returns {ldm path: (down, up)}."""
    loras = {}
    for name, module in model.named_modules():
        if not isinstance(module, SpatialTransformer):
            continue
        for sub, layer in module.named_modules():
            if isinstance(layer, nn.Linear):
                down_shape, up_shape = (1, layer.in_features), (layer.out_features, 1)
            elif isinstance(layer, nn.Conv2d) and layer.kernel_size == (1, 1):
                down_shape, up_shape = (1, layer.in_channels, 1, 1), (layer.out_channels, 1, 1, 1)
            else:
                continue
            path = f"{name}.{sub}"
            down = synthetic(f"lora.{path}.down", down_shape).requires_grad_()
            up = (0.1 * synthetic(f"lora.{path}.up", up_shape)).detach().requires_grad_()
            loras[path] = (down, up)

            def hook(layer, inputs, output, down=down, up=up):
                x = inputs[0]
                if down.dim() == 2:
                    delta = F.linear(F.linear(x, down), up)
                else:
                    delta = F.conv2d(F.conv2d(x, down), up)
                return output + delta * 1.0

            layer.register_forward_hook(hook)
    return loras


def fingerprint(path, down, up):
    """sum(down * h_down) + sum(up * h_up) with fixed hashed weights: one number per module that moves with every element."""
    total = 0.0
    for part, tensor in (("down", down), ("up", up)):
        h = torch.tensor(hashed_uniform(f"fingerprint.{path}.{part}", tensor.numel())).reshape(tensor.shape)
        total += float((tensor.detach() * h).sum())
    return total


def short(x):
    """12 significant digits: far below the tests' tolerance, and a smaller file."""
    if isinstance(x, list):
        return [short(v) for v in x]
    if isinstance(x, dict):
        return {k: short(v) for k, v in x.items()}
    return float(f"{x:.12g}") if isinstance(x, float) else x


def run_case(options, draws):
    model = UNetModel(**CONFIG)
    fill_synthetic(model, PREFIX)
    for p in model.parameters():
        p.requires_grad_(False)
    loras = add_lora(model)
    params = [t for pair in loras.values() for t in pair]
    initial = {path: (d.detach().clone(), u.detach().clone()) for path, (d, u) in loras.items()}
    optimizer = torch.optim.AdamW(params, lr=LR)  # torch defaults: betas (0.9, 0.999), eps 1e-8, wd 0.01
    ac, snr = schedule()
    latents, context = raw("latents", LATENTS), raw("context", CONTEXT)
    v = options.get("predictionType") == "v_prediction"
    steps = []
    for draw in draws:
        noise = torch.tensor(draw["noise"]).reshape(LATENTS)
        t = torch.tensor(draw["t"])
        if options.get("noiseOffset"):
            noise = noise + options["noiseOffset"] * torch.tensor(draw["offset_noise"]).reshape(LATENTS[0], LATENTS[1], 1, 1)
        signal = f32(ac[t].sqrt()).view(-1, 1, 1, 1)
        scale = f32((1 - ac[t]).sqrt()).view(-1, 1, 1, 1)
        noisy = signal * latents + scale * noise
        prediction = model(noisy, t.double(), context)
        target = signal * noise - scale * latents if v else noise
        loss = F.mse_loss(prediction, target, reduction="none").mean([1, 2, 3]) * torch.tensor(LOSS_WEIGHTS)
        if options.get("minSnrGamma"):
            s = snr[t]
            loss = loss * f32(torch.minimum(s, torch.full_like(s, options["minSnrGamma"])) / (s + 1 if v else s))
        per_sample = loss.detach()
        loss = loss.mean()
        optimizer.zero_grad()
        loss.backward()
        norm = torch.sqrt(sum((p.grad**2).sum() for p in params))
        if options.get("maxGradNorm", 1.0):
            torch.nn.utils.clip_grad_norm_(params, options["maxGradNorm"])
        record = {"loss": loss.item(), "loss_per_sample": per_sample.tolist(), "grad_norm": norm.item()}
        if not steps:
            record["grads"] = [fingerprint(path, d.grad, u.grad) for path, (d, u) in loras.items()]
            record["watched_grads"] = {p: [loras[p][0].grad.flatten().tolist(), loras[p][1].grad.flatten().tolist()] for p in WATCHED}
        optimizer.step()
        if len(steps) != 1:
            record["weights"] = [
                fingerprint(path, d - initial[path][0], u - initial[path][1]) for path, (d, u) in loras.items()
            ]
        if len(steps) == STEPS - 1:
            record["watched_weights"] = {
                p: [loras[p][0].flatten().tolist(), loras[p][1].flatten().tolist()] for p in WATCHED
            }
        steps.append(record)
    return list(loras), short({"options": options, "steps": steps})


def main():
    rng = np.random.default_rng(20261206)
    draws = []
    for t in TIMESTEPS:
        t = np.array(t)
        draws.append(
            {
                "t": t.tolist(),
                # the step's uniform draw u with floor(u * 1000) = t
                "u": ((t + 0.5) / 1000).astype(np.float32).astype(np.float64).tolist(),
                "noise": [float(v) for v in map(str, rng.standard_normal(int(np.prod(LATENTS))).astype(np.float32))],
                "offset_noise": [float(v) for v in map(str, rng.standard_normal(LATENTS[0] * LATENTS[1]).astype(np.float32))],
            }
        )
    golden = {
        "config": CONFIG,
        "lr": LR,
        "loss_weights": LOSS_WEIGHTS,
        "watched": WATCHED,
        # per step: "grads" (step 1, as the optimizer gets them) and "weights" (steps 1 and 3, change from the
        # start) hold one fingerprint per module of "modules"; watched modules are kept whole.
        "draws": draws,
    }
    results = {name: run_case(options, draws) for name, options in CASES.items()}
    golden["modules"] = next(iter(results.values()))[0]
    golden["cases"] = {name: case for name, (_, case) in results.items()}
    with open(OUT, "w") as out:
        json.dump(golden, out)
    for name, case in golden["cases"].items():
        print(name, [round(s["loss"], 6) for s in case["steps"]], [round(s["grad_norm"], 6) for s in case["steps"]])


if __name__ == "__main__":
    main()
