"""Golden DPM++ SDE noise as A1111 draws it, for packages/core/test/sample/brownianTree.test.ts.

Runs the real code: torchsde 0.2.6 (`torchsde/_brownian/brownian_interval.py`, `derived.py`; the version
A1111 pins) and k-diffusion at the commit A1111 pins (ab527a9, `k_diffusion/sampling.py`:
BrownianTreeNoiseSampler, BatchedBrownianTree, sample_dpmpp_sde, get_sigmas_karras; `external.py`:
DiscreteSchedule.get_sigmas). As A1111 does (`modules/sd_samplers_common.py` replace_torchsde_browinan),
torchsde's `_randn(size, dtype, device, seed)` is replaced by `randn_local(seed, size)` with the "NV" source:
the first draw of A1111's Philox generator (`modules/rng_philox.py`) seeded with the tree node's seed; it is
written below, vectorised, from the algorithm (Philox4x32-10, counter (0, 0, index, 0), key = the 64-bit
seed, Box-Muller on words 0 and 1) and checked against A1111's documented values for seed 0.

Dependencies this machine lacks are replaced by the smallest stand-ins, none of which the code under test
reaches with a value that matters: `trampoline` (trampoline_shim.py, torchsde's generator runner), and for
k-diffusion's imports `scipy.integrate`, `torchdiffeq.odeint`, `tqdm.auto` (trange = range) and
`k_diffusion.utils` (only `append_dims`, restated).

Each case builds `BrownianTreeNoiseSampler(x, sigma_min, sigma_max, seed=seeds)` as A1111's
create_noise_sampler does (sigma_min = smallest positive sigma, one tree per picture), runs k-diffusion's
sample_dpmpp_sde in float32 on the exact denoiser for N(mu, 1/4) data (golden_samplers.py's) from the NV
initial noise · sigmas[0], and records every noise query (its float32 sigmas and values), the float32
final latents, and the float64 NumPy sampler (golden_samplers.dpmpp_sde) replaying the same noise. It also
records torch's Karras and default sigmas for a few step counts (computed on this CPU, as A1111 computes the
Karras ones; it computes the default ones on the GPU).

    git clone https://github.com/google-research/torchsde && git -C torchsde checkout v0.2.6
    git clone https://github.com/crowsonkb/k-diffusion && git -C k-diffusion checkout ab527a9
    /usr/bin/python3 tools/reference/golden_brownian.py torchsde k-diffusion
"""
import importlib.util
import json
import pathlib
import sys
import types

import numpy as np
import torch

import golden_samplers
import trampoline_shim

OUT = pathlib.Path(__file__).resolve().parents[2] / "packages/core/test/sample/golden-brownian.json"

# --- A1111's NV generator (rng_philox.py), first draw only -------------------------------------------------

M0, M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
W0, W1 = np.uint32(0x9E3779B9), np.uint32(0xBB67AE85)


def nv_first_draw(seed, n):
    seed = int(seed)
    c0 = np.zeros(n, dtype=np.uint32)
    c1 = np.zeros(n, dtype=np.uint32)
    c2 = np.arange(n, dtype=np.uint32)
    c3 = np.zeros(n, dtype=np.uint32)
    k0 = np.full(n, seed & 0xFFFFFFFF, dtype=np.uint32)
    k1 = np.full(n, (seed >> 32) & 0xFFFFFFFF, dtype=np.uint32)
    with np.errstate(over="ignore"):
        for r in range(10):
            if r:
                k0, k1 = k0 + W0, k1 + W1
            p0 = c0.astype(np.uint64) * M0
            p1 = c2.astype(np.uint64) * M1
            c0, c1, c2, c3 = (
                (p1 >> np.uint64(32)).astype(np.uint32) ^ c1 ^ k0,
                p1.astype(np.uint32),
                (p0 >> np.uint64(32)).astype(np.uint32) ^ c3 ^ k1,
                p0.astype(np.uint32),
            )
    inv = np.float64(np.float32(2.3283064e-10))
    inv_2pi = np.float64(np.float32(2.3283064e-10 * 6.2831855))
    u = c0 * inv + inv / 2
    v = c1 * inv_2pi + inv_2pi / 2
    return (np.sqrt(-2.0 * np.log(u)) * np.sin(v)).astype(np.float32)


DOCUMENTED_SEED0 = [-0.92466259, -0.42534415, -2.6438457, 0.14518388, -0.12086647, -0.57972564,
                    -0.62285122, -0.32838709, -1.07454231, -0.36314407, -1.67105067, 2.26550497]

# --- the real torchsde and k-diffusion ----------------------------------------------------------------------


def stub(name, **attributes):
    module = types.ModuleType(name)
    module.__dict__.update(attributes)
    sys.modules[name] = module
    return module


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def import_references(torchsde_dir, k_diffusion_dir):
    sys.modules["trampoline"] = trampoline_shim
    sys.path.insert(0, str(torchsde_dir))
    import torchsde
    import torchsde._brownian.brownian_interval as brownian_interval

    assert torchsde.__version__ == "0.2.6", torchsde.__version__

    def a1111_randn(size, dtype, device, seed):
        n = int(np.prod(size))
        return torch.asarray(nv_first_draw(seed, n).reshape(size)).to(device=device, dtype=dtype)

    brownian_interval._randn = a1111_randn

    stub("scipy", integrate=None)
    stub("torchdiffeq", odeint=None)
    stub("tqdm", auto=stub("tqdm.auto", trange=lambda n, **_: range(n), tqdm=None))
    package = stub("k_diffusion")
    package.__path__ = [str(pathlib.Path(k_diffusion_dir) / "k_diffusion")]
    package.utils = stub("k_diffusion.utils", append_dims=lambda x, n: x[(...,) + (None,) * (n - x.ndim)])
    package.sampling = load("k_diffusion.sampling", pathlib.Path(k_diffusion_dir) / "k_diffusion/sampling.py")
    package.external = load("k_diffusion.external", pathlib.Path(k_diffusion_dir) / "k_diffusion/external.py")
    return package


