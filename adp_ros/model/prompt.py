"""The prompt template and tokenisation, as `get_vla_action` + `predict_action` build them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from adp_ros.core.errors import CheckpointError, InputError

BOS_ID = 1
STOP_ID = 2
PLACEHOLDER_ID = 1  # action placeholders use the BOS id; their embeddings are zeroed
EMPTY_TOKEN_ID = 29871  # "▁": appended after "Out:" when missing, to match training inputs


def prompt_text(instruction: str) -> str:
    return f"In: What action should the robot take to {instruction.lower()}?\nOut:"


def finalize_prompt_ids(ids: Sequence[int], vocab_size: int | None = None) -> list[int]:
    """BOS first, then the prompt; append 29871 unless already last (the original checks only the last id)."""
    ids = [int(i) for i in ids]
    if not ids or ids[0] != BOS_ID:
        raise InputError(f"prompt ids must start with BOS ({BOS_ID}) as the tokenizer returns them, got {ids[:3]}")
    if vocab_size is not None and any(not 0 <= i < vocab_size for i in ids):
        raise InputError(f"prompt ids must lie in [0, {vocab_size}), got {[i for i in ids if not 0 <= i < vocab_size]}")
    if ids[-1] != EMPTY_TOKEN_ID:
        ids.append(EMPTY_TOKEN_ID)
    return ids


class PromptTokenizer:
    """The checkpoint's Llama tokenizer, read from `tokenizer.json` with the `tokenizers` library.

    That file is what `LlamaTokenizerFast` (the original's tokenizer) wraps, so ids match it; BOS is ensured like
    `add_bos_token=True`. Directories with only `tokenizer.model` fall back to transformers' AutoTokenizer.
    """

    def __init__(self, directory: Path) -> None:
        directory = Path(directory)
        tokenizer_json = directory / "tokenizer.json"
        self._encode = None
        if tokenizer_json.is_file():
            from tokenizers import Tokenizer

            try:
                tok = Tokenizer.from_file(str(tokenizer_json))
            except Exception as exc:  # tokenizers raises a bare Exception on malformed files
                raise CheckpointError(f"{tokenizer_json} cannot be read: {exc}") from None
            self._encode = lambda text: tok.encode(text).ids
        elif (directory / "tokenizer.model").is_file():
            try:
                from transformers import AutoTokenizer

                auto = AutoTokenizer.from_pretrained(str(directory), local_files_only=True)
            except Exception as exc:
                raise CheckpointError(
                    f"{directory}/tokenizer.model could not be loaded ({exc}); install sentencepiece or add "
                    "tokenizer.json, or pass prompt token ids instead of an instruction"
                ) from None
            self._encode = lambda text: auto(text).input_ids
        else:
            raise CheckpointError(
                f"no tokenizer in {directory} (tokenizer.json or tokenizer.model); pass prompt token ids "
                "(--input-ids) instead of an instruction"
            )

    def encode_instruction(self, instruction: str) -> list[int]:
        if not instruction or not instruction.strip():
            raise InputError("the instruction is empty; say what the robot should do")
        ids = list(self._encode(prompt_text(instruction)))
        if not ids or ids[0] != BOS_ID:
            ids = [BOS_ID, *ids]
        return ids
