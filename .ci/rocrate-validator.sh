#!/usr/bin/env bash
# The real RO-Crate validator (PyPI roc-validator) and ro-crate-py (PyPI rocrate) in .venv,
# made to work with no network: the validator fetches the JSON-LD contexts a crate names
# (https://w3id.org/ro/crate/1.1/context, .../1.3/context, https://w3id.org/ro/terms/workflow-run/context)
# through its requests-cache session (SQLite). This script fills that cache from local copies:
#   RO-Crate 1.3 context: shipped in the installed rocrate wheel (rocrate/data/ro-crate.jsonld)
#   RO-Crate 1.1 context: shipped in the rocrate 0.13.0 wheel (kept under $CACHE_DIR/wheels)
#   workflow-run terms:   generated here from the ro-terms term list (workflow-run/vocabulary.csv)
# Tests run `rocrate-validator validate --offline --cache-path $CACHE_DIR/http_cache`
# (server-bridge/test/helpers/rocrate-validator.ts). Idempotent: a second call only checks.
# Network: PyPI only, and only when a package or the 0.13.0 wheel is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=venv.sh
. .ci/venv.sh

CACHE_DIR=${REDLAB_ROCRATE_VALIDATOR_CACHE:-/var/cache/redlab/rocrate-validator}
VALIDATOR_REQ='roc-validator==0.13.*'
ROCRATE_REQ='rocrate==0.16.*'
ROCRATE_11_WHEEL_VERSION=0.13.0

log() { printf '\033[1m[rocrate-validator]\033[0m %s\n' "$*" >&2; }
mkdir -p "$CACHE_DIR/wheels" "$CACHE_DIR/contexts"

# 1. The packages (pip's own check: a requirement already met is not fetched again).
if ! python3 - "$VALIDATOR_REQ" "$ROCRATE_REQ" <<'PY' >/dev/null 2>&1
import sys
from importlib.metadata import version
from packaging.requirements import Requirement
for spec in sys.argv[1:]:
    req = Requirement(spec)
    if not req.specifier.contains(version(req.name), prereleases=True):
        sys.exit(1)
PY
then
  log "installing $VALIDATOR_REQ and $ROCRATE_REQ into .venv"
  python3 -m pip install -q --disable-pip-version-check "$VALIDATOR_REQ" "$ROCRATE_REQ"
fi

# 2. The rocrate wheel that carries the RO-Crate 1.1 context (outside the clone, downloaded once).
wheel_11="$CACHE_DIR/wheels/rocrate-$ROCRATE_11_WHEEL_VERSION-py3-none-any.whl"
if [ ! -s "$wheel_11" ]; then
  log "downloading rocrate $ROCRATE_11_WHEEL_VERSION (its RO-Crate 1.1 context) into $CACHE_DIR/wheels"
  python3 -m pip download -q --disable-pip-version-check --no-deps -d "$CACHE_DIR/wheels" "rocrate==$ROCRATE_11_WHEEL_VERSION"
fi

# 3. The context files, then the HTTP cache filled with them through the validator's own
#    session (HttpRequester), so the entries are stored exactly as its lookups expect.
python3 - "$CACHE_DIR" "$wheel_11" <<'PY'
import json
import sys
import zipfile
from importlib.resources import files
from io import BytesIO
from pathlib import Path

import requests
import urllib3
from requests.adapters import BaseAdapter

cache_dir, wheel_11 = Path(sys.argv[1]), Path(sys.argv[2])
contexts = cache_dir / "contexts"

def write_if_changed(path: Path, data: bytes) -> None:
    if not path.exists() or path.read_bytes() != data:
        path.write_bytes(data)

def context_from_wheel(wheel: Path, expected_id: str) -> bytes:
    with zipfile.ZipFile(wheel) as zf:
        data = zf.read("rocrate/data/ro-crate.jsonld")
    found = json.loads(data).get("@id")
    if found != expected_id:
        sys.exit(f"rocrate-validator.sh: {wheel} carries context {found!r}, expected {expected_id!r}")
    return data

