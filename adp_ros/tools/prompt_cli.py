"""Show the prompt token ids the policy feeds the LLM for an instruction, with the checkpoint's own tokenizer.

The prompt is the OpenVLA-OFT template, "In: What action should the robot take to {instruction, lower-cased}?\\nOut:".
It is tokenised as the original's processor does it (BOS first), then the policy's rule is applied: 29871 ("▁") is
appended unless it is already the last id. The first list is `input_ids`, the second `model_input_ids`.

--model needs only the tokenizer files, not the weights: tokenizer.json (read with `tokenizers`) or, without it,
tokenizer.model (read with `sentencepiece`; added tokens such as <PAD> from added_tokens.json /
tokenizer_config.json). The ids can be passed to `adp-ros predict --input-ids` to bypass the tokenizer.

Examples:
  adp-ros prompt --model ~/models/openvla-7b-oft-finetuned-libero-spatial --instruction "put the bowl on the plate"
  adp-ros prompt --model test/fixtures/llama2_tokenizer --instruction "turn on the stove" --json
      {"input_ids": [1, 512, ...], "model_input_ids": [1, 512, ..., 29871]}
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        required=True,
        type=Path,
        metavar="DIR",
        help="checkpoint directory, or any folder with its tokenizer.json or tokenizer.model",
    )
    parser.add_argument(
        "--instruction",
        required=True,
        metavar="TEXT",
        help='task in words, e.g. "pick up the black bowl" (lower-cased into the template, as the original does)',
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help='print {"input_ids": [...], "model_input_ids": [...]} on one line instead of a readable listing',
    )


def run(args: argparse.Namespace) -> int:
    from adp_ros.model.prompt import EMPTY_TOKEN_ID, PromptTokenizer, finalize_prompt_ids, prompt_text

    tokenizer = PromptTokenizer(args.model)
    input_ids = tokenizer.encode_instruction(args.instruction)
    model_input_ids = finalize_prompt_ids(input_ids)
    if args.json:
        print(json.dumps({"input_ids": input_ids, "model_input_ids": model_input_ids}))
        return 0
    appended = len(model_input_ids) > len(input_ids)
    rule = f"{EMPTY_TOKEN_ID} appended" if appended else f"already ends with {EMPTY_TOKEN_ID}, unchanged"
    print(f"prompt:          {prompt_text(args.instruction)!r}")
    print(f"tokenizer:       {tokenizer.source} ({tokenizer.backend})")
    print(f"input_ids:       {len(input_ids)} ids, BOS first, as the tokenizer returns them")
    print(f"  {','.join(map(str, input_ids))}")
    print(f"model_input_ids: {len(model_input_ids)} ids ({rule}); T = {len(model_input_ids) - 1} prompt tokens")
    print(f"  {','.join(map(str, model_input_ids))}")
    print("tokens:")
    for i, (token_id, piece) in enumerate(zip(model_input_ids, tokenizer.pieces(model_input_ids), strict=True)):
        print(f"  {i:3d} {token_id:6d}  {piece!r}")
    return 0
