"""Every AWS call of the custom modules goes through amazon.aws's retries (issue 13).

AnsibleAWSModule.client(service, retry_decorator=...) hands out a RetryingBotoClientWrapper: a call
retries throttling (and the extra codes the decorator names) only when it passes ``aws_retry=True``;
without it, only botocore's few default retries apply. AWS asks callers to back off and retry on
throttling (https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html) and on the
eventual-consistency errors each service documents (e.g. InvalidGroup.NotFound after
CreateSecurityGroup: https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html).

This reads the source (AST) of every AWS module in library/ and lists, by file:line, each
``module.client(...)`` without a ``retry_decorator`` and each client call without ``aws_retry=True``.
The behaviour (a throttled call followed by success ends in success) is tested per module, against
botocore's Stubber, in the modules' own test files.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
LIBRARY = ROOT / "library"
# arena_files manages local files and makes no AWS call.
NOT_AWS = {"arena_files.py"}
# library/ and the modules a role carries itself (roles/<role>/library/), as repo-relative paths.
AWS_MODULES = sorted(
    str(p.relative_to(ROOT))
    for p in [*LIBRARY.glob("arena_*.py"), *ROOT.glob("roles/*/library/arena_*.py")]
    if p.name not in NOT_AWS
)
# RetryingBotoClientWrapper hands these out unwrapped (they make no request or have their own loop).
UNWRAPPED = {"get_paginator", "get_waiter", "can_paginate", "generate_presigned_url"}
# Client attributes that are not API calls.
PLAIN_ATTRIBUTES = {"exceptions", "meta"}


def _is_module_client(node: ast.AST) -> bool:
    """`module.client(...)`: the AnsibleAWSModule call that makes a client."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "client"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "module"
    )


def _passes_aws_retry(call: ast.Call) -> bool:
    return any(
        kw.arg == "aws_retry" and isinstance(kw.value, ast.Constant) and kw.value.value is True for kw in call.keywords
    )


def _is_aws_retry_decorator(node: ast.expr) -> bool:
    """`@AWSRetry.jittered_backoff(...)` (or any other AWSRetry back-off)."""
    target = node.func if isinstance(node, ast.Call) else node
    return isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "AWSRetry"


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}


def _holds_client(value: ast.expr, names: set[str]) -> bool:
    """`module.client(...)`, a client name, or `a if cond else b` with a client on either side."""
    if _is_module_client(value):
        return True
    if isinstance(value, ast.Name):
        return value.id in names
    if isinstance(value, ast.IfExp):
        return _holds_client(value.body, names) or _holds_client(value.orelse, names)
    return False


def _client_names(tree: ast.AST) -> set[str]:
    """Names that hold a client: `client`, every name a client is assigned to (`module.client(...)`,
    another client name, or a conditional between clients), and the parameters of this file's
    functions that are called with one of those names (to a fixpoint)."""
    names = {"client"}
    functions = {f.name: f for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)}
    assignments = [n for n in ast.walk(tree) if isinstance(n, ast.Assign)]
    while True:
        found = set(names)
        for node in assignments:
            if _holds_client(node.value, names):
                found |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)):
            function = functions.get(call.func.id)
            if function is None:
                continue
            params = [a.arg for a in function.args.posonlyargs + function.args.args]
            for index, arg in enumerate(call.args):
                if isinstance(arg, ast.Name) and arg.id in names and index < len(params):
                    found.add(params[index])
            found |= {
                kw.arg for kw in call.keywords if kw.arg and isinstance(kw.value, ast.Name) and kw.value.id in names
            }
        if found == names:
            return names
        names = found


