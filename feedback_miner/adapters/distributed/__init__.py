"""Batch work on a Dask cluster. Import :mod:`.embedder` (it needs the ``dask`` extra); the
worker-side code in :mod:`.worker` needs no Dask."""
