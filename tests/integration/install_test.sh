#!/usr/bin/env bash
# install_test: proves a third-party app can build against the *installed* SDK.
#
# How: `cmake --install --component sdk` the build tree into a temporary prefix, then compile
# sdk/examples/chat_example.c out of tree (1) with `pkg-config --cflags --libs ferry`,
# (2) statically with `pkg-config --static`, and (3) in a tiny CMake project using
# find_package(ferry) with ferry::ferry and ferry::ferry_static. Each binary must run
# `--help` and `--version` (which exits 1 if the library and header versions differ).
#
# usage: install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build_dir=$(cd "$1" && pwd)
source_dir=$(cd "$2" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"
example="$source_dir/sdk/examples/chat_example.c"

fail() { echo "install_test: FAIL: $*" >&2; exit 1; }

cmake --install "$build_dir" --component sdk --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log" >&2; fail "cmake --install"; }

libdir=$(dirname "$(find "$prefix" -name 'libferry.so' -print -quit)")
[ -n "$libdir" ] && [ -f "$libdir/libferry.so.0" ] || fail "libferry.so(.0) not installed"
[ -f "$libdir/libferry.a" ] || fail "libferry.a not installed"
[ -f "$prefix/include/ferry.h" ] || fail "ferry.h not installed"
[ -f "$libdir/pkgconfig/ferry.pc" ] || fail "ferry.pc not installed"
[ -f "$libdir/cmake/ferry/ferryConfig.cmake" ] || fail "ferryConfig.cmake not installed"
[ -f "$libdir/cmake/ferry/ferryConfigVersion.cmake" ] || fail "ferryConfigVersion.cmake missing"

# Only ferry_* may be exported from the shared library.
leaked=$(nm -D --defined-only "$libdir/libferry.so" | awk '$2 ~ /[TDBRW]/ {print $3}' |
         grep -v '^ferry_' || true)
[ -z "$leaked" ] || fail "non-ferry symbols exported: $leaked"

# A sanitizer build's libferry needs the sanitizer runtime in the program too.
san_flags=""
# (Capture first: `ldd | grep -q` can fail under pipefail when grep exits before ldd is done.)
deps=$(ldd "$libdir/libferry.so")
if grep -q libasan <<<"$deps"; then
  san_flags="-fsanitize=address,undefined"
fi

run_checks() {  # binary, label
  LD_LIBRARY_PATH="$libdir" "$1" --help >"$tmp/run.log" 2>&1 ||
    { cat "$tmp/run.log" >&2; fail "$2: --help"; }
  LD_LIBRARY_PATH="$libdir" "$1" --version >"$tmp/run.log" 2>&1 ||
    { cat "$tmp/run.log" >&2; fail "$2: --version (library/header mismatch?)"; }
  cat "$tmp/run.log"
}

export PKG_CONFIG_PATH="$libdir/pkgconfig"
pkg-config --exists ferry || fail "pkg-config cannot find ferry"
[ "$(pkg-config --modversion ferry)" = "$(sed -n 's/^#define FERRY_VERSION_STRING "\(.*\)"/\1/p' \
  "$prefix/include/ferry.h")" ] || fail "ferry.pc version differs from ferry.h"

# (1) shared, via pkg-config
# shellcheck disable=SC2046
cc -std=c99 -pedantic -Wall -Wextra -Werror $san_flags -o "$tmp/example_pc" "$example" \
  $(pkg-config --cflags --libs ferry) || fail "build with pkg-config"
run_checks "$tmp/example_pc" "pkg-config shared"

# (2) static, via pkg-config --static (the C++ runtime comes from Libs.private)
# shellcheck disable=SC2046
cc -std=c99 -pedantic $san_flags -o "$tmp/example_pc_static" "$example" \
  $(pkg-config --static --cflags ferry) "$libdir/libferry.a" \
  $(pkg-config --static --libs-only-l --libs-only-other ferry | sed 's/-lferry//') ||
  fail "build statically with pkg-config"
run_checks "$tmp/example_pc_static" "pkg-config static"

# (3) find_package(ferry), both exported targets
mkdir -p "$tmp/consumer"
cp "$example" "$tmp/consumer/chat_example.c"
cat >"$tmp/consumer/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.20)
project(ferry_consumer C CXX)
find_package(ferry 0.1 REQUIRED)
add_executable(example_shared chat_example.c)
target_link_libraries(example_shared PRIVATE ferry::ferry)
add_executable(example_static chat_example.c)
target_link_libraries(example_static PRIVATE ferry::ferry_static)
set_target_properties(example_shared example_static PROPERTIES C_STANDARD 99
                      C_EXTENSIONS OFF)
CMAKE
cmake -S "$tmp/consumer" -B "$tmp/consumer/build" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_C_FLAGS="$san_flags" -DCMAKE_CXX_FLAGS="$san_flags" \
  -DCMAKE_EXE_LINKER_FLAGS="$san_flags" >"$tmp/consumer.log" 2>&1 ||
  { cat "$tmp/consumer.log" >&2; fail "configure find_package(ferry) project"; }
cmake --build "$tmp/consumer/build" >>"$tmp/consumer.log" 2>&1 ||
  { cat "$tmp/consumer.log" >&2; fail "build find_package(ferry) project"; }
run_checks "$tmp/consumer/build/example_shared" "find_package ferry::ferry"
run_checks "$tmp/consumer/build/example_static" "find_package ferry::ferry_static"

echo "install_test: OK"
