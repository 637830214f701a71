"""Golden sigma schedules and sampler trajectories for packages/core/test/sample/.

An independent NumPy re-implementation of what A1111 runs: the CompVis scaled-linear schedule (float64 betas,
float32 alphas_cumprod), k-diffusion's DiscreteSchedule (sigmas and log sigmas in float32, t <-> sigma by
log-linear interpolation), get_sigmas / get_sigmas_karras / get_sigmas_exponential in float32 as torch runs
them, k-diffusion's sample_euler, sample_euler_ancestral, sample_heun, sample_dpmpp_2m, sample_dpmpp_sde and
A1111's DDIM (sd_samplers_timesteps_impl.ddim, in its eps form with its get_timesteps). Written after
crowsonkb/k-diffusion `k_diffusion/sampling.py`, `k_diffusion/external.py` and AUTOMATIC1111 `modules/`.

The model is an analytic denoiser, the exact D(x, sigma) for data ~ N(mu, s^2) per element:
D = (s^2 x + sigma^2 mu) / (s^2 + sigma^2), mu_j = 0.5 sin(0.7 j + 0.3), s^2 = 0.25. Initial noise and
ancestral noise are fixed float32 draws written into the file; the sampler math runs in float64.

Checked once against k-diffusion's own `sampling.py`/`external.py` (commit 4601bf0, torch 1.13, float64, the
same noise replayed): the trajectories agree to 1e-15 and the sigma schedules to 5e-7 (float32 rounding).

    python3 tools/reference/golden_samplers.py
"""
import json
import math
import pathlib

import numpy as np

OUT = pathlib.Path(__file__).resolve().parents[2] / "packages/core/test/sample/golden-samplers.json"
f32 = np.float32

# --- schedule -----------------------------------------------------------------------------------------------


def alphas_cumprod():
    betas = np.linspace(0.00085**0.5, 0.012**0.5, 1000, dtype=np.float64) ** 2
    return np.cumprod(1.0 - betas).astype(f32)


AC = alphas_cumprod()
SIGMAS = (((f32(1) - AC) / AC) ** f32(0.5)).astype(f32)
LOG_SIGMAS = np.log(SIGMAS).astype(f32)


def t_to_sigma(t):
    t = np.asarray(t, dtype=f32)
    low, high = np.floor(t).astype(int), np.ceil(t).astype(int)
    w = t - np.floor(t)
    return np.exp((f32(1) - w) * LOG_SIGMAS[low] + w * LOG_SIGMAS[high]).astype(f32)


def sigma_to_t(sigma):
    log_sigma = np.log(np.float64(sigma))
    ge = (log_sigma - LOG_SIGMAS.astype(np.float64)) >= 0
    low = int(np.argmax(np.cumsum(ge))) if ge.any() else 0
    low = min(low, len(LOG_SIGMAS) - 2)
    lo, hi = float(LOG_SIGMAS[low]), float(LOG_SIGMAS[low + 1])
    w = min(max((lo - log_sigma) / (lo - hi), 0.0), 1.0)
    return (1 - w) * low + w * (low + 1)