ctx_13 = files("rocrate").joinpath("data/ro-crate.jsonld").read_bytes()
if json.loads(ctx_13).get("@id") != "https://w3id.org/ro/crate/1.3/context":
    sys.exit("rocrate-validator.sh: the installed rocrate does not ship the RO-Crate 1.3 context")
write_if_changed(contexts / "ro-crate-1.3.jsonld", ctx_13)
write_if_changed(contexts / "ro-crate-1.1.jsonld", context_from_wheel(wheel_11, "https://w3id.org/ro/crate/1.1/context"))

# The workflow-run namespace's terms (ro-terms, workflow-run/vocabulary.csv); its published
# context is {"@context": {term: "https://w3id.org/ro/terms/workflow-run#" + term}}.
WORKFLOW_RUN_TERMS = [
    "ParameterConnection", "ContainerImage", "DockerImage", "SIFImage",
    "connection", "sourceParameter", "targetParameter",
    "md5", "sha1", "sha256", "sha512",
    "environment", "registry", "tag", "containerImage", "resourceUsage",
]
ns = "https://w3id.org/ro/terms/workflow-run#"
wfrun = {"@context": {t: ns + t for t in WORKFLOW_RUN_TERMS}}
write_if_changed(contexts / "workflow-run.jsonld", (json.dumps(wfrun, indent=4) + "\n").encode())

served = {
    "https://w3id.org/ro/crate/1.1/context": contexts / "ro-crate-1.1.jsonld",
    "https://w3id.org/ro/crate/1.3/context": contexts / "ro-crate-1.3.jsonld",
    "https://w3id.org/ro/terms/workflow-run/context": contexts / "workflow-run.jsonld",
}

class LocalContexts(BaseAdapter):
    """A transport answering the context URLs from the files above, and nothing else."""
    def send(self, request, **kwargs):
        path = served.get(request.url)
        if path is None:
            raise requests.ConnectionError(f"rocrate-validator.sh serves no {request.url}")
        body = path.read_bytes()
        headers = {"Content-Type": "application/ld+json", "Content-Length": str(len(body))}
        resp = requests.Response()
        resp.status_code, resp.reason, resp.url, resp.request = 200, "OK", request.url, request
        resp.headers = requests.structures.CaseInsensitiveDict(headers)
        resp.raw = urllib3.HTTPResponse(body=BytesIO(body), headers=headers, status=200, preload_content=False)
        resp._content = body
        resp.encoding = "utf-8"
        return resp
    def close(self):
        pass

from rocrate_validator.utils.http import HttpRequester

http_cache = str(cache_dir / "http_cache")
requester = HttpRequester.initialize_cache(cache_path=http_cache, cache_max_age=-1, offline=False)
requester.session.mount("https://", LocalContexts())
requester.session.mount("http://", LocalContexts())
for url, path in served.items():
    if requester.has_cached(url):
        cached = requester.session.cache.get_response(requester.session.cache.create_key(requests.Request("GET", url).prepare()))
        if cached is not None and cached.content == path.read_bytes():
            continue
    r = requester.fetch_fresh(url)
    if r.status_code != 200:
        sys.exit(f"rocrate-validator.sh: could not cache {url} (HTTP {r.status_code})")
    print(f"[rocrate-validator] cached {url}", file=sys.stderr)

# Check as the validator runs in CI: offline, every context served from the cache.
requester = HttpRequester.initialize_cache(cache_path=http_cache, cache_max_age=-1, offline=True)
for url, path in served.items():
    r = requester.get(url, headers={"Accept": "application/ld+json, application/json, */*;q=0.1"})
    if r.status_code != 200 or not getattr(r, "from_cache", False) or r.content != path.read_bytes():
        sys.exit(f"rocrate-validator.sh: {url} is not served from {http_cache}.sqlite offline (HTTP {r.status_code})")
PY
log "ready: $(rocrate-validator --version 2>/dev/null | tail -n1), offline HTTP cache $CACHE_DIR/http_cache.sqlite"
