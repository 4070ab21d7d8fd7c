#!/usr/bin/env python3
"""A crate as ro-crate-py reads it: the second, independent reader of RED Lab's run crates.

Usage: read-crate.py CRATE_DIR   (run by the project's .venv python; rocrate is installed by .ci/rocrate-validator.sh)

Prints one JSON object: {"entities": [{"id", "type": [..]}], "root": {the root data entity's properties}}.
Exits 1 with ro-crate-py's own error on stderr when it cannot read the crate.
"""
import json
import sys

from rocrate.rocrate import ROCrate


def as_list(value):
    return value if isinstance(value, list) else [value]


def main(crate_dir):
    crate = ROCrate(crate_dir)
    entities = [{"id": e.id, "type": [str(t) for t in as_list(e.type)]} for e in crate.get_entities()]
    root = crate.root_dataset.as_jsonld()
    json.dump({"entities": entities, "root": root}, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: read-crate.py CRATE_DIR")
    main(sys.argv[1])
