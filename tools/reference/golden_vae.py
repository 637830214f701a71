"""Golden encode/decode outputs and gradients of a tiny LDM AutoencoderKL on synthetic weights.
Run with Debian's python3-torch: /usr/bin/python3 tools/reference/golden_vae.py"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from common import cotangent_loss, fill_synthetic, hashed_uniform, write_safetensors  # noqa: E402
from ldm_vae import AutoencoderKL  # noqa: E402

torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(__file__), "../../packages/core/test/golden")
PREFIX = "first_stage_model"
SCALE = 0.18215
WATCHED = ["encoder.down.0.downsample.conv.bias", "encoder.mid.attn_1.q.bias", "decoder.up.1.upsample.conv.bias"]


def raw(name, shape):
    values = hashed_uniform(f"golden.{name}", int(np.prod(shape))).astype(np.float32).astype(np.float64)
    return torch.tensor(values.reshape(shape))


def main():
    model = AutoencoderKL(ch=32, ch_mult=[1, 2], num_res_blocks=1)
    keys = fill_synthetic(model, PREFIX)
    image = raw("image", (1, 3, 16, 16)).requires_grad_()
    noise = raw("noise", (1, 4, 8, 8))
    latent_in = raw("latent", (1, 4, 8, 8)).requires_grad_()
    mean, logvar = model.encode(image)
    latent = (mean + torch.exp(0.5 * logvar) * noise) * SCALE
    decoded = model.decode(latent_in / SCALE)
    loss = cotangent_loss(latent, "latent") + cotangent_loss(decoded, "decoded")
    params = dict(model.named_parameters())
    grads = torch.autograd.grad(loss, [image, latent_in] + [params[k] for k in WATCHED])
    tensors = {"input.image": image.detach(), "input.noise": noise, "input.latent": latent_in.detach()}
    tensors.update({"mean": mean.detach(), "logvar": logvar.detach(), "latent": latent.detach(), "decoded": decoded.detach()})
    tensors["grad.image"], tensors["grad.latent"] = grads[0], grads[1]
    for key, g in zip(WATCHED, grads[2:]):
        tensors[f"grad.{PREFIX}.{key}"] = g
    write_safetensors(os.path.join(OUT, "vae.safetensors"), tensors, {"keys": json.dumps(keys), "loss": repr(loss.item())})
    print("vae params", sum(p.numel() for p in model.parameters()), "loss", loss.item())


if __name__ == "__main__":
    main()
