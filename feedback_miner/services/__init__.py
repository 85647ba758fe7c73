"""Use cases over the ports (the weekly run, reports, training, analyze a file, the review loop):
what the CLI and the API both call. SQL never appears here; the store is a ``domain.ports`` Protocol."""
