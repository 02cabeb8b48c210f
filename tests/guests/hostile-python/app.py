"""A hostile connector written in Python, for the sandbox tests: each raw loader attacks one promise of
the sandbox the way Python code would (`open`, `os.environ`, `socket`, `os._exit`, a loop, a hoard of
memory, runaway recursion). The ref's id carries the attack's argument; loaders that aren't stopped
report what they saw in the `result` field of a `Probe` row."""

import os
import socket
import sys

from max_connector import (
    Batch,
    Connector,
    ConnectorInfo,
    FieldType,
    Loader,
    Onboarding,
    Permissions,
    Schema,
    SyncPlan,
    Target,
    Operation,
    export,
    http,
)

ATTACKS = ["loop", "alloc", "recurse", "panic", "read-file", "list-dir", "read-env", "tcp", "http", "exit", "raise-exit", "echo"]


def report(id, result):
    batch = Batch("Probe", ["result"])
    batch.row(id, [result])
    return [batch]


def recurse(depth):
    return recurse(depth + 1) + 1


class Hostile(Connector):
    @staticmethod
    def describe():
        schema = (
            Schema()
            .entity("Account", lambda e: e.describe("Whoever runs the attacks"))
            .entity("Probe", lambda e: e.field("result", FieldType.STRING))
            .root("Account", "hostile")
        )
        info = ConnectorInfo("hostile", "0.1.0", "Attacks its sandbox on request, in Python (tests only)", schema)
        for attack in ATTACKS:
            info.loader(Loader.raw(attack, "Probe"))
        info.loader(Loader.batched("probe-by-id", "Probe", 10).fills(["result"]))
        return info.onboarding(
            Onboarding().input("base_url", "Base URL").secret("token", "Token")
        ).permissions(Permissions().host("allowed.example").bearer("token").base_url_key("base_url"))

    def validate(self):
        return "hostile"

    def seed(self, state):
        return SyncPlan().then(Target.one("Probe", "p1"), Operation.fields_of(["result"]))

    def load(self, loader, refs):
        arg = refs[0].id if refs else ""
        if loader == "loop":
            x = 1
            while True:
                x = (x * 6364136223846793005 + 1) % (1 << 64)
        if loader == "alloc":
            hoard = []
            while True:
                hoard.append(bytearray(16 << 20))
        if loader == "recurse":
            sys.setrecursionlimit(1 << 30)
            return report(arg, str(recurse(0)))
        if loader == "panic":
            raise RuntimeError(f"hostile connector panicked on purpose: {arg}")
        if loader == "read-file":
            try:
                with open(arg) as f:
                    return report(arg, f"READ {len(f.read())} bytes")
            except OSError as e:
                return report(arg, f"denied: {e}")
        if loader == "list-dir":
            try:
                return report(arg, f"LISTED {len(os.listdir(arg))} entries")
            except OSError as e:
                return report(arg, f"denied: {e}")
        if loader == "read-env":
            names = sorted(os.environ)
            return report(arg, f"{len(names)} variables: {','.join(names)}")
        if loader == "tcp":
            host, _, port = arg.rpartition(":")
            try:
                connection = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                connection.settimeout(2)
                connection.connect((host, int(port)))
                connection.close()
                return report(arg, "CONNECTED")
            except Exception as e:
                return report(arg, f"denied: {type(e).__name__}: {e}")
        if loader == "http":
            response = http.get(arg).credential("token").send()
            return report(arg, f"HTTP {response.status}: {response.text()}")
        if loader == "exit":
            os._exit(3)
        if loader == "raise-exit":
            sys.exit(3)
        if loader == "echo":
            return report(arg, arg)
        if loader == "probe-by-id":
            batch = Batch("Probe", ["result"])
            for r in refs:
                batch.row(r.id, [f"probed {r.id}"])
            return [batch]
        return super().load(loader, refs)


Source = export(Hostile)
