#!/usr/bin/env bash
# Builds greenlight's release artefacts into dist/ (run by `make dist`):
#
#   dist/greenlight-<version>-lambda-arm64/          the Lambda functions, ready for SAM
#     <function>.zip                                  one per binary (arm64, provided.al2023)
#     template.yaml                                   infra/template.yaml, CodeUri → the zips
#   dist/greenlight-<version>-lambda-arm64.zip        the same directory as one download
#   dist/greenlight-<version>-linux-<arch>.tar.gz     the CLI for linux x86_64 and arm64:
#     bin/greenlight                                  config, iam, status, doctor, simulate
#     bin/install-moto                                makes lib/greenlight/moto (moto for simulate)
#     lib/greenlight/functions/<function>             the functions for this arch, for simulate
#     lib/greenlight/requirements-moto.txt            moto's pins
#     share/greenlight/scenarios/*.yaml               the scenario library
#   dist/SHA256SUMS                                   every artefact's checksum
#
# Everything is cross-built with cargo-lambda (zig as the linker, glibc 2.17 as the floor), so the
# binaries run on any Linux of the last decade, not only this machine's.
#
# Environment: VERSION (default: the workspace version), CARGO_LAMBDA (default: cargo lambda),
# DIST (default: dist).
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)
version=${VERSION:-$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)}
dist=${DIST:-dist}
read -r -a cargo_lambda <<<"${CARGO_LAMBDA:-cargo lambda}"
functions=(pre-scale-up post-scale-up test-traffic production-traffic codedeploy-hook)
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

# The functions' zips are built for size (fat LTO, one codegen unit, opt-level s), as `make package`;
# the CLI archives with the plain release profile (a size that matters less, a build that takes far
# less).
size_profile=(env CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 CARGO_PROFILE_RELEASE_OPT_LEVEL=s)

bins=()
for f in "${functions[@]}"; do bins+=(--bin "$f"); done

rm -rf "$dist"
mkdir -p "$dist"
lambda="$dist/greenlight-$version-lambda-arm64"
mkdir -p "$lambda"

echo "== the functions for Lambda (arm64)"
"${size_profile[@]}" "${cargo_lambda[@]}" build --release --arm64 --output-format zip "${bins[@]}"
for f in "${functions[@]}"; do
  cp "$target_dir/lambda/$f/bootstrap.zip" "$lambda/$f.zip"
done
# The template, its CodeUri pointing at the zips beside it: `sam deploy --template-file
# template.yaml --resolve-s3` uploads them.
sed -E 's#CodeUri: \.\./target/lambda/([a-z-]+)/bootstrap\.zip#CodeUri: \1.zip#' infra/template.yaml >"$lambda/template.yaml"
if grep -q 'CodeUri: .*target/lambda' "$lambda/template.yaml"; then
  echo "dist: a CodeUri in infra/template.yaml does not point at target/lambda/<function>/bootstrap.zip" >&2
  exit 1
fi
(cd "$dist" && python3 - "greenlight-$version-lambda-arm64" <<'EOF'
import sys, zipfile, pathlib
name = sys.argv[1]
with zipfile.ZipFile(f"{name}.zip", "w", zipfile.ZIP_DEFLATED) as archive:
    for path in sorted(pathlib.Path(name).rglob("*")):
        archive.write(path, path.as_posix())
EOF
)

for arch in x86_64 arm64; do
  case $arch in
    x86_64) flag=--x86-64; triple=x86_64-unknown-linux-gnu ;;
    arm64) flag=--arm64; triple=aarch64-unknown-linux-gnu ;;
  esac
  echo "== the CLI and the functions for linux $arch"
  for bin in greenlight "${functions[@]}"; do rm -f "$target_dir/lambda/$bin/bootstrap"; done
  "${cargo_lambda[@]}" build --release "$flag" --bin greenlight "${bins[@]}"
  name="greenlight-$version-linux-$arch"
  stage="$dist/$name"
  mkdir -p "$stage/bin" "$stage/lib/greenlight/functions" "$stage/share/greenlight/scenarios"
  # cargo-lambda moves each binary it builds to target/lambda/<bin>/bootstrap (the next build, for
  # the other arch, replaces it: take them now).
  built() { if [ -f "$target_dir/lambda/$1/bootstrap" ]; then echo "$target_dir/lambda/$1/bootstrap"; else echo "$target_dir/$triple/release/$1"; fi; }
  cp "$(built greenlight)" "$stage/bin/greenlight"
  for f in "${functions[@]}"; do
    cp "$(built "$f")" "$stage/lib/greenlight/functions/$f"
  done
  # Every binary must be an ELF for this arch (e_machine: 62 x86-64, 183 AArch64).
  python3 - "$arch" "$stage/bin/greenlight" "$stage"/lib/greenlight/functions/* <<'EOF'
import struct, sys
want = {"x86_64": 62, "arm64": 183}[sys.argv[1]]
for path in sys.argv[2:]:
    with open(path, "rb") as binary:
        head = binary.read(20)
    machine = struct.unpack("<H", head[18:20])[0] if head[:4] == b"\x7fELF" else None
    if machine != want:
        sys.exit(f"dist: {path} is not a linux {sys.argv[1]} binary (ELF machine {machine})")
EOF
  cp sim/requirements-moto.txt "$stage/lib/greenlight/requirements-moto.txt"
  cp tests/scenarios/*.yaml "$stage/share/greenlight/scenarios/"
  cp tools/install-moto.sh "$stage/bin/install-moto"
  chmod +x "$stage/bin/install-moto"
  cat >"$stage/README.txt" <<EOF
greenlight $version for linux $arch

  bin/greenlight --help                         every command
  bin/install-moto                              once: moto (the local AWS) for simulate, in lib/greenlight/moto
  bin/greenlight simulate --scenario share/greenlight/scenarios/good-blue-green.yaml

simulate finds the function binaries in lib/greenlight/functions and moto in lib/greenlight/moto;
--functions-dir and --python (or GREENLIGHT_PYTHON) name others.
EOF
  tar -C "$dist" -czf "$dist/$name.tar.gz" "$name"
  rm -rf "$stage"
done

(cd "$dist" && sha256sum -- *.zip *.tar.gz greenlight-"$version"-lambda-arm64/* >SHA256SUMS)
echo "== $dist"
(cd "$dist" && ls -l -- *.zip *.tar.gz SHA256SUMS)
