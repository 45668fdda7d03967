# genn-eventprop with GeNN 5 (pygenn, CUDA and CPU backends) and the native C++ backend.
#
#   docker build -t genn-eventprop .
#   docker run --gpus all -v /path/to/data:/data -v "$PWD/runs:/workspace/runs" genn-eventprop \
#       train configs/shd.yaml --set data.path=/data --set backend=genn-cuda --set delivery=next_step
#
# The devel image is needed at run time too: GeNN generates CUDA code for each model and compiles it
# with nvcc when the model is built. See docs/genn.md.
# CUDA 13.0 needs an NVIDIA driver >= 580 on the host; for an older driver build with
#   --build-arg CUDA_IMAGE=nvidia/cuda:12.4.1-devel-ubuntu22.04
ARG CUDA_IMAGE=nvidia/cuda:13.0.0-devel-ubuntu24.04
FROM ${CUDA_IMAGE}

# GeNN's commit: master after 5.4.0, which builds with CUDA 13 (the build benchmarks/gpu/run.sh checks on a GPU)
ARG GENN_REPO=https://github.com/genn-team/genn.git
ARG GENN_REF=a3f45d2414b34ace132d49344820dd58c5373c19

ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    CUDA_PATH=/usr/local/cuda \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:/usr/local/cuda/bin:${PATH}

# Package versions come from the CUDA image's Ubuntu release and from setup.cfg, not pinned here.
# hadolint global ignore=DL3008,DL3013
# g++ and make build GeNN and, at run time, every generated model; libffi-dev and pkg-config are
# GeNN's build requirements on Linux.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        python3 python3-dev python3-pip python3-venv \
        g++ make git ca-certificates libffi-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*

RUN python3 -m venv ${VIRTUAL_ENV} \
    && pip install --upgrade pip \
    && pip install numpy pybind11 psutil pkgconfig "setuptools>=61" wheel

# pygenn from GeNN's source, built by the same script as on the GPU check's machine (genn_build.sh: CUDA_PATH
# from nvcc, so the CUDA backend is built next to the CPU one, linked against the toolkit's libcuda stub;
# at run time `--gpus all` supplies the driver's libcuda.so.1; and a check that GeNN's libraries share one
# libstdc++, without which its code generation crashes).
# Everything of the build lives in one scratch folder, emptied at the end.
WORKDIR /genn-build
COPY benchmarks/gpu/genn_build.sh ./
RUN git init -q src \
    && git -C src fetch -q --depth 1 ${GENN_REPO} ${GENN_REF} \
    && git -C src checkout -q FETCH_HEAD \
    && GB_WORK="$PWD/work" bash genn_build.sh src wheel \
    && rm -rf src work wheel genn_build.sh \
    && python -c "import pygenn, pygenn.cuda_backend; print('pygenn', pygenn.__version__, 'with CUDA')"

# The project: copy only what the package needs (never a local .venv or run folders).
WORKDIR /opt/genn-eventprop
COPY setup.cfg pyproject.toml README.md ./
COPY genn_eventprop ./genn_eventprop
COPY models ./models
COPY cli ./cli
COPY configs ./configs
RUN pip install '.[genn,plot]' \
    && mkdir -p /workspace \
    && cp -r configs /workspace/configs

# Relative paths in commands (configs/shd.yaml, runs/...) resolve here; mount /workspace/runs to keep runs.
WORKDIR /workspace
ENTRYPOINT ["genn-eventprop"]
CMD ["info"]
