#!/usr/bin/env bash
# Installs what laminar needs on Debian/Ubuntu when it is missing: the HDF5 C library (headers
# and pkg-config file) for the hdf5-metno crate, — with --python — the Python readers the tests
# use (h5py, libsonata, numpy), and — with --mpi — Open MPI and libclang for the `mpi` feature
# (`cargo build --release --features mpi`). Idempotent; prints what it does.
set -euo pipefail

want_python=0
want_mpi=0
for arg in "$@"; do
  case "$arg" in
    --python) want_python=1 ;;
    --mpi) want_mpi=1 ;;
    *) echo "usage: $0 [--python] [--mpi]" >&2; exit 2 ;;
  esac
done

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root (or sudo) to run: $*" >&2; exit 1; fi
}

if ! pkg-config --exists hdf5 2>/dev/null && [ ! -e /usr/include/hdf5/serial/hdf5.h ] && [ ! -e /usr/include/hdf5.h ]; then
  echo "setup: installing the HDF5 C library (libhdf5-dev) and pkg-config"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libhdf5-dev pkg-config >/dev/null
fi
if ! command -v pkg-config >/dev/null; then
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pkg-config >/dev/null
fi

have_mpi() { command -v mpicc >/dev/null && command -v mpirun >/dev/null; }
have_libclang() { compgen -G "/usr/lib/llvm-*/lib/libclang*.so*" >/dev/null || compgen -G "/usr/lib/*/libclang*.so*" >/dev/null; }
have_clang_headers() { compgen -G "/usr/lib/llvm-*/lib/clang/*/include/stddef.h" >/dev/null; }
if [ "$want_mpi" -eq 1 ] && { ! have_mpi || ! have_libclang || ! have_clang_headers; }; then
  # The mpi crate's bindings are generated with bindgen, which loads libclang and needs clang's
  # own headers (stddef.h): the runtime library and the headers, not libclang-dev (240 MB of
  # static libraries bindgen does not use).
  echo "setup: installing Open MPI (libopenmpi-dev, openmpi-bin) and libclang"
  as_root apt-get update -qq
  clang_version=$(apt-cache depends libclang1 2>/dev/null | grep -o 'libclang1-[0-9]*' | head -1 | sed 's/libclang1-//')
  headers=${clang_version:+libclang-common-$clang_version-dev}
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libopenmpi-dev openmpi-bin libclang1 ${headers:-libclang-dev} >/dev/null; then
    # A distribution without those names: the full development package has both.
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libopenmpi-dev openmpi-bin libclang-dev >/dev/null
  fi
fi

if ! command -v cargo >/dev/null; then
  echo "setup: cargo not found; install Rust from https://rustup.rs" >&2
  exit 1
fi

if [ "$want_python" -eq 1 ]; then
  here=$(cd "$(dirname "$0")/.." && pwd)
  py=python3
  if ! "$py" -c "import h5py, libsonata, numpy" 2>/dev/null; then
    echo "setup: installing h5py, libsonata, numpy (pip)"
    if ! "$py" -m pip install -q h5py libsonata numpy 2>/dev/null; then
      # Externally managed system Python (PEP 668): use a project venv instead.
      if [ ! -x "$here/.venv/bin/python" ]; then
        if ! "$py" -m venv "$here/.venv" 2>/dev/null; then
          as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv python3-pip >/dev/null
          "$py" -m venv "$here/.venv"
        fi
      fi
      "$here/.venv/bin/python" -m pip install -q h5py libsonata numpy
    fi
  fi
fi
