"""The command tree of the security and multi-tenancy commands: `tls`,
`operator gossip|root keyring`, `namespace`, `quota` and `var`.

Declarations only (flags, help, handlers); main.py calls these while it
builds the parser, and the handlers live in their own modules. `acl`
declares itself (acl.register).
"""

from __future__ import annotations

from typing import Any

from . import namespace, quota, root_keyring, tls, var
from .parsing import Tree, bool_flag, flag


def add_keyring_commands(tree: Tree, ops: Any) -> None:
    """`operator root keyring ...` (variables) and `operator gossip keyring` (Raft)."""
    root_cmds = tree.group(ops, "root", "root keyring commands: keyring list, rotate, remove")
    rkeys = tree.group(root_cmds, "keyring", "root keys sealing variables: list, rotate, remove")
    p = tree.command(rkeys, "list", "list root keys", root_keyring.run_keyring_list)
    flag(p, "verbose", action="store_true", help="full key IDs")
    p = tree.command(rkeys, "rotate", "make a new active root key", root_keyring.run_keyring_rotate)
    flag(p, "verbose", action="store_true", help="full key IDs")
    bool_flag(p, "full", False, "re-encrypt every variable with the new key")
    p = tree.command(rkeys, "remove", "remove an unused root key", root_keyring.run_keyring_remove)
    p.add_argument("key_id", metavar="KEYID", help="root key ID")

    gossip = tree.group(ops, "gossip", "Raft encryption key commands: keyring generate")
    keyring = tree.group(gossip, "keyring", "Raft encryption keys: generate")
    tree.command(
        keyring,
        "generate",
        "print a new key for 'serve -encrypt' / server { encrypt }",
        tls.run_keyring_generate,
    )
    tree.command(
        ops, "keygen", "alias of 'operator gossip keyring generate'", tls.run_keyring_generate
    )


def add_tls_commands(tree: Tree, subs: Any) -> None:
    tlsg = tree.group(subs, "tls", "TLS commands: ca create, cert create")
    tls_ca = tree.group(tlsg, "ca", "certificate authority commands: create")
    p = tree.command(
        tls_ca,
        "create",
        "create a certificate authority",
        tls.run_ca_create,
        "Write nomad-agent-ca.pem and nomad-agent-ca-key.pem to the current directory.",
    )
    flag(p, "days", type=int, default=5 * 365, metavar="N", help="days valid (default 5 years)")
    flag(p, "domain", default="nomad", metavar="DOMAIN", help="domain of the cluster (nomad)")
    flag(p, "common-name", default="", metavar="CN", help="CA common name (Nomad Agent CA ...)")
    tls_cert = tree.group(tlsg, "cert", "certificate commands: create")
    p = tree.command(
        tls_cert,
        "create",
        "create a server, client or cli certificate signed by the CA",
        tls.run_cert_create,
        "Write <region>-<server|client|cli>-<domain>.pem and -key.pem to the current\n"
        "directory. Server certificates name server.<region>.nomad, client ones\n"
        "client.<region>.nomad, cli ones cli.<region>.nomad; all name localhost,\n"
        "server and client ones 127.0.0.1. The region comes from -region.",
    )
    flag(p, "server", action="store_true", help="a server certificate")
    flag(p, "client", action="store_true", help="a client certificate")
    flag(p, "cli", action="store_true", help="a certificate for the CLI and console")
    flag(p, "ca", default="#DOMAIN#-agent-ca.pem", metavar="FILE", help="CA certificate")
    flag(p, "key", default="#DOMAIN#-agent-ca-key.pem", metavar="FILE", help="CA key")
    flag(p, "days", type=int, default=365, metavar="N", help="days valid (default 1 year)")
    flag(p, "domain", default="nomad", metavar="DOMAIN", help="domain (nomad)")
    flag(
        p,
        "additional-dnsname",
        action="append",
        metavar="NAME",
        help="another DNS name in the certificate (repeatable)",
    )
    flag(
        p,
        "additional-ipaddress",
        action="append",
        metavar="IP",
        help="another IP address in the certificate (repeatable)",
    )