# --- cases --------------------------------------------------------------------------------------------------

S2 = golden_samplers.S2


def short(values):
    """float32 values as the shortest decimals that read back to the same float32."""
    return [float(str(np.float32(v))) for v in np.asarray(values, dtype=np.float32).ravel()]


def run_case(k, name, sigmas, seeds, shape):
    sigmas = sigmas.to(torch.float32)
    size = int(np.prod(shape))
    batch = len(seeds)
    mu = torch.asarray(0.5 * np.sin(0.7 * np.arange(batch * size) + 0.3), dtype=torch.float32).reshape(batch, *shape)

    def model(x, sigma):
        s = k.utils.append_dims(sigma, x.ndim)
        return (S2 * x + s**2 * mu) / (S2 + s**2)

    initial = torch.stack([torch.asarray(nv_first_draw(seed, size).reshape(shape)) for seed in seeds])
    x = initial * sigmas[0]
    sigma_min, sigma_max = sigmas[sigmas > 0].min(), sigmas.max()
    sampler = k.sampling.BrownianTreeNoiseSampler(x, sigma_min, sigma_max, seed=list(seeds))
    queries = []

    def recorded(sigma, sigma_next):
        noise = sampler(sigma, sigma_next)
        queries.append({"sigma": float(sigma), "sigmaNext": float(sigma_next), "values": short(noise)})
        return noise

    final = k.sampling.sample_dpmpp_sde(model, x, sigmas, noise_sampler=recorded, disable=True)
    # Upwards in sigma too (k-diffusion flips the sign), which no sampler here asks.
    low, high = sigmas[-3], sigmas[1]
    ascending = {"sigma": float(low), "sigmaNext": float(high), "values": short(sampler(low, high))}

    replay = iter(q["values"] for q in queries)
    reference_model, _ = golden_samplers.make_denoiser(batch * size)
    reference = golden_samplers.dpmpp_sde(
        reference_model,
        initial.numpy().astype(np.float64).ravel() * float(sigmas[0]),
        [float(s) for s in sigmas],
        lambda _s, _n: np.asarray(next(replay), dtype=np.float64),
    )
    return {
        "name": name,
        "seeds": [int(s) for s in seeds],
        "shape": list(shape),
        "sigmas": [float(s) for s in sigmas],
        "queries": queries,
        "ascending": ascending,
        "final": short(final),
        "reference": [float(v) for v in reference],
    }


def main():
    torchsde_dir, k_diffusion_dir = (pathlib.Path(p).resolve() for p in sys.argv[1:3])
    assert np.allclose(nv_first_draw(0, 12), DOCUMENTED_SEED0, atol=1e-7)
    k = import_references(torchsde_dir, k_diffusion_dir)
    alphas_cumprod = torch.asarray(golden_samplers.AC)
    schedule = k.external.DiscreteSchedule(((1 - alphas_cumprod) / alphas_cumprod) ** 0.5, quantize=False)
    smin, smax = schedule.sigmas[0].item(), schedule.sigmas[-1].item()
    karras = lambda n: k.sampling.get_sigmas_karras(n, smin, smax)  # noqa: E731
    cases = [
        run_case(k, "DPM++ SDE Karras, 10 steps, a batch of two", karras(10), [1, 2], (4, 2, 3)),
        run_case(k, "DPM++ SDE, 20 steps", schedule.get_sigmas(20), [3_000_000_000], (4, 3, 2)),
        run_case(k, "DPM++ SDE Karras, 15 steps", karras(15), [12345], (4, 2, 2)),
        run_case(k, "DPM++ SDE, 12 steps, a seed past 2^32", schedule.get_sigmas(12), [2**32 + 7], (4, 1, 3)),
    ]
    seed_sequences = []
    for entropy, spawn_key, pool_size in [(0, (), 4), (12345, (), 24), (1, (0, 0), 24), (2**32 + 7, (5, 3), 24),
                                          (3_000_000_000, (2**26 + 1, 26), 24), (2**70 + 3, (1, 1), 8)]:
        state = np.random.SeedSequence(entropy, spawn_key=spawn_key, pool_size=pool_size).generate_state(4)
        seed_sequences.append({"entropy": str(entropy), "spawnKey": list(spawn_key), "poolSize": pool_size,
                               "state": [int(w) for w in state]})
    counts = [3, 10, 16, 20, 25, 30, 40, 50]
    schedules = {
        "karras": {n: [float(v) for v in karras(n)] for n in counts},
        "uniform": {n: [float(v) for v in schedule.get_sigmas(n)] for n in counts},
    }
    OUT.write_text(json.dumps({"s2": S2, "seedSequences": seed_sequences, "schedules": schedules, "cases": cases}) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
