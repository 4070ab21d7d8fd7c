#!/usr/bin/env bash
# S3Proxy, the real S3 server that the S3 connector's tests (redlab-connector-s3) run on a
# loopback port with its filesystem backend: Apache-2.0, one self-contained jar on Maven Central
# (org.gaul:s3proxy, classifier jar-with-dependencies), run by Java 17. Fetched with Maven
# (checksums enforced) into a cache outside the clone, so a CI run reuses it; a second call
# is instant. The tests find it at $REDLAB_CACHE/s3proxy/s3proxy.jar (or REDLAB_S3PROXY_JAR).
set -euo pipefail

VERSION=4.1.0
CACHE=${REDLAB_CACHE:-/var/cache/redlab}
DIR=$CACHE/s3proxy
JAR=$DIR/s3proxy-$VERSION-jar-with-dependencies.jar

if [ -s "$JAR" ]; then
  ln -sfn "$(basename "$JAR")" "$DIR/s3proxy.jar"
  echo "s3proxy: $VERSION cached"
  exit 0
fi

# Java 17 and Maven from Debian where missing.
missing=()
java -version 2>&1 | grep -qE 'version "(1[7-9]|[2-9][0-9])' || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
if [ ${#missing[@]} -gt 0 ]; then
  echo "s3proxy: installing Debian's ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

mkdir -p "$DIR"
tmp=$(mktemp -d "$DIR/.download.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "s3proxy: fetching org.gaul:s3proxy:$VERSION from Maven Central"
log=/tmp/redlab-s3proxy-mvn.log
mvn -B -q --strict-checksums -Dmaven.repo.local="$CACHE/m2" \
  org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
  -Dartifact="org.gaul:s3proxy:$VERSION:jar:jar-with-dependencies" -Dtransitive=false -DoutputDirectory="$tmp" >"$log" 2>&1 \
  || { tail -20 "$log"; echo "s3proxy: download failed"; exit 1; }
mv "$tmp/$(basename "$JAR")" "$JAR"
ln -sfn "$(basename "$JAR")" "$DIR/s3proxy.jar"
echo "s3proxy: installed $JAR"
