#!/usr/bin/python3
"""Converts a Hugging Face CLIP checkpoint (model.safetensors + config.json, the layout
and names of openai/clip-vit-base-patch32) into a .capt file for capt (docs/clip.md).

Every size comes from config.json, so ViT-B/16, ViT-L/14 and others convert the same
way. The matrices of the transformer blocks, the projections and the token embedding are
stored in --dtype; the patch embedding, the position embeddings, the class embedding and
the layer norms stay f32. The BPE merges for the text tower come from merges.txt beside
the model, else --merges (CLIP's bpe_simple_vocab_16e6.txt.gz).

Usage: convert_clip.py MODEL_DIR OUT.capt [--dtype f32|f16|q8_0|q4_0] [--merges FILE]
"""
import argparse
import gzip
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from captfile import CaptWriter  # noqa: E402
from safetensors_io import read_safetensors  # noqa: E402

# OpenAI's CLIP preprocessing (clip/clip.py _transform): used when the checkpoint has no
# preprocessor_config.json.
CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
RESAMPLE_NAMES = {2: "bilinear", 3: "bicubic"}  # PIL's resample codes


def default_assets():
    here = os.path.dirname(os.path.abspath(__file__))
    return os.environ.get("CAPT_ASSETS", os.path.join(here, "..", "..", "shared"))


def read_merges(path):
    """The merges as "left right" strings, in rank order, without the version line
    (OpenAI's file starts '"bpe_simple_vocab_16e6.txt#version: 0.2', Hugging Face's
    merges.txt '#version: 0.2')."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        lines = f.read().decode("utf-8").split("\n")
    if lines and "#version" in lines[0]:
        lines = lines[1:]
    return [line for line in lines if line.strip()]


class Converter:
    def __init__(self, tensors, dtype):
        self.tensors = tensors
        self.dtype = dtype
        self.used = set()
        self.w = CaptWriter()

    def get(self, name, shape):
        if name not in self.tensors:
            sys.exit("convert_clip: the checkpoint has no tensor %s" % name)
        a = np.asarray(self.tensors[name], dtype=np.float32)
        if list(a.shape) != list(shape):
            sys.exit("convert_clip: %s has shape %s, the config implies %s" % (name, list(a.shape), list(shape)))
        self.used.add(name)
        return a

    def f32(self, out, name, shape, store_shape=None):
        self.w.add_tensor(out, self.get(name, shape).reshape(store_shape or shape), "f32")

    def matrix(self, out, name, shape):
        """A weight the engine multiplies by: in --dtype (f16 when quantized rows do not
        split into blocks of 32)."""
        a = self.get(name, shape)
        dtype = self.dtype if self.dtype in ("f32", "f16") or a.shape[-1] % 32 == 0 else "f16"
        self.w.add_tensor(out, a, dtype)

    def linear(self, out, name, n_out, n_in, bias=True):
        self.matrix(out + ".weight", name + ".weight", [n_out, n_in])
        if bias:
            self.f32(out + ".bias", name + ".bias", [n_out])

    def stack(self, prefix, hf, cfg):
        d, mlp = cfg["hidden_size"], cfg["intermediate_size"]
        act = cfg.get("hidden_act", "quick_gelu")
        if act not in ("quick_gelu", "gelu"):
            sys.exit("convert_clip: hidden_act %s is not supported (quick_gelu, gelu)" % act)
        if d % cfg["num_attention_heads"]:
            sys.exit("convert_clip: hidden_size is not a multiple of num_attention_heads")
        for key, value in (("width", d), ("heads", cfg["num_attention_heads"]), ("layers", cfg["num_hidden_layers"]),
                           ("mlp", mlp)):
            self.w.add_meta("%s.%s" % (prefix, key), int(value))
        self.w.add_meta(prefix + ".ln_eps", float(cfg.get("layer_norm_eps", 1e-5)))
        self.w.add_meta(prefix + ".activation", act)
        for i in range(cfg["num_hidden_layers"]):
            src, dst = "%s.encoder.layers.%d" % (hf, i), "%s.layer.%d" % (prefix, i)
            for ln in ("1", "2"):
                self.f32("%s.ln%s.weight" % (dst, ln), "%s.layer_norm%s.weight" % (src, ln), [d])
                self.f32("%s.ln%s.bias" % (dst, ln), "%s.layer_norm%s.bias" % (src, ln), [d])
            for ours, theirs in (("q", "q_proj"), ("k", "k_proj"), ("v", "v_proj"), ("o", "out_proj")):
                self.linear("%s.attn.%s" % (dst, ours), "%s.self_attn.%s" % (src, theirs), d, d)
            self.linear(dst + ".fc1", src + ".mlp.fc1", mlp, d)
            self.linear(dst + ".fc2", src + ".mlp.fc2", d, mlp)


def preprocess_meta(model_dir, vision):
    """Resize by the shorter side, crop the centre, normalise: from
    preprocessor_config.json when present, else OpenAI's defaults."""
    size = crop = vision["image_size"]
    mean, std, resample = CLIP_MEAN, CLIP_STD, 3
    path = os.path.join(model_dir, "preprocessor_config.json")
    if os.path.exists(path):
        with open(path) as f:
            p = json.load(f)
        size = p.get("size", size)
        size = size.get("shortest_edge", crop) if isinstance(size, dict) else size
        crop = p.get("crop_size", crop)
        crop = crop.get("height", vision["image_size"]) if isinstance(crop, dict) else crop
        mean, std, resample = p.get("image_mean", mean), p.get("image_std", std), p.get("resample", resample)
    if crop != vision["image_size"]:
        sys.exit("convert_clip: the crop size %d differs from the model's image_size %d" % (crop, vision["image_size"]))
    if resample not in RESAMPLE_NAMES:
        sys.exit("convert_clip: resample %s is not supported (2 bilinear, 3 bicubic)" % resample)
    return {"preprocess.width": int(crop), "preprocess.height": int(crop), "preprocess.resize": "shortest_side",
            "preprocess.shortest_side": int(size), "preprocess.filter": RESAMPLE_NAMES[resample],
            "preprocess.mean": [float(x) for x in mean], "preprocess.std": [float(x) for x in std]}


