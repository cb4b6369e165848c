"""Write a small random OpenVLA-OFT checkpoint in the released on-disk layout (for tests, demos and trying the CLI).

The directory holds what a downloaded checkpoint holds — config.json, model.safetensors, action_head/proprio
projector .pt files with the DDP `module.` prefix, dataset_statistics.json, preprocessor_config.json, a tokenizer —
plus tiny_timm_models.json describing its toy vision towers. It loads through the same path as a real one.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from adp_ros.core.platform import PRESETS
    from adp_ros.model.tiny import TinySpec

    defaults = TinySpec()
    parser.add_argument("directory", type=Path, help="new (or empty) directory to write")
    parser.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="libero",
        help="platform the heads are sized for (libero: 2 cameras, 7-D actions; aloha: 3, 14-D)",
    )
    parser.add_argument("--llm-dim", type=int, default=defaults.llm_dim, help="LLM hidden size")
    parser.add_argument("--llm-layers", type=int, default=defaults.llm_layers, help="LLM decoder layers")
    parser.add_argument("--llm-heads", type=int, default=defaults.llm_heads, help="LLM attention heads")
    parser.add_argument("--llm-intermediate", type=int, default=defaults.llm_intermediate, help="LLM MLP size")
    parser.add_argument("--vision-dim", type=int, default=defaults.dino_dim, help="width of both vision towers")
    parser.add_argument("--vision-depth", type=int, default=defaults.vision_depth, help="blocks per vision tower")
    parser.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    from adp_ros.core.platform import get_platform
    from adp_ros.model.tiny import TinySpec, make_tiny_checkpoint

    platform = get_platform(args.preset)
    spec = TinySpec(
        dino_dim=args.vision_dim,
        siglip_dim=args.vision_dim,
        vision_depth=args.vision_depth,
        llm_dim=args.llm_dim,
        llm_layers=args.llm_layers,
        llm_heads=args.llm_heads,
        llm_intermediate=args.llm_intermediate,
        seed=args.seed,
    )
    out = make_tiny_checkpoint(args.directory, platform, spec)
    size_mb = sum(p.stat().st_size for p in out.iterdir()) / 1e6
    print(f"wrote a tiny {platform.name} checkpoint to {out} ({size_mb:.1f} MB)")
    print(
        f"try: adp-ros predict --model {out} --preset {platform.name} "
        + " ".join(["--image IMG.png"] * platform.num_images)
        + f" --proprio {','.join(['0'] * platform.proprio_dim)}"
        " --instruction 'pick up the bowl'"
    )
    return 0
