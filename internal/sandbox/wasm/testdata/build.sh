#!/bin/sh
# Rebuilds every test module in this directory from its source. Tests never
# run this: the .wasm files are committed. Needs clang + lld + wasi-libc
# (Debian: clang lld wasi-libc libclang-rt-14-dev-wasm32) and wabt (wat2wasm).
set -eu
cd "$(dirname "$0")"
clang --target=wasm32-wasi --sysroot=/usr -O2 -Wl,--strip-all -o guest.wasm guest.c
wat2wasm noentry.wat -o noentry.wasm
wat2wasm unknownimport.wat -o unknownimport.wasm
wat2wasm bigmem.wat -o bigmem.wasm
# garbage.wasm is random bytes made once; keep the committed one so tests
# see the same bytes everywhere.
[ -f garbage.wasm ] || head -c 64 /dev/urandom > garbage.wasm
chmod 644 ./*.wasm
