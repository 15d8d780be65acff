#!/usr/bin/env bash
# Prepares the one call to make on a lent GPU (shared/design/gpu-plan.md) and prints it. Nothing here needs a GPU.
#
#   bash scripts/gpu-smoke.sh            # publishes samples/GpuSmoke into .gpu/ (git-ignored, about 40 MiB) and prints the call
#   bash scripts/gpu-smoke.sh --dry-run  # also runs the same checks here on the CPU (all but timing)
#
# The GPU machine has no .NET SDK and nothing can be downloaded there; TorchSharp's CUDA package is not served here. So the
# program is published self-contained (the .NET runtime inside), without libtorch's own binaries, and loads the machine's
# PyTorch libraries (torch/lib of its Python installation, CUDA 13, libtorch 2.11) through LD_LIBRARY_PATH, with TorchSharp's
# native shim (built against libtorch 2.10) loaded explicitly from TLT_LIBTORCHSHARP. Whether 2.10's shim links against
# 2.11's libraries is the open question: the call records `ldd -r` of the shim, so even a failed load names the missing symbols.
# Each check's result goes to $OUT/gpu-smoke.json as soon as it is known. Record what happened in docs/gpu.md.
set -euo pipefail
cd "$(dirname "$0")/.."

out=.gpu/publish
rm -rf "$out"
dotnet publish samples/GpuSmoke -c Release -r linux-x64 --self-contained -p:PublishSingleFile=true -p:EnableCompressionInSingleFile=true \
  -p:DebugType=none -o "$out" >/dev/null
# libtorch's own binaries come from the GPU machine's PyTorch; only TorchSharp's shim (and the app) travel.
find "$out" -maxdepth 1 -name '*.so*' ! -name 'libLibTorchSharp.so' -delete
du -sh "$out"
if [ "${1:-}" = "--dry-run" ]; then
  # Here the CPU libtorch is TorchSharp's own: point the shim at the build's copy of it.
  native="$(pwd)/samples/GpuSmoke/bin/Release/net10.0/runtimes/linux-x64/native"
  LD_LIBRARY_PATH="$native" TLT_LIBTORCHSHARP="$native/libLibTorchSharp.so" "$out/GpuSmoke" --cpu --out .gpu/dry-run.json
fi
cat <<'CALL'
The device call (run tool, kind left out, carry [".gpu"], timeout_s 540):

torch_lib=$(python3 -c "import torch,os;print(os.path.join(os.path.dirname(torch.__file__),'lib'))"); export LD_LIBRARY_PATH=$torch_lib:${LD_LIBRARY_PATH:-}; export TLT_LIBTORCHSHARP=$PWD/.gpu/publish/libLibTorchSharp.so; nvidia-smi > $OUT/nvidia-smi.txt 2>&1; ldd -r $TLT_LIBTORCHSHARP > $OUT/ldd.txt 2>&1; timeout 500 .gpu/publish/GpuSmoke --out $OUT/gpu-smoke.json > $OUT/gpu-smoke.log 2>&1; echo "exit $?" >> $OUT/gpu-smoke.log
CALL
