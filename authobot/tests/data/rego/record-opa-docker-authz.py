#!/usr/bin/env python3
"""Records what opa-docker-authz decides for the comparison table, once, as facts.

Usage (root: opa-docker-authz listens under /run/docker/plugins):

    OPA_DOCKER_AUTHZ=/path/to/opa-docker-authz \
    OPA_DOCKER_AUTHZ_EXAMPLE=/path/to/its/example.rego \
        authobot/tests/data/rego/record-opa-docker-authz.py > authobot/tests/data/rego/opa-docker-authz.jsonl

opa-docker-authz is built from its own sources elsewhere (nothing of it is kept here). For each
policy (authobot/policies/rego/typical.rego, and opa-docker-authz's own example.rego) it starts
`opa-docker-authz -policy-file POLICY -plugin-name NAME`, sends every request of the table
(rego-requests below) to /AuthZPlugin.AuthZReq as dockerd would, writes one line per answer and
stops the plugin by its pid. The requests are read from the repository, the same way
authobot/tests/it/rego.rs reads them:

- example-cases.jsonl (example.rego only): the example policy's cases;
- captures/workflow/*.jsonl: every request-phase message of the recorded CLI workflow;
- authobot/tests/data/hostile.jsonl: every escape vector;

each with the header `Authz-User: alice` added where it carries none (example.rego maps that
header to a user; a docker CLI sends it with `HttpHeaders` in its config.json).
"""

import base64
import glob
import hashlib
import http.client
import json
import os
import socket
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
HERE = os.path.dirname(os.path.abspath(__file__))


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=30)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def with_user(message):
    message = json.loads(json.dumps(message))
    headers = message.setdefault("RequestHeaders", {})
    headers.setdefault("Authz-User", "alice")
    return message


def requests(policy):
    """(source, index, case, message) in table order."""
    if policy == "example.rego":
        with open(os.path.join(HERE, "example-cases.jsonl")) as f:
            for index, line in enumerate(f):
                row = json.loads(line)
                yield "example-cases", index, row["case"], row["message"]
    for path in sorted(glob.glob(os.path.join(ROOT, "captures", "workflow", "*.jsonl"))):
        name = "workflow/" + os.path.basename(path)[: -len(".jsonl")]
        with open(path) as f:
            for index, line in enumerate(f):
                row = json.loads(line)
                if row["phase"] == "Request":
                    yield name, index, "", with_user(row["message"])
    with open(os.path.join(ROOT, "authobot", "tests", "data", "hostile.jsonl")) as f:
        for index, line in enumerate(f):
            row = json.loads(line)
            yield "hostile", index, row["case"], with_user(row["message"])


def ask(sock_path, message):
    conn = UnixConnection(sock_path)
    conn.request(
        "POST",
        "/AuthZPlugin.AuthZReq",
        body=json.dumps(message).encode(),
        headers={"Accept": "application/vnd.docker.plugins.v1.2+json"},
    )
    response = conn.getresponse()
    body = response.read()
    conn.close()
    try:
        reply = json.loads(body)
    except ValueError:
        reply = {}
    # dockerd: only HTTP 200 with Allow true lets the call through.
    allow = response.status == 200 and reply.get("Allow") is True
    return response.status, allow


def main():
    binary = os.environ["OPA_DOCKER_AUTHZ"]
    policies = {
        "typical.rego": os.path.join(ROOT, "authobot", "policies", "rego", "typical.rego"),
        "example.rego": os.environ["OPA_DOCKER_AUTHZ_EXAMPLE"],
    }
    for policy, path in policies.items():
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        name = "rego-facts-%d" % os.getpid()
        sock_path = "/run/docker/plugins/%s.sock" % name
        plugin = subprocess.Popen(
            [binary, "-policy-file", path, "-plugin-name", name, "-quiet"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(100):
                if os.path.exists(sock_path):
                    break
                time.sleep(0.1)
            for source, index, case, message in requests(policy):
                status, allow = ask(sock_path, message)
                row = {
                    "policy": policy,
                    "policy_sha256": digest,
                    "source": source,
                    "index": index,
                    "case": case,
                    "status": status,
                    "allow": allow,
                }
                print(json.dumps(row, separators=(",", ":")))
        finally:
            plugin.terminate()
            plugin.wait()
            if os.path.exists(sock_path):
                os.unlink(sock_path)


if __name__ == "__main__":
    main()
