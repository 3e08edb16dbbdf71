"""tests/mitogen_site/sitecustomize.py: the AWS modules Mitogen forks start from a warm botocore.

A probe module imports a module_util of this repository, so Mitogen runs it in a forked child, as
it runs every collection module. Under the tests' executor the child must find boto3 imported and
the EC2 model parsed before the module imported anything; with PYTHONPATH emptied, the same probe
must find neither, so the test can fail. A second test pins what the caches change: one parse per
file and process, the same object for every session; a client's methods built once per service and
process (each client class its own); one alias cache for every session.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from arena_testlib import MITOGEN_SITE, REPO_ROOT, base_env, run

PROBE = """
import os
import sys

# What the process held before this module imported anything.
WARM = "boto3" in sys.modules
CLIENT = sys.modules.get("botocore.client")
CLIENT_CLASSES = len(getattr(CLIENT.ClientCreator._create_methods, "arena_cache", {})) if CLIENT else 0
from ansible.module_utils.arena_diff import diff  # a module_util of the repository: Mitogen forks
from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec={})
    import botocore.loaders
    cache = getattr(botocore.loaders.JSONFileLoader.load_file, "arena_cache", {})
    module.exit_json(
        changed=False,
        boto3_before_import=WARM,
        client_methods_before_import=CLIENT_CLASSES,
        cached=sorted(path.split("/botocore/data/")[-1] for path in cache),
        pid=os.getpid(),
        diff_loaded=callable(diff),
    )


main()
"""


def probe(tmp_path: Path, extra: dict[str, str]) -> list[dict[str, object]]:
    """Run the probe twice on localhost under the tests' executor; its two results."""
    library = tmp_path / "library"
    library.mkdir(exist_ok=True)
    (library / "arena_probe.py").write_text(PROBE, encoding="utf-8")
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        "- name: Probe\n  hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n"
        + "".join(f"    - name: Probe {n}\n      arena_probe:\n" for n in (1, 2)),
        encoding="utf-8",
    )
    env = base_env({"ANSIBLE_LIBRARY": f"{REPO_ROOT / 'library'}:{library}", **extra})
    env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.builtin.json"
    interpreter = f"ansible_python_interpreter={sys.executable}"
    result = run(["ansible-playbook", "-i", "localhost,", "-e", interpreter, str(playbook)], env, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    report, _ = json.JSONDecoder().raw_decode(result.stdout)  # the timer callback prints after it
    tasks = report["plays"][0]["tasks"]
    return [task["hosts"]["localhost"] for task in tasks]


def test_forked_aws_module_children_start_with_boto3_and_the_models_loaded(tmp_path: Path) -> None:
    env = base_env()
    assert env.get("ANSIBLE_STRATEGY") == "mitogen_linear", "the tests' executor is not Mitogen here"
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(MITOGEN_SITE)

    warm = probe(tmp_path, {})
    assert warm[0]["pid"] != warm[1]["pid"], "Mitogen did not fork the probe: the test measures nothing"
    for result in warm:
        assert result["boto3_before_import"] is True, result
        # The fork parent made a client of each warmed service: their methods are built.
        assert result["client_methods_before_import"] >= 10, result
        assert any(path.startswith("ec2/") and "/service-2" in path for path in result["cached"]), result
        assert "endpoints" in result["cached"], result

    cold = probe(tmp_path, {"PYTHONPATH": ""})
    assert cold[0]["boto3_before_import"] is False, cold[0]
    assert cold[0]["client_methods_before_import"] == 0, cold[0]
    assert cold[0]["cached"] == [], cold[0]


def test_a_model_file_is_parsed_once_per_process_and_shared_by_sessions() -> None:
    """And botocore's data directories are listed once per process, not once per session's Loader:
    amazon.aws makes a session per module call. os.listdir is counted after the first session."""
    script = """
import json
import os
import boto3
from botocore.loaders import JSONFileLoader
boto3.session.Session(region_name="eu-west-1").client("sts", endpoint_url="http://127.0.0.1:9")
listed = []
_listdir = os.listdir
os.listdir = lambda path=".": listed.append(path) or _listdir(path)
first = boto3.session.Session(region_name="eu-west-1")._loader.load_service_model("sts", "service-2")
second = boto3.session.Session(region_name="eu-west-1")._loader.load_service_model("sts", "service-2")
client = boto3.session.Session(region_name="eu-west-1").client("sts", endpoint_url="http://127.0.0.1:9")
cache = JSONFileLoader.load_file.arena_cache
listed_by_sts = len(listed)
# Client classes: after the first client of a service, a new session's client builds no method.
from botocore.client import ClientCreator
built = []
_build = ClientCreator._create_api_method
ClientCreator._create_api_method = lambda self, *a: built.append(a[1]) or _build(self, *a)
again = boto3.session.Session(region_name="eu-west-1").client("sts", endpoint_url="http://127.0.0.1:9")
sts_built = len(built)
ec2 = boto3.session.Session(region_name="eu-west-1").client("ec2", endpoint_url="http://127.0.0.1:9")
public = lambda c: sorted(n for n in dir(c) if not n.startswith("_"))
aliasers = [s._session.get_component("event_emitter") for s in (boto3.session.Session(), boto3.session.Session())]
print(json.dumps({
    "same": first is second,
    "sts_files": sorted(p.split("/botocore/data/")[-1] for p in cache if "/data/sts/" in p),
    "operations": len(client.meta.service_model.operation_names),
    "listed": listed_by_sts,
    "sts_built_again": sts_built,
    "ec2_built": len(built) - sts_built,
    "sts_methods": public(again) == public(client),
    "ec2_has_own": hasattr(ec2, "describe_vpcs") and not hasattr(again, "describe_vpcs"),
    "own_class": type(again) is not type(client),
    "one_alias_cache": aliasers[0]._alias_name_cache is aliasers[1]._alias_name_cache,
}))
"""
    env = {"PYTHONPATH": str(MITOGEN_SITE), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    assert result["same"] is True, "two sessions parsed the STS model twice"
    assert [path for path in result["sts_files"] if path.endswith("service-2")], result
    assert result["operations"] > 5, "the shared model builds a working client"
    assert result["listed"] == 0, f"later sessions listed botocore's data {result['listed']} times"
    assert result["sts_built_again"] == 0, "a second STS client built its methods again"
    assert result["ec2_built"] > 500, "the EC2 client's methods were not its own"
    assert result["sts_methods"] and result["ec2_has_own"] and result["own_class"], result
    assert result["one_alias_cache"], "each session aliased botocore's event names again"


def test_the_controller_waits_longer_than_mitogens_30_s_for_a_target_to_start() -> None:
    """A target interpreter warms boto3 up while it starts (above): under make test's load one start
    took over Mitogen's 30-s connect timeout and its play failed UNREACHABLE. With this site the
    controller waits CONNECT_TIMEOUT (a `local` connection passes no timeout of its own); without it,
    Mitogen's default. (By hand: a target that sleeps 25 s at start-up failed at 31 s, and connects
    with the site.)"""
    script = "import mitogen.parent; print(mitogen.parent.Options.connect_timeout)"
    base = {"PATH": "/usr/bin:/bin"}

    def timeout(env: dict[str, str]) -> float:
        done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
        return float(done.stdout)

    assert timeout({**base, "PYTHONPATH": str(MITOGEN_SITE)}) == 180.0
    assert timeout({**base, "PYTHONPATH": ""}) == 30.0
