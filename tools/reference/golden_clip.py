"""Golden outputs and gradients of tiny CLIP text encoders in both checkpoint layouts, as SD1 (CLIP-L, final
LayerNorm after clip skip), SD2 (OpenCLIP penultimate + ln_final) and SDXL (penultimate, pooled projection)
condition on them. Run with Debian's python3-torch: /usr/bin/python3 tools/reference/golden_clip.py"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from clip_text import HFCLIPTextModel, OpenCLIPText  # noqa: E402
from common import cotangent_loss, fill_synthetic, write_safetensors  # noqa: E402

torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(__file__), "../../packages/core/test/golden")
TINY = dict(vocab=64, positions=8, width=32, heads=2, layers=3, mlp_width=64)
# Two prompts: BOS=62, EOS=63 (the largest id, as 49407 is), padded with EOS (SD1) or 0 (OpenCLIP).
TOKENS_HF = torch.tensor([[62, 5, 17, 40, 63, 63, 63, 63], [62, 9, 63, 63, 63, 63, 63, 63]])
TOKENS_OPEN = torch.tensor([[62, 5, 17, 40, 63, 0, 0, 0], [62, 9, 33, 2, 7, 11, 63, 0]])


def hf_golden():
    prefix = "cond_stage_model.transformer"
    model = HFCLIPTextModel(**TINY)
    keys = fill_synthetic(model, prefix)
    hidden = model(TOKENS_HF)
    final = model.text_model.final_layer_norm
    last = final(hidden[-1])  # clip skip 1: last_hidden_state
    skip2 = final(hidden[-2])  # A1111 clip skip 2: hidden_states[-2], then the final LayerNorm
    loss = cotangent_loss(last, "last") + cotangent_loss(skip2, "skip2")
    params = dict(model.named_parameters())
    watched = ["text_model.embeddings.token_embedding.weight", "text_model.encoder.layers.1.self_attn.q_proj.weight"]
    grads = torch.autograd.grad(loss, [params[k] for k in watched])
    tensors = {"input.tokens": TOKENS_HF, "last": last.detach(), "skip2": skip2.detach()}
    for key, g in zip(watched, grads):
        tensors[f"grad.{prefix}.{key}"] = g
    write_safetensors(os.path.join(OUT, "clip-hf.safetensors"), tensors, {"keys": json.dumps(keys), "loss": repr(loss.item())})


def openclip_golden():
    prefix = "cond_stage_model.model"
    model = OpenCLIPText(projection=24, **TINY)
    keys = fill_synthetic(model, prefix)
    hidden = model(TOKENS_OPEN)
    penultimate = model.ln_final(hidden[-2])  # SD2: penultimate layer, then ln_final
    raw_penultimate = hidden[-2]  # SDXL bigG: penultimate without ln_final
    pooled = model.pooled(hidden[-1], TOKENS_OPEN)
    loss = cotangent_loss(penultimate, "penultimate") + cotangent_loss(raw_penultimate, "raw") + cotangent_loss(pooled, "pooled")
    params = dict(model.named_parameters())
    watched = ["transformer.resblocks.0.attn.in_proj_weight", "text_projection", "positional_embedding"]
    grads = torch.autograd.grad(loss, [params[k] for k in watched])
    tensors = {
        "input.tokens": TOKENS_OPEN,
        "input.eos": TOKENS_OPEN.argmax(dim=-1),
        "penultimate": penultimate.detach(),
        "raw": raw_penultimate.detach(),
        "pooled": pooled.detach(),
    }
    for key, g in zip(watched, grads):
        tensors[f"grad.{prefix}.{key}"] = g
    write_safetensors(os.path.join(OUT, "clip-openclip.safetensors"), tensors, {"keys": json.dumps(keys), "loss": repr(loss.item())})


if __name__ == "__main__":
    hf_golden()
    openclip_golden()
    print("ok")
