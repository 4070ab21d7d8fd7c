#!/usr/bin/env bash
# Builds the local base images that tests, benchmarks and the offline demo use,
# since no container registry is reachable here. Cached by tag: a second call is instant.
#   redlab/busybox:1          FROM scratch + Debian's busybox-static (sh, grep, cat, ...)
#   redlab/debian-python:12   Debian bookworm minbase + python3, made by debootstrap + docker import
#   redlab/debian-ipykernel:12  the same + Debian's python3-ipykernel and python3-nbclient: an image in
#                             which the notebook runner uses a real IPython kernel
#   redlab/debian-scipy:12    the same python image + Debian's python3-matplotlib, -numpy and -pandas:
#                             sessions' figures and tables ("Run cell in container" tests, demo)
set -euo pipefail

BUSYBOX_TAG=${REDLAB_BUSYBOX_IMAGE:-redlab/busybox:1}
PYTHON_TAG=${REDLAB_PYTHON_IMAGE:-redlab/debian-python:12}
IPYKERNEL_TAG=${REDLAB_IPYKERNEL_IMAGE:-redlab/debian-ipykernel:12}
SCIPY_TAG=${REDLAB_SCIPY_IMAGE:-redlab/debian-scipy:12}
MIRROR=${DEBIAN_MIRROR:-$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}

have() { docker image inspect "$1" >/dev/null 2>&1; }

if have "$BUSYBOX_TAG"; then
  echo "base-images: $BUSYBOX_TAG cached"
else
  bb=$(command -v busybox || true)
  [ -n "$bb" ] && file -L "$bb" 2>/dev/null | grep -q 'statically linked' || bb=/bin/busybox
  ctx=$(mktemp -d)
  cp "$bb" "$ctx/busybox"
  cat > "$ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
ENV PATH=/bin
DOCKERFILE
  docker build -q -t "$BUSYBOX_TAG" "$ctx" >/dev/null
  rm -rf "$ctx"
  echo "base-images: built $BUSYBOX_TAG"
fi

if have "$PYTHON_TAG"; then
  echo "base-images: $PYTHON_TAG cached"
else
  root=$(mktemp -d)
  echo "base-images: debootstrap bookworm + python3 from $MIRROR (about a minute)"
  debootstrap --variant=minbase --include=python3 bookworm "$root" "$MIRROR" >/tmp/redlab-debootstrap.log 2>&1 \
    || { tail -20 /tmp/redlab-debootstrap.log; exit 1; }
  tar -C "$root" -c . | docker import -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' -c 'CMD ["python3"]' - "$PYTHON_TAG" >/dev/null
  rm -rf "$root"
  echo "base-images: built $PYTHON_TAG"
fi

# derived_image TAG "DEBIAN PACKAGES" WHAT: FROM the python image + Debian packages (the
# package mirror answers inside docker build), cached by tag.
derived_image() {
  local tag=$1 packages=$2 what=$3
  if have "$tag"; then
    echo "base-images: $tag cached"
    return
  fi
  local ctx log
  ctx=$(mktemp -d)
  log=/tmp/redlab-$(echo "$tag" | tr '/:' '--')-build.log
  cat > "$ctx/Dockerfile" <<DOCKERFILE
FROM $PYTHON_TAG
RUN apt-get update && apt-get install -y --no-install-recommends $packages && rm -rf /var/lib/apt/lists/*
DOCKERFILE
  echo "base-images: $tag from Debian's $what (about a minute)"
  docker build -q -t "$tag" "$ctx" >"$log" 2>&1 || { tail -20 "$log"; rm -rf "$ctx"; exit 1; }
  rm -rf "$ctx"
  echo "base-images: built $tag"
}

derived_image "$IPYKERNEL_TAG" "python3-ipykernel python3-nbclient" "python3-ipykernel and python3-nbclient"
derived_image "$SCIPY_TAG" "python3-matplotlib python3-numpy python3-pandas" "python3-matplotlib, -numpy and -pandas"
