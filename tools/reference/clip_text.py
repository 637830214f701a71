"""Plain-PyTorch CLIP text transformers in the two checkpoint layouts SD uses:
- `HFCLIPTextModel`: transformers' CLIPTextModel structure (SD1/SDXL CLIP-L keys `text_model.encoder.layers.N...`),
  pre-LN layers, causal mask, quick_gelu, `final_layer_norm`;
- `OpenCLIPText`: OpenAI CLIP / OpenCLIP `TextTransformer` structure (`transformer.resblocks.N.attn.in_proj_weight`,
  `torch.nn.MultiheadAttention`, exact GELU, `ln_final`, `text_projection`).
Written after openai/CLIP `clip/model.py` and transformers' `modeling_clip.py`."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def causal_mask(length):
    mask = torch.empty(length, length)
    mask.fill_(float("-inf"))
    return mask.triu_(1)


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class HFAttention(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.q_proj = nn.Linear(width, width)
        self.k_proj = nn.Linear(width, width)
        self.v_proj = nn.Linear(width, width)
        self.out_proj = nn.Linear(width, width)

    def forward(self, x, mask):
        b, n, width = x.shape
        d = width // self.heads

        def split(t):
            return t.reshape(b, n, self.heads, d).transpose(1, 2)

        q = split(self.q_proj(x)) * d**-0.5
        weights = torch.softmax(q @ split(self.k_proj(x)).transpose(-1, -2) + mask, dim=-1)
        out = (weights @ split(self.v_proj(x))).transpose(1, 2).reshape(b, n, width)
        return self.out_proj(out)


class HFMLP(nn.Module):
    def __init__(self, width, mlp_width):
        super().__init__()
        self.fc1 = nn.Linear(width, mlp_width)
        self.fc2 = nn.Linear(mlp_width, width)
        self.act = QuickGELU()

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class HFLayer(nn.Module):
    def __init__(self, width, heads, mlp_width):
        super().__init__()
        self.self_attn = HFAttention(width, heads)
        self.layer_norm1 = nn.LayerNorm(width)
        self.mlp = HFMLP(width, mlp_width)
        self.layer_norm2 = nn.LayerNorm(width)

    def forward(self, x, mask):
        x = x + self.self_attn(self.layer_norm1(x), mask)
        return x + self.mlp(self.layer_norm2(x))


class HFEmbeddings(nn.Module):
    def __init__(self, vocab, positions, width):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab, width)
        self.position_embedding = nn.Embedding(positions, width)

    def forward(self, tokens):
        return self.token_embedding(tokens) + self.position_embedding.weight[: tokens.shape[1]]


class HFEncoder(nn.Module):
    def __init__(self, width, heads, layers, mlp_width):
        super().__init__()
        self.layers = nn.ModuleList([HFLayer(width, heads, mlp_width) for _ in range(layers)])


class HFTextModel(nn.Module):
    def __init__(self, vocab, positions, width, heads, layers, mlp_width):
        super().__init__()
        self.embeddings = HFEmbeddings(vocab, positions, width)
        self.encoder = HFEncoder(width, heads, layers, mlp_width)
        self.final_layer_norm = nn.LayerNorm(width)

    def forward(self, tokens):
        """hidden_states: embeddings, then the output of each layer."""
        x = self.embeddings(tokens)
        mask = causal_mask(tokens.shape[1])
        hidden = [x]
        for layer in self.encoder.layers:
            x = layer(x, mask)
            hidden.append(x)
        return hidden


class HFCLIPTextModel(nn.Module):
    def __init__(self, **config):
        super().__init__()
        self.text_model = HFTextModel(**config)

    def forward(self, tokens):
        return self.text_model(tokens)


class ResidualAttentionBlock(nn.Module):
    def __init__(self, width, heads, mlp_width):
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads)
        self.ln_1 = nn.LayerNorm(width)
        self.mlp = nn.Sequential()
        self.mlp.add_module("c_fc", nn.Linear(width, mlp_width))
        self.mlp.add_module("gelu", nn.GELU())
        self.mlp.add_module("c_proj", nn.Linear(mlp_width, width))
        self.ln_2 = nn.LayerNorm(width)

    def forward(self, x, mask):  # x: [L, B, D] as OpenCLIP's non-batch-first transformer
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False, attn_mask=mask)[0]
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, width, heads, layers, mlp_width):
        super().__init__()
        self.resblocks = nn.ModuleList([ResidualAttentionBlock(width, heads, mlp_width) for _ in range(layers)])


class OpenCLIPText(nn.Module):
    def __init__(self, vocab, positions, width, heads, layers, mlp_width, projection):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab, width)
        self.positional_embedding = nn.Parameter(torch.empty(positions, width))
        self.transformer = Transformer(width, heads, layers, mlp_width)
        self.ln_final = nn.LayerNorm(width)
        self.text_projection = nn.Parameter(torch.empty(width, projection))

    def forward(self, tokens):
        x = self.token_embedding(tokens) + self.positional_embedding[: tokens.shape[1]]
        mask = causal_mask(tokens.shape[1])
        x = x.permute(1, 0, 2)
        hidden = [x.permute(1, 0, 2)]
        for block in self.transformer.resblocks:
            x = block(x, mask)
            hidden.append(x.permute(1, 0, 2))
        return hidden

    def pooled(self, last, tokens):
        return self.ln_final(last)[torch.arange(last.shape[0]), tokens.argmax(dim=-1)] @ self.text_projection
