# arena-infra: the two commands are `make demo` and `make test`; both do their own set-up.
# Every target runs from the repository root with the project's .venv first on PATH.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

DEBIAN_RELEASE ?= bookworm
VENV := $(CURDIR)/.venv
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PY_COLORS := 0
export NO_COLOR := 1
export ANSIBLE_FORCE_COLOR := 0
STAGE := scripts/stage.sh

.PHONY: help setup host venv base-image emulator-up emulator-down emulator-status \
        test lint role-docs unit molecule integration demo clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

setup: host venv base-image deps-image ## Host packages, podman config, .venv, base and package layer images (idempotent)

host: ## apt packages and podman configuration (root)
	@scripts/setup-host.sh

venv: ## Python virtualenv in .venv from requirements.txt
	@scripts/venv.sh

base-image: ## Base image localhost/arena-base:$(DEBIAN_RELEASE) (rebuilt only when its recipe changes)
	@scripts/base-image.sh $(DEBIAN_RELEASE)

deps-image: venv base-image ## Package layer localhost/arena-deps:<release>-<hash> for the role scenarios (rebuilt when the roles' packages change)
	@scripts/deps-image.sh $(DEBIAN_RELEASE) >/dev/null

emulator-up: venv ## Start the AWS emulator on 127.0.0.1 (writes .lab/emulator.env)
	@scripts/emulator.sh up

emulator-down: ## Stop the AWS emulator
	@scripts/emulator.sh down

emulator-status: ## Is the AWS emulator running, and where
	@scripts/emulator.sh status

test: host venv ## All checks side by side: images (bake + gate), molecule, integration, unit, lint (the lab's images built meanwhile)
	@scripts/test.sh

lint: venv ## ansible-lint (production), yamllint, ruff, packer fmt/validate
	@$(STAGE) lint scripts/lint.sh

role-docs: venv ## Regenerate the Variables section of every roles/*/README.md from its argument specs (aar-doc)
	@scripts/role-docs.sh

unit: venv ## pytest tests/unit
	@$(STAGE) unit scripts/pytest.sh tests/unit --durations=10

molecule: setup ## Every molecule scenario (roles/*/molecule/*, molecule/*)
	@$(STAGE) molecule scripts/molecule.sh

# Three pytest-xdist workers, each with its own emulator (tests/integration/conftest.py); --dist loadfile
# keeps a file's module fixtures (one platform's life, the cache lab) on one worker. The longest files
# go first, and a worker takes its next file when it has finished the one it has (conftest.py).
integration: venv ## Playbooks against the emulator, three workers with an emulator each
	@$(STAGE) integration scripts/with-emulator.sh scripts/pytest.sh tests/integration -n 3 --dist loadfile --durations=15

demo: setup ## The local lab end to end; leaves nothing running
	@scripts/demo.sh

clean: emulator-down ## Remove lab state (not the venv or images)
	@rm -rf .lab

# Area targets (score, bench, bake, platform ...), one file per area.
-include mk/*.mk
