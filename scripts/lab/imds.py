#!/usr/bin/env python3
"""Instance metadata service (IMDS) stand-in of the lab: what 169.254.169.254 answers to one instance.

The lab launches tier instances from the platform the emulator holds (scripts/lab/launch.py); the
emulator runs no instances and serves no metadata, so each launched instance gets this server in its
own network namespace, reached at 169.254.169.254 through a veth pair as on EC2 (nothing is added to
the instance itself). It follows the launch template's MetadataOptions exactly:

- HttpEndpoint disabled: the launcher starts no server (connections are refused).
- HttpTokens required: every GET needs a token from `PUT /latest/api/token` (401 without or with an
  invalid/expired one); optional: a GET without a token is answered, one with an invalid token is 401.
- A token request needs X-aws-ec2-metadata-token-ttl-seconds in 1..21600 (400 otherwise) and is
  refused when it carries X-Forwarded-For (403), as IMDSv2 refuses it.
- InstanceMetadataTags disabled: /latest/meta-data/tags/... answers 404 (as AWS does).
- The instance profile's role credentials come from the emulator's STS (the launcher assumes the
  role); without an instance profile, /latest/meta-data/iam/ answers 404.
Not modelled: the PUT response hop limit (one network hop here), IPv6 endpoint, rate limits.

Reference: https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-retrieval.html,
https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-metadata-v2-how-it-works.html,
https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/work-with-tags-in-IMDS.html

Standard library only: it runs on the base image's python3.
    imds.py CONFIG.json [--port 80]
CONFIG: {"metadata_options": {...}, "instance": {...}, "tags": {...}, "role": {...} | null,
         "user_data": "<text>" | null} (scripts/lab/launch.py writes it).
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN_HEADER = "X-aws-ec2-metadata-token"
TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
MAX_TTL = 21600


class Metadata:
    """The answers of one instance, and its tokens. Pure: no sockets (unit-tested directly)."""

    def __init__(self, config: dict[str, Any], clock=time.monotonic) -> None:
        options = config.get("metadata_options") or {}
        self.tokens_required = options.get("http_tokens", "optional") == "required"
        self.tags_enabled = options.get("instance_metadata_tags", "disabled") == "enabled"
        self.instance: dict[str, Any] = config["instance"]
        self.tags: dict[str, str] = config.get("tags") or {}
        self.role: dict[str, Any] | None = config.get("role")
        self.user_data: str | None = config.get("user_data")
        self._tokens: dict[str, float] = {}
        self._clock = clock

    # -- tokens --------------------------------------------------------------------------------
    def issue_token(self, ttl_header: str | None, forwarded: bool) -> tuple[int, str]:
        if forwarded:
            return 403, "Forbidden"
        try:
            ttl = int(ttl_header or "")
        except ValueError:
            return 400, "Bad Request"
        if not 1 <= ttl <= MAX_TTL:
            return 400, "Bad Request"
        token = secrets.token_urlsafe(42)
        self._tokens[token] = self._clock() + ttl
        return 200, token

    def _authorised(self, token: str | None) -> bool:
        if token is None:
            return not self.tokens_required
        expiry = self._tokens.get(token)
        return expiry is not None and expiry > self._clock()

    # -- documents -----------------------------------------------------------------------------
    def identity_document(self) -> dict[str, Any]:
        i = self.instance
        return {
            "accountId": i["account_id"],
            "architecture": "x86_64",
            "availabilityZone": i["availability_zone"],
            "billingProducts": None,
            "devpayProductCodes": None,
            "marketplaceProductCodes": None,
            "imageId": i["image_id"],
            "instanceId": i["instance_id"],
            "instanceType": i["instance_type"],
            "kernelId": None,
            "pendingTime": i["pending_time"],
            "privateIp": i["private_ip"],
            "ramdiskId": None,
            "region": i["region"],
            "version": "2017-09-30",
        }

    def _tree(self) -> dict[str, Any]:
        """meta-data as nested dicts (a dict is a directory listing, a str a leaf)."""
        i = self.instance
        tree: dict[str, Any] = {
            "ami-id": i["image_id"],
            "hostname": i["hostname"],
            "instance-id": i["instance_id"],
            "instance-type": i["instance_type"],
            "local-hostname": i["hostname"],
            "local-ipv4": i["private_ip"],
            "placement": {"availability-zone": i["availability_zone"], "region": i["region"]},
            "security-groups": "\n".join(i.get("security_groups", [])),
        }
        if self.tags_enabled:
            tree["tags"] = {"instance": dict(self.tags)}
        if self.role:
            tree["iam"] = {
                "info": json.dumps(
                    {
                        "Code": "Success",
                        "LastUpdated": self.role["credentials"]["LastUpdated"],
                        "InstanceProfileArn": self.role["instance_profile_arn"],
                        "InstanceProfileId": self.role["instance_profile_id"],
                    }
                ),
                "security-credentials": {self.role["name"]: json.dumps(self.role["credentials"])},
            }
        return tree

    def answer(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, str, str]:
        """(status, content type, body) for one request."""
        lowered = {k.lower(): v for k, v in headers.items()}
        if path == "/latest/api/token":
            if method != "PUT":
                return 405, "text/plain", "Method Not Allowed"
            status, body = self.issue_token(lowered.get(TTL_HEADER.lower()), "x-forwarded-for" in lowered)
            return status, "text/plain", body
        if method != "GET":
            return 405, "text/plain", "Method Not Allowed"
        if not self._authorised(lowered.get(TOKEN_HEADER.lower())):
            return 401, "text/plain", "Unauthorized"
        return self._read(path)

    def _read(self, path: str) -> tuple[int, str, str]:
        """A GET the caller may make: a document, or a meta-data leaf or listing."""
        documents = {
            "/latest/dynamic/instance-identity/document": ("application/json", json.dumps(self.identity_document())),
            "/latest/user-data": ("application/octet-stream", self.user_data or ""),
        }
        node: Any = None
        if path in documents:
            ctype, body = documents[path]
            node = body or None
        elif path == "/latest/meta-data" or path.startswith("/latest/meta-data/"):
            ctype, node = "text/plain", self._tree()
            for part in [p for p in path[len("/latest/meta-data") :].split("/") if p]:
                node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            return 404, "text/plain", "Not Found"
        if isinstance(node, dict):
            return 200, ctype, "\n".join(f"{k}/" if isinstance(v, dict) else k for k, v in node.items())
        return 200, ctype, node


def handler_for(metadata: Metadata) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "EC2ws"
        sys_version = ""

        def _reply(self) -> None:
            status, ctype, body = metadata.answer(self.command, self.path.split("?", 1)[0], dict(self.headers))
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            if self.path == "/latest/api/token" and status == 200:
                self.send_header(TTL_HEADER, self.headers.get(TTL_HEADER, ""))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = do_POST = _reply

        def log_message(self, format: str, *args: Any) -> None:
            sys.stderr.write(f"imds: {self.command} {self.path} -> {args[1] if len(args) > 1 else ''}\n")

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("--bind", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=80)
    args = parser.parse_args(argv)
    with open(args.config, encoding="utf-8") as handle:
        metadata = Metadata(json.load(handle))
    server = ThreadingHTTPServer((args.bind, args.port), handler_for(metadata))
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
