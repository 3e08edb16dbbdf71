#!/usr/bin/env bash
# Role READMEs from meta/argument_specs.yml (aar-doc, template docs/templates/role-readme.md.j2):
# rewrites the Variables section between the BEGIN/END_ANSIBLE_DOCS markers of every
# roles/<role>/README.md. `scripts/role-docs.sh --check` writes nothing and fails on any drift
# (README vs spec, defaults/main.yml vs the spec's defaults); scripts/lint.sh runs it.
source "$(dirname "$0")/lib.sh"
cd "$ARENA_ROOT"
exec "$ARENA_VENV/bin/python" scripts/role_docs.py "$@"
