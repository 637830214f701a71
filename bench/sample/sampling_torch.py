"""The PyTorch side of bench/sample/sampling.bench.mjs: k-diffusion's CompVisDenoiser around the original CompVis
UNet (tools/reference/ldm_unet.py) with A1111's classifier-free guidance (cond and uncond rows in one batch),
Euler and DPM++ 2M steps, random f32 weights, under no_grad.

Runs with Debian's python3-torch (1.13): /usr/bin/python3 bench/sample/sampling_torch.py '<json case>'
The case: {"unet": UNetModel kwargs, "clip": (unused), "latent", "steps", "coretype"}; "coretype" sets
OPENBLAS_CORETYPE before torch loads (see bench/train/lora_step_torch.py). Prints one JSON line: the median
seconds of `steps` steps (at most 19) of each sampler after a warm-up step, and the peak RSS."""
import json
import os
import resource
import sys
import time

case = json.loads(sys.argv[1])
if case.get("coretype"):
    os.environ["OPENBLAS_CORETYPE"] = case["coretype"]

import torch  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools", "reference"))
from ldm_unet import UNetModel  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from torch_blas import blas_in_use, is_reference_blas  # noqa: E402

torch.manual_seed(0)
torch.set_num_threads(case.get("threads") or os.cpu_count() or 1)
blas = blas_in_use()
if is_reference_blas(blas):
    print(json.dumps({"skipped": f"skipped: PyTorch loaded the reference BLAS ({blas}); install libopenblas0-pthread"}))
    sys.exit(0)
unet = UNetModel(**case["unet"]).eval()
unet.time_embed.register_forward_pre_hook(lambda module, inputs: (inputs[0].float(),))

betas = torch.linspace(0.00085**0.5, 0.012**0.5, 1000, dtype=torch.float64) ** 2
alphas_cumprod = torch.cumprod(1 - betas, 0)
sigmas_table = ((1 - alphas_cumprod) / alphas_cumprod).sqrt().float()
log_sigmas = sigmas_table.log()


def sigma_to_t(sigma):
    log_sigma = sigma.log()
    dists = log_sigma - log_sigmas[:, None]
    low = dists.ge(0).cumsum(dim=0).argmax(dim=0).clamp(max=log_sigmas.shape[0] - 2)
    w = ((log_sigmas[low] - log_sigma) / (log_sigmas[low] - log_sigmas[low + 1])).clamp(0, 1)
    return (1 - w) * low + w * (low + 1)


side, context_dim = case["latent"], case["unet"]["context_dim"]
cond, uncond = torch.randn(1, 77, context_dim), torch.randn(1, 77, context_dim)


def denoise(x, sigma):
    s = torch.full((2,), sigma)
    c_in = 1 / (s**2 + 1).sqrt()
    eps = unet(torch.cat([x, x]) * c_in.view(-1, 1, 1, 1), sigma_to_t(s), torch.cat([cond, uncond]))
    out = torch.cat([x, x]) - s.view(-1, 1, 1, 1) * eps
    c, u = out.chunk(2)
    return u + (c - u) * 7.0


def euler(x, sigma, sigma_next, _state):
    denoised = denoise(x, sigma)
    return x + (x - denoised) / sigma * (sigma_next - sigma)


def dpmpp_2m(x, sigma, sigma_next, state):
    denoised = denoise(x, sigma)
    if sigma_next == 0:
        return denoised
    t, t_next = -torch.tensor(sigma).log(), -torch.tensor(sigma_next).log()
    h = t_next - t
    old = state.get("old")
    if old is None:
        d = denoised
    else:
        r = state["h"] / h
        d = (1 + 1 / (2 * r)) * denoised - (1 / (2 * r)) * old
    state.update(old=denoised, h=h)
    return (sigma_next / sigma) * x - (-h).expm1() * d


timesteps = torch.linspace(999, 0, 20)
sigmas = [float(v) for v in sigmas_table[timesteps.long()]] + [0.0]
timed_steps = min(case["steps"], len(sigmas) - 2)
result = {}
with torch.no_grad():
    for name, step in [("Euler", euler), ("DPM++ 2M", dpmpp_2m)]:
        state = {}
        x = step(torch.randn(1, 4, side, side) * sigmas[0], sigmas[0], sigmas[1], state)
        times = []
        for i in range(1, timed_steps + 1):
            start = time.perf_counter()
            x = step(x, sigmas[i], sigmas[i + 1], state)
            times.append(time.perf_counter() - start)
        times.sort()
        result[name] = times[len(times) // 2] * 1000
result["peakRssMiB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
result["blas"] = blas
print(json.dumps(result))
