#!/usr/bin/python
"""Write many small configuration files (and remove others) in one call."""

from __future__ import annotations

DOCUMENTATION = r"""
module: hardening_files
short_description: Write a set of rendered configuration files in one module call
description:
  - Each entry of O(files) is written atomically when its content, owner, group or mode differ.
    Missing parent directories are created (root, 0755). Paths in O(absent) are removed.
  - One call instead of one task per file: on a container connection every task costs several
    process executions, so the hardening role renders its plain files on the controller and
    writes them here. Files that the service can validate (sudoers, sshd, nftables) use
    M(ansible.builtin.template) with C(validate) instead.
options:
  files:
    description: List of dicts C(path), C(content), C(owner), C(group), C(mode) (octal string).
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
- name: files | Write the components' files
  hardening_files:
    files:
      - { path: /etc/issue, content: "Authorised access only\n", owner: root, group: root, mode: "0644" }
    absent: [/etc/cron.deny]
"""

RETURN = r"""
changed_paths:
  description: Paths written or removed (or that would be, in check mode).
  type: list
  returned: always
"""

import grp
import os
import pwd
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule


def _needs_write(path: str, data: bytes, uid: int, gid: int, mode: int) -> bool:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return True
    if not stat.S_ISREG(st.st_mode) or st.st_uid != uid or st.st_gid != gid or stat.S_IMODE(st.st_mode) != mode:
        return True
    with open(path, "rb") as handle:
        return handle.read() != data


def _write(path: str, data: bytes, uid: int, gid: int, mode: int) -> None:
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o755, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".hardening.")
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


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "files": {"type": "list", "elements": "dict", "default": []},
            "absent": {"type": "list", "elements": "path", "default": []},
        },
        supports_check_mode=True,
    )
    changed: list[str] = []
    for item in module.params["files"]:
        missing = [key for key in ("path", "content", "owner", "group", "mode") if key not in item]
        if missing:
            module.fail_json(msg=f"hardening_files: entry for {item.get('path', '?')!r} lacks {', '.join(missing)}")
        try:
            uid = pwd.getpwnam(item["owner"]).pw_uid
            gid = grp.getgrnam(item["group"]).gr_gid
        except KeyError as exc:
            module.fail_json(msg=f"hardening_files: unknown owner or group for {item['path']}: {exc}")
        mode = int(str(item["mode"]), 8)
        data = str(item["content"]).encode("utf-8")
        if _needs_write(item["path"], data, uid, gid, mode):
            changed.append(item["path"])
            if not module.check_mode:
                _write(item["path"], data, uid, gid, mode)
    for path in module.params["absent"]:
        if os.path.lexists(path):
            changed.append(path)
            if not module.check_mode:
                os.unlink(path)
    module.exit_json(changed=bool(changed), changed_paths=changed)


if __name__ == "__main__":
    main()
