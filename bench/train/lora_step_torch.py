"""The PyTorch side of bench/train/lora-step.bench.mjs: kohya sd-scripts' LoRA training step (train_network.py
with its defaults: LoRA on the UNet's transformer blocks and on the CLIP text encoder, both trained, MSE on
epsilon, clip_grad_norm_ 1.0, torch.optim.AdamW) on the original CompVis UNet (tools/reference/ldm_unet.py) and
the HF-layout CLIP text model (tools/reference/clip_text.py), random f32 weights, eager mode.

Runs with Debian's python3-torch (1.13): /usr/bin/python3 bench/train/lora_step_torch.py '<json case>'
The case: {"unet": UNetModel kwargs, "clip": HFTextModel kwargs, "batch", "latent", "rank", "alpha",
"steps", "coretype"}. "coretype" (e.g. "SkylakeX") sets OPENBLAS_CORETYPE before torch loads: Debian's OpenBLAS
0.3.21 does not recognise the Xeons these benchmarks run on and falls back to its SSE3 kernels otherwise.
Prints one JSON line: first step and median step seconds, peak RSS, the last loss."""
import json
import os
import resource
import sys
import time

case = json.loads(sys.argv[1])
if case.get("coretype"):
    os.environ["OPENBLAS_CORETYPE"] = case["coretype"]

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools", "reference"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from torch_blas import blas_in_use, is_reference_blas  # noqa: E402
from clip_text import HFAttention, HFMLP, HFTextModel  # noqa: E402
from ldm_unet import SpatialTransformer, UNetModel  # noqa: E402

torch.manual_seed(0)
torch.set_num_threads(case.get("threads") or os.cpu_count() or 1)
blas = blas_in_use()
if is_reference_blas(blas):
    print(json.dumps({"skipped": f"skipped: PyTorch loaded the reference BLAS ({blas}); install libopenblas0-pthread"}))
    sys.exit(0)


def add_lora(model, parents, rank, alpha):
    """kohya's LoRAModule on every nn.Linear and 1×1 nn.Conv2d inside the given parent classes:
    org(x) + up(down(x)) · alpha/rank, down kaiming-uniform (a = √5), up zero. Returns the trainable tensors."""
    params = []
    for _, module in model.named_modules():
        if not isinstance(module, parents):
            continue
        for layer in module.modules():
            if isinstance(layer, nn.Linear):
                down = nn.Linear(layer.in_features, rank, bias=False)
                up = nn.Linear(rank, layer.out_features, bias=False)
            elif isinstance(layer, nn.Conv2d) and layer.kernel_size == (1, 1):
                down = nn.Conv2d(layer.in_channels, rank, 1, bias=False)
                up = nn.Conv2d(rank, layer.out_channels, 1, bias=False)
            else:
                continue
            nn.init.zeros_(up.weight)
            params += [down.weight, up.weight]

            def hook(layer, inputs, output, down=down, up=up):
                return output + up(down(inputs[0])) * (alpha / rank)

            layer.register_forward_hook(hook)
    return params


unet = UNetModel(**case["unet"])
text = HFTextModel(**case["clip"])
# The reference builds the timestep embedding in float64 (for its f64 goldens); CompVis's is float32.
unet.time_embed.register_forward_pre_hook(lambda module, inputs: (inputs[0].float(),))
for p in list(unet.parameters()) + list(text.parameters()):
    p.requires_grad_(False)
rank, alpha = case["rank"], case["alpha"]
unet_params = add_lora(unet, SpatialTransformer, rank, alpha)
te_params = add_lora(text, (HFAttention, HFMLP), rank, alpha)
params = unet_params + te_params
optimizer = torch.optim.AdamW([{"params": unet_params}, {"params": te_params}], lr=1e-4)

betas = torch.linspace(0.00085**0.5, 0.012**0.5, 1000, dtype=torch.float64) ** 2
alphas_cumprod = torch.cumprod(1 - betas, 0).float()
batch, side = case["batch"], case["latent"]
vocab, positions = case["clip"]["vocab"], case["clip"]["positions"]


def step():
    latents = torch.randn(batch, 4, side, side)
    tokens = torch.randint(0, vocab, (batch, positions))
    noise = torch.randn_like(latents)
    t = torch.randint(0, 1000, (batch,))
    ac = alphas_cumprod[t].view(-1, 1, 1, 1)
    noisy = ac.sqrt() * latents + (1 - ac).sqrt() * noise
    context = text.final_layer_norm(text(tokens)[-1])
    pred = unet(noisy, t.float(), context)
    loss = F.mse_loss(pred, noise, reduction="none").mean([1, 2, 3]).mean()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.item()


start = time.perf_counter()
loss = step()
first = time.perf_counter() - start
times, cpu_times = [], []
for _ in range(case["steps"]):
    start, cpu_start = time.perf_counter(), time.process_time()
    loss = step()
    times.append(time.perf_counter() - start)
    cpu_times.append(time.process_time() - cpu_start)
times.sort()
cpu_times.sort()
print(
    json.dumps(
        {
            "firstStepMs": first * 1000,
            "stepMs": times[len(times) // 2] * 1000,
            "stepCpuMs": cpu_times[len(cpu_times) // 2] * 1000,
            "peakRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "loss": loss,
            "trainable": sum(p.numel() for p in params),
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "blas": blas,
        }
    )
)
