#!/usr/bin/python
"""Write many small configuration files, symlinks and removals in one module call."""

from __future__ import annotations

DOCUMENTATION = r"""
module: arena_files
short_description: Write a set of rendered configuration files in one module call
description:
  - Each entry of O(files) is written atomically when its content, owner, group or mode differ.
    Missing parent directories are created (root, 0755). With C(validate), the new content is
    checked first (C(%s) is the path of a temporary copy) and nothing is written if it fails.
  - Each entry of O(links) makes C(path) a symlink to C(src). Paths in O(absent) are removed.
  - One call instead of one task per file. Every task costs process start-ups on the target
    (about 0.5 s each on the lab's container connection, less but not nothing over SSH), so roles
    render their plain files on the controller and write them here. Used by roles/base and
    roles/hardening; handlers pick their own files from RV(changed_paths).
  - With C(--diff), each changed path shows its content (a file's owner, group and mode in the
    header) or its state (link target, absent) before and after, in check mode too.
options:
  files:
    description:
      - List of dicts C(path), C(content), C(owner), C(group), C(mode) (octal string) and an
        optional C(validate) command containing C(%s).
    type: list
    elements: dict
    default: []
  links:
    description: List of dicts C(path) and C(src); C(path) becomes a symlink to C(src).
    type: list
    elements: dict
    default: []
  absent:
    description: Paths that must not exist.
    type: list
    elements: path
    default: []
supports_check_mode: true
author: arena-infra
"""

EXAMPLES = r"""
- name: Files | Write the components' files
  arena_files:
    files:
      - { path: /etc/issue, content: "Authorised access only\n", owner: root, group: root, mode: "0644" }
      - path: /etc/apt/apt.conf.d/52unattended
        content: "{{ lookup('ansible.builtin.template', 'unattended.j2') }}"
        owner: root
        group: root
        mode: "0644"
        validate: /usr/bin/apt-config -c %s dump
    links:
      - { path: /etc/localtime, src: /usr/share/zoneinfo/Etc/UTC }
    absent: [/etc/cron.deny]
"""

RETURN = r"""
changed_paths:
  description: Paths written, linked or removed (or that would be, in check mode).
  type: list
  returned: always
diff:
  description: One entry per changed path (content, or state and metadata), with C(--diff).
  type: list
  returned: changed
"""

import grp
import os
import pwd
import shlex
import stat
import subprocess
import tempfile

from ansible.module_utils.arena_diff import with_diffs
from ansible.module_utils.basic import AnsibleModule

_FILE_KEYS = ("path", "content", "owner", "group", "mode")


def _needs_write(path: str, data: bytes, uid: int, gid: int, mode: int) -> bool:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return True
    if not stat.S_ISREG(st.st_mode) or st.st_uid != uid or st.st_gid != gid or stat.S_IMODE(st.st_mode) != mode:
        return True
    with open(path, "rb") as handle:
        return handle.read() != data


