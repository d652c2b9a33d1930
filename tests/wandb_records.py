"""A reader for W&B offline run files (``run-<id>.wandb``), enough to check what a run recorded.

Format (wandb 0.31, pinned in pyproject.toml): a 7-byte header (``:W&B``, magic 0xBEE1, version 0),
then 32 KiB blocks of chunks ``<crc32:u32><length:u16><type:u8><data>`` (FULL=1, FIRST=2, MIDDLE=3,
LAST=4; a block tail shorter than a chunk header is padding). Each reassembled record is a
``wandb_internal_pb2.Record``. If wandb changes the format, the tests that use this fail loudly."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

BLOCK = 32 * 1024
HEADER = 7


def records(path: Path) -> list[Any]:
    from wandb.proto import wandb_internal_pb2

    raw = Path(path).read_bytes()
    if raw[:4] != b":W&B":
        raise ValueError(f"{path} is not a W&B run file")
    out, pending, position = [], b"", HEADER
    while position + HEADER <= len(raw):
        left_in_block = BLOCK - position % BLOCK
        if left_in_block < HEADER:
            position += left_in_block
            continue
        _, length, kind = struct.unpack("<IHB", raw[position : position + HEADER])
        data = raw[position + HEADER : position + HEADER + length]
        position += HEADER + length
        if kind in (1, 2):
            pending = data
        else:
            pending += data
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            out.append(record)
    return out


def run_contents(path: Path) -> dict[str, Any]:
    """The run's config, history rows and summary as plain values."""
    config, history, summary = {}, [], {}
    for record in records(path):
        kind = record.WhichOneof("record_type")
        if kind in ("config", "run"):
            updates = record.config.update if kind == "config" else record.run.config.update
            for item in updates:
                config[item.key] = json.loads(item.value_json)
        elif kind == "history":
            history.append(
                {
                    i.key or "/".join(i.nested_key): json.loads(i.value_json)
                    for i in record.history.item
                }
            )
        elif kind == "summary":
            for item in record.summary.update:
                summary[item.key or "/".join(item.nested_key)] = json.loads(item.value_json)
        if kind == "run":
            config.setdefault(
                "_run",
                {
                    "id": record.run.run_id,
                    "group": record.run.run_group,
                    "job_type": record.run.job_type,
                    "name": record.run.display_name,
                    "tags": list(record.run.tags),
                },
            )
    return {"config": config, "history": history, "summary": summary}
