#!/usr/bin/env python3
"""The workspace's declared `rust-version` must be one the build can keep.

Fails when a locked dependency declares a newer `rust-version` than the workspace (then a build at
the declared version cannot succeed, whatever the declaration says), or when the toolchain building
is older than declared. Says so, without failing, when the toolchain is newer than declared: the
declared version is then not the one under test here.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys


def version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def main() -> int:
    metadata = json.loads(subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked"],
        check=True, capture_output=True, text=True).stdout)
    members = set(metadata["workspace_members"])
    declared = {p["rust_version"] for p in metadata["packages"] if p["id"] in members and p.get("rust_version")}
    if len(declared) != 1:
        print(f"rust-version: the workspace's packages declare {sorted(declared) or 'none'}; "
              "declare one in [workspace.package]", file=sys.stderr)
        return 1
    ours = declared.pop()
    newer = sorted(
        ((p["rust_version"], p["name"], p["version"]) for p in metadata["packages"]
         if p["id"] not in members and p.get("rust_version") and version(p["rust_version"]) > version(ours)),
        key=lambda row: version(row[0]), reverse=True)
    if newer:
        needs, name, pinned = newer[0]
        print(f"rust-version: the workspace declares {ours}, but {name} {pinned} (Cargo.lock) needs "
              f"{needs} ({len(newer)} locked packages need more than {ours}); raise rust-version "
              "in Cargo.toml to the toolchain CI builds with", file=sys.stderr)
        return 1
    rustc = subprocess.run(["rustc", "--version"], check=True, capture_output=True, text=True).stdout
    match = re.search(r"(\d+\.\d+(?:\.\d+)?)", rustc)
    running = match.group(1) if match else "0"
    if version(running)[:2] < version(ours)[:2]:
        print(f"rust-version: building with rustc {running}, older than the declared {ours}", file=sys.stderr)
        return 1
    note = "" if version(running)[:2] == version(ours)[:2] else f" (rustc {running} builds here, not {ours})"
    print(f"ok   rust-version {ours}: no locked dependency needs a newer toolchain{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