@dataclass
class Checker:
    """Walks one module's AST and collects the offenders, as `path:line: message`."""

    path: str
    tree: ast.AST
    names: set[str] = field(init=False)
    parents: dict[ast.AST, ast.AST] = field(init=False)
    lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.names = _client_names(self.tree)
        self.parents = _parents(self.tree)

    def add(self, node: ast.AST, message: str) -> None:
        self.lines.append(f"{self.path}:{node.lineno}: {message}")

    def called(self, node: ast.AST) -> ast.Call | None:
        """The call whose function `node` is, if it is called right there."""
        call = self.parents.get(node)
        return call if isinstance(call, ast.Call) and call.func is node else None

    def in_retried_function(self, node: ast.AST) -> bool:
        while node in self.parents:
            node = self.parents[node]
            if isinstance(node, ast.FunctionDef):
                return any(_is_aws_retry_decorator(d) for d in node.decorator_list)
        return False

    def module_client(self, node: ast.Call) -> None:
        if not any(kw.arg == "retry_decorator" for kw in node.keywords):
            self.add(node, "module.client(...) without retry_decorator=AWSRetry.jittered_backoff(...)")
        if not isinstance(self.parents.get(node), ast.Assign):
            self.add(node, "module.client(...) not assigned to a name (its calls cannot be checked)")

    def getattr_call(self, node: ast.Call) -> None:
        if not (node.args and isinstance(node.args[0], ast.Name) and node.args[0].id in self.names):
            return
        label, call = node.args[0].id, self.called(node)
        if call is None:
            self.add(node, f"getattr({label}, ...) not called at once (cannot check aws_retry)")
        elif not _passes_aws_retry(call):
            self.add(call, f"getattr({label}, ...)(...) without aws_retry=True")

    def attribute(self, node: ast.Attribute, owner: str) -> None:
        label, call = f"{owner}.{node.attr}", self.called(node)
        if node.attr == "get_paginator":
            if not self.in_retried_function(node):
                self.add(node, f"{label}(...) outside a function decorated with @AWSRetry.jittered_backoff()")
        elif node.attr in UNWRAPPED | PLAIN_ATTRIBUTES:
            return
        elif call is None:
            self.add(node, f"{label} used without being called (cannot check aws_retry)")
        elif not _passes_aws_retry(call):
            self.add(call, f"{label}(...) without aws_retry=True")

    def run(self) -> list[str]:
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Call) and _is_module_client(node):
                self.module_client(node)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr":
                self.getattr_call(node)
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in self.names:
                self.attribute(node, node.value.id)
        return sorted(set(self.lines), key=lambda line: int(line.split(":")[1]))


def retry_offenders(source: str, path: str) -> list[str]:
    """Every client made without a retry decorator and every call that does not ask for retries."""
    return Checker(path, ast.parse(source)).run()


def test_the_module_list_is_every_aws_module() -> None:
    """A new AWS module is checked without being listed; arena_files really makes no AWS call."""
    assert len(AWS_MODULES) >= 17
    assert "roles/platform_launch_templates/library/arena_kms_autoscaling_key_info.py" in AWS_MODULES
    for name in NOT_AWS:
        assert "module.client(" not in (LIBRARY / name).read_text()
    for path in AWS_MODULES:
        assert "module.client(" in (ROOT / path).read_text(), path


@pytest.mark.parametrize("path", AWS_MODULES)
def test_every_client_and_call_retries(path: str) -> None:
    offenders = retry_offenders((ROOT / path).read_text(), path)
    assert not offenders, "calls that do not retry throttling:\n" + "\n".join(offenders)


GOOD = """
@AWSRetry.jittered_backoff()
def listing(client, name):
    return client.get_paginator("describe_things").paginate(Name=name).build_full_result()

def read(conn, name):
    try:
        return conn.describe_thing(Name=name, aws_retry=True)
    except conn.exceptions.NotFound:
        return None

def main():
    module = AnsibleAWSModule(argument_spec={})
    ec2 = module.client("ec2", retry_decorator=AWSRetry.jittered_backoff())
    read(ec2, "x")
    listing(ec2, "x")
    getattr(ec2, "put_thing")(Name="x", aws_retry=True)
    ec2.get_waiter("thing_exists").wait(Name="x")
"""

BAD = """
def listing(client, name):
    return client.get_paginator("describe_things").paginate(Name=name).build_full_result()

def read(conn, name):
    return conn.describe_thing(Name=name)

def probe(call, **kwargs):
    return call(aws_retry=True, **kwargs)

def main():
    module = AnsibleAWSModule(argument_spec={})
    ec2 = module.client("ec2")
    read(ec2, "x")
    probe(ec2.get_thing, Name="x")
    getattr(ec2, "put_thing")(Name="x")
    run(module.client("ses", retry_decorator=AWSRetry.jittered_backoff()))
    chosen = ec2 if module.check_mode else None
    chosen.delete_thing(Name="x")
"""


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (GOOD, []),
        (
            BAD,
            [
                "x.py:3: client.get_paginator(...) outside a function decorated with @AWSRetry.jittered_backoff()",
                "x.py:6: conn.describe_thing(...) without aws_retry=True",
                "x.py:13: module.client(...) without retry_decorator=AWSRetry.jittered_backoff(...)",
                "x.py:15: ec2.get_thing used without being called (cannot check aws_retry)",
                "x.py:16: getattr(ec2, ...)(...) without aws_retry=True",
                "x.py:17: module.client(...) not assigned to a name (its calls cannot be checked)",
                "x.py:19: chosen.delete_thing(...) without aws_retry=True",
            ],
        ),
    ],
    ids=["compliant", "offenders"],
)
def test_the_checker_finds_each_kind_of_offender(source: str, expected: list[str]) -> None:
    assert retry_offenders(source, "x.py") == expected