def add_namespace_quota_commands(tree: Tree, subs: Any) -> None:
    nss = tree.group(subs, "namespace", "namespace commands: apply, list, status, inspect, delete")
    p = tree.command(nss, "apply", "create or update a namespace", namespace.run_namespace_apply)
    flag(p, "description", metavar="TEXT", default=None, help="the namespace's description")
    flag(p, "quota", metavar="QUOTA", default=None, help="quota spec limiting the namespace")
    p.add_argument(
        "target", metavar="NAME|FILE", help="namespace name, or a spec file ('-': stdin)"
    )
    p = tree.command(nss, "list", "list namespaces", namespace.run_namespace_list)
    flag(p, "json", action="store_true", help="print the namespaces as JSON")
    for name, summary, handler in (
        ("status", "show one namespace and its quota usage", namespace.run_namespace_status),
        ("inspect", "print one namespace as JSON", namespace.run_namespace_inspect),
        (
            "delete",
            "delete a namespace (its jobs must be terminal)",
            namespace.run_namespace_delete,
        ),
    ):
        p = tree.command(nss, name, summary, handler)
        p.add_argument(
            "name",
            metavar="NAME",
            help="namespace name" + (" or prefix" if name != "delete" else ""),
        )

    quotas = tree.group(subs, "quota", "quota commands: apply, list, status, inspect, delete, init")
    p = tree.command(quotas, "apply", "create or update a quota spec", quota.run_quota_apply)
    p.add_argument("file", metavar="FILE", help="quota spec file, HCL or JSON ('-': stdin)")
    p = tree.command(quotas, "list", "list quota specs", quota.run_quota_list)
    flag(p, "json", action="store_true", help="print the quota specs as JSON")
    flag(p, "prefix", metavar="PREFIX", default="", help="only names with this prefix")
    p = tree.command(quotas, "status", "show a quota's limits and usage", quota.run_quota_status)
    flag(p, "json", action="store_true", help="print the quota spec as JSON")
    p.add_argument("name", metavar="NAME", help="quota name")
    p = tree.command(
        quotas, "inspect", "print a quota and its usage as JSON", quota.run_quota_inspect
    )
    p.add_argument("name", metavar="NAME", help="quota name")
    p = tree.command(quotas, "delete", "delete an unused quota spec", quota.run_quota_delete)
    p.add_argument("name", metavar="NAME", help="quota name")
    p = tree.command(quotas, "init", "write an example quota spec file", quota.run_quota_init)
    flag(p, "json", action="store_true", help="write spec.json instead of spec.hcl")


def add_var_commands(tree: Tree, subs: Any) -> None:
    vs = tree.group(subs, "var", "variable commands: put, get, list, purge")
    p = tree.command(vs, "put", "create or update a variable", var.run_var_put)
    bool_flag(p, "force", False, "write whatever the server-side index")
    flag(p, "check-index", type=int, default=None, metavar="N", help="check-and-set index")
    # `in` is a Python keyword: the value lands in args.in_format
    p.add_argument(
        "-in", "--in", dest="in_format", default="", metavar="json|hcl", help="spec format"
    )
    flag(p, "out", default="none", choices=var.OUT_FORMATS, help="print the variable: json|table")
    p.add_argument("args", nargs="*", metavar="PATH|@FILE|- [k=v ...]")
    p = tree.command(vs, "get", "read a variable", var.run_var_get)
    flag(p, "item", default="", metavar="KEY", help="print only this item's value")
    flag(p, "out", default="json", choices=var.OUT_FORMATS, help="json (default) or table")
    p.add_argument("path", metavar="PATH")
    p = tree.command(vs, "list", "list variables (metadata only)", var.run_var_list)
    flag(p, "prefix", default="", metavar="PREFIX", help="only paths starting with this")
    flag(p, "out", default="table", choices=var.OUT_FORMATS, help="table (default) or json")
    p.add_argument("prefix_arg", nargs="?", default="", metavar="PREFIX")
    p = tree.command(vs, "purge", "delete a variable", var.run_var_purge)
    flag(p, "check-index", type=int, default=None, metavar="N", help="check-and-set index")
    p.add_argument("path", metavar="PATH")