def torch_linspace(start, end, n):
    if n == 1:
        return np.array([start], dtype=f32)
    step = (end - start) / (n - 1)
    i = np.arange(n)
    return np.where(i < n // 2, start + i * step, end - (n - 1 - i) * step).astype(f32)


def append_zero(x):
    return np.concatenate([x.astype(f32), np.zeros(1, dtype=f32)])


def uniform(n):
    return append_zero(t_to_sigma(torch_linspace(999.0, 0.0, n)))


def karras(n, sigma_min, sigma_max, rho=7.0):
    ramp = torch_linspace(0.0, 1.0, n)
    lo, hi = f32(sigma_min ** (1 / rho)), f32(sigma_max ** (1 / rho))
    return append_zero((hi + ramp * (lo - hi)) ** f32(rho))


def exponential(n, sigma_min, sigma_max):
    return append_zero(np.exp(torch_linspace(math.log(sigma_max), math.log(sigma_min), n)))


def ddim_timesteps(steps):
    return np.clip(np.arange(0, 1000, 1000 // steps) + 1, 0, 999)


# --- the model ----------------------------------------------------------------------------------------------

S2 = 0.25


def make_denoiser(size):
    mu = 0.5 * np.sin(0.7 * np.arange(size) + 0.3)
    calls = []

    def denoise(x, sigma):
        calls.append(float(sigma))
        return (S2 * x + sigma**2 * mu) / (S2 + sigma**2)

    return denoise, calls


# --- k-diffusion samplers -----------------------------------------------------------------------------------


def ancestral_step(sigma_from, sigma_to, eta=1.0):
    if not eta:
        return sigma_to, 0.0
    up = min(sigma_to, eta * (sigma_to**2 * (sigma_from**2 - sigma_to**2) / sigma_from**2) ** 0.5)
    return (sigma_to**2 - up**2) ** 0.5, up


def euler(model, x, sigmas, noise):
    for i in range(len(sigmas) - 1):
        d = (x - model(x, sigmas[i])) / sigmas[i]
        x = x + d * (sigmas[i + 1] - sigmas[i])
    return x


def euler_ancestral(model, x, sigmas, noise):
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i])
        down, up = ancestral_step(sigmas[i], sigmas[i + 1])
        x = x + (x - denoised) / sigmas[i] * (down - sigmas[i])
        if sigmas[i + 1] > 0:
            x = x + noise(sigmas[i], sigmas[i + 1]) * up
    return x


def heun(model, x, sigmas, noise):
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i])
        d = (x - denoised) / sigmas[i]
        dt = sigmas[i + 1] - sigmas[i]
        if sigmas[i + 1] == 0:
            x = x + d * dt
        else:
            x2 = x + d * dt
            d2 = (x2 - model(x2, sigmas[i + 1])) / sigmas[i + 1]
            x = x + (d + d2) / 2 * dt
    return x


def dpmpp_2m(model, x, sigmas, noise):
    t_fn = lambda s: -math.log(s) if s > 0 else math.inf
    old = None
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i])
        t, t_next = t_fn(sigmas[i]), t_fn(sigmas[i + 1])
        h = t_next - t
        ratio = math.exp(-t_next) / math.exp(-t)
        if old is None or sigmas[i + 1] == 0:
            x = ratio * x - math.expm1(-h) * denoised
        else:
            r = (t - t_fn(sigmas[i - 1])) / h
            d = (1 + 1 / (2 * r)) * denoised - (1 / (2 * r)) * old
            x = ratio * x - math.expm1(-h) * d
        old = denoised
    return x


def dpmpp_sde(model, x, sigmas, noise, eta=1.0, r=0.5):
    sigma_fn = lambda t: math.exp(-t)
    t_fn = lambda s: -math.log(s)
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i])
        if sigmas[i + 1] == 0:
            x = x + (x - denoised) / sigmas[i] * (sigmas[i + 1] - sigmas[i])
            continue
        t, t_next = t_fn(sigmas[i]), t_fn(sigmas[i + 1])
        h = t_next - t
        s = t + h * r
        fac = 1 / (2 * r)
        sd, su = ancestral_step(sigma_fn(t), sigma_fn(s), eta)
        s_ = t_fn(sd)
        x2 = (sigma_fn(s_) / sigma_fn(t)) * x - math.expm1(t - s_) * denoised
        x2 = x2 + noise(sigma_fn(t), sigma_fn(s)) * su
        denoised2 = model(x2, sigma_fn(s))
        sd, su = ancestral_step(sigma_fn(t), sigma_fn(t_next), eta)
        t_next_ = t_fn(sd)
        dd = (1 - fac) * denoised + fac * denoised2
        x = (sigma_fn(t_next_) / sigma_fn(t)) * x - math.expm1(t - t_next_) * dd
        x = x + noise(sigma_fn(t), sigma_fn(t_next)) * su
    return x


# --- A1111's DDIM, on eps -----------------------------------------------------------------------------------


