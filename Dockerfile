# torch-gen as an OpenAI-compatible service: `torch-gen serve` on port 8000, FP16 on an NVIDIA GPU (CUDA 12.8
# driver or newer, linux/amd64), FP32 on the CPU when the container gets no GPU.
#
#   docker build -t torch-gen .                                              models mounted at run time
#   docker build --build-arg BAKE_DEFAULT_MODEL=1 -t torch-gen:smollm2 .     SmolLM2-135M-Instruct baked in
#   docker run --gpus all -p 8000:8000 -v "$PWD/models:/models:ro" torch-gen
#
# DEPLOYMENT.md has the details. `npm test` checks this file statically (scripts/check-dockerfile.mjs):
# pinned images, the versions below equal to package.json's "torchGen" pins, a non-root user, the health
# check and the port.

# The pins. package.json "torchGen" is the source of truth (nodeVersion, torchVersion, cudaVersion); these
# defaults must equal it, and test/unit/dockerfile.test.ts fails when they do not.
ARG CUDA_VERSION=12.8.1
ARG NODE_VERSION=24.11.1
# sha256 of node-v${NODE_VERSION}-linux-x64.tar.xz, from nodejs.org/dist/v${NODE_VERSION}/SHASUMS256.txt:
# it changes with NODE_VERSION.
ARG NODE_SHA256=60e3b0a8500819514aca603487c254298cd776de0698d3cd08f11dba5b8289a8
# The torch wheel (PyPI's 2.9.1 is the CUDA 12.8 build: keep CUDA_VERSION on the same 12.8 release).
ARG TORCH_VERSION=2.9.1
# Ubuntu 24.04's Python: the virtualenv's site-packages path, copied into the runtime stage, contains it.
ARG PYTHON_VERSION=3.12

