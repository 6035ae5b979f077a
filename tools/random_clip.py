#!/usr/bin/python3
"""Writes a CLIP checkpoint with random weights in the Hugging Face layout
(model.safetensors + config.json), with the sizes of a real model, for measuring speed,
memory and file size without the real weights (which are not reachable here). The
values are N(0, 0.02) (layer norms 1 and 0), so activations stay in a realistic range;
the outputs mean nothing. Never commit the result.

Usage: random_clip.py OUT_DIR [--preset vit-b-32|vit-b-16|vit-l-14] [--seed N]
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import write_safetensors  # noqa: E402

# The published configurations of openai/clip-vit-{base-patch32, base-patch16, large-patch14}.
PRESETS = {
    "vit-b-32": dict(projection_dim=512, vision=(768, 3072, 12, 12, 224, 32), text=(512, 2048, 8, 12)),
    "vit-b-16": dict(projection_dim=512, vision=(768, 3072, 12, 12, 224, 16), text=(512, 2048, 8, 12)),
    "vit-l-14": dict(projection_dim=768, vision=(1024, 4096, 16, 24, 224, 14), text=(768, 3072, 12, 12)),
}


def config_of(preset):
    p = PRESETS[preset]
    vd, vmlp, vheads, vlayers, size, patch = p["vision"]
    td, tmlp, theads, tlayers = p["text"]
    return {"architectures": ["CLIPModel"], "model_type": "clip", "projection_dim": p["projection_dim"],
            "logit_scale_init_value": 2.6592,
            "text_config": {"hidden_size": td, "intermediate_size": tmlp, "num_attention_heads": theads,
                            "num_hidden_layers": tlayers, "max_position_embeddings": 77, "vocab_size": 49408,
                            "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5, "bos_token_id": 49406,
                            "eos_token_id": 49407},
            "vision_config": {"hidden_size": vd, "intermediate_size": vmlp, "num_attention_heads": vheads,
                              "num_hidden_layers": vlayers, "image_size": size, "patch_size": patch,
                              "num_channels": 3, "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5}}


def random_weights(config, seed):
    rng = np.random.default_rng(seed)
    t = {}

    def normal(name, *shape):
        t[name] = (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(np.float16)

    def norm(name, d):
        t[name + ".weight"] = np.ones(d, np.float16)
        t[name + ".bias"] = np.zeros(d, np.float16)

    def tower(prefix, c):
        d, mlp = c["hidden_size"], c["intermediate_size"]
        for i in range(c["num_hidden_layers"]):
            p = "%s.encoder.layers.%d." % (prefix, i)
            norm(p + "layer_norm1", d)
            norm(p + "layer_norm2", d)
            for m in ("q_proj", "k_proj", "v_proj", "out_proj"):
                normal(p + "self_attn.%s.weight" % m, d, d)
                normal(p + "self_attn.%s.bias" % m, d)
            normal(p + "mlp.fc1.weight", mlp, d)
            normal(p + "mlp.fc1.bias", mlp)
            normal(p + "mlp.fc2.weight", d, mlp)
            normal(p + "mlp.fc2.bias", d)

    v, x = config["vision_config"], config["text_config"]
    vd, patch, n_tok = v["hidden_size"], v["patch_size"], (v["image_size"] // v["patch_size"]) ** 2 + 1
    normal("vision_model.embeddings.patch_embedding.weight", vd, 3, patch, patch)
    normal("vision_model.embeddings.class_embedding", vd)
    normal("vision_model.embeddings.position_embedding.weight", n_tok, vd)
    norm("vision_model.pre_layrnorm", vd)
    norm("vision_model.post_layernorm", vd)
    tower("vision_model", v)
    td = x["hidden_size"]
    normal("text_model.embeddings.token_embedding.weight", x["vocab_size"], td)
    normal("text_model.embeddings.position_embedding.weight", x["max_position_embeddings"], td)
    norm("text_model.final_layer_norm", td)
    tower("text_model", x)
    normal("visual_projection.weight", config["projection_dim"], vd)
    normal("text_projection.weight", config["projection_dim"], td)
    t["logit_scale"] = np.array(4.6052, np.float32)
    return t


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out_dir")
    ap.add_argument("--preset", choices=sorted(PRESETS), default="vit-b-32")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    config = config_of(args.preset)
    with open(os.path.join(args.out_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    weights = random_weights(config, args.seed)
    write_safetensors(os.path.join(args.out_dir, "model.safetensors"), weights, {"format": "pt"})
    n = sum(a.size for a in weights.values())
    print("%s: random %s, %.1fM parameters" % (args.out_dir, args.preset, n / 1e6))


if __name__ == "__main__":
    main()
