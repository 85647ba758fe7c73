"""The bundled demo: a deterministic marketplace feedback stream with planted problems."""
