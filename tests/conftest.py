from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import make_ca_pem


@pytest.fixture(scope="session")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """root-a.pem, root-b.pem (EC roots), ica-a.pem (intermediate under root-a), devices.pem (client root)."""
    d = tmp_path_factory.mktemp("pki")
    root_a, cert_a, key_a = make_ca_pem("Test Root A")
    root_b, _, _ = make_ca_pem("Test Root B")
    ica, _, _ = make_ca_pem("Test Intermediate A", issuer=(cert_a, key_a), lifetime=__import__("datetime").timedelta(days=1800))
    devices, _, _ = make_ca_pem("Test Devices Root")
    rsa_root, _, _ = make_ca_pem("Test RSA Root", rsa_bits=2048)
    for name, text in {"root-a.pem": root_a, "root-b.pem": root_b, "ica-a.pem": ica, "devices.pem": devices,
                       "rsa-root.pem": rsa_root}.items():
        (d / name).write_text(text)
    return d
