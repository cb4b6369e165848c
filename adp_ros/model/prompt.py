"""The prompt template and tokenisation, as `get_vla_action` + `predict_action` build them."""

from __future__ import annotations

import json
import re
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
    """The checkpoint's Llama tokenizer, as the original's `LlamaTokenizerFast` encodes prompts (BOS first).

    `tokenizer.json` (what `LlamaTokenizerFast` wraps, so ids match it) is read with the `tokenizers` library. A
    directory with only `tokenizer.model` is read with `sentencepiece`, the model `tokenizer.json` is converted
    from: the text is split on the special / added tokens (`<s>`, `</s>`, `<unk>`, and `added_tokens.json` /
    `tokenizer_config.json` entries such as `<PAD>`), as the fast tokenizer does, and each piece is encoded
    with SentencePiece's dummy prefix, which is what the released `tokenizer.json` normaliser does. Both give
    the original's ids on the shared fixture (`test/model/test_tokenizer_conformance.py`).
    """

    def __init__(self, directory: Path | str) -> None:
        directory = Path(directory).expanduser()
        if not directory.is_dir():
            raise CheckpointError(
                f"model directory {directory} does not exist (pass the checkpoint folder, or one holding its "
                "tokenizer files)"
            )
        self.directory = directory
        tokenizer_json = directory / "tokenizer.json"
        tokenizer_model = directory / "tokenizer.model"
        if tokenizer_json.is_file():
            self.source, self.backend = tokenizer_json, "tokenizers"
            self._encode, self._piece = _tokenizers_backend(tokenizer_json)
        elif tokenizer_model.is_file():
            self.source, self.backend = tokenizer_model, "sentencepiece"
            self._encode, self._piece = _sentencepiece_backend(directory, tokenizer_model)
        else:
            present = sorted(p.name for p in directory.iterdir())
            raise CheckpointError(
                f"no tokenizer in {directory}: expected tokenizer.json or tokenizer.model (copy them from the "
                f"checkpoint; found {', '.join(present[:12]) or 'nothing'}{', ...' if len(present) > 12 else ''}), "
                "or pass prompt token ids instead of an instruction (`adp-ros predict --input-ids`)"
            )

    def encode(self, text: str) -> list[int]:
        """`text` as the tokenizer returns it: BOS first (ensured, as `add_bos_token=True`), no padding."""
        ids = [int(i) for i in self._encode(text)]
        if not ids or ids[0] != BOS_ID:
            ids = [BOS_ID, *ids]
        return ids

    def encode_instruction(self, instruction: str) -> list[int]:
        """The prompt ids the original's processor returns for `instruction` (BOS first, before the 29871 rule)."""
        if not instruction or not instruction.strip():
            raise InputError("the instruction is empty; say what the robot should do")
        return self.encode(prompt_text(instruction))

    def pieces(self, ids: Sequence[int]) -> list[str]:
        """Token strings of `ids` ("▁" marks a leading space; `<0x0A>` is a byte), for display."""
        return [self._piece(int(i)) for i in ids]


def _tokenizers_backend(path: Path):
    from tokenizers import Tokenizer

    try:
        tok = Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises a bare Exception on malformed files
        raise CheckpointError(f"{path} cannot be read: {exc}") from None
    return (lambda text: tok.encode(text).ids), (lambda i: tok.id_to_token(i) or f"<id {i}>")


def _sentencepiece_backend(directory: Path, path: Path):
    try:
        import sentencepiece
    except ImportError:
        raise CheckpointError(
            f"{directory} has tokenizer.model but no tokenizer.json, and reading tokenizer.model needs the "
            "sentencepiece package: `pip install sentencepiece` (requirements.txt pins it), or copy tokenizer.json "
            "from the checkpoint"
        ) from None
    try:
        sp = sentencepiece.SentencePieceProcessor(model_file=str(path))
    except (RuntimeError, OSError) as exc:
        raise CheckpointError(f"{path} is not a SentencePiece model sentencepiece can read: {exc}") from None
    special = {sp.id_to_piece(i): i for i in range(sp.get_piece_size()) if sp.is_control(i) or sp.is_unknown(i)}
    special.update(_added_tokens(directory))
    # Longest first, so that at one position the longest special token wins (the fast tokenizer's matching).
    pattern = re.compile("(" + "|".join(re.escape(t) for t in sorted(special, key=len, reverse=True)) + ")")

    def encode(text: str) -> list[int]:
        ids = [BOS_ID]
        for part in pattern.split(text) if special else [text]:
            if part in special:
                ids.append(special[part])
            elif part:
                ids.extend(sp.encode(part))
        return ids

    added = {i: t for t, i in special.items()}

    def piece(i: int) -> str:
        if i in added:
            return added[i]
        return sp.id_to_piece(i) if 0 <= i < sp.get_piece_size() else f"<id {i}>"

    return encode, piece


def _added_tokens(directory: Path) -> dict[str, int]:
    """Tokens a checkpoint adds beside the SentencePiece model (Prismatic's `<PAD>` = 32000)."""
    tokens: dict[str, int] = {}
    for name in ("added_tokens.json", "tokenizer_config.json"):
        path = directory / name
        if not path.is_file():
            continue
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"{path} is not valid JSON: {exc}") from None
        try:
            if name == "added_tokens.json" and isinstance(data, dict):
                tokens.update({str(t): int(i) for t, i in data.items() if t})
            elif isinstance(data, dict) and isinstance(data.get("added_tokens_decoder"), dict):
                for i, entry in data["added_tokens_decoder"].items():
                    if isinstance(entry, dict) and entry.get("content"):
                        tokens[str(entry["content"])] = int(i)
        except (TypeError, ValueError) as exc:
            raise CheckpointError(f"{path}: added token ids must be integers ({exc})") from None
    return tokens