def convert(model_dir, out, dtype, merges_path):
    with open(os.path.join(model_dir, "config.json")) as f:
        config = json.load(f)
    vision, text = config["vision_config"], config["text_config"]
    embed_dim = config.get("projection_dim", 512)
    tensors = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    c = Converter(tensors, dtype)
    w = c.w
    w.add_meta("general.architecture", "clip")
    w.add_meta("general.name", os.path.basename(os.path.normpath(model_dir)))
    w.add_meta("general.source", "converted from Hugging Face CLIPModel by tools/convert_clip.py (--dtype %s)" % dtype)
    for key, value in preprocess_meta(model_dir, vision).items():
        w.add_meta(key, value)
    w.add_meta("clip.embed_dim", int(embed_dim))
    w.add_meta("clip.logit_scale", float(c.get("logit_scale", []).reshape(())))

    # The image tower.
    d, patch, size = vision["hidden_size"], vision["patch_size"], vision["image_size"]
    if vision.get("num_channels", 3) != 3 or size % patch:
        sys.exit("convert_clip: needs 3 channels and image_size a multiple of patch_size")
    n_tokens = (size // patch) ** 2 + 1
    w.add_meta("encoder.type", "vit")
    w.add_meta("encoder.image_size", int(size))
    w.add_meta("encoder.patch_size", int(patch))
    c.f32("encoder.patch_embed", "vision_model.embeddings.patch_embedding.weight", [d, 3, patch, patch],
          [d, 3 * patch * patch])
    c.f32("encoder.class_embed", "vision_model.embeddings.class_embedding", [d])
    c.f32("encoder.pos_embed", "vision_model.embeddings.position_embedding.weight", [n_tokens, d])
    for ours, theirs in (("ln_pre", "pre_layrnorm"), ("ln_post", "post_layernorm")):
        c.f32("encoder.%s.weight" % ours, "vision_model.%s.weight" % theirs, [d])
        c.f32("encoder.%s.bias" % ours, "vision_model.%s.bias" % theirs, [d])
    c.stack("encoder", "vision_model", vision)
    c.linear("encoder.proj", "visual_projection", embed_dim, d, bias=False)

    # The text tower and its tokenizer.
    d, vocab, context = text["hidden_size"], text["vocab_size"], text["max_position_embeddings"]
    merges = read_merges(merges_path)
    n_merges = vocab - 512 - 2  # CLIP: 256 bytes, 256 bytes + </w>, merges, start, end
    if n_merges < 0 or len(merges) < n_merges:
        sys.exit("convert_clip: %s has %d merges, vocab_size %d needs %d" % (merges_path, len(merges), vocab, n_merges))
    w.add_meta("tokenizer.merges", merges[:n_merges])
    w.add_meta("text.context_length", int(context))
    w.add_meta("text.vocab_size", int(vocab))
    w.add_meta("text.sot_id", int(vocab - 2))
    w.add_meta("text.eot_id", int(vocab - 1))
    c.matrix("text.tok_emb", "text_model.embeddings.token_embedding.weight", [vocab, d])
    c.f32("text.pos_embed", "text_model.embeddings.position_embedding.weight", [context, d])
    c.f32("text.ln_final.weight", "text_model.final_layer_norm.weight", [d])
    c.f32("text.ln_final.bias", "text_model.final_layer_norm.bias", [d])
    c.stack("text", "text_model", text)
    c.linear("text.proj", "text_projection", embed_dim, d, bias=False)

    unused = sorted(set(tensors) - c.used - {"text_model.embeddings.position_ids",
                                               "vision_model.embeddings.position_ids"})
    if unused:
        sys.exit("convert_clip: tensors the converter does not understand: %s" % ", ".join(unused[:5]))
    w.write(out)
    return os.path.getsize(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model_dir", help="folder with model.safetensors and config.json")
    ap.add_argument("out")
    ap.add_argument("--dtype", choices=["f32", "f16", "q8_0", "q4_0"], default="f16")
    ap.add_argument("--merges", help="BPE merges (default: MODEL_DIR/merges.txt, else "
                                     "$CAPT_ASSETS/vocab/bpe_simple_vocab_16e6.txt.gz)")
    args = ap.parse_args()
    merges = args.merges or os.path.join(args.model_dir, "merges.txt")
    if not os.path.exists(merges):
        merges = os.path.join(default_assets(), "vocab", "bpe_simple_vocab_16e6.txt.gz")
    size = convert(args.model_dir, args.out, args.dtype, merges)
    print("%s: %d bytes" % (args.out, size))


if __name__ == "__main__":
    main()
