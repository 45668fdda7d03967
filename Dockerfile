# genn-eventprop with GeNN 5 (pygenn, CUDA and CPU backends) and the native C++ backend.
#
#   docker build -t genn-eventprop .
#   docker run --gpus all -v /path/to/data:/data -v "$PWD/runs:/workspace/runs" genn-eventprop \
#       train configs/shd.yaml --set data.path=/data --set backend=genn-cuda --set delivery=next_step
#
# The devel image is needed at run time too: GeNN generates CUDA code for each model and compiles it
# with nvcc when the model is built. See docs/genn.md.
ARG CUDA_IMAGE=nvidia/cuda:12.4.1-devel-ubuntu22.04
FROM ${CUDA_IMAGE}

ARG GENN_VERSION=5.4.0

ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    CUDA_PATH=/usr/local/cuda \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:/usr/local/cuda/bin:${PATH}

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

# pygenn from GeNN's release tag. CUDA_PATH makes its setup.py build the CUDA backend next to the
# CPU one. That backend links against libcuda, which a build container only has as the toolkit's
# stub; at run time `--gpus all` supplies the driver's real libcuda.so.1.
RUN git clone --depth 1 --branch ${GENN_VERSION} https://github.com/genn-team/genn.git /opt/genn-src \
    && cd /opt/genn-src \
    && LIBRARY_PATH=${CUDA_PATH}/lib64/stubs pip install --no-build-isolation . \
    && cd / && rm -rf /opt/genn-src \
    && python -c "import pygenn; print('pygenn', pygenn.__version__)"

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
