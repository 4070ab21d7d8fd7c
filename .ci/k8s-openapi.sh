#!/usr/bin/env bash
# The official Kubernetes OpenAPI v3 schema (api/openapi-spec/v3 of the kubernetes/kubernetes
# repository) for the Kubernetes engine's manifest tests: taken from the k8s.io/kubernetes module
# zip on the Go module proxy (the repository at the release tag; ~16 MB), checked against a pinned
# sha256, and only the files the tests read are kept, in
# /var/cache/redlab/k8s-openapi/<version>/ (REDLAB_K8S_OPENAPI_DIR overrides the cache root).
# Idempotent and offline-safe: nothing is fetched when the files are there.
set -euo pipefail

VERSION=v1.31.14
ZIP_SHA256=823014fb3b8643f3ec52be922cabf0446e92423b2d8f40ffa0c1f5ff3fbe82e8
FILES=(api__v1_openapi.json apis__batch__v1_openapi.json version_openapi.json)
ROOT=${REDLAB_K8S_OPENAPI_DIR:-/var/cache/redlab/k8s-openapi}
DEST="$ROOT/$VERSION"

have_all() { for f in "${FILES[@]}"; do [ -s "$DEST/$f" ] || return 1; done; }
if have_all; then
  echo "k8s-openapi: $VERSION cached in $DEST"
  exit 0
fi

mkdir -p "$ROOT"
tmp=$(mktemp -d "$ROOT/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
url="https://proxy.golang.org/k8s.io/kubernetes/@v/$VERSION.zip"
echo "k8s-openapi: fetching $url"
curl -fsSL --retry 3 --max-time 600 -o "$tmp/k.zip" "$url"
echo "$ZIP_SHA256  $tmp/k.zip" | sha256sum -c --quiet - || { echo "k8s-openapi: $url does not have the pinned sha256 $ZIP_SHA256" >&2; exit 1; }
mkdir "$tmp/out"
for f in "${FILES[@]}"; do
  unzip -p "$tmp/k.zip" "k8s.io/kubernetes@$VERSION/api/openapi-spec/v3/$f" > "$tmp/out/$f"
  [ -s "$tmp/out/$f" ] || { echo "k8s-openapi: $f is missing from the module zip" >&2; exit 1; }
done
printf '%s\n' "source: $url (sha256 $ZIP_SHA256), api/openapi-spec/v3" > "$tmp/out/SOURCE"
rm -rf "$DEST"
mv "$tmp/out" "$DEST"
echo "k8s-openapi: $VERSION in $DEST"
