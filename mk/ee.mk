# The execution environment (issue 20): execution-environment.yml (ansible-builder schema 3) built
# by scripts/ee.sh on the lab's base image, and the real playbooks run inside it against an emulator
# of its own (lab dir .lab/ee). scripts/ee.sh's header says what differs from the upstream build.
EE_LAB := $(or $(ARENA_LAB_DIR),$(CURDIR)/.lab)/ee
# Extra pytest arguments, e.g. EE_PYTEST_ARGS="-k 'not rerun'" (the no-op re-run is 110 s of the ~350 s).
EE_PYTEST_ARGS ?=

.PHONY: ee ee-test

ee: venv base-image ## Execution environment localhost/arena-ee:<release>-<hash> (rebuilt only when its inputs change)
	@scripts/ee.sh $(DEBIAN_RELEASE) >/dev/null

ee-test: ee ## The playbooks inside the execution environment with ansible-runner, against their own emulator
	@ARENA_LAB_DIR=$(EE_LAB) $(STAGE) ee scripts/with-emulator.sh scripts/pytest.sh tests/ee --durations=10 $(EE_PYTEST_ARGS)
