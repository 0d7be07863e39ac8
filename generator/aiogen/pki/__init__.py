"""Real-crypto helpers: PEM input checks, local CA material, cert-manager issuance emulation.

Import the submodules directly; this package imports nothing so that `cryptography` is only
loaded by the commands that need it.
"""
