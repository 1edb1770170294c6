# Sourced by the device scripts: installs this checkout on the GPU image, which lacks some wheels.
# The wheels carried in .whl (PyAV, PyNvVideoCodec, Ray: git-ignored, sent with `carry`) go to
# /tmp/site; filmline itself is installed editable, or put on PYTHONPATH where pip cannot.
install_here() {
    if [ -d .whl ]; then
        python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
            .whl/*.whl || exit 1
        export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
    fi
    python3 -m pip install -q --no-deps --no-build-isolation -e . || export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
}
