"""SLSA build provenance: in-toto Statement v1, SLSA Provenance v1 (and v0.2), DSSE.

The pure core takes records and returns records: `model` (the records), `dsse` (PAE,
envelopes, signature counting), `statement` (subjects, statements, predicates, the GitHub
Actions mapping) and `checks` (the verification policy and its named checks). The edges
do the I/O: `keys` (key files and the `cryptography` primitives), `bundle` (Sigstore
bundles through the `sigstore` package, offline) and `files` (artifacts, provenance files,
output). `pilothouse.cli.provenance` only parses flags, calls these and prints.
"""