# ---- base: compilers, Python for the torch wheel, and Node from the official tarball ----
FROM nvidia/cuda:${CUDA_VERSION}-cudnn-devel-ubuntu24.04 AS base
ARG NODE_VERSION
ARG NODE_SHA256
ARG PYTHON_VERSION
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# Ubuntu's package versions are not pinned: the base image tag fixes the release, and its security
# updates are wanted.
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates curl xz-utils g++ make cmake "python${PYTHON_VERSION}" "python${PYTHON_VERSION}-venv" \
 && rm -rf /var/lib/apt/lists/*
RUN curl -fsSL -o /tmp/node.tar.xz "https://nodejs.org/dist/v${NODE_VERSION}/node-v${NODE_VERSION}-linux-x64.tar.xz" \
 && echo "${NODE_SHA256}  /tmp/node.tar.xz" | sha256sum -c - \
 && tar -xJf /tmp/node.tar.xz -C /usr/local --strip-components=1 --no-same-owner \
 && rm /tmp/node.tar.xz \
 && test "$(node --version)" = "v${NODE_VERSION}"
WORKDIR /opt/torch-gen
# scripts/setup-libtorch.mjs makes the venv with $PYTHON; pip's cache would only bloat the layers.
ENV PYTHON=python${PYTHON_VERSION} PIP_NO_CACHE_DIR=1

# ---- torch: libtorch into .venv, by the project's own installer ----
# Its own stage and layer: about 5 GB that changes only with TORCH_VERSION. The installer reads the version
# from package.json; a minimal one made from the ARG keeps edits to the real package.json from
# invalidating this layer (the build stage runs the installer again against the real one).
FROM base AS torch
ARG TORCH_VERSION
COPY scripts/setup-libtorch.mjs scripts/libtorch.mjs scripts/
RUN printf '{"name":"torch-gen-pins","torchGen":{"torchVersion":"%s"}}\n' "${TORCH_VERSION}" > package.json \
 && node scripts/setup-libtorch.mjs

# ---- model: the default model, exported at build time only when BAKE_DEFAULT_MODEL=1 ----
FROM torch AS model
ARG BAKE_DEFAULT_MODEL=0
COPY package.json ./
COPY scripts/model-default.mjs scripts/run-python.mjs scripts/
COPY python python
RUN if [ "${BAKE_DEFAULT_MODEL}" = "1" ]; then npm run model:default; fi \
 && mkdir -p models

# ---- build: the addon (once) and the TypeScript, then the production node_modules ----
FROM torch AS build
ARG PYTHON_VERSION
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
COPY package.json package-lock.json ./
# setup-libtorch.mjs again, against the real package.json: a no-op when the ARG matched it, otherwise it
# installs package.json's torch, as everywhere else.
# `npm install`, not `npm ci`, for the reason in .ci/run (the lock file lacks other platforms' optional
# packages). --ignore-scripts: the package's own install script is replaced by the explicit steps below,
# and no dependency that the image keeps has an install script.
RUN node scripts/setup-libtorch.mjs \
 && npm install --no-audit --no-fund --ignore-scripts
COPY CMakeLists.txt binding.gyp tsconfig.json ./
COPY native native
COPY scripts scripts
COPY lib lib
COPY bin bin
# An $ORIGIN-relative rpath (build/Release -> .venv/.../torch/lib): the addon finds libtorch wherever the
# tree is copied with the same layout, as the runtime stage does, without LD_LIBRARY_PATH. The torch
# libraries find their CUDA/cuDNN wheels through their own $ORIGIN rpaths. readelf checks that the rpath
# came through cmake-js literally ('$ORIGIN' is meant unexpanded, hence SC2016).
# hadolint ignore=SC2016
RUN TORCH_GEN_RPATH="\$ORIGIN/../../.venv/lib/python${PYTHON_VERSION}/site-packages/torch/lib" node scripts/build-native.mjs \
 && readelf -d build/Release/torch_gen.node | grep -q 'R.*PATH.*\$ORIGIN/../../.venv' \
 && npm run build:ts \
 && npm prune --omit=dev --no-audit --no-fund \
 && rm -rf ".venv/lib/python${PYTHON_VERSION}/site-packages/nvidia/cuda_nvcc"
# (cuda_nvcc: the CUDA headers the addon compiled against, from torchGen.cudaHeadersPackage, and the compiler
# that comes with them; nothing loads them at run time, and the runtime stage copies nvidia/ whole.)

# ---- runtime: the CUDA runtime image, Node, the built package and libtorch's shared libraries ----
FROM nvidia/cuda:${CUDA_VERSION}-cudnn-runtime-ubuntu24.04 AS runtime
ARG NODE_VERSION
ARG TORCH_VERSION
ARG PYTHON_VERSION
LABEL org.opencontainers.image.title="torch-gen" \
      org.opencontainers.image.description="OpenAI-compatible server for TorchScript causal LMs on libtorch (torch-gen serve)" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.torch-gen.node-version="${NODE_VERSION}" \
      org.torch-gen.torch-version="${TORCH_VERSION}"
# Node alone: the image runs no npm, so it carries none.
COPY --from=build /usr/local/bin/node /usr/local/bin/node
WORKDIR /opt/torch-gen
# Everything the server loads, owned by root and read-only to the user that runs it.
COPY --from=build /opt/torch-gen/package.json ./
COPY --from=build /opt/torch-gen/bin bin
COPY --from=build /opt/torch-gen/dist dist
COPY --from=build /opt/torch-gen/node_modules node_modules
COPY --from=build /opt/torch-gen/build/Release/torch_gen.node build/Release/torch_gen.node
# Only the shared libraries of the venv (torch/lib and the nvidia-* wheels' CUDA, cuDNN, cuBLAS, NCCL),
# at the same relative paths so the rpaths hold; no Python is needed to serve.
COPY --from=build /opt/torch-gen/.venv/lib/python${PYTHON_VERSION}/site-packages/torch/lib .venv/lib/python${PYTHON_VERSION}/site-packages/torch/lib
COPY --from=build /opt/torch-gen/.venv/lib/python${PYTHON_VERSION}/site-packages/nvidia .venv/lib/python${PYTHON_VERSION}/site-packages/nvidia
# Models live in /models: mounted (`-v ./models:/models:ro`), or baked in by BAKE_DEFAULT_MODEL=1.
COPY --from=model /opt/torch-gen/models /models
# The addon must load here, at the runtime location, on a machine without a GPU (the build has none).
RUN node -e "import('/opt/torch-gen/dist/index.js').then((m) => console.log(JSON.stringify(m.runtimeInfo())))"
# A fixed numeric uid: Kubernetes' runAsNonRoot can only verify a numeric USER.
RUN groupadd --system --gid 10001 torchgen \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin torchgen
ENV NODE_ENV=production \
    TORCH_GEN_MODEL=/models/smollm2-135m-instruct
USER 10001:10001
EXPOSE 8000
# /health answers 200 once the model is loaded and warmed up, 503 while loading and while draining.
# start-period covers the load; a large model on a slow disk may need more (docker run --health-start-period).
HEALTHCHECK --interval=15s --timeout=5s --start-period=180s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8000/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# serve listens on 127.0.0.1 unless told otherwise: in a container it must be every interface. SIGTERM
# (docker stop, a pod's termination) drains the requests in flight for up to --drain-timeout seconds.
ENTRYPOINT ["node", "/opt/torch-gen/bin/torch-gen.js"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
