"""Builds the worker's native forwarding lane (media_workers/native/lane.c) in place.

`scripts/install` runs `python setup.py build_ext --inplace`; the project itself is not installed
as a package. The module needs only the C compiler and Python's headers: SRTP is pylibsrtp's
(aiortc's) own libsrtp, reached through the addresses media_workers/lane.py passes in.
"""

from setuptools import Extension, setup

setup(
    name="conference-native",
    version="0.1.0",
    py_modules=[],
    ext_modules=[
        Extension(
            "media_workers._lane",
            ["media_workers/native/lane.c"],
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
        )
    ],
)