def _state(path: str) -> dict[str, str]:
    """What is at `path` now, in the terms of the diff."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return {"state": "absent"}
    if stat.S_ISLNK(st.st_mode):
        return {"state": "link", "src": os.readlink(path)}
    if not stat.S_ISREG(st.st_mode):
        return {"state": "other"}
    with open(path, "rb") as handle:
        content = handle.read().decode("utf-8", errors="replace")
    try:
        owner, group = pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        owner, group = str(st.st_uid), str(st.st_gid)
    return {
        "state": "file",
        "owner": owner,
        "group": group,
        "mode": f"{stat.S_IMODE(st.st_mode):04o}",
        "content": content,
    }


def _diff_entry(path: str, before: dict[str, str], after: dict[str, str]) -> dict[str, object]:
    """A file whose content changes shows as text (owner, group, mode in the header); anything
    else (metadata only, links, removals) as the two states."""
    if before.get("state") == after["state"] == "file" and before["content"] != after["content"]:

        def header(state: dict[str, str]) -> str:
            return f"{path} ({state['owner']}:{state['group']} {state['mode']})"

        return {
            "before_header": header(before),
            "after_header": header(after),
            "before": before["content"],
            "after": after["content"],
        }
    return {"before_header": path, "after_header": path, "before": before, "after": after}


def _validate(command: str, data: bytes) -> tuple[int, str]:
    """Run the validate command on a temporary copy of data; return (rc, output)."""
    fd, tmp = tempfile.mkstemp(prefix=".arena-validate.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        argv = [tmp if arg == "%s" else arg.replace("%s", tmp) for arg in shlex.split(command)]
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        return proc.returncode, (proc.stdout + proc.stderr).strip()
    finally:
        os.unlink(tmp)


def _write(path: str, data: bytes, uid: int, gid: int, mode: int) -> None:
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o755, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".arena.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chown(tmp, uid, gid)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _link(path: str, src: str) -> None:
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    tmp = f"{path}.arena-tmp"
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(src, tmp)
    os.replace(tmp, path)


def _apply_files(module: AnsibleModule, changed: list[str], diffs: list[dict[str, object]]) -> None:
    for item in module.params["files"]:
        missing = [key for key in _FILE_KEYS if key not in item]
        if missing:
            module.fail_json(msg=f"arena_files: entry for {item.get('path', '?')!r} lacks {', '.join(missing)}")
        try:
            uid = pwd.getpwnam(item["owner"]).pw_uid
            gid = grp.getgrnam(item["group"]).gr_gid
        except KeyError as exc:
            module.fail_json(msg=f"arena_files: unknown owner or group for {item['path']}: {exc}")
        mode = int(str(item["mode"]), 8)
        data = str(item["content"]).encode("utf-8")
        if not _needs_write(item["path"], data, uid, gid, mode):
            continue
        if item.get("validate"):
            if "%s" not in item["validate"]:
                module.fail_json(msg=f"arena_files: validate for {item['path']} must contain %s")
            rc, output = _validate(item["validate"], data)
            if rc != 0:
                module.fail_json(msg=f"arena_files: {item['path']} failed validation ({item['validate']}): {output}")
        changed.append(item["path"])
        wanted = {
            "owner": item["owner"],
            "group": item["group"],
            "mode": f"{mode:04o}",
            "content": str(item["content"]),
        }
        diffs.append(_diff_entry(item["path"], _state(item["path"]), {"state": "file", **wanted}))
        if not module.check_mode:
            _write(item["path"], data, uid, gid, mode)


def run(module: AnsibleModule, diffs: list[dict[str, object]] | None = None) -> list[str]:
    """Apply files, links and absent; return the changed paths (and add their diffs to `diffs`)."""
    diffs = [] if diffs is None else diffs
    changed: list[str] = []
    _apply_files(module, changed, diffs)
    for item in module.params["links"]:
        if "path" not in item or "src" not in item:
            module.fail_json(msg=f"arena_files: link entry {item!r} needs path and src")
        if os.path.islink(item["path"]) and os.readlink(item["path"]) == item["src"]:
            continue
        changed.append(item["path"])
        diffs.append(_diff_entry(item["path"], _state(item["path"]), {"state": "link", "src": item["src"]}))
        if not module.check_mode:
            _link(item["path"], item["src"])
    for path in module.params["absent"]:
        if os.path.lexists(path):
            changed.append(path)
            diffs.append(_diff_entry(path, _state(path), {"state": "absent"}))
            if not module.check_mode:
                os.unlink(path)
    return changed


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "files": {"type": "list", "elements": "dict", "default": []},
            "links": {"type": "list", "elements": "dict", "default": []},
            "absent": {"type": "list", "elements": "path", "default": []},
        },
        supports_check_mode=True,
    )
    diffs: list[dict[str, object]] = []
    changed = run(module, diffs)
    module.exit_json(**with_diffs(module, {"changed": bool(changed), "changed_paths": changed}, diffs))


if __name__ == "__main__":
    main()