def ddim(model, x, timesteps, noise, eta):
    def eps(x_vp, t):
        a = np.float64(AC[t])
        sigma = np.float64(SIGMAS[t])
        x_ve = x_vp / math.sqrt(a)
        return (x_ve - model(x_ve, sigma)) / sigma

    alphas = AC[timesteps].astype(np.float64)
    alphas_prev = AC[np.concatenate([[0], timesteps[:-1]])].astype(np.float64)
    sigmas = eta * np.sqrt((1 - alphas_prev) / (1 - alphas) * (1 - alphas / alphas_prev))
    for i in range(len(timesteps) - 1):
        index = len(timesteps) - 1 - i
        e = eps(x, timesteps[index])
        a, a_prev, s = alphas[index], alphas_prev[index], sigmas[index]
        pred_x0 = (x - math.sqrt(1 - a) * e) / math.sqrt(a)
        dir_xt = math.sqrt(1 - a_prev - s**2) * e
        n = noise(0, 0) if s > 0 else 0
        x = math.sqrt(a_prev) * pred_x0 + dir_xt + s * n
    return x


# --- cases --------------------------------------------------------------------------------------------------

SHAPE = (2, 4, 2, 2)
SIZE = int(np.prod(SHAPE))
SMIN, SMAX = float(SIGMAS[0]), float(SIGMAS[-1])


def run_case(name, sampler, sigmas=None, steps=None, eta=0.0, seed=0):
    rng = np.random.default_rng(seed)
    initial = rng.standard_normal(SIZE).astype(f32)
    pool = rng.standard_normal((64, SIZE)).astype(f32)
    used = []

    def noise(_sigma, _sigma_next):
        draw = pool[len(used)]
        used.append(draw)
        return draw.astype(np.float64)

    model, calls = make_denoiser(SIZE)
    case = {"name": name, "sampler": sampler, "initial": initial.tolist()}
    if sampler == "DDIM":
        timesteps = ddim_timesteps(steps)
        out = ddim(model, initial.astype(np.float64), timesteps, noise, eta)
        case.update(steps=steps, eta=eta, timesteps=timesteps.tolist())
    else:
        fn = {
            "Euler": euler,
            "Euler a": euler_ancestral,
            "Heun": heun,
            "DPM++ 2M": dpmpp_2m,
            "DPM++ SDE": dpmpp_sde,
        }[sampler]
        x = initial.astype(np.float64) * float(sigmas[0])
        out = fn(model, x, [float(s) for s in sigmas], noise)
        case.update(sigmas=[float(s) for s in sigmas])
    case.update(noise=[n.tolist() for n in used], calls=len(calls), final=np.asarray(out).tolist())
    return case


def main():
    schedules = {
        "sigma_min": SMIN,
        "sigma_max": SMAX,
        "uniform20": uniform(20).tolist(),
        "uniform1": uniform(1).tolist(),
        "karras20": karras(20, SMIN, SMAX).tolist(),
        "exponential20": exponential(20, SMIN, SMAX).tolist(),
        "uniform7": uniform(7).tolist(),
        "sigma_to_t": [[s, sigma_to_t(s)] for s in [0.01, SMIN, 0.1, 0.5, 1.0, 3.3, 14.0, SMAX, 20.0]],
        "ddim20": ddim_timesteps(20).tolist(),
        "ddim30": ddim_timesteps(30).tolist(),
        "ddim7": ddim_timesteps(7).tolist(),
    }
    cases = [
        run_case("Euler uniform", "Euler", uniform(10), seed=1),
        run_case("Euler a uniform", "Euler a", uniform(10), seed=2),
        run_case("Heun uniform", "Heun", uniform(10), seed=3),
        run_case("DPM++ 2M karras", "DPM++ 2M", karras(10, SMIN, SMAX), seed=4),
        run_case("DPM++ 2M uniform", "DPM++ 2M", uniform(10), seed=5),
        run_case("DPM++ 2M exponential", "DPM++ 2M", exponential(10, SMIN, SMAX), seed=6),
        run_case("DPM++ SDE karras", "DPM++ SDE", karras(10, SMIN, SMAX), seed=7),
        run_case("DDIM eta 0", "DDIM", steps=20, eta=0.0, seed=8),
        run_case("DDIM eta 0.7", "DDIM", steps=30, eta=0.7, seed=9),
    ]
    OUT.write_text(json.dumps({"shape": SHAPE, "s2": S2, "schedules": schedules, "cases": cases}) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")
    print("uniform20", np.round(uniform(20), 6)[:5], uniform(20)[-3:])
    print("karras20", np.round(karras(20, SMIN, SMAX), 6)[:5], karras(20, SMIN, SMAX)[-4:])


if __name__ == "__main__":
    main()
