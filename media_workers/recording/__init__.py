"""Recording in the worker: encoded frames from the forwarding path written to files without
decoding (docs/recording.md). Containers are written here rather than with PyAV, because PyAV
opens an encoder for every stream it muxes — one libvpx/Opus encoder per recorded track, in
the process that must never run a codec."""
