"""Which Key Vault secrets sync into which CA Secret? The SecretSync of a CA keypair kept in Azure
Key Vault, with the names Azure and the Secret Store extension accept
(https://learn.microsoft.com/azure/iot-operations/secure-iot-ops/howto-manage-secrets,
https://learn.microsoft.com/azure/key-vault/general/about-keys-secrets-certificates)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiogen.model import names
from aiogen.model.plan import KeyVaultSync
from aiogen.resolve.context import Context
from aiogen.yamlio.document import PathKey, shown

if TYPE_CHECKING:
    from aiogen.model import spec


def key_vault_sync(ctx: Context, path: PathKey, kv: spec.KeyVault, namespace: str) -> KeyVaultSync:
    """The SecretSync of a CA keypair from Key Vault into ``namespace``, every name checked."""
    secret = kv.secret_name or kv.certificate_secret
    problem = names.subdomain_problem(secret)
    if problem:
        ctx.error(
            (*path, "secretName") if kv.secret_name else (*path, "certificateSecret"),
            f"Secret name {shown(secret)} {problem}",
            "set keyVault.secretName",
        )
    ctx.check_name((*path, "serviceAccount"), kv.service_account, "subdomain")
    _check_azure_names(ctx, path, kv)
    for key, value in (("certificateSecret", kv.certificate_secret), ("keySecret", kv.key_secret)):
        problem = names.key_vault_secret_problem(value)
        if problem:
            ctx.error((*path, key), f"{shown(value)} {problem}")
    if kv.certificate_secret == kv.key_secret:
        ctx.error((*path, "keySecret"), "the key and the certificate chain must be two different Key Vault secrets")
    return KeyVaultSync(
        namespace,
        kv.service_account,
        f"{secret}-kv",
        secret,
        kv.vault,
        kv.certificate_secret,
        kv.key_secret,
        kv.client_id,
        kv.tenant_id,
    )


def _check_azure_names(ctx: Context, path: PathKey, kv: spec.KeyVault) -> None:
    for key, value in (("vault", kv.vault), ("clientID", kv.client_id), ("tenantID", kv.tenant_id)):
        if not value.strip():
            ctx.error((*path, key), "must not be empty")
            continue
        problem = names.key_vault_name_problem(value) if key == "vault" else names.guid_problem(value)
        if problem:
            ctx.error((*path, key), f"{shown(value)} {problem}")
