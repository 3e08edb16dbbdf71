#!/usr/bin/python
"""Enforce owner/group/mode on a list of paths and reduce SUID/SGID files, in one call."""

from __future__ import annotations

DOCUMENTATION = r"""
module: hardening_fsperms
short_description: Enforce file permissions and a SUID/SGID allow-list in one call
description:
  - Sets owner, group and mode of every existing path matching each entry of O(permissions)
    (glob patterns allowed, missing paths skipped).
  - With O(suid_reduce), finds SUID/SGID regular files among the files listed by dpkg
    (C(/var/lib/dpkg/info/*.list)) and directly inside O(suid_scan_dirs) (not recursive; the
    whole filesystem is never walked). Bits are stripped from every file whose real path is not in
    O(suid_allowlist). Files owned by a package get a C(dpkg-statoverride) so upgrades keep the
    new mode.
  - With C(--diff), every path it changes shows its owner, group and mode before and after, in
    check mode too.
options:
  permissions:
    description: List of dicts with C(path) (glob), C(owner), C(group), C(mode) (octal string).
    type: list
    elements: dict
    default: []
  suid_reduce:
    description: Strip SUID/SGID bits from files outside the allow-list.
    type: bool
    default: false
  suid_allowlist:
    description: Real paths that keep their SUID/SGID bits.
    type: list
    elements: str
    default: []
  suid_scan_dirs:
    description: Directories checked (one level) for SUID/SGID files no package lists.
    type: list
    elements: str
    default: []
supports_check_mode: true
author: arena-infra
"""

EXAMPLES = r"""
- name: permissions | Owner and mode of account files
  hardening_fsperms:
    permissions:
      - { path: /etc/shadow, owner: root, group: shadow, mode: "0640" }
    suid_reduce: true
    suid_allowlist: [/usr/bin/sudo]
"""

RETURN = r"""
fixed:
  description: Paths whose owner, group or mode was (or in check mode would be) changed.
  type: list
  returned: always
suid_stripped:
  description: Real paths that lost (or would lose) SUID/SGID bits.
  type: list
  returned: always
suid_files:
  description: Real paths that have SUID/SGID bits after the run (sorted).
  type: list
  returned: always
"""

import glob
import grp
import os
import pwd
import stat

from ansible.module_utils.arena_diff import with_diff
from ansible.module_utils.basic import AnsibleModule

SPECIAL = stat.S_ISUID | stat.S_ISGID


def _dpkg_paths() -> list[str]:
    paths: list[str] = []
    for listing in glob.glob("/var/lib/dpkg/info/*.list"):
        with open(listing, encoding="utf-8", errors="replace") as handle:
            paths.extend(line.rstrip("\n") for line in handle if line.startswith("/"))
    return paths


def _suid_candidates(scan_dirs: list[str]) -> dict[str, str]:
    """real path -> path as dpkg knows it (or the real path for unpackaged files)."""
    found: dict[str, str] = {}

    def consider(path: str, packaged: bool) -> None:
        try:
            st = os.lstat(path)
        except OSError:
            return
        if stat.S_ISREG(st.st_mode) and st.st_mode & SPECIAL:
            real = os.path.realpath(path)
            if packaged:
                found[real] = path  # dpkg's own name is what dpkg-statoverride needs
            else:
                found.setdefault(real, path)

    for path in _dpkg_paths():
        consider(path, True)
    packaged_reals = set(found)
    for directory in scan_dirs:
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            if os.path.realpath(entry.path) not in packaged_reals:
                consider(entry.path, False)
    return found


def _override(module: AnsibleModule, path: str) -> str | None:
    rc, out, _err = module.run_command(["dpkg-statoverride", "--list", path])
    return out.strip() if rc == 0 and out.strip() else None


def _describe(uid: int, gid: int, mode: int) -> str:
    """`owner:group mode` as --diff shows it."""
    try:
        owner, group = pwd.getpwuid(uid).pw_name, grp.getgrgid(gid).gr_name
    except KeyError:
        owner, group = str(uid), str(gid)
    return f"{owner}:{group} {mode:04o}"


def _fix_permissions(module: AnsibleModule, entries: list[dict], shown: tuple[dict, dict]) -> list[str]:
    """Fix owner, group and mode; `shown` (before, after) gets each fixed path's old and new state."""
    fixed: list[str] = []
    for item in entries:
        for key in ("path", "owner", "group", "mode"):
            if key not in item:
                module.fail_json(msg=f"hardening_fsperms: permissions entry {item!r} lacks '{key}'")
        try:
            uid = pwd.getpwnam(item["owner"]).pw_uid
            gid = grp.getgrnam(item["group"]).gr_gid
        except KeyError:
            # The owner or group does not exist on this host (package not installed): nothing to fix.
            continue
        mode = int(str(item["mode"]), 8)
        for path in sorted(glob.glob(item["path"])):
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                continue
            if st.st_uid != uid or st.st_gid != gid or stat.S_IMODE(st.st_mode) != mode:
                fixed.append(path)
                shown[0][path] = _describe(st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode))
                shown[1][path] = _describe(uid, gid, mode)
                if not module.check_mode:
                    os.chown(path, uid, gid)
                    os.chmod(path, mode)
    return fixed


def _strip(module: AnsibleModule, real: str, path: str, dpkg_paths: set[str]) -> None:
    st = os.stat(real)
    new_mode = stat.S_IMODE(st.st_mode) & ~SPECIAL
    if path not in dpkg_paths:
        os.chmod(real, new_mode)
        return
    owner = pwd.getpwuid(st.st_uid).pw_name
    group = grp.getgrgid(st.st_gid).gr_name
    if _override(module, path) is not None:
        module.run_command(["dpkg-statoverride", "--remove", path], check_rc=True)
    module.run_command(
        ["dpkg-statoverride", "--update", "--add", owner, group, f"{new_mode:04o}", path],
        check_rc=True,
    )


def _reduce_suid(
    module: AnsibleModule, allowlist: list[str], scan_dirs: list[str], shown: tuple[dict, dict]
) -> tuple[list[str], list[str]]:
    allow = {os.path.realpath(p) for p in allowlist}
    dpkg_paths = set(_dpkg_paths())
    stripped: list[str] = []
    remaining: list[str] = []
    for real, path in sorted(_suid_candidates(scan_dirs).items()):
        if real in allow:
            remaining.append(real)
            continue
        stripped.append(real)
        st = os.stat(real)
        shown[0][real] = _describe(st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode))
        shown[1][real] = _describe(st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode) & ~SPECIAL)
        if not module.check_mode:
            _strip(module, real, path, dpkg_paths)
    return stripped, remaining


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "permissions": {"type": "list", "elements": "dict", "default": []},
            "suid_reduce": {"type": "bool", "default": False},
            "suid_allowlist": {"type": "list", "elements": "str", "default": []},
            "suid_scan_dirs": {"type": "list", "elements": "str", "default": []},
        },
        supports_check_mode=True,
    )
    params = module.params
    shown: tuple[dict, dict] = ({}, {})
    fixed = _fix_permissions(module, params["permissions"], shown)
    stripped: list[str] = []
    remaining: list[str] = []
    if params["suid_reduce"]:
        stripped, remaining = _reduce_suid(module, params["suid_allowlist"], params["suid_scan_dirs"], shown)
    result = {"changed": bool(fixed or stripped), "fixed": fixed, "suid_stripped": stripped}
    module.exit_json(**with_diff(module, {**result, "suid_files": sorted(remaining)}, *shown))


if __name__ == "__main__":
    main()
