#!/bin/sh
# Rebuilds the hostile test guests from their sources. Tests never run this:
# the .wasm files are committed. Needs clang + lld + wasi-libc (Debian:
# clang lld wasi-libc libclang-rt-14-dev-wasm32) and wabt (wat2wasm).
# badptr.c includes ../../sandbox/wasm/testdata/mote_v1.h.
set -eu
cd "$(dirname "$0")"
cc="clang --target=wasm32-wasi --sysroot=/usr -O2 -Wl,--strip-all"
for g in hello loop sleep grow recurse flood exit slow headers snoop; do
	$cc -o "$g.wasm" "$g.c"
done
$cc -mexec-model=reactor -o badptr.wasm badptr.c
for w in imports bigmem; do
	wat2wasm "$w.wat" -o "$w.wasm"
done
chmod 644 ./*.wasm
