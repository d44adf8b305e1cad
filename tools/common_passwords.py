#!/usr/bin/env python3
"""Derive people's common-password deny list (spec A.8) from the zxcvbn crate in cargo's registry.

The zxcvbn crate (3.1.1, MIT, Dropbox's frequency list) keeps its password list privately in
src/frequency_lists.rs as the comma-separated constant PASSWORDS. Metabase filters that list to entries that
already satisfy its default "normal" rule: at least 6 characters and at least one digit. This script does the
same and writes crates/people-domain/data/common_passwords.txt (one lower-case password per line), which the
domain crate embeds.

Usage: python3 tools/common_passwords.py   (fetches zxcvbn 3.1.1 with cargo if it is not in the registry)
"""
import glob
import os
import re
import subprocess
import sys
import tempfile

VERSION = "3.1.1"
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "crates", "people-domain", "data", "common_passwords.txt")


def crate_source() -> str:
    home = os.environ.get("CARGO_HOME", os.path.expanduser("~/.cargo"))
    pattern = os.path.join(home, "registry", "src", "*", f"zxcvbn-{VERSION}", "src", "frequency_lists.rs")
    found = glob.glob(pattern)
    if not found:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["cargo", "init", "-q", "--name", "fetchzx", tmp], check=True)
            subprocess.run(["cargo", "add", "-q", f"zxcvbn@={VERSION}"], cwd=tmp, check=True)
            subprocess.run(["cargo", "fetch", "-q"], cwd=tmp, check=True)
        found = glob.glob(pattern)
    if not found:
        sys.exit(f"zxcvbn {VERSION} not found in cargo's registry")
    return found[0]


def main() -> None:
    text = open(crate_source(), encoding="utf-8").read()
    m = re.search(r'const PASSWORDS: &str = "([^"]*)";', text)
    if not m:
        sys.exit("PASSWORDS constant not found")
    words = m.group(1).split(",")
    keep = []
    seen = set()
    for w in words:
        w = w.lower()
        if len(w) >= 6 and any(c.isdigit() for c in w) and w not in seen:
            seen.add(w)
            keep.append(w)
    with open(OUT, "w", encoding="utf-8") as f:
        f.write("\n".join(keep) + "\n")
    print(f"{len(words)} entries in zxcvbn {VERSION}; wrote {len(keep)} to {os.path.relpath(OUT)}")


if __name__ == "__main__":
    main()
