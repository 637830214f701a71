"""Golden outputs and gradients of tiny LDM UNets (SD1, SD2 and SDXL layouts) on synthetic weights.
Run with Debian's python3-torch: /usr/bin/python3 tools/reference/golden_unet.py"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from common import cotangent_loss, fill_synthetic, hashed_uniform, write_safetensors  # noqa: E402
from ldm_unet import UNetModel  # noqa: E402

torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(__file__), "../../packages/core/test/golden")
PREFIX = "model.diffusion_model"

TINY = dict(in_channels=4, model_channels=32, out_channels=4, num_res_blocks=2, channel_mult=[1, 2], context_dim=32)
CONFIGS = {
    "unet-sd1": dict(TINY, attention_resolutions=[1, 2], num_heads=2),
    "unet-sd2": dict(TINY, attention_resolutions=[1, 2], num_head_channels=16, use_linear_in_transformer=True),
    "unet-sdxl": dict(
        TINY,
        attention_resolutions=[2],
        num_head_channels=16,
        transformer_depth=[0, 2],
        use_linear_in_transformer=True,
        adm_in_channels=48,
    ),
}
# Weights whose gradients the golden files keep (small ones, spread over the network).
WATCHED = {
    "unet-sd1": [
        "input_blocks.0.0.weight",
        "input_blocks.1.1.proj_in.weight",
        "input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight",
        "middle_block.0.emb_layers.1.bias",
        "output_blocks.3.1.transformer_blocks.0.ff.net.2.bias",
        "out.2.weight",
    ],
    "unet-sd2": [
        "input_blocks.1.1.proj_in.weight",
        "input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight",
        "output_blocks.2.2.conv.bias",
        "time_embed.0.bias",
    ],
    "unet-sdxl": [
        "label_emb.0.0.bias",
        "input_blocks.4.1.transformer_blocks.1.attn2.to_v.weight",
        "output_blocks.1.1.proj_out.bias",
    ],
}


def raw(name, shape):
    return torch.tensor(hashed_uniform(f"golden.{name}", int(np.prod(shape))).astype(np.float32).astype(np.float64).reshape(shape))


def main():
    for name, config in CONFIGS.items():
        model = UNetModel(**config)
        keys = fill_synthetic(model, PREFIX)
        x = raw("x", (2, 4, 8, 8)).requires_grad_()
        context = raw("context", (2, 8, 32)).requires_grad_()
        timesteps = torch.tensor([10.5, 700.0])
        inputs = {"x": x, "context": context, "timesteps": timesteps}
        y = None
        if config.get("adm_in_channels"):
            y = raw("y", (2, config["adm_in_channels"])).requires_grad_()
            inputs["y"] = y
        output = model(x, timesteps, context, y)
        loss = cotangent_loss(output, "output")
        params = dict(model.named_parameters())
        watched = [params[k] for k in WATCHED[name]]
        differentiable = [t for t in (x, context, y) if t is not None]
        grads = torch.autograd.grad(loss, differentiable + watched)
        tensors = {f"input.{k}": v.detach() for k, v in inputs.items()}
        tensors["output"] = output.detach()
        for label, g in zip(["x", "context", "y"][: len(differentiable)], grads):
            tensors[f"grad.{label}"] = g
        for key, g in zip(WATCHED[name], grads[len(differentiable) :]):
            tensors[f"grad.{PREFIX}.{key}"] = g
        metadata = {"config": json.dumps(config), "keys": json.dumps(keys), "loss": repr(loss.item())}
        write_safetensors(os.path.join(OUT, f"{name}.safetensors"), tensors, metadata)
        print(name, "params", sum(p.numel() for p in model.parameters()), "loss", loss.item())


if __name__ == "__main__":
    main()
