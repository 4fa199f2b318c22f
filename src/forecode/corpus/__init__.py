"""Build a training corpus from folders, git repositories and installed packages.

The flow is: `sources` lists candidate files with their provenance, `build` reads each one,
applies `filters`, `secrets` redaction and `dedup`, and `shards` writes the records plus a
`manifest`.
"""
